"""The client's calls for asynchronous invocations after their 202: wait for one, redrive or
discard dead letters (mixed into `SandlotClient`)."""

from __future__ import annotations

import json
import time
from typing import Any
from urllib.parse import quote

JSON = dict[str, Any]
_JSON_HEADERS = {"Content-Type": "application/json"}
# The server holds one wait for at most SANDLOT_INVOCATION_WAIT_MAX_S (default 30 s): a
# longer wait is a loop of such requests, each given this long to answer beyond its own wait.
_WAIT_STEP_S = 30.0
_ANSWER_MARGIN_S = 30.0
FINAL_STATES = frozenset({"succeeded", "failed", "timed_out", "out_of_memory", "cancelled", "dead"})


def _segment(value: str) -> str:
    return quote(value, safe="")


class AsyncControlCalls:
    """Needs `_json(method, path, **kwargs)` and `_send_empty` of the client it is mixed into."""

    def _json(self, method: str, path: str, **kwargs: Any) -> Any:  # pragma: no cover
        raise NotImplementedError

    def _send_empty(self, method: str, path: str) -> None:  # pragma: no cover
        raise NotImplementedError

    def invoke_async(
        self,
        name: str,
        event: Any = None,
        *,
        version: int | None = None,
        idempotency_key: str | None = None,
        routing_key: str | None = None,
    ) -> JSON:
        """Queue a call (`Prefer: respond-async`); the queued invocation. With a key, a repeat
        within 24 hours answers with the first call."""
        body = event if isinstance(event, bytes) else json.dumps(event).encode()
        headers = {**_JSON_HEADERS, "Prefer": "respond-async"}
        if idempotency_key is not None:
            headers["Idempotency-Key"] = idempotency_key
        if routing_key is not None:
            headers["X-Sandlot-Routing-Key"] = routing_key
        result: JSON = self._json(
            "POST",
            f"/functions/{_segment(name)}/invoke",
            body=body,
            params={"version": version} if version is not None else None,
            headers=headers,
        )
        return result

    def wait_invocation(self, invocation_id: str, timeout: float | None = None) -> JSON:
        """The invocation once it has ended, or as it is after `timeout` seconds (None: wait
        as long as it takes). Read its `state`."""
        deadline = None if timeout is None else time.monotonic() + max(0.0, timeout)
        while True:
            left = _WAIT_STEP_S if deadline is None else deadline - time.monotonic()
            step = max(0.0, min(_WAIT_STEP_S, left))
            found: JSON = self._json(
                "GET",
                f"/invocations/{_segment(invocation_id)}",
                params={"wait": round(step, 3)},
                timeout=step + _ANSWER_MARGIN_S,
            )
            if found.get("state") in FINAL_STATES or step <= 0:
                return found
            if deadline is not None and time.monotonic() >= deadline:
                return found

    def redrive_invocation(self, invocation_id: str) -> JSON:
        result: JSON = self._json("POST", f"/invocations/{_segment(invocation_id)}/redrive")
        return result

    def discard_invocation(self, invocation_id: str) -> None:
        self._send_empty("POST", f"/invocations/{_segment(invocation_id)}/discard")

    def redrive_dead_letters(self, function: str) -> int:
        answer = self._json("POST", f"/functions/{_segment(function)}/dead-letters/redrive")
        return int(answer["redriven"])

    def discard_dead_letters(self, function: str) -> int:
        answer = self._json("POST", f"/functions/{_segment(function)}/dead-letters/discard")
        return int(answer["discarded"])
