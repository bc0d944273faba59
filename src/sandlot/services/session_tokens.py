"""Session tokens and their CSRF tokens.

A session is an opaque random token (256 bits) in a cookie; the database keeps only its
sha256, like an API key's. Its CSRF token is derived from it (an HMAC keyed by the token), so
it needs no storage of its own, a copy of the database does not reveal it, and only someone who
holds the cookie's value, which a page on another site never does, can compute it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

SESSION_COOKIE = "sandlot_session"
CSRF_HEADER = "X-CSRF-Token"
NAMESPACE_HEADER = "X-Sandlot-Namespace"
# Methods that change nothing, and so need no CSRF token.
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def new_token() -> str:
    return secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def csrf_token_for(token: str) -> str:
    digest = hmac.new(token.encode(), b"sandlot-csrf-v1", hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def csrf_matches(token: str, sent: str | None) -> bool:
    return sent is not None and hmac.compare_digest(csrf_token_for(token), sent.strip())
