"""Function URLs: a function's public address `/fn/{namespace}/{function}/...`, and one
per alias, `/fn/{namespace}/{function}:{alias}/...`.

Configuring one (show, set, delete) is a control-plane change like any other. Serving one
is a sync invocation with trigger `url`; this module decides who the caller is for it, and
`UrlDirectory` keeps the lookup of a URL's configuration off the database on the hot path.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from sandlot.domain.actions import Action
from sandlot.domain.aliases import LATEST, split_qualified
from sandlot.domain.errors import (
    FunctionNotFound,
    FunctionUrlNotFound,
    InvalidAliasName,
    NamespaceNotFound,
)
from sandlot.domain.http_events import FunctionUrl, UrlTarget, check_url_config
from sandlot.domain.models import Function, Principal, Role
from sandlot.services import audit
from sandlot.services.alias_users import check_exists
from sandlot.services.authenticator import Authenticator, Credentials
from sandlot.services.authz import authorize_function
from sandlot.services.caches import TtlCache
from sandlot.services.catalog import Catalog
from sandlot.storage.db import Database
from sandlot.storage.function_urls import FunctionUrlRepo
from sandlot.storage.functions import FunctionRepo

URL_PREFIX = "/fn"


def url_path(namespace: str, function: str) -> str:
    return f"{URL_PREFIX}/{namespace}/{function}/"


@dataclass(frozen=True)
class UrlSettings:
    """A function's URL as the config routes show it; `url` None when it has none."""

    function: str
    alias: str  # `latest` for the unqualified URL
    path: str
    url: FunctionUrl | None


# -- configuring -------------------------------------------------------------------------------


async def get_url(*, session: AsyncSession, principal: Principal, name: str) -> UrlSettings:
    """`name` may be qualified (`hello:prod`): the URL of that alias."""
    function, alias = await _function_and_alias(session, principal, name, Action.FUNCTION_READ)
    stored = await FunctionUrlRepo(session).get(function.id, alias)
    return _settings(principal, function.name, alias, stored)


async def set_url(
    *,
    session: AsyncSession,
    principal: Principal,
    name: str,
    auth: str,
    cors: dict[str, Any] | None,
) -> UrlSettings:
    """Create or replace the URL's configuration (call `UrlDirectory.forget` after the
    commit, so this server serves the new one at once). `hello:prod` is alias prod's URL,
    served at `/fn/{namespace}/hello:prod/`; the alias must exist."""
    function, alias = await _function_and_alias(session, principal, name, Action.FUNCTION_WRITE)
    await check_exists(session, function, alias)
    config = check_url_config(auth, cors)
    stored = await FunctionUrlRepo(session).put(
        function_id=function.id, config=config, actor=principal.actor, alias=alias
    )
    await audit.record(
        session,
        principal=principal,
        action="function_url.set",
        target=f"function:{function.name}",
        namespace_id=principal.namespace_id,
        detail={
            "alias": alias,
            "auth": config.auth,
            "cors_origins": list(config.cors.allow_origins),
        },
    )
    return _settings(principal, function.name, alias, stored)


async def delete_url(*, session: AsyncSession, principal: Principal, name: str) -> bool:
    """Take the URL down (it answers 404 from then on); whether there was one. Deleting a
    URL that is not there is not an error: the end state is the one asked for."""
    function, alias = await _function_and_alias(session, principal, name, Action.FUNCTION_WRITE)
    existed = await FunctionUrlRepo(session).delete(function.id, alias)
    await audit.record(
        session,
        principal=principal,
        action="function_url.delete",
        target=f"function:{function.name}",
        namespace_id=principal.namespace_id,
        detail={"alias": alias, "existed": existed},
    )
    return existed


async def _function_and_alias(
    session: AsyncSession, principal: Principal, qualified: str, action: Action
) -> tuple[Function, str]:
    name, alias = split_qualified(qualified)
    authorize_function(principal, action, name)
    function = await FunctionRepo(session).get(principal.namespace_id, name)
    return function, alias or LATEST


def _settings(
    principal: Principal, function: str, alias: str, stored: FunctionUrl | None
) -> UrlSettings:
    return UrlSettings(
        function=function,
        alias=alias,
        path=url_path(principal.namespace, qualified(function, alias)),
        url=stored,
    )


