"""The one way a request's credentials become a principal, for the lean invoke route and every
FastAPI route alike: cached lookups, and a guard against floods of wrong keys.

- A key seen lately is answered from memory, valid (`KeyCache`) or not (a miss cache with its
  own short TTL, so a flood of bad keys reads the database once per key, not once per call).
- Every failure is counted in /metrics (`sandlot_auth_failures_total{reason}`) and logged with
  the client address and the key's public prefix, never the key, at most once a minute per
  address. The same failures go to the audit log (`auth.failed`) under the same bound, and
  under a second one for all addresses together (`audit_failure_limit`), so that a flood
  from many addresses cannot fill the table either.
- An address that presents too many wrong keys (`auth_failure_limit`, e.g. 30/minute) gets
  429 `TooManyAuthFailures` with `Retry-After` for every credential it presents until its
  window ends, right or wrong: letting right keys through would tell a guesser which are.
  Requests with no credentials at all are counted, but neither logged nor limited: they
  guess nothing and cost no database read.

Rate windows come from `limits` (its in-memory async storage); addresses are limited per IPv4
address and per IPv6 /64, since one IPv6 host usually holds a whole /64.
"""

from __future__ import annotations

import ipaddress
import logging
import math
import time

from limits import parse
from limits.aio.storage import MemoryStorage
from limits.aio.strategies import FixedWindowRateLimiter
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from sandlot.domain.errors import TooManyAuthFailures, Unauthenticated
from sandlot.domain.ids import api_key_prefix, hash_api_key
from sandlot.domain.models import Principal
from sandlot.services import audit
from sandlot.services.auth import KeyCache, bearer_key
from sandlot.services.caches import TtlCache
from sandlot.services.metrics import Metrics
from sandlot.storage.keys import ApiKeyRepo

log = logging.getLogger(__name__)

_LOG_EVERY = parse("1/minute")


class Authenticator:
    def __init__(
        self,
        *,
        sessions: async_sessionmaker[AsyncSession],
        keys: KeyCache,
        metrics: Metrics,
        failure_limit: str,
        miss_ttl_s: float,
        audit_failure_limit: str = "60/minute",
    ) -> None:
        self._sessions = sessions
        self.keys = keys
        self._misses: TtlCache[str, bool] = TtlCache(ttl_s=miss_ttl_s)
        self._metrics = metrics
        try:
            self._failure_limit = parse(failure_limit)
        except ValueError as exc:
            raise ValueError(f"SANDLOT_AUTH_FAILURE_LIMIT={failure_limit!r}: {exc}") from exc
        try:
            self._audit_limit = parse(audit_failure_limit)
        except ValueError as exc:
            raise ValueError(
                f"SANDLOT_AUDIT_AUTH_FAILURE_LIMIT={audit_failure_limit!r}: {exc}"
            ) from exc
        self._windows = FixedWindowRateLimiter(MemoryStorage())

    async def authenticate(self, authorization: str | None, client: str | None) -> Principal:
        """The caller behind an `Authorization` header, sent from address `client`."""
        if not authorization:
            self._metrics.auth_failures.labels("missing").inc()
            bearer_key(authorization)  # raises Unauthenticated, saying what to send
        bucket = _address_bucket(client)
        if not await self._windows.test(self._failure_limit, bucket):
            self._metrics.auth_rate_limited.inc()
            raise await self._rate_limited(bucket)
        try:
            key = bearer_key(authorization)
        except Unauthenticated:
            await self._failed(bucket, client, "malformed", None)
            raise
        principal = await self._principal(hash_api_key(key))
        if principal is None:
            await self._failed(bucket, client, "unknown", api_key_prefix(key))
            raise Unauthenticated("the API key is not valid (unknown or revoked)")
        return principal

    def key_created(self, key: str) -> None:
        """A key committed just now: forget that it was unknown (call after the commit)."""
        self._misses.discard(hash_api_key(key))

    async def _principal(self, key_hash: str) -> Principal | None:
        principal = self.keys.get(key_hash)
        if principal is not None or self._misses.get(key_hash):
            return principal
        async with self._sessions() as session:
            principal = await ApiKeyRepo(session).principal_for_hash(key_hash)
        if principal is None:
            self._misses.put(key_hash, True)
        else:
            self.keys.put(key_hash, principal)
        return principal

    async def _failed(
        self, bucket: str, client: str | None, reason: str, prefix: str | None
    ) -> None:
        self._metrics.auth_failures.labels(reason).inc()
        await self._windows.hit(self._failure_limit, bucket)
        if await self._windows.hit(_LOG_EVERY, "log", bucket):
            log.warning(
                "authentication failed from %s: %s key (prefix %s); further failures from "
                "this address are logged at most once a minute and counted in "
                "sandlot_auth_failures_total",
                client or "an unknown address",
                reason,
                prefix or "none: not a Sandlot key",
            )
            if await self._windows.hit(self._audit_limit, "audit"):
                await self._audit(client, reason, prefix)

    async def _audit(self, client: str | None, reason: str, prefix: str | None) -> None:
        # The key's public prefix names the actor; the key itself is never written anywhere.
        await audit.record_alone(
            self._sessions,
            action="auth.failed",
            target="auth:api-key",
            actor=f"key-prefix:{prefix}" if prefix else "anonymous",
            address=client,
            detail={"reason": reason},
        )

    async def _rate_limited(self, bucket: str) -> TooManyAuthFailures:
        stats = await self._windows.get_window_stats(self._failure_limit, bucket)
        retry_after = max(1, math.ceil(stats.reset_time - time.time()))
        return TooManyAuthFailures(
            f"too many wrong API keys from this address; try again in {retry_after} s",
            retry_after_s=retry_after,
            limit=str(self._failure_limit),
        )


def _address_bucket(client: str | None) -> str:
    """The unit a failure limit applies to: an IPv4 address, or an IPv6 /64."""
    if client is None:
        return "unknown"
    try:
        address = ipaddress.ip_address(client)
    except ValueError:
        return client  # a Unix socket path or a name a proxy sent: taken as it is
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)
