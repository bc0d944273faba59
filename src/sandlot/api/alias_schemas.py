"""Request and response bodies of aliases, rollbacks and the deploy history."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from sandlot.domain.aliases import LATEST, MAX_ROUTES, AliasChange, Route, Routes
from sandlot.services.aliases import AliasInfo


class RouteIO(BaseModel):
    version: int = Field(description="A ready version of the function")
    weight: int = Field(description="Whole percent of the calls, 1 to 100; all sum to 100")

    @classmethod
    def of(cls, route: Route) -> RouteIO:
        return cls(version=route.version, weight=route.weight)


def routes_out(routes: Routes) -> list[RouteIO]:
    return [RouteIO.of(route) for route in routes]


class AliasIn(BaseModel):
    routes: list[RouteIO] | None = Field(
        default=None,
        max_length=MAX_ROUTES * 2,  # past MAX_ROUTES the domain names the problem
        description="The versions the alias splits calls between, with their weights",
    )
    version: int | None = Field(
        default=None, description="Shorthand for one version at weight 100 (instead of routes)"
    )

    def as_routes(self) -> list[Route] | None:
        """None when the body names neither or both (the service says so)."""
        if (self.routes is None) == (self.version is None):
            return None
        if self.version is not None:
            return [Route(version=self.version, weight=100)]
        assert self.routes is not None
        return [Route(version=route.version, weight=route.weight) for route in self.routes]


class AliasOut(BaseModel):
    name: str
    builtin: bool = Field(description="`latest`: the newest ready version, unless rolled back")
    routes: list[RouteIO] = Field(description="Newest version first")
    created_at: datetime
    updated_at: datetime
    updated_by: str
    release_id: str | None = Field(description="The active release moving it, if any")

    @classmethod
    def of(cls, alias: AliasInfo) -> AliasOut:
        return cls(
            name=alias.name,
            builtin=alias.builtin,
            routes=routes_out(alias.routes),
            created_at=alias.created_at,
            updated_at=alias.updated_at,
            updated_by=alias.updated_by,
            release_id=alias.release_id,
        )


class AliasList(BaseModel):
    items: list[AliasOut]


class RollbackIn(BaseModel):
    alias: str = Field(default=LATEST, description="The alias to move back (default latest)")
    to: int | None = Field(
        default=None, description="The version to point it at; null: what it served before"
    )


class HistoryEntry(BaseModel):
    id: str
    alias: str
    before: list[RouteIO] = Field(description="Empty when the alias was made")
    after: list[RouteIO] = Field(description="Empty when the alias was deleted")
    actor: str
    at: datetime
    reason: str = Field(
        description="set | deploy | rollback | release | auto-rollback | promote | abort | delete"
    )
    release_id: str | None
    note: str | None

    @classmethod
    def of(cls, change: AliasChange) -> HistoryEntry:
        return cls(
            id=change.id,
            alias=change.alias,
            before=routes_out(change.before),
            after=routes_out(change.after),
            actor=change.actor,
            at=change.at,
            reason=change.reason,
            release_id=change.release_id,
            note=change.note,
        )


class HistoryPage(BaseModel):
    items: list[HistoryEntry]
    next_cursor: str | None
