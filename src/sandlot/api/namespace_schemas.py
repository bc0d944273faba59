"""Request and response bodies of namespaces and their members."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from sandlot.api.quota_schemas import QuotaOut, QuotaReportOut
from sandlot.domain.limits import FUNCTION_NAME_RE
from sandlot.domain.models import Member
from sandlot.domain.quotas import QuotaReport
from sandlot.services.namespaces import DISPLAY_NAME_MAX, NamespaceView

_LOGIN = Field(min_length=1, max_length=64, description="A user's login name")
MEMBER_ROLE = "One of `owner`, `developer`, `invoker`, `viewer`; never above your own"


class NamespaceCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    # Checked by the service, so a bad name is the named InvalidInput in the one error shape.
    name: str = Field(
        min_length=1, max_length=63, description=f"Like a function name: {FUNCTION_NAME_RE.pattern}"
    )
    display_name: str | None = Field(default=None, max_length=DISPLAY_NAME_MAX)
    owner: str | None = Field(
        default=None, min_length=1, max_length=64, description="A login: its first owner"
    )


class NamespaceUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    display_name: str | None = Field(max_length=DISPLAY_NAME_MAX, description="null clears it")


class NamespaceOut(BaseModel):
    name: str
    display_name: str | None
    created_at: datetime
    deleted_at: datetime | None
    role: str = Field(description="Your role there (`admin`: the platform admin)")
    quota: dict[str, QuotaOut] | None = Field(
        default=None,
        description="Each quota's limit and the use now (one namespace's answer; not in lists)",
    )

    @classmethod
    def of(cls, view: NamespaceView, report: QuotaReport | None = None) -> NamespaceOut:
        namespace = view.namespace
        return cls(
            name=namespace.name,
            display_name=namespace.display_name,
            created_at=namespace.created_at,
            deleted_at=namespace.deleted_at,
            role=view.role.value,
            quota=QuotaReportOut.of(report).quotas if report is not None else None,
        )


class NamespaceList(BaseModel):
    items: list[NamespaceOut]


class MemberAdd(BaseModel):
    model_config = ConfigDict(extra="forbid")
    login: str = _LOGIN
    role: str = Field(max_length=32, description=MEMBER_ROLE)


class MemberUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    role: str = Field(max_length=32, description=MEMBER_ROLE)


class MemberOut(BaseModel):
    login: str
    display_name: str
    role: str
    created_at: datetime = Field(description="When they joined the namespace")

    @classmethod
    def of(cls, member: Member) -> MemberOut:
        return cls(
            login=member.login,
            display_name=member.display_name,
            role=member.role.value,
            created_at=member.created_at,
        )


class MemberList(BaseModel):
    items: list[MemberOut]
