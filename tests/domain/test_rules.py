"""Domain rules: names, limits, state machines and ids."""

from __future__ import annotations

import pytest

from sandlot.domain.errors import InvalidFunctionName, InvalidLimit, InvalidTransition
from sandlot.domain.ids import api_key_prefix, hash_api_key, new_api_key, new_invocation_id
from sandlot.domain.limits import check_env, check_function_name, check_memory_mb
from sandlot.domain.states import VERSION_MOVES, VersionState, transition


@pytest.mark.parametrize("name", ["a", "hello-world", "x" + "1" * 62])
def test_good_names(name: str) -> None:
    assert check_function_name(name) == name


@pytest.mark.parametrize("name", ["", "1abc", "Hello", "a_b", "x" * 64, "a b", "ä"])
def test_bad_names(name: str) -> None:
    with pytest.raises(InvalidFunctionName):
        check_function_name(name)


def test_limits_and_env() -> None:
    with pytest.raises(InvalidLimit):
        check_memory_mb(63)
    with pytest.raises(InvalidLimit):
        check_env({"BIG": "x" * 5000})
    assert check_env({"A": "1"}) == {"A": "1"}


def test_versions_move_only_along_the_table() -> None:
    assert transition(VERSION_MOVES, VersionState.PENDING, VersionState.BUILDING)
    with pytest.raises(InvalidTransition):
        transition(VERSION_MOVES, VersionState.READY, VersionState.PENDING)
    # Only a build, which ends with the import check, makes a version ready or failed.
    for unchecked in (VersionState.READY, VersionState.FAILED):
        with pytest.raises(InvalidTransition):
            transition(VERSION_MOVES, VersionState.PENDING, unchecked)


def test_invocation_ids_sort_in_creation_order_even_within_a_millisecond() -> None:
    ids = [new_invocation_id() for _ in range(20_000)]
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)
    assert all(len(i) == 26 for i in ids)


def test_api_keys_carry_their_prefix_and_hash_stably() -> None:
    key, prefix = new_api_key()
    assert api_key_prefix(key) == prefix
    assert hash_api_key(key) == hash_api_key(key) != hash_api_key(key + "x")
    assert api_key_prefix("not-a-key") is None
