"""Names and numeric limits, checked the same way by every entry point."""

from __future__ import annotations

import re

from sandlot.domain.errors import InvalidFunctionName, InvalidInput, InvalidLimit

FUNCTION_NAME_RE = re.compile(r"^[a-z][a-z0-9-]{0,62}$")
HANDLER_RE = re.compile(
    r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*\.[A-Za-z_][A-Za-z0-9_]*$"
)
ENV_KEY_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

MEMORY_MB_MIN, MEMORY_MB_MAX, MEMORY_MB_DEFAULT = 64, 4096, 256
TIMEOUT_S_MIN, TIMEOUT_S_MAX, TIMEOUT_S_DEFAULT = 1, 900, 30
ENV_MAX_BYTES = 4096
MAX_CONCURRENCY_MAX = 1000
MIN_WARM_MAX = 100
KEEP_ALIVE_S_MIN, KEEP_ALIVE_S_MAX = 0, 24 * 3600
DEFAULT_HANDLER = "main.handler"
# Version numbers are stored as 32-bit integers (PostgreSQL's INTEGER), so no version can be
# numbered higher; a larger number in a request is refused before it reaches the database.
VERSION_NUMBER_MAX = 2**31 - 1
# Environment names the platform sets itself; a function may not override them.
RESERVED_ENV_PREFIXES = ("SANDLOT_", "PYTHON")


def check_function_name(name: str) -> str:
    if not FUNCTION_NAME_RE.fullmatch(name):
        raise InvalidFunctionName(
            f"invalid function name {name!r}: use 1-63 characters, lowercase letters, digits "
            "and '-', starting with a letter",
            name=name,
        )
    return name


def check_handler(handler: str) -> str:
    if not HANDLER_RE.fullmatch(handler):
        raise InvalidInput(
            f"invalid handler {handler!r}: use 'module.function', e.g. 'main.handler'",
            handler=handler,
        )
    return handler


def split_handler(handler: str) -> tuple[str, str]:
    """'pkg.mod.fn' -> ('pkg.mod', 'fn')."""
    module, _, function = handler.rpartition(".")
    return module, function


def check_range(field: str, value: int, low: int, high: int) -> int:
    if not low <= value <= high:
        raise InvalidLimit(
            f"{field} must be between {low} and {high}, got {value}",
            field=field,
            value=value,
            min=low,
            max=high,
        )
    return value


def check_memory_mb(value: int) -> int:
    return check_range("memory_mb", value, MEMORY_MB_MIN, MEMORY_MB_MAX)


def check_timeout_s(value: int) -> int:
    return check_range("timeout_s", value, TIMEOUT_S_MIN, TIMEOUT_S_MAX)


def check_max_concurrency(value: int | None) -> int | None:
    return None if value is None else check_range("max_concurrency", value, 1, MAX_CONCURRENCY_MAX)


def check_min_warm(value: int) -> int:
    return check_range("min_warm", value, 0, MIN_WARM_MAX)


def check_keep_alive_s(value: int | None) -> int | None:
    if value is None:
        return None
    return check_range("keep_alive_s", value, KEEP_ALIVE_S_MIN, KEEP_ALIVE_S_MAX)


# The root logger's levels a version may set: Lambda's `LoggingConfig.ApplicationLogLevel`
# in Python's names. Lambda spells two of them its own way (AWS_LAMBDA_LOG_LEVEL, its API).
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
LAMBDA_LOG_LEVEL_NAMES = {"WARNING": "WARN", "CRITICAL": "FATAL"}


def check_log_level(value: str | None) -> str | None:
    """None: the default (INFO)."""
    if value is not None and value not in LOG_LEVELS:
        raise InvalidInput(
            f"log_level must be one of {', '.join(LOG_LEVELS)}, not {value[:20]!r}",
            field="log_level",
            allowed=list(LOG_LEVELS),
        )
    return value


def check_env(env: dict[str, str]) -> dict[str, str]:
    size = 0
    for key, value in env.items():
        if not ENV_KEY_RE.fullmatch(key):
            raise InvalidInput(f"invalid environment variable name {key!r}", key=key)
        if key.upper().startswith(RESERVED_ENV_PREFIXES):
            raise InvalidInput(
                f"environment variable {key!r} is reserved (prefixes {RESERVED_ENV_PREFIXES})",
                key=key,
            )
        if "\0" in value:
            raise InvalidInput(f"environment variable {key!r} contains a NUL byte", key=key)
        try:
            size += len(key.encode()) + len(value.encode()) + 2
        except UnicodeEncodeError:  # a lone surrogate, from a \ud800 escape in the JSON
            raise InvalidInput(
                f"environment variable {key!r} is not valid Unicode", key=key
            ) from None
    if size > ENV_MAX_BYTES:
        raise InvalidLimit(
            f"environment is {size} bytes; at most {ENV_MAX_BYTES} bytes in all",
            field="env",
            value=size,
            max=ENV_MAX_BYTES,
        )
    return env
