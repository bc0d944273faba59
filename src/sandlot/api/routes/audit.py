"""The audit log: who changed what, when, from where."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from sandlot.api.deps import PrincipalDep, SessionDep
from sandlot.api.schemas import ErrorOut
from sandlot.domain.audit import MOMENT_PATTERN, AuditEvent, parse_moment
from sandlot.domain.ids import INVOCATION_ID_PATTERN
from sandlot.services import audit as service

router = APIRouter(prefix="/audit", tags=["audit"])

ERRORS: dict[int | str, dict[str, Any]] = {
    400: {
        "model": ErrorOut,
        "description": "InvalidInput: a time that does not exist, `since` not before `until`, "
        "`namespace` with `platform`, or `platform` from someone but the platform admin",
    },
    401: {"model": ErrorOut, "description": "Missing or wrong credentials"},
    403: {"model": ErrorOut, "description": "PermissionDenied: only owners and the admin"},
    404: {"model": ErrorOut, "description": "NamespaceNotFound"},
    422: {"model": ErrorOut, "description": "The query does not match the schema"},
}


class AuditEventOut(BaseModel):
    id: str = Field(description="Time-ordered: a larger id is a later event")
    at: datetime
    actor: str = Field(
        description="Who: `user:<login>`, `key:<id>`, `key-prefix:<prefix>` (a failed "
        "authentication), `system:bootstrap`, `offline:<local user>`"
    )
    user_id: str | None
    key_id: str | None
    namespace: str | None = Field(description="None: a platform-wide event")
    namespace_id: str | None
    action: str = Field(description="What: e.g. `function.deploy`, `key.revoke`, `auth.failed`")
    target: str = Field(description="On what: e.g. `function:hello`, `key:<id>`")
    address: str | None = Field(description="The client's address, as the server saw it")
    detail: dict[str, Any] | None = Field(
        description="What changed (never a secret value, password or key)"
    )

    @classmethod
    def of(cls, event: AuditEvent) -> AuditEventOut:
        return cls(
            id=event.id,
            at=event.at,
            actor=event.actor,
            user_id=event.user_id,
            key_id=event.key_id,
            namespace=event.namespace,
            namespace_id=event.namespace_id,
            action=event.action,
            target=event.target,
            address=event.address,
            detail=event.detail,
        )


class AuditList(BaseModel):
    items: list[AuditEventOut]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next (older) page")


@router.get(
    "",
    response_model=AuditList,
    responses=ERRORS,
    summary="Audit events, newest first: a namespace owner sees their namespace's, the "
    "platform admin every namespace's and the platform-wide ones",
)
async def list_audit(
    session: SessionDep,
    principal: PrincipalDep,
    action: Annotated[
        str | None,
        Query(
            max_length=64,
            description="An action or its prefix: `function.` is every function change",
        ),
    ] = None,
    actor: Annotated[
        str | None, Query(max_length=200, description="Exactly this actor, e.g. `user:alice`")
    ] = None,
    target: Annotated[
        str | None, Query(max_length=300, description="Exactly this target, e.g. `function:hello`")
    ] = None,
    since: Annotated[
        str | None,
        Query(pattern=MOMENT_PATTERN, description="At or after this RFC 3339 time (with a zone)"),
    ] = None,
    until: Annotated[
        str | None,
        Query(pattern=MOMENT_PATTERN, description="Before this RFC 3339 time (with a zone)"),
    ] = None,
    namespace: Annotated[
        str | None,
        Query(
            max_length=63,
            description="Platform admin: only this namespace's events (default: all). "
            "Others see their own namespace's events only.",
        ),
    ] = None,
    platform: Annotated[
        bool,
        Query(description="Platform admin: only platform-wide events (users, quotas, sign-ins)"),
    ] = False,
    limit: Annotated[int, Query(ge=1, le=service.MAX_PAGE)] = 50,
    cursor: Annotated[
        str | None,
        Query(pattern=INVOCATION_ID_PATTERN, description="next_cursor of the previous page"),
    ] = None,
) -> AuditList:
    page = await service.list_events(
        session=session,
        principal=principal,
        query=service.AuditQuery(
            namespace=namespace,
            platform=platform,
            action=action,
            actor=actor,
            target=target,
            since=None if since is None else parse_moment(since, "since"),
            until=None if until is None else parse_moment(until, "until"),
        ),
        limit=limit,
        cursor=cursor,
    )
    return AuditList(items=[AuditEventOut.of(e) for e in page.items], next_cursor=page.next_cursor)
