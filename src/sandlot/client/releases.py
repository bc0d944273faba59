"""The client's calls for releases (mixed into `SandlotClient`)."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

JSON = dict[str, Any]
_JSON_HEADERS = {"Content-Type": "application/json"}


def _releases(name: str) -> str:
    return f"/functions/{quote(name, safe='')}/releases"


class ReleaseCalls:
    """Needs `_json` of the client it is mixed into."""

    def _json(self, method: str, path: str, **kwargs: Any) -> Any:  # pragma: no cover
        raise NotImplementedError

    def start_release(self, name: str, **plan: Any) -> JSON:
        """`plan`: alias, version, steps, interval_s, max_error_rate, max_p99_ratio,
        min_calls; the ones left None take the server's defaults."""
        body = {key: value for key, value in plan.items() if value is not None}
        made: JSON = self._json(
            "POST", _releases(name), body=json.dumps(body).encode(), headers=_JSON_HEADERS
        )
        return made

    def list_releases(self, name: str, state: str | None = None) -> list[JSON]:
        params = {"state": state} if state else None
        items: list[JSON] = self._json("GET", _releases(name), params=params)["items"]
        return items

    def get_release(self, name: str, release_id: str) -> JSON:
        found: JSON = self._json("GET", f"{_releases(name)}/{quote(release_id, safe='')}")
        return found

    def control_release(self, name: str, release_id: str, command: str) -> JSON:
        """command: pause | resume | promote | abort."""
        path = f"{_releases(name)}/{quote(release_id, safe='')}/{command}"
        changed: JSON = self._json("POST", path)
        return changed
