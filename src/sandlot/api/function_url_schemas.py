"""Request and response bodies of a function's URL configuration."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from sandlot.domain.http_events import CORS_ITEM_MAX, CORS_LIST_MAX, CORS_MAX_AGE_S, Cors


class CorsIn(BaseModel):
    allow_origins: list[str] = Field(
        default_factory=list,
        max_length=CORS_LIST_MAX,
        description="Origins allowed to call the URL from a browser (`https://app.example`), "
        "or `*`; empty turns CORS off",
    )
    allow_methods: list[str] = Field(
        default_factory=list, max_length=CORS_LIST_MAX, description="e.g. `GET`, `POST`, `*`"
    )
    allow_headers: list[str] = Field(
        default_factory=list, max_length=CORS_LIST_MAX, description="Request headers allowed"
    )
    expose_headers: list[str] = Field(
        default_factory=list,
        max_length=CORS_LIST_MAX,
        description="Response headers a page's script may read",
    )
    allow_credentials: bool = Field(False, description="Allow cookies; needs explicit origins")
    max_age: int | None = Field(
        None, ge=0, le=CORS_MAX_AGE_S, description="How long a browser may cache a preflight (s)"
    )


class FunctionUrlIn(BaseModel):
    auth: Literal["none", "key"] = Field(
        description="`key`: callers send an API key that may invoke the function in "
        "`Authorization: Bearer`; `none`: anyone may call it"
    )
    cors: CorsIn | None = Field(None, description="CORS settings; absent: CORS off")


class CorsOut(BaseModel):
    allow_origins: list[str]
    allow_methods: list[str]
    allow_headers: list[str]
    expose_headers: list[str]
    allow_credentials: bool
    max_age: int | None

    @classmethod
    def of(cls, cors: Cors) -> CorsOut:
        return cls(**cors.as_dict())


class FunctionUrlOut(BaseModel):
    function: str
    alias: str = Field("latest", description="The alias this URL serves (`latest`: the newest)")
    enabled: bool = Field(description="Whether the function has a URL (false: it answers 404)")
    path: str = Field(
        description="`/fn/{namespace}/{function}/` (`/fn/{namespace}/{function}:{alias}/` for an "
        "alias); any path below it is the function's too"
    )
    url: str = Field(description="The public URL (SANDLOT_PUBLIC_URL, else this server's)")
    auth: Literal["none", "key"] | None = None
    cors: CorsOut | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    updated_by: str | None = Field(None, description="Who set it last")


__all__ = ["CORS_ITEM_MAX", "CorsIn", "CorsOut", "FunctionUrlIn", "FunctionUrlOut"]
