"""Function dependencies: declared, locked with uv, installed once and shared.

Knows nothing of HTTP or SQL. The deploy path is:

    requirements = find_requirements(code_dir, handler_module)        # or None
    lock = await store.resolve(requirements, log)                       # store lock.text
    env = await store.ensure(lock, log)                                 # env.path -> sys.path

and a worker that starts from a stored version calls `store.ensure(Lock.from_text(text))`,
which reinstalls exactly that lock if its environment was pruned.
"""

from sandlot.envs.declare import Requirements, check_python_version, find_requirements
from sandlot.envs.errors import BuildCause, EnvironmentBuildFailed
from sandlot.envs.lock import Lock, LockedPackage, resolve
from sandlot.envs.store import Environment, EnvironmentStore
from sandlot.envs.target import BuildOptions, Target, base_python, detect_target
from sandlot.envs.uvrun import LogFn

__all__ = [
    "BuildCause",
    "BuildOptions",
    "Environment",
    "EnvironmentBuildFailed",
    "EnvironmentStore",
    "Lock",
    "LockedPackage",
    "LogFn",
    "Requirements",
    "Target",
    "base_python",
    "check_python_version",
    "detect_target",
    "find_requirements",
    "resolve",
]
