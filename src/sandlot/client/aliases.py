"""The client's calls for aliases, rollback and the deploy history (mixed into
`SandlotClient`)."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

JSON = dict[str, Any]
_JSON_HEADERS = {"Content-Type": "application/json"}


def _function(name: str) -> str:
    return f"/functions/{quote(name, safe='')}"


class AliasCalls:
    """Needs `_json` and `_send_empty` of the client it is mixed into."""

    def _json(self, method: str, path: str, **kwargs: Any) -> Any:  # pragma: no cover
        raise NotImplementedError

    def _send_empty(self, method: str, path: str) -> None:  # pragma: no cover
        raise NotImplementedError

    def list_aliases(self, name: str) -> list[JSON]:
        items: list[JSON] = self._json("GET", f"{_function(name)}/aliases")["items"]
        return items

    def get_alias(self, name: str, alias: str) -> JSON:
        result: JSON = self._json("GET", f"{_function(name)}/aliases/{quote(alias, safe='')}")
        return result

    def set_alias(self, name: str, alias: str, routes: list[dict[str, int]]) -> JSON:
        """Point `alias` at `routes` ([{version, weight}], weights summing to 100)."""
        result: JSON = self._json(
            "PUT",
            f"{_function(name)}/aliases/{quote(alias, safe='')}",
            body=json.dumps({"routes": routes}).encode(),
            headers=_JSON_HEADERS,
        )
        return result

    def delete_alias(self, name: str, alias: str) -> None:
        self._send_empty("DELETE", f"{_function(name)}/aliases/{quote(alias, safe='')}")

    def rollback(self, name: str, alias: str = "latest", to: int | None = None) -> JSON:
        """Point `alias` back at what it served before (or at version `to`); the alias after."""
        result: JSON = self._json(
            "POST",
            f"{_function(name)}/rollback",
            body=json.dumps({"alias": alias, "to": to}).encode(),
            headers=_JSON_HEADERS,
        )
        return result

    def history(
        self,
        name: str,
        alias: str | None = None,
        limit: int | None = None,
        cursor: str | None = None,
    ) -> JSON:
        """One page of the deploy history, newest first: {"items", "next_cursor"}."""
        query = {"alias": alias, "limit": limit, "cursor": cursor}
        params = {key: value for key, value in query.items() if value is not None}
        result: JSON = self._json("GET", f"{_function(name)}/history", params=params)
        return result
