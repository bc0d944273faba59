"""The audit log: who changed what, when, from where (issue 10). FOUNDATION PLACEHOLDER:
the audit part of issue 10 replaces this body with a real write; every control-plane
service calls `record` in the transaction of its change."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from sandlot.domain.models import Principal


async def record(
    session: AsyncSession,
    *,
    principal: Principal | None,
    action: str,
    target: str,
    namespace_id: str | None = None,
    detail: Mapping[str, Any] | None = None,
    actor: str | None = None,
    address: str | None = None,
) -> None:
    """One audit event, e.g. action="function.deploy", target="function:hello". `actor` and
    `address` name the caller when there is no principal (a failed sign-in)."""
    del session, principal, action, target, namespace_id, detail, actor, address
