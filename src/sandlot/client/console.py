"""The client's calls for saved test events and version diffs (mixed into `SandlotClient`)."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

JSON = dict[str, Any]
_JSON_HEADERS = {"Content-Type": "application/json"}


def _events(name: str) -> str:
    return f"/functions/{quote(name, safe='')}/test-events"


class ConsoleCalls:
    """Needs `_json` and `_send_empty` of the client it is mixed into."""

    def _json(self, method: str, path: str, **kwargs: Any) -> Any:  # pragma: no cover
        raise NotImplementedError

    def _send_empty(self, method: str, path: str) -> None:  # pragma: no cover
        raise NotImplementedError

    def list_test_events(self, name: str) -> list[JSON]:
        items: list[JSON] = self._json("GET", _events(name))["items"]
        return items

    def save_test_event(self, name: str, event_name: str, event: bytes) -> JSON:
        """`event` is JSON text, sent as it is inside `{"event": ...}` (no re-encoding, so
        what was written is what is saved)."""
        body = b'{"event":' + (event.strip() or b"null") + b"}"
        path = f"{_events(name)}/{quote(event_name, safe='')}"
        result: JSON = self._json("PUT", path, body=body, headers=_JSON_HEADERS)
        return result

    def delete_test_event(self, name: str, event_name: str) -> None:
        self._send_empty("DELETE", f"{_events(name)}/{quote(event_name, safe='')}")

    def version_diff(self, name: str, number: int, against: int | None = None) -> JSON:
        path = f"/functions/{quote(name, safe='')}/versions/{number}/diff"
        params = {} if against is None else {"against": against}
        result: JSON = self._json("GET", path, params=params)
        return result

    # -- function URLs (`sandlot url`, the console's Configuration tab) ------------------------

    def get_function_url(self, name: str) -> JSON:
        result: JSON = self._json("GET", f"/functions/{quote(name, safe='')}/url")
        return result

    def set_function_url(self, name: str, auth: str, cors: JSON | None = None) -> JSON:
        body: JSON = {"auth": auth}
        if cors is not None:
            body["cors"] = cors
        path = f"/functions/{quote(name, safe='')}/url"
        result: JSON = self._json(
            "PUT", path, body=json.dumps(body).encode(), headers=_JSON_HEADERS
        )
        return result

    def delete_function_url(self, name: str) -> None:
        self._send_empty("DELETE", f"/functions/{quote(name, safe='')}/url")
