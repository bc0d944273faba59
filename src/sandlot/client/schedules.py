"""The client's calls for schedules (mixed into `SandlotClient`)."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

from sandlot.client.errors import ApiError

JSON = dict[str, Any]
_JSON_HEADERS = {"Content-Type": "application/json"}


def _schedules(name: str) -> str:
    return f"/functions/{quote(name, safe='')}/schedules"


class ScheduleCalls:
    """Needs `_json` and `_send_empty` of the client it is mixed into."""

    def _json(self, method: str, path: str, **kwargs: Any) -> Any:  # pragma: no cover
        raise NotImplementedError

    def _send_empty(self, method: str, path: str) -> None:  # pragma: no cover
        raise NotImplementedError

    def create_schedule(
        self, name: str, cron: str, *, timezone: str = "UTC", event: bytes | None = None
    ) -> JSON:
        """`event` is JSON text, sent as it is (no re-encoding)."""
        body = (
            b'{"cron":'
            + _text(cron)
            + b',"timezone":'
            + _text(timezone)
            + b',"event":'
            + ((event or b"").strip() or b"null")
            + b"}"
        )
        made: JSON = self._json("POST", _schedules(name), body=body, headers=_JSON_HEADERS)
        return made

    def list_schedules(self, name: str | None = None) -> list[JSON]:
        path = _schedules(name) if name is not None else "/schedules"
        items: list[JSON] = self._json("GET", path)["items"]
        return items

    def find_schedule(self, schedule_id: str) -> JSON:
        """A schedule of the namespace by id alone (the CLI's `pause ID`)."""
        for item in self.list_schedules():
            if item["id"] == schedule_id:
                return item
        raise ApiError(
            404,
            "ScheduleNotFound",
            {"message": f"no schedule {schedule_id!r} in this namespace"},
        )

    def change_schedule(self, name: str, schedule_id: str, **fields: Any) -> JSON:
        path = f"{_schedules(name)}/{quote(schedule_id, safe='')}"
        body = json.dumps(fields).encode()
        changed: JSON = self._json("PATCH", path, body=body, headers=_JSON_HEADERS)
        return changed

    def delete_schedule(self, name: str, schedule_id: str) -> None:
        self._send_empty("DELETE", f"{_schedules(name)}/{quote(schedule_id, safe='')}")


def _text(value: str) -> bytes:
    return json.dumps(value).encode()
