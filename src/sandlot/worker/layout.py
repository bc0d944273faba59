"""Where things are inside a sandboxed function's root, as on AWS Lambda.

A handler written for Lambda finds its code at `/var/task` (and `LAMBDA_TASK_ROOT` says
so), the runtime at `/var/runtime`, and its dependencies at one fixed place; no host path of
Sandlot's (the data directory, the package) appears anywhere the function can see. Under
`insecure-dev` (plain processes, no mount namespace) nothing can be moved: the code stays
where it is on the host, and the task root is that path.
"""

from __future__ import annotations

TASK_ROOT = "/var/task"  # the version's code
RUNTIME_DIR = "/var/runtime"  # Sandlot's bootstrap
DEPS_ROOT = "/opt/python"  # the version's installed dependencies (a Lambda layer's place)
