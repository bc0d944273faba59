"""The catalog of a worker (`sandlot worker`): specs as the server's, but an environment that
is not on this machine is installed from the version's stored lock by the worker's
`Materializer` (in the background; the call waits in the queue, not in a claimer's round),
never rebuilt: rebuilding moves the version to `building` for every server of the cluster."""

from __future__ import annotations

from pathlib import Path

from sandlot.domain.errors import VersionNotReady
from sandlot.domain.models import Function, Version
from sandlot.domain.quotas import QuotaLimits
from sandlot.domain.states import VersionState
from sandlot.services.builds import Builder
from sandlot.services.catalog import Catalog
from sandlot.services.code import CodeStore
from sandlot.services.secret_keys import Keyring
from sandlot.services.specs import SpecDefaults
from sandlot.services.worker_node import Materializer
from sandlot.storage.db import Database


class WorkerCatalog(Catalog):
    def __init__(
        self,
        *,
        materializer: Materializer,
        database: Database,
        code: CodeStore,
        builder: Builder,
        defaults: SpecDefaults,
        keyring: Keyring,
        quota_defaults: QuotaLimits | None = None,
    ) -> None:
        """`builder` is never started or asked to build here (the base class types it)."""
        super().__init__(
            database=database,
            code=code,
            builder=builder,
            defaults=defaults,
            keyring=keyring,
            quota_defaults=quota_defaults,
        )
        self.materializer = materializer

    async def _environment(self, function: Function, version: Version) -> tuple[Path, ...]:
        if version.env_key is None:
            return ()
        site = await self.materializer.known_environment(version.env_key)
        if site is not None:
            return (site,)
        self.materializer.start_environment(function.id, version.number, version.env_key)
        raise VersionNotReady(
            f"version {version.number} of {function.name!r} is installing its environment "
            "on this worker",
            function=function.name,
            version=version.number,
            state=VersionState.BUILDING.value,
        )
