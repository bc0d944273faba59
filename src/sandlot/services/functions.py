"""Deploying, reading and deleting functions and their versions."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from sandlot.domain.actions import Action
from sandlot.domain.egress import EgressPolicy
from sandlot.domain.errors import InvalidInput, PermissionDenied, VersionConflict
from sandlot.domain.limits import (
    DEFAULT_HANDLER,
    MEMORY_MB_DEFAULT,
    TIMEOUT_S_DEFAULT,
    check_env,
    check_function_name,
    check_handler,
    check_keep_alive_s,
    check_log_level,
    check_max_concurrency,
    check_memory_mb,
    check_min_warm,
    check_timeout_s,
    split_handler,
)
from sandlot.domain.models import Function, Principal, Version, VersionConfig
from sandlot.domain.quotas import QuotaLimits
from sandlot.domain.secrets import SecretRef, check_secret_refs
from sandlot.domain.states import VersionState
from sandlot.envs import check_python_version
from sandlot.services import archives, audit, egress, quotas, secrets
from sandlot.services.authz import authorize, authorize_function, in_scope
from sandlot.services.builds import Builder, requirements_of
from sandlot.services.code import CodeStore
from sandlot.storage.functions import CodeBlobRepo, FunctionRepo, VersionRepo
from sandlot.worker.interface import Pool, import_timeout_s


@dataclass(frozen=True)
class ConfigChanges:
    """What a deploy sets; None keeps the previous version's value (or the default).

    `env` replaces the whole environment; `env_set` and `env_unset` change the previous
    version's one key by key (a key unset that is not there is no error).
    """

    handler: str | None = None
    memory_mb: int | None = None
    timeout_s: int | None = None
    env: dict[str, str] | None = None
    max_concurrency: int | None = None
    min_warm: int | None = None
    keep_alive_s: int | None = None
    env_set: dict[str, str] | None = None
    env_unset: tuple[str, ...] | None = None
    secrets: tuple[SecretRef, ...] | None = None  # replaces the whole list
    egress: EgressPolicy | None = None  # replaces the whole policy
    log_level: str | None = None

    def apply(self, base: VersionConfig) -> VersionConfig:
        replaced: dict[str, Any] = {
            "handler": self.handler,
            "memory_mb": self.memory_mb,
            "timeout_s": self.timeout_s,
            "env": self._env(base.env),
            "max_concurrency": self.max_concurrency,
            "min_warm": self.min_warm,
            "keep_alive_s": self.keep_alive_s,
            "secrets": self.secrets,
            "egress": self.egress,
            "log_level": check_log_level(self.log_level),
        }
        config = replace(base, **{key: v for key, v in replaced.items() if v is not None})
        check_handler(config.handler)
        check_memory_mb(config.memory_mb)
        check_timeout_s(config.timeout_s)
        check_env(config.env)
        check_max_concurrency(config.max_concurrency)
        check_min_warm(config.min_warm)
        check_keep_alive_s(config.keep_alive_s)
        check_secret_refs(config.secrets, config.env)
        return config

    def _env(self, current: dict[str, str]) -> dict[str, str] | None:
        if self.env_set is None and self.env_unset is None:
            return self.env
        if self.env is not None:
            raise InvalidInput(
                "give either 'env' (the whole environment) or 'env_set'/'env_unset' "
                "(changes to the current one), not both"
            )
        both = sorted(set(self.env_set or {}) & set(self.env_unset or ()))
        if both:
            raise InvalidInput(f"{both} are both set and unset", keys=both)
        merged = {**current, **(self.env_set or {})}
        for key in self.env_unset or ():
            merged.pop(key, None)
        return merged


# A caller that names no host (a script of the server's own): it enforces nothing, so only
# `none` passes.
HOSTLESS = egress.EgressHost()

DEFAULT_CONFIG = VersionConfig(
    handler=DEFAULT_HANDLER, memory_mb=MEMORY_MB_DEFAULT, timeout_s=TIMEOUT_S_DEFAULT
)


@dataclass(frozen=True)
class Deployed:
    function: Function
    version: Version
    has_requirements: bool  # its build installs dependencies: it answers `pending`
    warnings: tuple[str, ...] = ()  # said in the deploy's answer (egress not enforced)
    # The deploy was identical to the newest version: no new version, `version` is that one.
    unchanged: bool = False


# Past the import's own budget, what starting the version's sandbox may take.
_CHECK_MARGIN_S = 5.0


def after_commit(builder: Builder, deployed: Deployed) -> None:
    """Call after the deploy's transaction committed: the build reads the new version. It
    installs what the code declares, if anything, and then checks that the handler imports;
    a version that passes goes live (older versions retire, warm instances start)."""
    builder.submit(deployed.function, deployed.version)


async def settled(*, session: AsyncSession, builder: Builder, deployed: Deployed) -> Deployed:
    """The deploy's answer. A version without requirements is checked within moments, so
    the answer waits for its check (bounded by the import's budget) and already says
    `ready` or `failed`; one with requirements answers `pending` and is followed live."""
    if deployed.has_requirements:
        return deployed
    function, version = deployed.function, deployed.version
    bound = import_timeout_s(version.config.timeout_s) + _CHECK_MARGIN_S
    await builder.wait(function.id, version.number, bound)
    return replace(
        deployed,
        function=await FunctionRepo(session).get(function.namespace_id, function.name),
        version=await VersionRepo(session).get(function, version.number),
    )


async def create_function(
    *,
    session: AsyncSession,
    principal: Principal,
    name: str,
    code: bytes,
    changes: ConfigChanges,
    code_store: CodeStore,
    python_version: str,
    quota_defaults: QuotaLimits,
    egress_host: egress.EgressHost | None = None,
) -> Deployed:
    """`python_version` is the Python that functions run on here (`Builder.python_version`);
    `quota_defaults` the server's quota limits where the namespace has none of its own."""
    authorize(principal, Action.FUNCTION_WRITE)
    check_function_name(name)
    if not in_scope(principal, name):
        raise PermissionDenied(
            f"this key is limited to the functions {sorted(principal.functions or ())}",
            function=name,
        )
    config = changes.apply(DEFAULT_CONFIG)
    await secrets.check_named(
        session=session, namespace_id=principal.namespace_id, refs=config.secrets
    )
    archive = await _checked(code, config, code_store)
    namespace_id = principal.namespace_id
    warnings = await egress.check_policy(
        session, namespace_id=namespace_id, policy=config.egress, host=egress_host or HOSTLESS
    )
    limits = await quotas.limits_of(session, namespace_id, quota_defaults)
    await quotas.check_version(
        session,
        namespace_id=namespace_id,
        function=None,
        config=config,
        code_bytes=len(archive.data),
        limits=limits,
    )
    function = await FunctionRepo(session).create(principal.namespace_id, name)
    await quotas.check_function_count(session, namespace_id=namespace_id, limits=limits)
    deployed = await _new_version(
        session, function, config, archive, code_store, python_version, deployer(principal)
    )
    await _audit_version(session, principal, "function.create", deployed, changes)
    return replace(deployed, warnings=warnings)


async def update_function(
    *,
    session: AsyncSession,
    principal: Principal,
    name: str,
    code: bytes | None,
    changes: ConfigChanges,
    code_store: CodeStore,
    python_version: str,
    quota_defaults: QuotaLimits,
    egress_host: egress.EgressHost | None = None,
    expect_version: int | None = None,
) -> Deployed:
    """A new version from new code, or from the newest version's code (ready or not) when
    `code` is None, with `changes` over the newest version's configuration.

    `expect_version`: the version this deploy means to supersede; another deploy that made
    a newer one first is `VersionConflict`. Code and configuration identical to the newest
    version (unless that one failed: deploying it again retries) make no version."""
    authorize_function(principal, Action.FUNCTION_WRITE, name)
    functions = FunctionRepo(session)
    function = await functions.get(principal.namespace_id, name)
    base = await _newest_version(session, function)
    _check_expected(function, base, expect_version)
    config = changes.apply(base.config if base else DEFAULT_CONFIG)
    await secrets.check_named(
        session=session, namespace_id=principal.namespace_id, refs=config.secrets
    )
    if code is not None:
        archive = await _checked(code, config, code_store)
    elif base is not None:
        data = await CodeBlobRepo(session).get(base.code_sha256)
        archive = await _checked(data, config, code_store)
    else:
        raise InvalidInput("the function has no code yet: upload a zip")
    warnings = await egress.check_policy(
        session,
        namespace_id=function.namespace_id,
        policy=config.egress,
        host=egress_host or HOSTLESS,
    )
    if _identical(base, archive, config):
        assert base is not None
        return Deployed(function=function, version=base, has_requirements=False, unchanged=True)
    await quotas.check_version(
        session,
        namespace_id=function.namespace_id,
        function=function,
        config=config,
        code_bytes=len(archive.data),
        limits=await quotas.limits_of(session, function.namespace_id, quota_defaults),
    )
    deployed = await _new_version(
        session, function, config, archive, code_store, python_version, deployer(principal)
    )
    # New code is a deploy; the same code with other settings is a configuration change.
    action = "function.deploy" if code is not None else "function.configure"
    await _audit_version(session, principal, action, deployed, changes)
    return replace(deployed, warnings=warnings)


def _check_expected(function: Function, newest: Version | None, expected: int | None) -> None:
    if expected is None:
        return
    number = newest.number if newest is not None else 0
    if number != expected:
        raise VersionConflict(
            f"this deploy expected to supersede version {expected} of {function.name!r}, "
            f"but its newest version is {number}: another deploy came first",
            function=function.name,
            expected=expected,
            newest=number,
        )


def _identical(
    base: Version | None, archive: archives.CheckedArchive, config: VersionConfig
) -> bool:
    return (
        base is not None
        and base.state is not VersionState.FAILED
        and base.code_sha256 == archive.sha256
        and base.config == config
    )


async def _audit_version(
    session: AsyncSession,
    principal: Principal,
    action: str,
    deployed: Deployed,
    changes: ConfigChanges,
) -> None:
    """The audit event of a new version: its number, code and which settings were given
    (their names: an env value may be a credential, so values are never recorded)."""
    given = sorted(name for name, value in vars(changes).items() if value is not None)
    version = deployed.version
    await audit.record(
        session,
        principal=principal,
        action=action,
        target=f"function:{deployed.function.name}",
        namespace_id=deployed.function.namespace_id,
        detail={
            "function_id": deployed.function.id,
            "version": version.number,
            "code_sha256": version.code_sha256,
            "code_size": version.code_size,
            "changed": given,
            **({"egress": version.config.egress.as_text()} if changes.egress else {}),
        },
    )


def deployer(principal: Principal) -> str:
    """Who a version names as its author: the key by its name for an API key (even one a
    person made: the key is what deployed, and its name says which script or pipeline),
    the person's login for a browser session."""
    if principal.key_name is not None:
        return f"key:{principal.key_name}"
    if principal.login:
        return principal.login
    return f"key:{principal.key_id}"  # a stand-in principal of the server's own


async def _newest_version(session: AsyncSession, function: Function) -> Version | None:
    versions = await VersionRepo(session).of_function(function)
    return versions[0] if versions else None


async def _checked(
    code: bytes, config: VersionConfig, code_store: CodeStore
) -> archives.CheckedArchive:
    # Unzipping is CPU work: keep it off the event loop so other requests keep flowing.
    archive = await asyncio.to_thread(archives.check_archive, code, code_store.limits)
    archives.check_handler(archive, config.handler)
    return archive


async def _new_version(
    session: AsyncSession,
    function: Function,
    config: VersionConfig,
    archive: archives.CheckedArchive,
    code_store: CodeStore,
    python_version: str,
    deployed_by: str,
) -> Deployed:
    await CodeBlobRepo(session).put(archive.sha256, archive.data)
    code_dir = await asyncio.to_thread(code_store.put, archive)
    # A bad declaration fails the deploy now; the build runs after the commit.
    requirements = requirements_of(code_dir, config.handler)
    check_python_version(code_dir, split_handler(config.handler)[0], python_version)
    functions = FunctionRepo(session)
    number = await functions.next_version_number(function.id)
    version = await VersionRepo(session).create(
        function=function,
        number=number,
        config=config,
        code_sha256=archive.sha256,
        code_size=len(archive.data),
        state=VersionState.PENDING,
        deployed_by=deployed_by,
    )
    return Deployed(
        function=await functions.get(function.namespace_id, function.name),
        version=version,
        has_requirements=requirements is not None,
    )


async def get_function(*, session: AsyncSession, principal: Principal, name: str) -> Function:
    authorize_function(principal, Action.FUNCTION_READ, name)
    return await FunctionRepo(session).get(principal.namespace_id, name)


async def latest_version(session: AsyncSession, function: Function) -> Version | None:
    if function.latest_version is None:
        return await _newest_version(session, function)
    return await VersionRepo(session).get(function, function.latest_version)


async def list_functions(*, session: AsyncSession, principal: Principal) -> list[Function]:
    """The namespace's functions; for a key limited to some, only those."""
    authorize(principal, Action.FUNCTION_READ)
    functions = await FunctionRepo(session).in_namespace(principal.namespace_id)
    return [function for function in functions if in_scope(principal, function.name)]


async def delete_function(
    *, session: AsyncSession, principal: Principal, name: str, pool: Pool
) -> None:
    """Mark the function deleted and stop its instances. The caller invalidates caches
    after committing, so no request can re-cache the old state in between."""
    authorize_function(principal, Action.FUNCTION_WRITE, name)
    function = await FunctionRepo(session).mark_deleted(principal.namespace_id, name)
    await audit.record(
        session,
        principal=principal,
        action="function.delete",
        target=f"function:{function.name}",
        namespace_id=function.namespace_id,
        detail={"function_id": function.id, "latest_version": function.latest_version},
    )
    await pool.stop_function(function.id)


async def list_versions(*, session: AsyncSession, principal: Principal, name: str) -> list[Version]:
    authorize_function(principal, Action.FUNCTION_READ, name)
    function = await FunctionRepo(session).get(principal.namespace_id, name)
    return await VersionRepo(session).of_function(function)


async def get_version(
    *, session: AsyncSession, principal: Principal, name: str, number: int
) -> Version:
    authorize_function(principal, Action.FUNCTION_READ, name)
    function = await FunctionRepo(session).get(principal.namespace_id, name)
    return await VersionRepo(session).get(function, number)


async def get_code(*, session: AsyncSession, principal: Principal, name: str, number: int) -> bytes:
    version = await get_version(session=session, principal=principal, name=name, number=number)
    return await CodeBlobRepo(session).get(version.code_sha256)


@dataclass(frozen=True)
class BuildLogView:
    function_id: str
    version: Version
    stored: str


async def build_log(
    *, session: AsyncSession, principal: Principal, name: str, number: int
) -> BuildLogView:
    authorize_function(principal, Action.FUNCTION_READ, name)
    function = await FunctionRepo(session).get(principal.namespace_id, name)
    versions = VersionRepo(session)
    version = await versions.get(function, number)
    return BuildLogView(
        function_id=function.id, version=version, stored=await versions.build_log(function, number)
    )


async def follow_build(builder: Builder, view: BuildLogView) -> AsyncIterator[tuple[str, str]]:
    """(event, data) pairs: each log line as it comes, then the version's final state.

    A build running in this process is followed live; otherwise the stored log is sent.
    """
    live = builder.live_log(view.function_id, view.version.number)
    if live is None:
        for line in view.stored.splitlines():
            yield "log", line
        yield "end", view.version.state.value
        return
    async for line in builder.follow(view.function_id, view.version.number):
        yield "log", line
    yield "end", live.state.value
