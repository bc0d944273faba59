"""The client's calls for asynchronous invocations: a function's retry policy and cancel
(mixed into `SandlotClient`)."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

JSON = dict[str, Any]
_JSON_HEADERS = {"Content-Type": "application/json"}


class AsyncCalls:
    """Needs `_json` of the client it is mixed into."""

    def _json(self, method: str, path: str, **kwargs: Any) -> Any:  # pragma: no cover
        raise NotImplementedError

    def get_async_config(self, name: str) -> JSON:
        result: JSON = self._json("GET", f"/functions/{quote(name, safe='')}/async-config")
        return result

    def set_async_config(self, name: str, **fields: Any) -> JSON:
        """Change the fields given (max_attempts, retry_on_error, max_event_age_s)."""
        body = {key: value for key, value in fields.items() if value is not None}
        path = f"/functions/{quote(name, safe='')}/async-config"
        result: JSON = self._json(
            "PUT", path, body=json.dumps(body).encode(), headers=_JSON_HEADERS
        )
        return result

    def cancel_invocation(self, invocation_id: str) -> JSON:
        result: JSON = self._json("POST", f"/invocations/{quote(invocation_id, safe='')}/cancel")
        return result