def qualified(function: str, alias: str) -> str:
    return function if alias == LATEST else f"{function}:{alias}"


def canonical(name: str) -> str:
    """`hello:latest` is `hello`: one cache key per URL (`UrlDirectory.forget`)."""
    function, alias = split_qualified(name)
    return qualified(function, alias or LATEST)


# -- serving -----------------------------------------------------------------------------------


class UrlDirectory:
    """(namespace, `function[:alias]`) → its URL target or None, cached for a few seconds (like the
    catalog's specs) so that servers sharing a database agree soon and a URL call costs no
    database read; a change on this server is seen at once (`forget`)."""

    def __init__(self, ttl_s: float = 5.0) -> None:
        self._cache: TtlCache[tuple[str, str], tuple[UrlTarget | None]] = TtlCache(ttl_s)

    async def find(self, database: Database, namespace: str, function: str) -> UrlTarget:
        """`function` as the URL's path names it: `hello` or `hello:prod`. A name that is
        no alias at all is the same 404 as any URL that is not configured."""
        try:
            name, alias = split_qualified(function)
        except InvalidAliasName:
            raise not_found(namespace, function) from None
        key = (namespace, qualified(name, alias or LATEST))
        cached = self._cache.get(key)
        if cached is None:
            async with database.sessions() as session:
                repo = FunctionUrlRepo(session)
                cached = (await repo.target(namespace, name, alias or LATEST),)
            self._cache.put(key, cached)
        target = cached[0]
        if target is None:
            raise not_found(namespace, function)
        return target

    def forget(self, namespace: str, function: str) -> None:
        """`function` as `canonical` gives it."""
        self._cache.discard((namespace, function))

    def clear(self) -> None:
        self._cache.clear()


def not_found(namespace: str, function: str) -> FunctionUrlNotFound:
    """One answer for no namespace, no function and no URL: a caller learns nothing more."""
    return FunctionUrlNotFound(f"nothing is served at {url_path(namespace, function)}")


async def url_caller(
    *, target: UrlTarget, authenticator: Authenticator, credentials: Credentials
) -> Principal:
    """Who a URL call runs as. auth `key`: the API key in `Authorization: Bearer`, acting in
    the URL's namespace (the invoke then checks that it may invoke this function). auth
    `none`: an invoker limited to this one function, so the call reaches nothing else."""
    if target.config.auth == "none":
        return Principal(
            key_id=f"url:{target.function_id}",
            namespace_id=target.namespace_id,
            namespace=target.namespace,
            role=Role.INVOKER,
            address=credentials.address,
            functions=frozenset({target.function_name}),
        )
    # Only the header: a console session's cookie rides along with any request a browser
    # makes to this origin, so accepting it would let any page call URLs as its user.
    bearer = Credentials(
        authorization=credentials.authorization or None,
        method=credentials.method,
        address=credentials.address,
    )
    caller = await authenticator.identify(bearer)
    try:
        return await authenticator.act_in(caller, target.namespace)
    except NamespaceNotFound:
        # A key of another namespace: the URL is not there for it.
        raise not_found(target.namespace, target.called) from None


async def confirmed(
    *,
    directory: UrlDirectory,
    database: Database,
    catalog: Catalog,
    principal: Principal,
    target: UrlTarget,
) -> UrlTarget:
    """The target again if the function its name resolves to now is not the one whose URL
    was cached (deleted and made again within the cache's TTL): a new function never
    inherits an old one's URL. A cached spec makes this a dictionary lookup."""
    try:
        spec = await catalog.resolve(principal, target.function_name, None)
    except FunctionNotFound as exc:
        raise hidden(exc, target) from None
    if spec.function_id == target.function_id:
        return target
    directory.forget(target.namespace, target.called)
    fresh = await directory.find(database, target.namespace, target.called)
    if fresh.function_id != spec.function_id:
        raise not_found(target.namespace, target.called)
    return fresh


def hidden(error: FunctionNotFound, target: UrlTarget) -> FunctionUrlNotFound:
    """A function gone since its URL was cached, or out of a limited key's scope: the same
    404 as no URL at all."""
    del error
    return not_found(target.namespace, target.called)
