"""What the pool needs to run one version (`VersionSpec`), made one way for the builder's
import check and for invocations: the zygote a check starts is the one calls then use."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession

from sandlot.domain.models import Function, Version
from sandlot.services.code import CodeStore
from sandlot.services.secrets import ResolvedSecrets
from sandlot.storage.functions import CodeBlobRepo
from sandlot.worker.interface import NO_LIMITS, NamespaceLimits, VersionSpec


@dataclass(frozen=True)
class SpecDefaults:
    """The server's values for what a version leaves unset (`Settings`)."""

    keep_alive_s: float
    max_concurrency: int
    tmp_mb: int


async def local_code(session: AsyncSession, code: CodeStore, version: Version) -> Path:
    """The version's unpacked code on this machine, restored from the database if missing
    (a new machine, a wiped data dir)."""
    if not code.has(version.code_sha256):
        data = await CodeBlobRepo(session).get(version.code_sha256)
        await asyncio.to_thread(code.restore, data)
    return code.path(version.code_sha256).resolve()


def version_spec(
    *,
    namespace: str,
    function: Function,
    version: Version,
    code_dir: Path,
    site_packages: tuple[Path, ...],
    defaults: SpecDefaults,
    limits: NamespaceLimits = NO_LIMITS,
    secrets: ResolvedSecrets | None = None,
) -> VersionSpec:
    """`limits`: the namespace's quotas that its calls are held to; the builder's import
    check runs without them (it is the platform's work, not a call). `secrets` are the
    values of the secrets the version names, resolved just now: a spec is made for each
    start (the cache in front of it is dropped when a secret changes)."""
    config = version.config
    secrets = secrets or ResolvedSecrets()
    return VersionSpec(
        function_id=function.id,
        namespace=namespace,
        function_name=function.name,
        version=version.number,
        handler=config.handler,
        memory_mb=config.memory_mb,
        timeout_s=config.timeout_s,
        env=dict(config.env),
        code_dir=code_dir,
        site_packages=site_packages,
        max_concurrency=config.max_concurrency or defaults.max_concurrency,
        min_warm=config.min_warm,
        keep_alive_s=(
            defaults.keep_alive_s if config.keep_alive_s is None else float(config.keep_alive_s)
        ),
        tmp_mb=defaults.tmp_mb,
        namespace_id=function.namespace_id,
        limits=limits,
        secret_env=secrets.env,
        secret_files=secrets.files,
        egress=config.egress,
        log_level=config.log_level,
        code_sha256=version.code_sha256,
        env_key=version.env_key,
    )
