"""Where an asynchronous call's end goes, as plain values and rules (no I/O): the two kinds
of destination, the webhook's signature, and the back-off between delivery attempts."""

from __future__ import annotations

import hashlib
import hmac
import random
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit

from sandlot.domain.aliases import ALIAS_NAME, LATEST
from sandlot.domain.errors import InvalidDestination, WebhookSecretTooShort
from sandlot.domain.limits import FUNCTION_NAME_RE

MIN_SECRET_BYTES = 32
MAX_SECRET_BYTES = 1024
MAX_URL_CHARS = 2048
# How many destinations in a row a chain of calls may take (each call's `caused_by` names
# the one before it): a function whose failure destination is a function whose failure
# destination is the first would otherwise run forever. 8 is far past any real pipeline.
MAX_CHAIN_DEPTH = 8
# A receiver should refuse a signed request older (or newer) than this: the replay window.
REPLAY_WINDOW_S = 300
SIGNATURE_VERSION = "v1"


class DestinationKind(StrEnum):
    WEBHOOK = "webhook"
    FUNCTION = "function"


class Condition(StrEnum):
    """Which end of a call a destination is for."""

    SUCCESS = "success"  # the call ended `succeeded`
    FAILURE = "failure"  # the call ended `dead`, after its last attempt


class DeliveryState(StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"


@dataclass(frozen=True)
class Destination:
    kind: DestinationKind
    target: str  # the webhook's URL, or the function's name (`hello:prod` for an alias)

    def as_json(self) -> dict[str, str]:
        key = "url" if self.kind is DestinationKind.WEBHOOK else "function"
        return {"type": self.kind.value, key: self.target}


@dataclass(frozen=True)
class DestinationConfig:
    on_success: Destination | None = None
    on_failure: Destination | None = None
    secret_set: bool = False
    updated_at: datetime | None = None
    updated_by: str | None = None

    def for_condition(self, condition: Condition) -> Destination | None:
        return self.on_success if condition is Condition.SUCCESS else self.on_failure

    @property
    def has_webhook(self) -> bool:
        return any(
            d is not None and d.kind is DestinationKind.WEBHOOK
            for d in (self.on_success, self.on_failure)
        )


@dataclass(frozen=True)
class Delivery:
    """One end of a call sent to one destination, and every attempt at it."""

    id: str
    namespace_id: str
    function_id: str
    function_name: str
    invocation_id: str
    condition: Condition
    kind: DestinationKind
    target: str
    state: DeliveryState
    attempts: int
    max_attempts: int
    created_at: datetime
    next_attempt_at: datetime | None
    finished_at: datetime | None
    last_status: int | None
    last_error: str | None
    body: str
    log: tuple[dict[str, Any], ...] = field(default_factory=tuple)
    # The call a function destination queued; the delivery this one repeats.
    queued_invocation_id: str | None = None
    redelivery_of: str | None = None


def parse_destination(raw: Any, *, condition: Condition, function: str) -> Destination | None:
    """A destination as the API takes it: null, `{"type": "webhook", "url": ...}` or
    `{"type": "function", "function": NAME}`. Whether the function exists is the service's
    to check (it needs the database)."""
    if raw is None:
        return None
    where = f"on_{condition.value}"
    if not isinstance(raw, dict):
        raise InvalidDestination(f"{where}: a destination is an object with a `type`")
    kind = raw.get("type")
    if kind == DestinationKind.WEBHOOK.value:
        return Destination(DestinationKind.WEBHOOK, check_url(raw.get("url"), where))
    if kind == DestinationKind.FUNCTION.value:
        return Destination(
            DestinationKind.FUNCTION, _check_function(raw, where, condition, function)
        )
    raise InvalidDestination(
        f"{where}: `type` is 'webhook' or 'function', not {str(kind)[:40]!r}", field=where
    )


def check_url(url: Any, where: str) -> str:
    if not isinstance(url, str) or not url:
        raise InvalidDestination(f"{where}: a webhook needs a `url`", field=where)
    if len(url) > MAX_URL_CHARS:
        raise InvalidDestination(f"{where}: a URL has at most {MAX_URL_CHARS} characters")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 (raises on a port that is not a number)
    except ValueError:
        raise InvalidDestination(f"{where}: {url[:100]!r} is not a URL", field=where) from None
    if parts.scheme not in ("http", "https"):
        raise InvalidDestination(
            f"{where}: a webhook's URL is http or https, not {parts.scheme or 'schemeless'!r}",
            field=where,
        )
    if not parts.hostname:
        raise InvalidDestination(f"{where}: {url[:100]!r} names no host", field=where)
    if not url.isprintable() or any(ch.isspace() for ch in url):
        raise InvalidDestination(f"{where}: a URL has no spaces or control characters")
    return url


def _check_function(raw: dict[str, Any], where: str, condition: Condition, function: str) -> str:
    """A function's name, or a qualified one (`hello:prod`: the version that alias points at
    when the call is queued)."""
    target = raw.get("function")
    if not isinstance(target, str):
        raise InvalidDestination(f"{where}: `function` must name a function", field=where)
    name, colon, alias = target.partition(":")
    if not FUNCTION_NAME_RE.fullmatch(name) or (colon and not _is_alias(alias)):
        raise InvalidDestination(
            f"{where}: `function` must name a function (`hello`, or `hello:prod` for an alias)",
            field=where,
        )
    if name == function and condition is Condition.SUCCESS:
        # Each success would queue the next call of itself: a loop with no end but the
        # chain's depth limit. (On failure it may: a retry under a new event.)
        raise InvalidDestination(
            f"{where}: a function cannot be its own destination on success (it would call "
            "itself after every call)",
            field=where,
        )
    return name if alias == LATEST else target


def _is_alias(alias: str) -> bool:
    return alias == LATEST or ALIAS_NAME.fullmatch(alias) is not None


def check_secret(secret: str) -> bytes:
    try:
        data = secret.encode()
    except UnicodeEncodeError:  # a lone surrogate, which JSON can carry and UTF-8 cannot
        raise InvalidDestination("a webhook secret is valid Unicode text") from None
    if len(data) < MIN_SECRET_BYTES:
        raise WebhookSecretTooShort(
            f"a webhook secret has at least {MIN_SECRET_BYTES} bytes; this one {len(data)}",
            min_bytes=MIN_SECRET_BYTES,
        )
    if len(data) > MAX_SECRET_BYTES:
        raise InvalidDestination(f"a webhook secret has at most {MAX_SECRET_BYTES} bytes")
    return data


def secret_aad(namespace_id: str, function_id: str) -> bytes:
    """Binds a sealed webhook secret to its function: a row copied to another cannot open."""
    return f"webhook-secret\0{namespace_id}\0{function_id}".encode()


def signature(secret: bytes, timestamp: int, body: bytes) -> str:
    """`v1=<hex HMAC-SHA256 of "<timestamp>.<body>">`: the timestamp is signed with the body,
    so a receiver that checks it against its clock refuses an old request replayed."""
    mac = hmac.new(secret, str(timestamp).encode() + b"." + body, hashlib.sha256)
    return f"{SIGNATURE_VERSION}={mac.hexdigest()}"


def verify(
    secret: bytes,
    timestamp: str,
    body: bytes,
    header: str,
    *,
    now: float,
    window_s: int = REPLAY_WINDOW_S,
) -> bool:
    """What a receiver does (the README shows the same in a few lines)."""
    try:
        sent = int(timestamp)
    except ValueError:
        return False
    if abs(now - sent) > window_s:
        return False
    return hmac.compare_digest(signature(secret, sent, body), header)


def backoff_s(
    attempt: int, *, base_s: float, cap_s: float, rng: random.Random | None = None
) -> float:
    """The wait before attempt `attempt + 1`: exponential, capped, and jittered over its
    upper half, so many deliveries failing at once do not all come back at one instant."""
    ceiling = min(cap_s, base_s * (2 ** max(0, attempt - 1)))
    return (rng or random).uniform(ceiling / 2, ceiling)


def redelivery(original: Delivery, *, new_id: str, max_attempts: int, now: datetime) -> Delivery:
    """A fresh delivery of the same body to the same URL, pointing back at the original."""
    return replace(
        original,
        id=new_id,
        state=DeliveryState.PENDING,
        attempts=0,
        max_attempts=max_attempts,
        created_at=now,
        next_attempt_at=now,
        finished_at=None,
        last_status=None,
        last_error=None,
        log=(),
        redelivery_of=original.id,
    )
