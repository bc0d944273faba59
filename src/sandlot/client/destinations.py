"""The client's calls for a function's destinations and deliveries (mixed into
`SandlotClient`)."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

JSON = dict[str, Any]
_JSON_HEADERS = {"Content-Type": "application/json"}


def _function(name: str) -> str:
    return f"/functions/{quote(name, safe='')}"


class DestinationCalls:
    """Needs `_json` of the client it is mixed into."""

    def _json(self, method: str, path: str, **kwargs: Any) -> Any:  # pragma: no cover
        raise NotImplementedError

    def get_destinations(self, name: str) -> JSON:
        result: JSON = self._json("GET", f"{_function(name)}/destinations")
        return result

    def set_destinations(
        self,
        name: str,
        *,
        on_success: JSON | None,
        on_failure: JSON | None,
        secret: str | None = None,
    ) -> JSON:
        """Both destinations (None: none); the secret only when given (else the old one)."""
        body: JSON = {"on_success": on_success, "on_failure": on_failure}
        if secret is not None:
            body["secret"] = secret
        result: JSON = self._json(
            "PUT",
            f"{_function(name)}/destinations",
            body=json.dumps(body).encode(),
            headers=_JSON_HEADERS,
        )
        return result

    def list_deliveries(
        self,
        name: str,
        *,
        state: str | None = None,
        invocation_id: str | None = None,
        limit: int = 50,
    ) -> list[JSON]:
        params: dict[str, str | int] = {"limit": limit}
        if state is not None:
            params["state"] = state
        if invocation_id is not None:
            params["invocation_id"] = invocation_id
        items: list[JSON] = self._json("GET", f"{_function(name)}/deliveries", params=params)[
            "items"
        ]
        return items

    def redeliver(self, name: str, delivery_id: str) -> JSON:
        path = f"{_function(name)}/deliveries/{quote(delivery_id, safe='')}/redeliver"
        result: JSON = self._json("POST", path)
        return result
