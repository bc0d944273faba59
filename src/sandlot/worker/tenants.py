"""`Tenants`: what each namespace uses of this pool, counted in memory, against the quotas
its calls carry (`VersionSpec.limits`).

The limits come with every call (resolved with the version, cached, and invalidated when
an admin sets them), so the invoke path reads no database for them; the use is counted here,
in the process that runs the pool. A call costs a dictionary lookup, a clock read and a few
comparisons.

The rate is a token bucket rather than `limits`' windows: a bucket lets a namespace burst
up to its per-minute number and then paces it evenly, and it is a few lines of arithmetic
on one clock read, where the library's async storage would add awaits to every call.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

from sandlot.domain.quotas import QuotaName, quota_exceeded
from sandlot.worker.interface import NamespaceUse, VersionSpec

# How long a caller refused for concurrency or memory is told to wait: calls are short, so
# room appears within moments, and a second is what the function-level limit says too.
RETRY_AFTER_S = 1


@dataclass
class TokenBucket:
    """Holds up to `per_minute` tokens, refilled at `per_minute / 60` a second; a call
    takes one. Starts full, so a namespace may burst its whole minute at once."""

    tokens: float = math.inf  # full, whatever the first limit is
    stamp: float = 0.0

    def _refill(self, per_minute: int, now: float) -> None:
        self.tokens = min(float(per_minute), self.tokens + (now - self.stamp) * per_minute / 60)
        self.stamp = now

    def take(self, per_minute: int, now: float) -> float:
        """0 when a token was taken, else the seconds until one will be there."""
        self._refill(per_minute, now)
        if self.tokens >= 1:
            self.tokens -= 1
            return 0.0
        if per_minute <= 0:
            return 60.0  # a rate of 0 never refills: come back when an admin has raised it
        return (1 - self.tokens) * 60 / per_minute

    def give_back(self) -> None:
        self.tokens += 1

    def spent(self, per_minute: int, now: float) -> int:
        self._refill(per_minute, now)
        return max(0, math.ceil(per_minute - self.tokens))


@dataclass(eq=False)
class Tenant:
    calls: int = 0
    memory_mb: int = 0
    bucket: TokenBucket = field(default_factory=TokenBucket)
    last_rate: int | None = None  # the rate last seen, to report what is spent


class Tenants:
    def __init__(self) -> None:
        self._tenants: dict[str, Tenant] = {}

    def _tenant(self, namespace_id: str) -> Tenant:
        tenant = self._tenants.get(namespace_id)
        if tenant is None:
            tenant = self._tenants[namespace_id] = Tenant()
        return tenant

    def admit(self, spec: VersionSpec) -> Tenant:
        """Count one call of the namespace, or refuse it with `QuotaExceeded` (429) when the
        namespace is at its concurrency quota or out of rate. Pair with `leave`."""
        tenant = self._tenant(spec.namespace_id)
        limits = spec.limits
        if limits.concurrency is not None and tenant.calls >= limits.concurrency:
            raise quota_exceeded(
                QuotaName.CONCURRENCY,
                limit=limits.concurrency,
                used=tenant.calls,
                retry_after_s=RETRY_AFTER_S,
                namespace=spec.namespace,
            )
        rate = limits.rate_per_minute
        if rate is not None:
            tenant.last_rate = rate
            wait_s = tenant.bucket.take(rate, time.monotonic())
            if wait_s:
                raise quota_exceeded(
                    QuotaName.RATE_PER_MINUTE,
                    limit=rate,
                    used=rate,
                    retry_after_s=max(1, math.ceil(wait_s)),
                    namespace=spec.namespace,
                )
        tenant.calls += 1
        return tenant

    def leave(self, tenant: Tenant) -> None:
        tenant.calls -= 1

    def refund_rate(self, tenant: Tenant) -> None:
        """A call admitted here that the pool then refused for its own reasons (the function
        at its limit, the worker full) did not run: it does not spend the namespace's rate."""
        if tenant.last_rate is not None:
            tenant.bucket.give_back()

    def memory_fits(self, spec: VersionSpec) -> bool:
        limit = spec.limits.memory_mb
        if limit is None:
            return True
        return self._tenant(spec.namespace_id).memory_mb + spec.memory_mb <= limit

    def memory_refusal(self, spec: VersionSpec) -> Exception:
        limit = spec.limits.memory_mb
        assert limit is not None
        used = self._tenant(spec.namespace_id).memory_mb
        return quota_exceeded(
            QuotaName.MEMORY_MB,
            limit=limit,
            used=used,
            would_be=used + spec.memory_mb,
            retry_after_s=RETRY_AFTER_S,
            namespace=spec.namespace,
        )

    def charge(self, spec: VersionSpec) -> None:
        self._tenant(spec.namespace_id).memory_mb += spec.memory_mb

    def refund(self, spec: VersionSpec) -> None:
        self._tenant(spec.namespace_id).memory_mb -= spec.memory_mb

    def use(self, namespace_id: str) -> NamespaceUse:
        tenant = self._tenants.get(namespace_id)
        if tenant is None:
            return NamespaceUse()
        rate = tenant.last_rate
        spent = 0 if rate is None else tenant.bucket.spent(rate, time.monotonic())
        return NamespaceUse(calls=tenant.calls, memory_mb=tenant.memory_mb, rate_used=spent)
