"""Request and answer bodies of users and sign-in. No answer ever holds a password or hash."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from sandlot.domain.models import Membership, User

_PRINTABLE = r"^[^\x00-\x1f\x7f]*$"
# Long enough for any passphrase; the rule itself (services.passwords) says what is required.
_PASSWORD_MAX = 1024


class UserCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    login: str = Field(max_length=64, description="2-64 of a-z 0-9 . _ -, from a letter")
    password: str = Field(max_length=_PASSWORD_MAX, description="10 to 256 characters")
    display_name: str | None = Field(default=None, max_length=200, pattern=_PRINTABLE)
    platform_admin: bool = False


class UserPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    display_name: str | None = Field(default=None, max_length=200, pattern=_PRINTABLE)
    disabled: bool | None = Field(
        default=None, description="true ends the user's sessions and stops their keys at once"
    )


class PasswordChange(BaseModel):
    model_config = ConfigDict(extra="forbid")
    new_password: str = Field(max_length=_PASSWORD_MAX)
    current_password: str | None = Field(
        default=None,
        max_length=_PASSWORD_MAX,
        description="Needed to change your own password; the platform admin resets others' "
        "without it.",
    )


class MembershipOut(BaseModel):
    namespace: str
    role: str

    @classmethod
    def of(cls, membership: Membership) -> MembershipOut:
        return cls(namespace=membership.namespace, role=membership.role.value)


class UserOut(BaseModel):
    id: str
    login: str
    display_name: str
    platform_admin: bool
    created_at: datetime
    disabled: bool
    disabled_at: datetime | None

    @classmethod
    def of(cls, user: User) -> UserOut:
        return cls(
            id=user.id,
            login=user.login,
            display_name=user.display_name,
            platform_admin=user.platform_admin,
            created_at=user.created_at,
            disabled=user.disabled_at is not None,
            disabled_at=user.disabled_at,
        )


class UserDetail(UserOut):
    memberships: list[MembershipOut]


class UserList(BaseModel):
    items: list[UserOut]


class LoginIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    login: str = Field(max_length=256)
    password: str = Field(max_length=_PASSWORD_MAX)


class LoginOut(BaseModel):
    user: UserOut
    csrf_token: str = Field(
        description="Send it in X-CSRF-Token with every request that changes something"
    )
    expires_at: datetime = Field(description="When the session ends at the latest")
    idle_minutes: int = Field(description="The session ends after this long unused")


class MeOut(BaseModel):
    kind: Literal["session", "key"]
    user_id: str | None = None
    login: str | None = None
    display_name: str | None = None
    platform_admin: bool
    memberships: list[MembershipOut] = Field(
        description="A user's namespaces and roles; a key's own namespace and role"
    )
    key_id: str | None = None
    csrf_token: str | None = Field(default=None, description="For a session: its CSRF token")
