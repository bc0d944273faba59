"""Signing the calls between the machines of one cluster (API server -> worker).

A worker's internal API runs other people's code on the strength of what the request says
(namespace, secrets, limits), so it accepts only requests signed with the cluster's shared
secret (`SANDLOT_CLUSTER_SECRET`): HMAC-SHA256 over the method, the path, a timestamp and the
body. A request older or newer than `MAX_SKEW_S` is refused, so a captured request cannot be
replayed later; within the window the worker refuses an invocation id it has already seen.
The standard library's hmac is all this needs.
"""

from __future__ import annotations

import hashlib
import hmac
import time

TIME_HEADER = "x-sandlot-cluster-time"
SIGNATURE_HEADER = "x-sandlot-cluster-signature"
MAX_SKEW_S = 30


def _message(method: str, path: str, timestamp: int, body: bytes) -> bytes:
    return f"{method.upper()}\n{path}\n{timestamp}\n".encode() + body


def sign(
    secret: bytes, method: str, path: str, body: bytes, now: float | None = None
) -> dict[str, str]:
    """The headers that sign one request."""
    timestamp = int(time.time() if now is None else now)
    mac = hmac.new(secret, _message(method, path, timestamp, body), hashlib.sha256)
    return {TIME_HEADER: str(timestamp), SIGNATURE_HEADER: mac.hexdigest()}


def verify(
    secret: bytes,
    method: str,
    path: str,
    body: bytes,
    timestamp: str | None,
    signature: str | None,
    now: float | None = None,
) -> str | None:
    """None when the request is signed by the cluster, else why not (for the refusal)."""
    if not timestamp or not signature:
        return "the request is not signed by the cluster (no signature headers)"
    try:
        when = int(timestamp)
    except ValueError:
        return "the request's cluster timestamp is not a number"
    current = time.time() if now is None else now
    if abs(current - when) > MAX_SKEW_S:
        return f"the request's cluster timestamp is more than {MAX_SKEW_S} s off this clock"
    expected = hmac.new(secret, _message(method, path, when, body), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, signature):
        return "the request's cluster signature does not match (another secret, or altered)"
    return None
