"""The client's calls for the workers that run functions (mixed into `SandlotClient`)."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

JSON = dict[str, Any]


class WorkerCalls:
    """Needs `_json` of the client it is mixed into."""

    def _json(self, method: str, path: str, **kwargs: Any) -> Any:  # pragma: no cover
        raise NotImplementedError

    def list_workers(self) -> JSON:
        """{"mode": "single"|"cluster", "workers": [...]} (platform admin only)."""
        found: JSON = self._json("GET", "/workers")
        return found

    def drain_worker(self, worker_id: str) -> JSON:
        """Ask the worker to drain at its next heartbeat; raises `ApiError` WorkerNotFound,
        or WorkerNotDrainable when the server runs everything in one process."""
        answer: JSON = self._json("POST", f"/workers/{quote(worker_id, safe='')}/drain")
        return answer
