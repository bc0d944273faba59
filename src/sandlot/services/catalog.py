"""Resolving (namespace, function, version) to what the pool needs, without a database read
on the hot path."""

from __future__ import annotations

from pathlib import Path

from sandlot.domain.aliases import LATEST, Routes, pick, split_qualified
from sandlot.domain.errors import AliasNotFound, InvalidAliasName, VersionNotReady
from sandlot.domain.models import Function, Principal, Role, Version
from sandlot.domain.quotas import QuotaLimits
from sandlot.domain.states import VersionState
from sandlot.services import quotas, secrets
from sandlot.services.builds import Builder
from sandlot.services.caches import TtlCache
from sandlot.services.code import CodeStore
from sandlot.services.secret_keys import Keyring
from sandlot.services.specs import SpecDefaults, local_code, version_spec
from sandlot.storage.aliases import AliasRepo
from sandlot.storage.db import Database
from sandlot.storage.functions import FunctionRepo, VersionRepo
from sandlot.storage.keys import NamespaceRepo
from sandlot.worker.interface import VersionSpec

CacheKey = tuple[str, str, int | None]  # namespace id, function name, version (None = latest)
RoutesKey = tuple[str, str, str]  # namespace id, function name, alias


class Catalog:
    def __init__(
        self,
        *,
        database: Database,
        code: CodeStore,
        builder: Builder,
        defaults: SpecDefaults,
        keyring: Keyring,
        quota_defaults: QuotaLimits | None = None,
        ttl_s: float = 5.0,
        local_paths: bool = True,
    ) -> None:
        """A spec carries its namespace's quotas (`quota_defaults` where the namespace has
        none of its own; None: no limits), so the pool holds calls to them without a
        database read; `invalidate_namespace` after they change. It also carries the values
        of the secrets its version names, decrypted with `keyring` when it is made.

        `local_paths=False` (an API server, role api): the specs name their code and
        environment only by content address (`code_sha256`, `env_key`); the workers turn
        those into paths on their own disks, so nothing is restored or checked here."""
        self.local_paths = local_paths
        self.keyring = keyring
        self.database = database
        self.code = code
        self.builder = builder
        self.defaults = defaults
        self.quota_defaults = quota_defaults or QuotaLimits()
        self._cache: TtlCache[CacheKey, VersionSpec] = TtlCache(ttl_s)
        # An alias's routes, with its function's id (the salt of sticky keys); like specs,
        # cached so that a call through an alias reads no database either.
        self._routes: TtlCache[RoutesKey, tuple[str, Routes]] = TtlCache(ttl_s)

    async def target(
        self,
        principal: Principal,
        qualified: str,
        version: int | None,
        routing_key: str | None = None,
    ) -> tuple[VersionSpec, str | None]:
        """The spec a call to `qualified` (`hello`, `hello:prod`) reaches, and the alias to
        record with it: `latest` when it named none, None when it named a version number."""
        name, alias = split_qualified(qualified)
        if alias is None:
            spec = await self.resolve(principal, name, version)
            return spec, (LATEST if version is None else None)
        if version is not None:
            raise InvalidAliasName(
                f"name an alias ({qualified!r}) or a version (?version={version}), not both",
                alias=alias,
            )
        function_id, routes = await self.alias_routes(principal, name, alias)
        number = pick(routes, routing_key, salt=f"{function_id}:{alias}")
        return await self.resolve(principal, name, number), alias

    async def alias_routes(self, principal: Principal, name: str, alias: str) -> tuple[str, Routes]:
        key: RoutesKey = (principal.namespace_id, name, alias)
        found = self._routes.get(key)
        if found is None:
            async with self.database.sessions() as session:
                function = await FunctionRepo(session).get(principal.namespace_id, name)
                row = await AliasRepo(session).get(function.id, alias)
            if row is None:
                raise AliasNotFound(
                    f"function {name!r} has no alias {alias!r}", function=name, alias=alias
                )
            found = (function.id, row.routes)
            self._routes.put(key, found)
        return found

    async def resolve(self, principal: Principal, name: str, version: int | None) -> VersionSpec:
        key: CacheKey = (principal.namespace_id, name, version)
        spec = self._cache.get(key)
        if spec is None:
            spec = await self._load(principal, name, version)
            self._cache.put(key, spec)
        return spec

    def clear(self) -> None:
        self._cache.clear()
        self._routes.clear()

    def invalidate_function(self, function: Function) -> None:
        self.invalidate(function.namespace_id, function.name)

    def invalidate(self, namespace_id: str, name: str) -> None:
        self._cache.discard_where(lambda key: key[0] == namespace_id and key[1] == name)
        self._routes.discard_where(lambda key: key[0] == namespace_id and key[1] == name)

    def invalidate_namespace(self, namespace_id: str) -> None:
        """Its quotas changed: every cached spec of it carries the old ones."""
        self._cache.discard_where(lambda key: key[0] == namespace_id)

    async def latest_of(self, function: Function) -> VersionSpec:
        """The spec of a function's latest version, for work no caller asked for (warming)."""
        return await self.version_of(function, None)

    async def version_of(self, function: Function, number: int | None) -> VersionSpec:
        """The spec of one version (None: latest), for work no caller asked for (warming a
        version before an alias moves onto it)."""
        async with self.database.sessions() as session:
            namespace = await NamespaceRepo(session).get(function.namespace_id)
        system = Principal(
            key_id="sandlot", namespace_id=namespace.id, namespace=namespace.name, role=Role.ADMIN
        )
        return await self.resolve(system, function.name, number)

    async def _load(self, principal: Principal, name: str, number: int | None) -> VersionSpec:
        async with self.database.sessions() as session:
            function = await FunctionRepo(session).get(principal.namespace_id, name)
            if number is None:
                if function.latest_version is None:
                    raise VersionNotReady(
                        f"function {name!r} has no ready version yet", function=name
                    )
                number = function.latest_version
            version = await VersionRepo(session).get(function, number)
            if version.state is not VersionState.READY:
                raise VersionNotReady(
                    f"version {number} of {name!r} is {version.state.value}, not ready",
                    function=name,
                    version=number,
                    state=version.state.value,
                    error=version.error,
                )
            code_dir = await local_code(session, self.code, version) if self.local_paths else Path()
            limits = await quotas.limits_of(session, principal.namespace_id, self.quota_defaults)
            resolved = await secrets.resolve(
                session=session,
                keyring=self.keyring,
                namespace_id=principal.namespace_id,
                refs=version.config.secrets,
            )
        site_packages = await self._environment(function, version) if self.local_paths else ()
        return version_spec(
            namespace=principal.namespace,
            function=function,
            version=version,
            code_dir=code_dir,
            site_packages=site_packages,
            defaults=self.defaults,
            limits=quotas.pool_limits(limits),
            secrets=resolved,
        )

    async def _environment(self, function: Function, version: Version) -> tuple[Path, ...]:
        if version.env_key is None:
            return ()
        environment = await self.builder.store.get(version.env_key)
        if environment is None:
            # Never install during an invocation: rebuild in the background and say so.
            await self.builder.rebuild(function, version)
            raise VersionNotReady(
                f"version {version.number} of {function.name!r} is rebuilding its environment",
                function=function.name,
                version=version.number,
                state=VersionState.BUILDING.value,
            )
        return (environment.path,)
