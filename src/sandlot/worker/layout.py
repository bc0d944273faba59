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
LANG_ROOT = "/var/lang"  # the interpreter's prefix, when it is not the system's /usr


def deps_paths(count: int) -> list[str]:
    """Where a version's site-packages directories go, in order (the order of `sys.path`):
    one is `DEPS_ROOT` itself (the usual case: one environment); several are
    `DEPS_ROOT/1`, `DEPS_ROOT/2`, ..."""
    if count == 1:
        return [DEPS_ROOT]
    return [f"{DEPS_ROOT}/{i}" for i in range(1, count + 1)]
