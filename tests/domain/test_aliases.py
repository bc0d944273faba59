"""How a call picks a version of a split: by weight, and by sticky routing keys."""

from __future__ import annotations

from collections import Counter

import pytest

from sandlot.domain.aliases import Route, check_routes, pick, split_qualified
from sandlot.domain.errors import InvalidAliasName, InvalidAliasRoutes

KEYS = [f"user-{n}" for n in range(20_000)]


def test_keys_spread_by_weight_and_stay_on_the_new_version_as_it_grows() -> None:
    routes = check_routes([Route(3, 70), Route(4, 30)])
    chosen = {key: pick(routes, key, "fn:prod") for key in KEYS}
    share = Counter(chosen.values())[4] / len(KEYS)
    # 20 000 keys at p = 0.3: sd ~0.0032; 0.28..0.32 is more than six sd either side.
    assert 0.28 <= share <= 0.32
    assert all(pick(routes, key, "fn:prod") == chosen[key] for key in KEYS[:2000])
    grown = check_routes([Route(3, 40), Route(4, 60)])
    assert all(pick(grown, key, "fn:prod") == 4 for key in KEYS if chosen[key] == 4)
    # Another alias's salt spreads the same keys differently.
    other = {key: pick(routes, key, "fn:staging") for key in KEYS[:2000]}
    assert other != {key: chosen[key] for key in KEYS[:2000]}


def test_calls_without_a_key_are_weighted_at_random() -> None:
    routes = check_routes([Route(1, 50), Route(2, 50)])
    served = Counter(pick(routes, None, "fn:prod") for _ in range(20_000))
    assert 9_400 <= served[1] <= 10_600  # sd ~71: more than eight sd either side


@pytest.mark.parametrize(
    "routes",
    [
        [],
        [Route(1, 50), Route(2, 40)],
        [Route(1, 0), Route(2, 100)],
        [Route(1, 50), Route(1, 50)],
        [Route(0, 100)],
        [Route(n, 10) for n in range(1, 12)],
    ],
)
def test_bad_routes_are_named(routes: list[Route]) -> None:
    with pytest.raises(InvalidAliasRoutes):
        check_routes(routes)


def test_qualified_names() -> None:
    assert split_qualified("hello") == ("hello", None)
    assert split_qualified("hello:latest") == ("hello", None)
    assert split_qualified("hello:prod") == ("hello", "prod")
    for bad in ("hello:", "hello:Prod", "hello:a:b"):
        with pytest.raises(InvalidAliasName):
            split_qualified(bad)
