"""What the client raises: `ApiError` (the server answered with its one error shape) or
`ServerUnreachable` (nothing answered), both under `ClientError`."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

# The error names with which invoke reports that the function, not the platform, failed.
FUNCTION_FAILURES = frozenset(
    {"FunctionError", "FunctionTimedOut", "FunctionOutOfMemory", "FunctionCrashed"}
    | {"FunctionResourceLimit", "FunctionResultInvalid"}
)


class ClientError(Exception):
    """Root of the errors this client raises."""


class ServerUnreachable(ClientError):
    def __init__(self, url: str, reason: str) -> None:
        super().__init__(f"the Sandlot server at {url} is not reachable: {reason}")
        self.url = url
        self.reason = reason


class ApiError(ClientError):
    """The server answered `{"error": name, "detail": {...}}` with an error status."""

    def __init__(
        self,
        status: int,
        name: str,
        detail: Mapping[str, Any],
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.status = status
        self.name = name
        self.detail = dict(detail)
        self.headers = dict(headers or {})
        super().__init__(f"{name} ({status}): {self.message}")

    @property
    def message(self) -> str:
        return str(self.detail.get("message", ""))

    @property
    def is_function_failure(self) -> bool:
        return self.name in FUNCTION_FAILURES

    @property
    def invocation_id(self) -> str | None:
        value = self.detail.get("invocation_id") or self.headers.get("x-sandlot-invocation-id")
        return str(value) if value else None

    @classmethod
    def from_answer(
        cls, status: int, headers: Mapping[str, str], body: bytes, reason: str = ""
    ) -> ApiError:
        """The error an answer with an error status carries; `headers` have lower-case names."""
        try:
            parsed = json.loads(body)
        except ValueError:
            parsed = None
        if isinstance(parsed, dict) and isinstance(parsed.get("error"), str):
            detail = parsed.get("detail")
            if not isinstance(detail, dict):
                detail = {"message": "" if detail is None else str(detail)}
            return cls(status, parsed["error"], detail, headers)
        # Not our error shape: a proxy in between, or not a Sandlot server at all.
        text = body.decode(errors="replace").strip()[:500] or reason
        return cls(status, "HTTPError", {"message": text}, headers)
