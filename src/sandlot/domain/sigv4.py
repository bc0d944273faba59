"""AWS Signature Version 4, verified on the server side.

The SDKs (botocore) only sign; no well-kept library verifies a signature on a server, so
this is written by hand from AWS's published algorithm: the canonical request (method, the
path URI-encoded once more, the sorted query, the signed headers, the payload's SHA-256),
the string to sign over the credential scope, and the HMAC-SHA256 chain of the signing key.
Pure: the caller gives the request's parts and the candidate secret; nothing here reads a
clock or a database.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

from sandlot.domain.errors import SandlotError

ALGORITHM = "AWS4-HMAC-SHA256"
SERVICE = "lambda"
MAX_SKEW = timedelta(minutes=15)
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"

_AUTH_RE = re.compile(
    r"^AWS4-HMAC-SHA256\s+Credential=(?P<credential>[^,\s]+)\s*,\s*"
    r"SignedHeaders=(?P<signed>[^,\s]+)\s*,\s*Signature=(?P<signature>[0-9a-f]{64})$"
)
_AMZ_DATE = "%Y%m%dT%H%M%SZ"


class SignatureError(SandlotError):
    """A request's signature is missing, malformed, stale or wrong. `kind` is the name of
    Lambda's error for it (`MissingAuthenticationTokenException`,
    `IncompleteSignatureException`, `InvalidSignatureException`)."""

    def __init__(self, message: str, kind: str = "InvalidSignatureException") -> None:
        super().__init__(message)
        self.kind = kind


@dataclass(frozen=True)
class Credential:
    """The `Credential=` part of an Authorization header, and what it was signed with."""

    access_key_id: str
    date: str  # YYYYMMDD
    region: str
    service: str
    signed_headers: tuple[str, ...]
    signature: str

    @property
    def scope(self) -> str:
        return f"{self.date}/{self.region}/{self.service}/aws4_request"


@dataclass(frozen=True)
class SignedRequest:
    """What the signature covers, as the server received it."""

    method: str
    raw_path: str  # percent-encoded, as sent (ASGI's raw_path)
    raw_query: str  # as sent, without the '?'
    headers: Mapping[str, Sequence[str]]  # lower-case names -> every value
    body: bytes


def parse_authorization(header: str | None) -> Credential:
    if not header:
        raise SignatureError(
            "the request is not signed: send an AWS Signature Version 4 Authorization header "
            "(the access key id is a Sandlot key's `sl_<prefix>`, the secret the key itself)",
            "MissingAuthenticationTokenException",
        )
    found = _AUTH_RE.fullmatch(header.strip())
    if found is None:
        raise SignatureError(
            f"the Authorization header is not {ALGORITHM} with Credential, SignedHeaders and "
            "Signature",
            "IncompleteSignatureException",
        )
    parts = found["credential"].split("/")
    if len(parts) != 5 or parts[4] != "aws4_request":
        raise SignatureError(
            "the credential must read <access key id>/<date>/<region>/<service>/aws4_request",
            "IncompleteSignatureException",
        )
    signed = tuple(found["signed"].split(";"))
    if "host" not in signed:
        raise SignatureError(
            "the signature must cover the host header", "IncompleteSignatureException"
        )
    return Credential(parts[0], parts[1], parts[2], parts[3], signed, found["signature"])


def check_scope(credential: Credential, amz_date: str | None, region: str, now: datetime) -> None:
    """The credential is for this region and service, and was signed within 15 minutes."""
    if credential.service != SERVICE:
        raise SignatureError(f"the request is signed for {credential.service!r}, not 'lambda'")
    if credential.region != region:
        raise SignatureError(
            f"the request is signed for region {credential.region!r}; this server is "
            f"{region!r} (SANDLOT_AWS_REGION)"
        )
    if not amz_date or "x-amz-date" not in credential.signed_headers:
        raise SignatureError(
            "the request must carry a signed X-Amz-Date header", "IncompleteSignatureException"
        )
    try:
        signed_at = datetime.strptime(amz_date, _AMZ_DATE).replace(tzinfo=UTC)
    except ValueError:
        raise SignatureError(f"X-Amz-Date {amz_date!r} is not YYYYMMDDTHHMMSSZ") from None
    if amz_date[:8] != credential.date:
        raise SignatureError("the credential's date is not X-Amz-Date's day")
    if abs(now - signed_at) > MAX_SKEW:
        raise SignatureError(
            f"the signature was made at {signed_at.isoformat()}, more than 15 minutes from "
            f"this server's clock ({now.replace(microsecond=0).isoformat()})"
        )


def payload_hash(request: SignedRequest) -> str:
    """The body's SHA-256; a client's own `X-Amz-Content-SHA256` must be that value (an
    unsigned payload is refused: the signature would then not cover what runs)."""
    actual = hashlib.sha256(request.body).hexdigest()
    claimed = request.headers.get("x-amz-content-sha256")
    if claimed and claimed[0] != actual:
        if claimed[0] == UNSIGNED_PAYLOAD:
            raise SignatureError("an unsigned payload is not accepted: sign the body")
        raise SignatureError("X-Amz-Content-SHA256 is not the SHA-256 of the body")
    return actual


def canonical_path(raw_path: str) -> str:
    """Every service but S3 signs the path with its dot segments and empty segments removed
    (RFC 3986 section 5.2.4, as the SDKs apply it), URI-encoded once more than sent."""
    segments: list[str] = []
    for segment in raw_path.split("/"):
        if segment == "..":
            if segments:
                segments.pop()
        elif segment and segment != ".":
            segments.append(segment)
    path = "/" + "/".join(segments)
    if raw_path.endswith("/") and segments:
        path += "/"
    return quote(path, safe="/~")


def canonical_query(raw_query: str) -> str:
    # The query as sent (already encoded by the client), pairs sorted by key, then value.
    if not raw_query:
        return ""
    pairs = [pair.partition("=") for pair in raw_query.split("&") if pair]
    return "&".join(f"{key}={value}" for key, _, value in sorted((k, s, v) for k, s, v in pairs))


def canonical_headers(request: SignedRequest, names: Sequence[str]) -> str:
    lines = []
    for name in names:
        values = request.headers.get(name)
        if values is None:
            raise SignatureError(f"the signed header {name!r} is not in the request")
        lines.append(f"{name}:{','.join(' '.join(v.split()) for v in values)}\n")
    return "".join(lines)


def canonical_request(request: SignedRequest, credential: Credential) -> str:
    names = credential.signed_headers
    return "\n".join(
        (
            request.method.upper(),
            canonical_path(request.raw_path),
            canonical_query(request.raw_query),
            canonical_headers(request, names),
            ";".join(names),
            payload_hash(request),
        )
    )


def signature(secret: str, credential: Credential, amz_date: str, canonical: str) -> str:
    string_to_sign = "\n".join(
        (ALGORITHM, amz_date, credential.scope, hashlib.sha256(canonical.encode()).hexdigest())
    )
    key = _hmac(f"AWS4{secret}".encode(), credential.date)
    for part in (credential.region, credential.service, "aws4_request"):
        key = _hmac(key, part)
    return hmac.new(key, string_to_sign.encode(), hashlib.sha256).hexdigest()


def matches(secret: str, credential: Credential, amz_date: str, canonical: str) -> bool:
    expected = signature(secret, credential, amz_date, canonical)
    return hmac.compare_digest(expected, credential.signature)


def _hmac(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode(), hashlib.sha256).digest()
