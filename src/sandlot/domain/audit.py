"""Audit events: who changed what, when, from where; and the guard that keeps secrets out.

An event's `detail` is a small JSON object that says what changed (a version number, a role,
the names of the settings that moved). It must never carry a secret value, a password or a
key, so `check_detail` refuses any detail whose keys read like one. That refusal is a bug in
the caller (`UnsafeAuditDetail` is a programming error, not a `SandlotError` answered to a
client): tests that exercise the change find it before it ships.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sandlot.domain.errors import InvalidInput

# Column widths (storage/tables.py); longer strings are cut, never refused, so that an
# unusual caller cannot make a control-plane change fail on its own audit row.
ACTOR_MAX = 200
ID_MAX = 64
ACTION_MAX = 64
TARGET_MAX = 300
ADDRESS_MAX = 200
# A detail says what changed, not how: a few fields. Past this it is a mistake in the caller.
DETAIL_MAX_BYTES = 4096

# "thing.verb" by convention ("function.deploy", "login.failed"); one word is allowed too.
ACTION_RE = re.compile(r"^[a-z][a-z0-9_-]*(\.[a-z][a-z0-9_-]*)*$")
# The last word of a key is its noun ("new_password", "api_key", "secret_value"); these name
# what must never be logged. "key_id", "secret_name" and "password_changed" are fine.
_SECRET_NOUNS = frozenset(
    {
        "password",
        "passwd",
        "passphrase",
        "value",
        "key",
        "apikey",
        "token",
        "secret",
        "credential",
        "credentials",
        "cookie",
    }
)
_CAMEL_HUMP = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_NOT_WORD = re.compile(r"[^a-z0-9]+")
# What a Sandlot API key looks like (`domain.ids.new_api_key`), wherever it hides in a value.
_API_KEY_LIKE = re.compile(r"\bsl_[A-Za-z0-9]+_[A-Za-z0-9_-]{20,}")


# RFC 3339 with its zone, as the audit filters take times: a time without one is refused
# rather than guessed.
MOMENT_PATTERN = r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(\.\d{1,6})?(Z|[+-]\d{2}:\d{2})$"


def parse_moment(text: str, name: str) -> datetime:
    """An RFC 3339 time (`MOMENT_PATTERN`) as an aware UTC datetime, or `InvalidInput`."""
    if not re.fullmatch(MOMENT_PATTERN, text):
        raise InvalidInput(
            f"'{name}' is an RFC 3339 time with a zone, e.g. 2026-12-01T12:00:00Z", **{name: text}
        )
    try:
        return datetime.fromisoformat(text).astimezone(UTC)
    except (ValueError, OverflowError) as exc:
        raise InvalidInput(f"'{name}' is not a real time: {exc}", **{name: text}) from exc


class UnsafeAuditDetail(ValueError):
    """A caller tried to put something secret-looking (or too much) into an audit event."""


@dataclass(frozen=True)
class AuditEvent:
    id: str  # time-ordered, like invocation ids: newest first is ORDER BY id DESC
    at: datetime
    actor: str  # "user:alice", "key:<id>", "key-prefix:<prefix>", "system:bootstrap", ...
    action: str  # "function.deploy", "key.revoke", "auth.failed", ...
    target: str  # "function:hello", "key:<id>", "namespace:team-a", ...
    namespace_id: str | None = None  # None: a platform-wide event (users, quotas, sign-in)
    namespace: str | None = None  # its name, when read back
    user_id: str | None = None
    key_id: str | None = None
    address: str | None = None
    detail: dict[str, Any] | None = None


@dataclass(frozen=True)
class AuditPage:
    items: list[AuditEvent]
    next_cursor: str | None


@dataclass(frozen=True)
class AuditFilter:
    """What `GET /audit` narrows to. `namespace_ids` None: every namespace and the platform;
    `platform_only`: only events of no namespace."""

    namespace_ids: frozenset[str] | None = None
    platform_only: bool = False
    action_prefix: str | None = None
    actor: str | None = None
    target: str | None = None
    since: datetime | None = None
    until: datetime | None = None


def check_action(action: str) -> None:
    if len(action) > ACTION_MAX or not ACTION_RE.fullmatch(action):
        raise UnsafeAuditDetail(f"an audit action is like 'thing.verb', got {action!r}")


def check_detail(detail: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The detail as stored, or `UnsafeAuditDetail` if it could hold a secret or is too big."""
    if detail is None:
        return None
    _check_value(detail, path="detail")
    try:
        text = json.dumps(detail, ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise UnsafeAuditDetail(f"an audit detail must be plain JSON: {exc}") from exc
    if len(text.encode()) > DETAIL_MAX_BYTES:
        raise UnsafeAuditDetail(
            f"an audit detail is at most {DETAIL_MAX_BYTES} bytes of JSON; this one is "
            f"{len(text.encode())}: say what changed, not all of it"
        )
    loaded: dict[str, Any] = json.loads(text)
    return loaded


def looks_secret(name: str) -> bool:
    """Whether a detail key names a secret: its last word is one of the secret nouns."""
    words = [word for word in _NOT_WORD.split(_CAMEL_HUMP.sub("_", name).lower()) if word]
    return bool(words) and words[-1] in _SECRET_NOUNS


def _check_value(value: Any, *, path: str) -> None:
    if isinstance(value, Mapping):
        for key, item in value.items():
            if not isinstance(key, str):
                raise UnsafeAuditDetail(f"{path}: audit detail keys are strings, got {key!r}")
            if looks_secret(key):
                raise UnsafeAuditDetail(
                    f"{path}.{key}: an audit detail never holds a secret, password, key or "
                    "token; record a name, id or prefix instead"
                )
            _check_value(item, path=f"{path}.{key}")
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            _check_value(item, path=f"{path}[{index}]")
    elif isinstance(value, str) and _API_KEY_LIKE.search(value):
        raise UnsafeAuditDetail(f"{path}: this looks like an API key; record its prefix instead")


def clip(text: str | None, limit: int) -> str | None:
    return None if text is None else text[:limit]
