"""Per-namespace quotas: reading and setting them, and the checks at deploy time.

Where each quota is checked:

- at deploy and configure (here, against the database, in the deploy's transaction): the
  number of functions, the namespace's code and environment in all, and that one instance
  of the version fits the memory quota at all;
- per call and per instance start (in the pool, `worker.tenants`, counted in memory): the
  rate, the concurrency and the memory of live instances. Their limits travel with the
  version's spec, which the catalog caches; setting a quota invalidates the namespace's
  cached specs, so the invoke path never reads the database for them.

A limit set below the current use is accepted and said so (`QuotaReport.warnings`):
nothing running is stopped, and only what would add to the use is refused until it is
under the limit again.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from sqlalchemy.ext.asyncio import AsyncSession

from sandlot.domain.actions import Action
from sandlot.domain.errors import QuotaExceeded
from sandlot.domain.models import Function, Namespace, Principal, VersionConfig
from sandlot.domain.quotas import (
    QuotaLimits,
    QuotaName,
    QuotaReport,
    QuotaUse,
    check_quota_value,
    env_bytes,
    in_units,
    over_limit,
    quota_exceeded,
)
from sandlot.services import audit, namespaces
from sandlot.services.authz import authorize
from sandlot.storage.quotas import QuotaRepo
from sandlot.worker.interface import NamespaceLimits, Pool


async def limits_of(session: AsyncSession, namespace_id: str, defaults: QuotaLimits) -> QuotaLimits:
    """The namespace's limits: its own where set, else the server's defaults."""
    return defaults.over(await QuotaRepo(session).overrides(namespace_id))


def pool_limits(limits: QuotaLimits) -> NamespaceLimits:
    """The quotas the pool holds each call and instance start to."""
    return NamespaceLimits(
        concurrency=limits.concurrency,
        memory_mb=limits.memory_mb,
        rate_per_minute=limits.rate_per_minute,
    )


# Checks at deploy and configure.


async def check_function_count(
    session: AsyncSession, *, namespace_id: str, limits: QuotaLimits
) -> None:
    """Just after a function was added in this transaction: is the namespace still within
    its quota? Counting after the insert, with the namespace locked (PostgreSQL; SQLite has
    one writer at a time), keeps two creates at once from both taking the last place."""
    limit = limits.functions
    if limit is None:
        return
    repo = QuotaRepo(session)
    await repo.lock_namespace(namespace_id)
    live = await repo.live_functions(namespace_id)
    if live > limit:
        raise quota_exceeded(QuotaName.FUNCTIONS, limit=limit, used=live - 1, would_be=live)


async def check_version(
    session: AsyncSession,
    *,
    namespace_id: str,
    function: Function | None,
    config: VersionConfig,
    code_bytes: int,
    limits: QuotaLimits,
) -> None:
    """Before a new version of `function` (None: a new function) is stored: does one of its
    instances fit the memory quota, and do the namespace's code and environment stay in
    theirs? A version that does not add to a use already over its limit passes (e.g. a
    smaller redeploy after the limit was lowered)."""
    if limits.memory_mb is not None and config.memory_mb > limits.memory_mb:
        raise QuotaExceeded(
            f"quota memory_mb exceeded: one instance of this function needs "
            f"{config.memory_mb} MB, more than the namespace's {limits.memory_mb} MB in all, "
            "so it could never start",
            quota=QuotaName.MEMORY_MB.value,
            limit=limits.memory_mb,
            used=config.memory_mb,
            would_be=config.memory_mb,
        )
    if limits.code_mb is None and limits.env_kb is None:
        return
    repo = QuotaRepo(session)
    # On PostgreSQL, deploys at once wait for each other here; on SQLite two that read their
    # totals before either wrote may both pass, going over by at most one version.
    await repo.lock_namespace(namespace_id)
    sizes = await repo.newest_versions(namespace_id)
    replaced = [s for s in sizes if function is not None and s.function_id == function.id]
    code_now = sum(s.code_bytes for s in sizes)
    env_now = sum(s.env_bytes for s in sizes)
    code_after = code_now - sum(s.code_bytes for s in replaced) + code_bytes
    env_after = env_now - sum(s.env_bytes for s in replaced) + env_bytes(config.env)
    for name, limit, now, after in (
        (QuotaName.CODE_MB, limits.code_mb, code_now, code_after),
        (QuotaName.ENV_KB, limits.env_kb, env_now, env_after),
    ):
        if limit is not None and after > now and over_limit(name, limit, after):
            raise quota_exceeded(name, limit=limit, used=now, would_be=after)


# Reading and setting.


async def _visible_namespace(session: AsyncSession, principal: Principal, name: str) -> Namespace:
    """The namespace named so, if this caller may see it; another namespace is a 404, the
    same answer as one that does not exist."""
    namespace, _ = await namespaces.reach(session, principal, name, manage=False)
    return namespace


async def quota_report(
    *,
    session: AsyncSession,
    pool: Pool,
    defaults: QuotaLimits,
    namespace: Namespace,
    warnings: tuple[str, ...] = (),
) -> QuotaReport:
    """Each quota of the namespace: its limit, whether that is the default, and the use
    now. For embedding in any answer about the namespace (e.g. `GET /namespaces/{ns}`)."""
    repo = QuotaRepo(session)
    overrides = await repo.overrides(namespace.id)
    limits = defaults.over(overrides)
    sizes = await repo.newest_versions(namespace.id)
    in_pool = pool.namespace_use(namespace.id)
    used: dict[QuotaName, float | int] = {
        QuotaName.FUNCTIONS: await repo.live_functions(namespace.id),
        QuotaName.MEMORY_MB: in_pool.memory_mb,
        QuotaName.CONCURRENCY: in_pool.calls,
        QuotaName.RATE_PER_MINUTE: in_pool.rate_used,
        QuotaName.CODE_MB: in_units(QuotaName.CODE_MB, sum(s.code_bytes for s in sizes)),
        QuotaName.ENV_KB: in_units(QuotaName.ENV_KB, sum(s.env_bytes for s in sizes)),
    }
    each = tuple(
        QuotaUse(
            name=name, limit=limits.of(name), used=used[name], is_default=name not in overrides
        )
        for name in QuotaLimits.names()
    )
    return QuotaReport(namespace=namespace.name, quotas=each, warnings=warnings)


async def get_quota(
    *, session: AsyncSession, principal: Principal, pool: Pool, defaults: QuotaLimits, name: str
) -> QuotaReport:
    """Anyone who can read the namespace may read its quotas."""
    authorize(principal, Action.FUNCTION_READ)
    namespace = await _visible_namespace(session, principal, name)
    return await quota_report(session=session, pool=pool, defaults=defaults, namespace=namespace)


async def set_quota(
    *,
    session: AsyncSession,
    principal: Principal,
    pool: Pool,
    defaults: QuotaLimits,
    name: str,
    changes: Mapping[QuotaName, int | None],
) -> tuple[Namespace, QuotaReport]:
    """Set some of a namespace's limits (None: back to the default); the platform admin's
    only. The caller commits, then invalidates the namespace's cached specs so that calls
    see the new limits at once."""
    # Found first: another namespace is a 404 to anyone who can't see it, as everywhere.
    namespace = await _visible_namespace(session, principal, name)
    authorize(principal, Action.QUOTA_SET)
    for quota, value in changes.items():
        if value is not None:
            check_quota_value(quota, value)
    repo = QuotaRepo(session)
    before = defaults.over(await repo.overrides(namespace.id))
    await repo.put(namespace.id, dict(changes))
    after = defaults.over(await repo.overrides(namespace.id))
    await audit.record(
        session,
        principal=principal,
        action="quota.set",
        target=f"namespace:{namespace.name}",
        namespace_id=namespace.id,
        detail={
            "old": {quota.value: before.of(quota) for quota in changes},
            "new": {quota.value: after.of(quota) for quota in changes},
        },
        address=principal.address,
    )
    report = await quota_report(session=session, pool=pool, defaults=defaults, namespace=namespace)
    warnings = tuple(
        _below_use_warning(use) for use in report.quotas if use.name in changes and use.over
    )
    return namespace, replace(report, warnings=warnings)


def _below_use_warning(use: QuotaUse) -> str:
    return (
        f"{use.name.value}: the limit {use.limit} {use.unit} is below the current use "
        f"({use.used}); nothing running is stopped, but what would add to the use is refused "
        "until it is under the limit"
    )
