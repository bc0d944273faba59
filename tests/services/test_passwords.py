"""The password rule and Argon2id checks, including the dummy check for a login that names
nobody (so that a wrong name costs the same work as a wrong password)."""

from __future__ import annotations

import pytest

from sandlot.domain.errors import InvalidInput, WeakPassword
from sandlot.services import passwords


async def test_verify_matches_only_the_right_password() -> None:
    stored = await passwords.hash_password("correct horse battery")
    assert stored.startswith("$argon2id$")
    assert await passwords.verify(stored, "correct horse battery")
    assert not await passwords.verify(stored, "correct horse battery!")
    assert not await passwords.verify("not a hash at all", "correct horse battery")
    # No such user: an Argon2 check all the same, never a match, whatever is sent.
    assert not await passwords.verify(None, "correct horse battery")
    assert not await passwords.verify(None, "")


def test_the_rule_names_what_is_required() -> None:
    passwords.check_password("ten chars!", login="alice")
    for weak in ("", "nine char", "alice-smith", "zzzzzzzzzzzz", "y" * 257):
        with pytest.raises(WeakPassword) as raised:
            passwords.check_password(weak, login="alice-smith")
        assert "10 to 256 characters" in raised.value.message
        assert not weak or weak not in raised.value.message


def test_login_names() -> None:
    for good in ("al", "alice", "a.b_c-d", "a" * 64):
        passwords.check_login(good)
    for bad in ("a", "Alice", "1a", "a b", "a" * 65, "alice\n", ""):
        with pytest.raises(InvalidInput):
            passwords.check_login(bad)
