"""What changed from one version of a function to another: its configuration and its code.

Environment variables are named, never shown: a value may be a credential, and whoever may
read a function's versions need not see them in a diff too.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from sandlot.domain.actions import Action
from sandlot.domain.models import Principal, Version, VersionConfig
from sandlot.services.authz import authorize_function
from sandlot.services.code_diff import CodeDiff, diff_code
from sandlot.storage.functions import CodeBlobRepo, FunctionRepo, VersionRepo

# The configuration fields compared by value; env and secrets are compared by name below.
_PLAIN_FIELDS = (
    *("handler", "memory_mb", "timeout_s", "max_concurrency", "min_warm", "keep_alive_s"),
    "log_level",
)


@dataclass(frozen=True)
class FieldChange:
    field: str
    before: Any
    after: Any


@dataclass(frozen=True)
class NameChanges:
    added: list[str]
    removed: list[str]
    changed: list[str]


@dataclass(frozen=True)
class VersionDiff:
    version: Version
    against: Version | None
    config: list[FieldChange]
    env: NameChanges
    secrets: NameChanges
    dependencies_changed: bool
    code: CodeDiff


async def diff_versions(
    *, session: AsyncSession, principal: Principal, name: str, number: int, against: int | None
) -> VersionDiff:
    """`number` against `against`, by default the version before it (none for version 1:
    then everything is added)."""
    authorize_function(principal, Action.FUNCTION_READ, name)
    function = await FunctionRepo(session).get(principal.namespace_id, name)
    versions = VersionRepo(session)
    version = await versions.get(function, number)
    if against is None and number > 1:
        against = number - 1
    before = await versions.get(function, against) if against is not None else None
    blobs = CodeBlobRepo(session)
    new_code = await blobs.get(version.code_sha256)
    old_code = await blobs.get(before.code_sha256) if before else None
    # Unzipping and difflib are CPU work: off the event loop, so other requests go on.
    code = await asyncio.to_thread(diff_code, new_code, old_code)
    return VersionDiff(
        version=version,
        against=before,
        config=_config_changes(version.config, before.config if before else None),
        env=_name_changes(version.config.env, before.config.env if before else {}),
        secrets=_name_changes(
            {ref.name: ref.mount.value for ref in version.config.secrets},
            {ref.name: ref.mount.value for ref in before.config.secrets} if before else {},
        ),
        dependencies_changed=(before is None and version.lock_text is not None)
        or (before is not None and before.lock_text != version.lock_text),
        code=code,
    )


def _config_changes(now: VersionConfig, before: VersionConfig | None) -> list[FieldChange]:
    changes = []
    for name in _PLAIN_FIELDS:
        after = getattr(now, name)
        previous = getattr(before, name) if before else None
        if before is None or after != previous:
            changes.append(FieldChange(name, previous, after))
    # The network policy in its text form, as a deploy gives it.
    if before is None or now.egress != before.egress:
        changes.append(
            FieldChange("egress", before.egress.as_text() if before else None, now.egress.as_text())
        )
    return changes


def _name_changes(now: dict[str, str], before: dict[str, str]) -> NameChanges:
    return NameChanges(
        added=sorted(now.keys() - before.keys()),
        removed=sorted(before.keys() - now.keys()),
        changed=sorted(key for key in now.keys() & before.keys() if now[key] != before[key]),
    )
