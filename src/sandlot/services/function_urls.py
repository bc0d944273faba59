"""Function URLs: a function's public address `/fn/{namespace}/{function}/...`.

Configuring one (show, set, delete) is a control-plane change like any other. Serving one
is a sync invocation with trigger `url`; this module decides who the caller is for it, and
`UrlDirectory` keeps the lookup of a URL's configuration off the database on the hot path.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from sandlot.domain.actions import Action
from sandlot.domain.errors import FunctionNotFound, FunctionUrlNotFound, NamespaceNotFound
from sandlot.domain.http_events import FunctionUrl, UrlTarget, check_url_config
from sandlot.domain.models import Principal, Role
from sandlot.services import audit
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
    path: str
    url: FunctionUrl | None


# -- configuring -------------------------------------------------------------------------------


async def get_url(*, session: AsyncSession, principal: Principal, name: str) -> UrlSettings:
    authorize_function(principal, Action.FUNCTION_READ, name)
    function = await FunctionRepo(session).get(principal.namespace_id, name)
    stored = await FunctionUrlRepo(session).get(function.id)
    return UrlSettings(function=name, path=url_path(principal.namespace, name), url=stored)


async def set_url(
    *,
    session: AsyncSession,
    principal: Principal,
    name: str,
    auth: str,
    cors: dict[str, Any] | None,
) -> UrlSettings:
    """Create or replace the URL's configuration (call `UrlDirectory.forget` after the
    commit, so this server serves the new one at once)."""
    authorize_function(principal, Action.FUNCTION_WRITE, name)
    function = await FunctionRepo(session).get(principal.namespace_id, name)
    config = check_url_config(auth, cors)
    stored = await FunctionUrlRepo(session).put(
        function_id=function.id, config=config, actor=principal.actor
    )
    await audit.record(
        session,
        principal=principal,
        action="function_url.set",
        target=f"function:{name}",
        namespace_id=principal.namespace_id,
        detail={"auth": config.auth, "cors_origins": list(config.cors.allow_origins)},
    )
    return UrlSettings(function=name, path=url_path(principal.namespace, name), url=stored)


async def delete_url(*, session: AsyncSession, principal: Principal, name: str) -> bool:
    """Take the URL down (it answers 404 from then on); whether there was one. Deleting a
    URL that is not there is not an error: the end state is the one asked for."""
    authorize_function(principal, Action.FUNCTION_WRITE, name)
    function = await FunctionRepo(session).get(principal.namespace_id, name)
    existed = await FunctionUrlRepo(session).delete(function.id)
    await audit.record(
        session,
        principal=principal,
        action="function_url.delete",
        target=f"function:{name}",
        namespace_id=principal.namespace_id,
        detail={"existed": existed},
    )
    return existed


# -- serving -----------------------------------------------------------------------------------


class UrlDirectory:
    """(namespace, function) → its URL target or None, cached for a few seconds (like the
    catalog's specs) so that servers sharing a database agree soon and a URL call costs no
    database read; a change on this server is seen at once (`forget`)."""

    def __init__(self, ttl_s: float = 5.0) -> None:
        self._cache: TtlCache[tuple[str, str], tuple[UrlTarget | None]] = TtlCache(ttl_s)

    async def find(self, database: Database, namespace: str, function: str) -> UrlTarget:
        key = (namespace, function)
        cached = self._cache.get(key)
        if cached is None:
            async with database.sessions() as session:
                cached = (await FunctionUrlRepo(session).target(namespace, function),)
            self._cache.put(key, cached)
        target = cached[0]
        if target is None:
            raise not_found(namespace, function)
        return target

    def forget(self, namespace: str, function: str) -> None:
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
        raise not_found(target.namespace, target.function_name) from None


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
    directory.forget(target.namespace, target.function_name)
    fresh = await directory.find(database, target.namespace, target.function_name)
    if fresh.function_id != spec.function_id:
        raise not_found(target.namespace, target.function_name)
    return fresh


def hidden(error: FunctionNotFound, target: UrlTarget) -> FunctionUrlNotFound:
    """A function gone since its URL was cached, or out of a limited key's scope: the same
    404 as no URL at all."""
    del error
    return not_found(target.namespace, target.function_name)
