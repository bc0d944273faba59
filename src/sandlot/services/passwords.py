"""Passwords: the rule they must meet, and Argon2id hashes through `argon2-cffi`.

Hashing takes tens of milliseconds of CPU on purpose, so it runs in a worker thread and the
event loop keeps serving other requests meanwhile.
"""

from __future__ import annotations

import asyncio
import functools
import re
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from sandlot.domain.errors import InvalidInput, WeakPassword

PASSWORD_MIN = 10
PASSWORD_MAX = 256
PASSWORD_RULE = (
    f"a password must be {PASSWORD_MIN} to {PASSWORD_MAX} characters, must not be the login "
    "name, and must not be one character repeated"
)
LOGIN_RE = re.compile(r"^[a-z][a-z0-9._-]{1,63}$")
LOGIN_RULE = (
    "a login name is 2 to 64 characters: lowercase letters, digits, '.', '_' and '-', "
    "starting with a letter"
)

_hasher = PasswordHasher()


@functools.cache
def _dummy_hash() -> str:
    """Checked against when the login names nobody, so that a wrong name costs as much time
    as a wrong password and the answer's timing does not tell which it was."""
    return _hasher.hash(secrets.token_urlsafe(16))


def check_login(login: str) -> None:
    if not LOGIN_RE.fullmatch(login):
        raise InvalidInput(f"{LOGIN_RULE}; got {login!r}", login=login)


def check_password(password: str, *, login: str) -> None:
    """Raise `WeakPassword` (saying what is required) unless `password` meets the rule.
    The password itself is never part of the error."""
    problem = None
    if not password:
        problem = "the password is empty"
    elif len(password) < PASSWORD_MIN:
        problem = f"the password has {len(password)} characters"
    elif len(password) > PASSWORD_MAX:
        problem = f"the password has more than {PASSWORD_MAX} characters"
    elif password.lower() == login.lower():
        problem = "the password is the login name"
    elif len(set(password)) == 1:
        problem = "the password is one character repeated"
    if problem is not None:
        raise WeakPassword(
            f"{problem}: {PASSWORD_RULE}",
            min_length=PASSWORD_MIN,
            max_length=PASSWORD_MAX,
        )


async def hash_password(password: str) -> str:
    return await asyncio.to_thread(_hasher.hash, password)


async def verify(password_hash: str | None, password: str) -> bool:
    """Whether `password` matches; with no hash (no such user) a dummy one is checked, so
    that the answer takes as long either way."""
    return await asyncio.to_thread(_verify, password_hash, password)


def _verify(password_hash: str | None, password: str) -> bool:
    try:
        matches = _hasher.verify(password_hash or _dummy_hash(), password)
    except (VerificationError, InvalidHashError):
        return False
    return matches and password_hash is not None


def needs_rehash(password_hash: str) -> bool:
    """True when the hash was made with weaker parameters than today's defaults."""
    return _hasher.check_needs_rehash(password_hash)


def generate_password() -> str:
    return secrets.token_urlsafe(18)
