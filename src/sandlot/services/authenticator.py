"""The one way a request's credentials become a principal, for the lean invoke route and every
FastAPI route alike: an API key (`Authorization: Bearer`) or a browser session cookie, cached
lookups, a guard against floods of wrong credentials, and the choice of namespace.

- If the request has an Authorization header, it decides and any cookie is ignored: a browser
  never sends that header on its own, so a bearer key needs no CSRF token. A session cookie
  on a state-changing request needs its CSRF token in `X-CSRF-Token` (`CsrfTokenInvalid`).
- A key seen lately is answered from memory, valid (`KeyCache`, never past the key's expiry)
  or not (a miss cache with its own short TTL, so a flood of bad keys reads the database once
  per key, not once per call). Keys that are revoked, expired, of a disabled creator or of a
  deleted namespace do not work. A key's last use is noted in memory (`KeyUsage`).
- Sessions are cached the same way (`SessionCache`); idle and absolute expiry are checked on
  every request, and the session's last-seen time is written at most once a minute.
- Disabling a user drops the caches (`forget_user`), so their sessions and keys stop at once.
- Every failure is counted in /metrics (`sandlot_auth_failures_total{reason}`) and logged with
  the client address and the key's public prefix, never the key, at most once a minute per
  address. The same failures go to the audit log (`auth.failed`) under the same bound, and
  under a second one for all addresses together (`audit_failure_limit`), so that a flood
  from many addresses cannot fill the table either.
- An address that presents too many wrong keys (`auth_failure_limit`, e.g. 30/minute) gets
  429 `TooManyAuthFailures` with `Retry-After` for every credential it presents until its
  window ends, right or wrong: letting right keys through would tell a guesser which are.
  Requests with no credentials at all are counted, but neither logged nor limited: they
  guess nothing and cost no database read. Unknown session cookies are counted and cached
  as misses, but not limited: a browser's stale cookie must not lock its address out.
- The namespace a request acts in is chosen by `services.namespace_choice`.

Rate windows come from `limits` (its in-memory async storage); addresses are limited per IPv4
address and per IPv6 /64, since one IPv6 host usually holds a whole /64.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import ipaddress
import logging
import math
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from limits import parse
from limits.aio.storage import MemoryStorage
from limits.aio.strategies import FixedWindowRateLimiter
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from sandlot.domain.errors import (
    CsrfTokenInvalid,
    TooManyAuthFailures,
    Unauthenticated,
)
from sandlot.domain.ids import api_key_prefix, hash_api_key
from sandlot.domain.models import Principal
from sandlot.services import audit
from sandlot.services.auth import KeyCache, bearer_key
from sandlot.services.caches import TtlCache
from sandlot.services.key_usage import RESOLUTION_S, KeyUsage
from sandlot.services.metrics import Metrics
from sandlot.services.namespace_choice import NamespaceChooser, SessionEntry
from sandlot.services.session_tokens import (
    CSRF_HEADER,
    SAFE_METHODS,
    csrf_matches,
    csrf_token_for,
    hash_token,
)
from sandlot.storage.credentials import key_grant
from sandlot.storage.sessions import SessionRepo
from sandlot.storage.users import UserRepo

log = logging.getLogger(__name__)

_LOG_EVERY = parse("1/minute")
# A session's last-seen time is written at most this often (idle expiry is that coarse).
SESSION_TOUCH_S = 60.0


@dataclass(slots=True)
class Credentials:
    """What a request presents, read from its headers by the API layer (not frozen: a
    frozen dataclass costs a microsecond more to make, on every invocation)."""

    authorization: str | None = None
    session_token: str | None = None
    csrf_token: str | None = None
    namespace: str | None = None
    method: str = "GET"
    address: str | None = None


@dataclass(frozen=True)
class Caller:
    """Who sent a request, before a namespace is chosen: a key's principal, or a session."""

    address: str | None
    key: Principal | None = None
    session: SessionEntry | None = None
    session_token: str | None = None

    @property
    def csrf_token(self) -> str | None:
        return csrf_token_for(self.session_token) if self.session_token else None


@dataclass(frozen=True)
class SessionPolicy:
    idle: timedelta
    absolute: timedelta


