"""Per-namespace quotas: their names and units, the limits a namespace is held to, and the
error for going over one.

What each quota counts (the choices where the issue leaves one open):

- `functions`: live (not deleted) functions of the namespace.
- `memory_mb`: the memory sizes of the namespace's live instances (starting, idle, busy)
  on this server. Zygotes and spare instances are not counted: they are the platform's own
  way of making cold starts fast, made and evicted by the pool on its own, and counting
  them would make a namespace's room depend on the platform's warming policy instead of on
  what the namespace runs. The worker's global budget (`capacity.py`) still charges them.
- `concurrency`: the namespace's calls the server holds at once, running or queued behind
  a function's own concurrency limit (both take a connection and a slot of the server).
- `rate_per_minute`: a token bucket per namespace that holds up to the per-minute number
  (the burst) and refills at a minute's share per second.
- `code_mb`: the namespace's code in all: the zip sizes of each live function's newest
  version. The server's `max_upload_bytes` already bounds one upload; a total bounds what
  a team keeps on the shared disk, and does not grow with redeploys of one function.
- `env_kb`: the namespace's configuration in all: the environment (names and values) of
  each live function's newest version. One version's environment is bounded by
  `ENV_MAX_BYTES` already.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from enum import StrEnum

from sandlot.domain.errors import InvalidLimit, QuotaExceeded

# Stored as 32-bit integers (PostgreSQL's INTEGER).
QUOTA_MAX = 2**31 - 1


class QuotaName(StrEnum):
    FUNCTIONS = "functions"
    MEMORY_MB = "memory_mb"
    CONCURRENCY = "concurrency"
    RATE_PER_MINUTE = "rate_per_minute"
    CODE_MB = "code_mb"
    ENV_KB = "env_kb"


UNITS: dict[QuotaName, str] = {
    QuotaName.FUNCTIONS: "functions",
    QuotaName.MEMORY_MB: "MB",
    QuotaName.CONCURRENCY: "calls at once",
    QuotaName.RATE_PER_MINUTE: "calls per minute",
    QuotaName.CODE_MB: "MB",
    QuotaName.ENV_KB: "KB",
}

# How many bytes one unit of a size quota holds.
BYTES_PER_UNIT: dict[QuotaName, int] = {
    QuotaName.CODE_MB: 1024 * 1024,
    QuotaName.ENV_KB: 1024,
}


@dataclass(frozen=True)
class QuotaLimits:
    """The limit of each quota; None: no limit."""

    functions: int | None = None
    memory_mb: int | None = None
    concurrency: int | None = None
    rate_per_minute: int | None = None
    code_mb: int | None = None
    env_kb: int | None = None

    def of(self, name: QuotaName) -> int | None:
        value: int | None = getattr(self, name.value)
        return value

    def over(self, overrides: Mapping[QuotaName, int]) -> QuotaLimits:
        """These limits with a namespace's own values in place of them."""
        return replace(self, **{name.value: value for name, value in overrides.items()})

    @staticmethod
    def names() -> tuple[QuotaName, ...]:
        return tuple(QuotaName(f.name) for f in fields(QuotaLimits))


def env_bytes(env: Mapping[str, str]) -> int:
    """An environment's size as `limits.check_env` counts it: names, values, '=' and NUL."""
    return sum(len(key.encode()) + len(value.encode()) + 2 for key, value in env.items())


def check_quota_value(name: QuotaName, value: int) -> int:
    """0 is allowed: it stops the namespace from using any more (e.g. a frozen team)."""
    if not 0 <= value <= QUOTA_MAX:
        raise InvalidLimit(
            f"quota {name.value} must be between 0 and {QUOTA_MAX}, got {value}",
            field=name.value,
            value=value,
            min=0,
            max=QUOTA_MAX,
        )
    return value


def in_units(name: QuotaName, amount: int) -> float | int:
    """A use counted in bytes (code, environment) in its quota's unit, for people."""
    per_unit = BYTES_PER_UNIT.get(name)
    return amount if per_unit is None else round(amount / per_unit, 6)


def quota_exceeded(
    name: QuotaName,
    *,
    limit: int,
    used: int,
    would_be: int | None = None,
    retry_after_s: int | None = None,
    namespace: str | None = None,
) -> QuotaExceeded:
    """The named error: which quota, its limit, and the use now (in the quota's unit);
    `would_be` is the use the refused change would have made."""
    unit = UNITS[name]
    shown_used = in_units(name, used)
    if would_be is None:
        message = f"quota {name.value} exceeded: {shown_used} of {limit} {unit} in use"
    else:
        message = (
            f"quota {name.value} exceeded: this would bring the namespace to "
            f"{in_units(name, would_be)} {unit}, over its limit of {limit} "
            f"({shown_used} in use)"
        )
    extra: dict[str, object] = {"quota": name.value, "limit": limit, "used": shown_used}
    if would_be is not None:
        extra["would_be"] = in_units(name, would_be)
    if namespace is not None:
        extra["namespace"] = namespace
    return QuotaExceeded(message, retry_after_s=retry_after_s, **extra)


def over_limit(name: QuotaName, limit: int | None, amount: int) -> bool:
    """Whether `amount` (in bytes for code and environment) is over `limit`."""
    if limit is None:
        return False
    return amount > limit * BYTES_PER_UNIT.get(name, 1)


@dataclass(frozen=True)
class QuotaUse:
    """One quota of a namespace: its limit (None: none), where the limit comes from, and
    the use now in its unit."""

    name: QuotaName
    limit: int | None
    used: float | int
    is_default: bool

    @property
    def unit(self) -> str:
        return UNITS[self.name]

    @property
    def over(self) -> bool:
        return self.limit is not None and self.used > self.limit


@dataclass(frozen=True)
class QuotaReport:
    namespace: str
    quotas: tuple[QuotaUse, ...]
    warnings: tuple[str, ...] = ()
