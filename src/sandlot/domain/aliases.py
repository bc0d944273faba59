"""Aliases: names that callers use for a function's versions, and how a call picks one.

An alias points at one version or splits traffic between several by integer weights that
sum to 100. `latest` is built in (the newest ready version, unless rolled back since) and
cannot be made, changed or deleted as an alias. Callers name an alias in one form
everywhere: the qualified name `function:alias` (as Lambda's qualified function names).
"""

from __future__ import annotations

import hashlib
import random
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sandlot.domain.errors import InvalidAliasName, InvalidAliasRoutes
from sandlot.domain.limits import VERSION_NUMBER_MAX

LATEST = "latest"
ALIAS_NAME = re.compile(r"^[a-z][a-z0-9-]{0,62}$")
MAX_ROUTES = 10
TOTAL_WEIGHT = 100
# Sticky keys land on one of this many buckets; weights are whole percents of them.
_BUCKETS = 10_000
# The header a caller sends so that one key always reaches one version during a split.
ROUTING_KEY_HEADER = "X-Sandlot-Routing-Key"


@dataclass(frozen=True)
class Route:
    version: int
    weight: int

    def as_dict(self) -> dict[str, int]:
        return {"version": self.version, "weight": self.weight}


Routes = tuple[Route, ...]


@dataclass(frozen=True)
class Alias:
    function_id: str
    name: str
    routes: Routes
    created_at: datetime
    updated_at: datetime
    updated_by: str

    @property
    def versions(self) -> frozenset[int]:
        return frozenset(route.version for route in self.routes)


@dataclass(frozen=True)
class AliasChange:
    """One entry of a function's deploy history: an alias (or `latest`) moved. `before` is
    empty when the alias was made, `after` when it was deleted."""

    id: str
    function_id: str
    alias: str
    before: Routes
    after: Routes
    actor: str
    at: datetime
    reason: str  # set | deploy | rollback | release | auto-rollback | promote | abort | delete
    release_id: str | None = None
    note: str | None = None


def check_alias_name(name: str) -> str:
    if name == LATEST:
        raise InvalidAliasName(
            "'latest' is built in (the newest ready version) and cannot be an alias",
            alias=name,
        )
    if not ALIAS_NAME.match(name):
        raise InvalidAliasName(
            f"alias {name!r} is not valid: a lower-case letter, then up to 62 lower-case "
            "letters, digits or '-'",
            alias=name,
        )
    return name


def split_qualified(qualified: str) -> tuple[str, str | None]:
    """`hello:prod` -> ("hello", "prod"); `hello` -> ("hello", None); `hello:latest` ->
    ("hello", None). The function's own name is checked where it is looked up."""
    name, colon, alias = qualified.partition(":")
    if not colon:
        return name, None
    if alias == LATEST:
        return name, None
    return name, check_alias_name(alias)


def single(version: int) -> Routes:
    return (Route(version=version, weight=TOTAL_WEIGHT),)


def check_routes(routes: Sequence[Route]) -> Routes:
    """Weights are whole percents, each 1-100, summing to 100, one route per version, at
    most MAX_ROUTES. Whether each version is ready is the service's check."""
    if not routes:
        raise InvalidAliasRoutes("an alias needs at least one version", routes=[])
    if len(routes) > MAX_ROUTES:
        raise InvalidAliasRoutes(f"an alias splits between at most {MAX_ROUTES} versions")
    seen: set[int] = set()
    for route in routes:
        if not 1 <= route.version <= VERSION_NUMBER_MAX:
            raise InvalidAliasRoutes(f"{route.version} is not a version number")
        if not 1 <= route.weight <= TOTAL_WEIGHT:
            raise InvalidAliasRoutes(
                f"the weight of version {route.version} is {route.weight}; each weight is "
                f"1 to {TOTAL_WEIGHT}",
            )
        if route.version in seen:
            raise InvalidAliasRoutes(f"version {route.version} is named twice")
        seen.add(route.version)
    total = sum(route.weight for route in routes)
    if total != TOTAL_WEIGHT:
        raise InvalidAliasRoutes(
            f"the weights sum to {total}; they must sum to {TOTAL_WEIGHT}", total=total
        )
    return _ordered(routes)


def _ordered(routes: Sequence[Route]) -> Routes:
    # Newest version first: as a release moves weight onto a newer version, the buckets that
    # reached it before still do, so a sticky key never flips back during a release.
    return tuple(sorted(routes, key=lambda route: -route.version))


def pick(routes: Routes, routing_key: str | None, salt: str) -> int:
    """The version one call reaches: by its routing key's bucket when it has one (the same
    key, the same version, for as long as the weights stay), else at random by weight.
    `salt` (the function id and alias name) spreads keys differently per alias."""
    if len(routes) == 1:
        return routes[0].version
    if routing_key is None:
        bucket = random.randrange(_BUCKETS)  # a traffic split, not a secret
    else:
        digest = hashlib.sha256(f"{salt}\0{routing_key}".encode()).digest()
        bucket = int.from_bytes(digest[:8], "big") % _BUCKETS
    edge = 0
    for route in routes:
        edge += route.weight * (_BUCKETS // TOTAL_WEIGHT)
        if bucket < edge:
            return route.version
    return routes[-1].version


def routes_text(routes: Routes) -> str:
    """`v3` or `v4 10%, v3 90%`, for messages and the history's notes."""
    if len(routes) == 1:
        return f"v{routes[0].version}"
    return ", ".join(f"v{route.version} {route.weight}%" for route in routes)