class SessionCache(TtlCache[str, SessionEntry]):
    """Session token hash -> the session, its user and memberships."""


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
        session_policy: SessionPolicy | None = None,
    ) -> None:
        self._sessions = sessions
        self.keys = keys
        self.browser_sessions = SessionCache(ttl_s=keys.ttl_s)
        self.usage = KeyUsage(sessions)
        self.chooser = NamespaceChooser(sessions, ttl_s=keys.ttl_s)
        self._misses: TtlCache[str, bool] = TtlCache(ttl_s=miss_ttl_s)
        self._metrics = metrics
        self._policy = session_policy or SessionPolicy(
            idle=timedelta(hours=1), absolute=timedelta(hours=12)
        )
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
        self._upkeep: asyncio.Task[None] | None = None

    # -- upkeep --------------------------------------------------------------------------------

    async def run_once(self) -> None:
        """Write keys' last use, and delete the sessions past either expiry."""
        await self.usage.run_once()
        now = datetime.now(UTC)
        try:
            async with self._sessions.begin() as session:
                await SessionRepo(session).delete_older(
                    created_before=now - self._policy.absolute,
                    seen_before=now - self._policy.idle,
                )
        except Exception:
            log.exception("could not sweep expired sessions")

    def start(self, interval_s: float = RESOLUTION_S) -> None:
        self._upkeep = asyncio.create_task(self._loop(interval_s), name="sandlot-auth-upkeep")

    async def close(self) -> None:
        if self._upkeep is not None:
            self._upkeep.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._upkeep
            self._upkeep = None
        await self.usage.run_once()

    async def _loop(self, interval_s: float) -> None:
        while True:
            await asyncio.sleep(interval_s)
            await self.run_once()

    # -- authentication ------------------------------------------------------------------------

    async def authenticate(self, authorization: str | None, client: str | None) -> Principal:
        """The principal behind an `Authorization` header alone (monitoring access)."""
        if not authorization:
            self._metrics.auth_failures.labels("missing").inc()
            bearer_key(authorization)  # raises Unauthenticated, saying what to send
        return await self.principal(Credentials(authorization=authorization, address=client))

    async def principal(self, credentials: Credentials) -> Principal:
        """The caller, acting in the namespace the request chose."""
        return await self.act_in(await self.identify(credentials), credentials.namespace)

    async def identify(self, credentials: Credentials) -> Caller:
        """Who presents these credentials: the Authorization header if there is one, else the
        session cookie; `Unauthenticated` if neither works."""
        authorization, token = credentials.authorization, credentials.session_token
        if not authorization and not token:
            self._metrics.auth_failures.labels("missing").inc()
            raise Unauthenticated(
                "missing 'Authorization: Bearer <key>' header (or the session cookie of "
                "POST /api/v1/auth/login)"
            )
        bucket = address_bucket(credentials.address)
        if not await self._windows.test(self._failure_limit, bucket):
            self._metrics.auth_rate_limited.inc()
            raise await self._rate_limited(bucket)
        if authorization:
            key = await self._key(authorization, bucket, credentials.address)
            return Caller(address=credentials.address, key=key)
        assert token is not None
        entry = await self._session(token)
        if credentials.method.upper() not in SAFE_METHODS and not csrf_matches(
            token, credentials.csrf_token
        ):
            self._metrics.auth_failures.labels("csrf").inc()
            raise CsrfTokenInvalid(
                "a request signed in with the session cookie that changes something must send "
                f"the session's CSRF token in the {CSRF_HEADER} header (it is in the login "
                "answer and in GET /api/v1/auth/me)",
                header=CSRF_HEADER,
            )
        return Caller(address=credentials.address, session=entry, session_token=token)

    async def act_in(self, caller: Caller, namespace: str | None) -> Principal:
        if caller.key is not None:
            return await self.chooser.for_key(caller.key, namespace, caller.address)
        assert caller.session is not None
        return await self.chooser.for_user(caller.session, namespace, caller.address)

    def key_created(self, key: str) -> None:
        """A key committed just now: forget that it was unknown (call after the commit)."""
        self._misses.discard(hash_api_key(key))

    def forget_user(self, user_id: str) -> None:
        """A user was disabled, or their memberships or password changed (call after the
        commit): their sessions and keys are looked up afresh, so the change applies at once.
        The key cache knows hashes, not creators: it is dropped whole."""
        self.keys.clear()
        self._misses.clear()  # an enabled user's keys work again at once
        self.browser_sessions.clear()
        del user_id

    def forget_session(self, token: str) -> None:
        self.browser_sessions.discard(hash_token(token))

    def forget_namespace(self, name: str) -> None:
        """A namespace was deleted or renamed: keys and sessions are looked up afresh."""
        self.chooser.forget(name)
        self.keys.clear()
        self.browser_sessions.clear()

    # -- keys ----------------------------------------------------------------------------------

    async def _key(self, authorization: str, bucket: str, client: str | None) -> Principal:
        try:
            key = bearer_key(authorization)
        except Unauthenticated:
            await self._failed(bucket, client, "malformed", None)
            raise
        principal = await self._principal(hash_api_key(key))
        if principal is None:
            await self._failed(bucket, client, "unknown", api_key_prefix(key))
            raise Unauthenticated(
                "the API key is not valid (unknown, revoked, expired, or its user is disabled)"
            )
        self.usage.seen(principal.key_id)
        return principal

    async def _principal(self, key_hash: str) -> Principal | None:
        principal = self.keys.get(key_hash)
        if principal is not None or self._misses.get(key_hash):
            return principal
        now = datetime.now(UTC)
        async with self._sessions() as session:
            grant = await key_grant(session, key_hash, now)
        if grant is None:
            self._misses.put(key_hash, True)
            return None
        principal, expires_at = grant
        # Never cached past the key's expiry, so an expired key stops on time.
        ttl = None if expires_at is None else (expires_at - now).total_seconds()
        self.keys.put(key_hash, principal, ttl_s=ttl)
        return principal

    # -- sessions ------------------------------------------------------------------------------

    async def _session(self, token: str) -> SessionEntry:
        token_hash = hash_token(token)
        entry = self.browser_sessions.get(token_hash)
        if entry is None:
            entry = None if self._misses.get(token_hash) else await self._load_session(token_hash)
            if entry is None:
                # Counted and remembered, but not held against the address: a stale cookie
                # (signed out, expired, swept) is what every browser has sooner or later, and
                # it must not lock out the keys of everyone behind the same address.
                self._misses.put(token_hash, True)
                self._metrics.auth_failures.labels("unknown-session").inc()
                raise Unauthenticated("the session is not valid (signed out or expired); sign in")
        now = datetime.now(UTC)
        stored = entry.stored
        if now - stored.created_at > self._policy.absolute or (
            now - stored.last_seen_at > self._policy.idle
        ):
            await self._end_session(token_hash)
            self._metrics.auth_failures.labels("session-expired").inc()
            raise Unauthenticated("the session has expired; sign in again")
        if (now - stored.last_seen_at).total_seconds() > SESSION_TOUCH_S:
            async with self._sessions.begin() as session:
                await SessionRepo(session).touch(token_hash, now)
            entry = dataclasses.replace(entry, stored=dataclasses.replace(stored, last_seen_at=now))
        self.browser_sessions.put(token_hash, entry)
        return entry

    async def _load_session(self, token_hash: str) -> SessionEntry | None:
        async with self._sessions() as session:
            stored = await SessionRepo(session).find(token_hash)
            if stored is None:
                return None
            memberships = await UserRepo(session).memberships(stored.user_id)
        return SessionEntry(stored=stored, memberships=tuple(memberships))

    async def _end_session(self, token_hash: str) -> None:
        self.browser_sessions.discard(token_hash)
        async with self._sessions.begin() as session:
            await SessionRepo(session).delete(token_hash)

    # -- failures ------------------------------------------------------------------------------

    async def check_failure_limit(self, address: str | None) -> None:
        """`TooManyAuthFailures` if this address is over its limit of wrong credentials (for
        credentials checked elsewhere: AWS signatures, `services.lambda_auth`)."""
        bucket = address_bucket(address)
        if not await self._windows.test(self._failure_limit, bucket):
            self._metrics.auth_rate_limited.inc()
            raise await self._rate_limited(bucket)

    async def credential_failed(self, address: str | None, reason: str, prefix: str | None) -> None:
        """A wrong credential checked elsewhere, counted, logged and limited as a wrong key."""
        await self._failed(address_bucket(address), address, reason, prefix)

    async def _failed(
        self, bucket: str, client: str | None, reason: str, prefix: str | None
    ) -> None:
        self._metrics.auth_failures.labels(reason).inc()
        await self._windows.hit(self._failure_limit, bucket)
        if await self._windows.hit(_LOG_EVERY, "log", bucket):
            log.warning(
                "authentication failed from %s: %s credential (key prefix %s); further "
                "failures from this address are logged at most once a minute and counted in "
                "sandlot_auth_failures_total",
                client or "an unknown address",
                reason,
                prefix or "none",
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
            f"too many wrong credentials from this address; try again in {retry_after} s",
            retry_after_s=retry_after,
            limit=str(self._failure_limit),
        )


@functools.lru_cache(maxsize=4096)  # parsing an address costs more than the rest of a check
def address_bucket(client: str | None) -> str:
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
