"""Signing in and out (browser sessions, `services.session_tokens`), and the limits on failed
logins.

Failed logins are limited per account (the login name tried, whether or not it exists) and
per client address, both with `limits` windows in memory. Past either, every attempt for that
account or from that address gets 429 `TooManyLoginAttempts`, right password or wrong, so that
a guesser learns nothing more. Wrong name and wrong password get one answer, and take about as
long (the password is checked against a dummy hash when the name matches nobody).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from limits import RateLimitItem, parse
from limits.aio.storage import MemoryStorage
from limits.aio.strategies import FixedWindowRateLimiter
from sqlalchemy.ext.asyncio import AsyncSession

from sandlot.domain.errors import TooManyLoginAttempts, Unauthenticated
from sandlot.domain.models import User
from sandlot.services import audit, passwords
from sandlot.services.authenticator import address_bucket
from sandlot.services.session_tokens import csrf_token_for, hash_token, new_token
from sandlot.storage.sessions import SessionRepo
from sandlot.storage.users import UserRepo

WRONG_LOGIN = "the login name or the password is not right"


@dataclass(frozen=True)
class SignedIn:
    token: str
    csrf_token: str
    session_id: str
    user: User


def _rate(setting: str, value: str) -> RateLimitItem:
    try:
        return parse(value)
    except ValueError as exc:
        raise ValueError(f"SANDLOT_{setting.upper()}={value!r}: {exc}") from exc


class LoginLimiter:
    """Windows of failed logins per account and per client address (IPv4, IPv6 /64)."""

    def __init__(self, *, per_account: str, per_address: str) -> None:
        self._account = _rate("login_account_limit", per_account)
        self._address = _rate("login_address_limit", per_address)
        self._windows = FixedWindowRateLimiter(MemoryStorage())

    async def check(self, login: str, address: str | None) -> None:
        for limit, key, what in self._keys(login, address):
            if not await self._windows.test(limit, key):
                stats = await self._windows.get_window_stats(limit, key)
                retry_after = max(1, math.ceil(stats.reset_time - time.time()))
                raise TooManyLoginAttempts(
                    f"too many failed sign-ins {what}; try again in {retry_after} s",
                    retry_after_s=retry_after,
                    limit=str(limit),
                )

    async def failed(self, login: str, address: str | None) -> None:
        for limit, key, _ in self._keys(login, address):
            await self._windows.hit(limit, key)

    def _keys(self, login: str, address: str | None) -> list[tuple[RateLimitItem, str, str]]:
        return [
            (self._account, f"account:{login.lower()}", "for this account"),
            (self._address, f"address:{address_bucket(address)}", "from this address"),
        ]


async def login(
    *,
    session: AsyncSession,
    limiter: LoginLimiter,
    login: str,
    password: str,
    address: str | None,
) -> SignedIn:
    """Check the password and open a session. On failure the `login.failed` audit event is
    in `session`: the caller commits it before answering."""
    await limiter.check(login, address)
    users = UserRepo(session)
    found = await users.with_hash(login) if passwords.LOGIN_RE.fullmatch(login) else None
    matches = await passwords.verify(found[1] if found else None, password)
    if found is None or not matches or found[0].disabled_at is not None:
        await limiter.failed(login, address)
        await audit.record(
            session,
            principal=None,
            action="login.failed",
            target=f"user:{login[:64]}",
            actor=f"login:{login[:64]}",  # what was typed, never empty
            address=address,
            detail={"reason": "disabled" if found and matches else "wrong login or password"},
        )
        raise Unauthenticated(WRONG_LOGIN)
    user, password_hash = found
    if passwords.needs_rehash(password_hash):
        await users.set_password_hash(user.id, await passwords.hash_password(password))
    token = new_token()
    session_id = await SessionRepo(session).create(
        token_hash=hash_token(token), user_id=user.id, now=datetime.now(UTC), address=address
    )
    await audit.record(
        session,
        principal=None,
        action="login",
        target=f"user:{user.login}",
        actor=f"user:{user.login}",
        address=address,
        detail={"session": session_id},
    )
    return SignedIn(token=token, csrf_token=csrf_token_for(token), session_id=session_id, user=user)


async def logout(*, session: AsyncSession, token: str, login: str, address: str | None) -> None:
    await SessionRepo(session).delete(hash_token(token))
    await audit.record(
        session,
        principal=None,
        action="logout",
        target=f"user:{login}",
        actor=f"user:{login}",
        address=address,
    )
