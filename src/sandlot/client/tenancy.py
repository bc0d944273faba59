"""The client's calls for namespaces and their members (mixed into `SandlotClient`)."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

JSON = dict[str, Any]
_JSON_HEADERS = {"Content-Type": "application/json"}


def _segment(value: str) -> str:
    """A name as one path segment, whatever it holds."""
    return quote(value, safe="")


class TenancyCalls:
    """Needs `_json(method, path, **kwargs)` of the client it is mixed into."""

    def _json(self, method: str, path: str, **kwargs: Any) -> Any:  # pragma: no cover
        raise NotImplementedError

    def _send(self, method: str, path: str, body: JSON | None = None) -> Any:
        if body is None:
            return self._json(method, path)
        return self._json(method, path, body=json.dumps(body).encode(), headers=_JSON_HEADERS)

    # -- namespaces --------------------------------------------------------------------------

    def create_namespace(
        self, name: str, display_name: str | None = None, owner: str | None = None
    ) -> JSON:
        body: JSON = {"name": name}
        if display_name is not None:
            body["display_name"] = display_name
        if owner is not None:
            body["owner"] = owner
        result: JSON = self._send("POST", "/namespaces", body)
        return result

    def list_namespaces(self, include_deleted: bool = False) -> list[JSON]:
        params = {"include_deleted": "true"} if include_deleted else {}
        items: list[JSON] = self._json("GET", "/namespaces", params=params)["items"]
        return items

    def get_namespace(self, name: str) -> JSON:
        result: JSON = self._json("GET", f"/namespaces/{_segment(name)}")
        return result

    def rename_namespace(self, name: str, display_name: str | None) -> JSON:
        body = {"display_name": display_name}
        result: JSON = self._send("PATCH", f"/namespaces/{_segment(name)}", body)
        return result

    def delete_namespace(self, name: str) -> None:
        self._send_empty("DELETE", f"/namespaces/{_segment(name)}")

    # -- members -----------------------------------------------------------------------------

    def list_members(self, namespace: str) -> list[JSON]:
        items: list[JSON] = self._json("GET", _members(namespace))["items"]
        return items

    def add_member(self, namespace: str, login: str, role: str) -> JSON:
        result: JSON = self._send("POST", _members(namespace), {"login": login, "role": role})
        return result

    def set_member_role(self, namespace: str, login: str, role: str) -> JSON:
        path = f"{_members(namespace)}/{_segment(login)}"
        result: JSON = self._send("PATCH", path, {"role": role})
        return result

    def remove_member(self, namespace: str, login: str) -> None:
        self._send_empty("DELETE", f"{_members(namespace)}/{_segment(login)}")

    def _send_empty(self, method: str, path: str) -> None:
        raise NotImplementedError  # pragma: no cover


def _members(namespace: str) -> str:
    return f"/namespaces/{_segment(namespace)}/members"
