"""How to make every call through HTTP land on a fresh instance: pluggable.

1. A pool knob, when `sandlot.config.Settings` has one (see KNOB_FIELDS): then the server
   itself never reuses an instance.
2. Otherwise, anchored eviction. The pool's global instance cap (`SANDLOT_MAX_INSTANCES`)
   is set to `copies + callers`, where `copies` (2 x callers) copies of the same function
   each hold one instance busy with a long "anchor" call. The callers rotate over the copies:
   a call finds no idle instance of its own version (the anchor is busy) and no room, so the
   pool evicts another version's idle instance and starts a new one: a cold start. The
   anchors keep every version live, so its per-version sandbox group (network namespace;
   the zygote, once the pool has one) stays up as it would for a function in steady use;
   without them each eviction would tear the group down and every sample would pay for
   creating it again. Only answers with X-Sandlot-Cold-Start: true are counted.
"""

from __future__ import annotations

import contextlib
import threading
import time
from dataclasses import dataclass
from types import TracebackType

import httpx

from bench import sandlot_api
from bench.sandlot_server import API_KEY, Sandlot

# Settings fields that, when present, make the pool start an instance for every call; the
# first one found is used. `reuse_instances` is the pool's real knob: with it false, each
# instance is discarded after its call and its version's zygote stays up.
KNOB_FIELDS: dict[str, str] = {
    "reuse_instances": "false",
    "bench_no_reuse": "true",
    "max_idle_per_version": "0",
}
ANCHOR_TIMEOUT_S = 900  # the longest timeout a version may have: anchors outlive sampling


@dataclass(frozen=True)
class ColdMethod:
    description: str
    env: dict[str, str]
    copies: int  # copies of the function to rotate over
    anchored: bool


def cold_method(callers: int) -> ColdMethod:
    from sandlot.config import Settings

    copies = 2 * callers
    for name, value in KNOB_FIELDS.items():
        if name in Settings.model_fields:
            variable = f"SANDLOT_{name.upper()}"
            return ColdMethod(f"pool knob {variable}={value}", {variable: value}, copies, False)
    return ColdMethod(
        f"anchored eviction: SANDLOT_MAX_INSTANCES={copies + callers}, {callers} caller(s) "
        f"rotating over {copies} copies of the function, each copy kept live by one busy "
        "anchor call; only cold-start answers counted",
        {"SANDLOT_MAX_INSTANCES": str(copies + callers)},
        copies,
        True,
    )


class Anchors:
    """One long call per function, in flight while the block runs; the functions are deleted
    on exit (which ends the anchors), so the next workload finds the instance cap free."""

    def __init__(self, server: Sandlot, names: list[str], enabled: bool) -> None:
        self._server = server
        self._names = names
        self._enabled = enabled
        self._threads: list[threading.Thread] = []

    def _hold(self, name: str) -> None:
        # Ended by the function's deletion at the end of the block: an error there is expected.
        with sandlot_api.client(self._server.url) as http, contextlib.suppress(httpx.HTTPError):
            sandlot_api.invoke(http, name, f'{{"bench_hold_s": {ANCHOR_TIMEOUT_S - 5}}}')

    def __enter__(self) -> Anchors:
        if not self._enabled:
            return self
        for name in self._names:
            thread = threading.Thread(target=self._hold, args=(name,), daemon=True)
            thread.start()
            self._threads.append(thread)
        # Sampling starts once every anchor holds a busy instance.
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and _busy(self._server) < len(self._names):
            time.sleep(0.05)
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        delete_functions(self._server, self._names)
        for thread in self._threads:
            thread.join(timeout=30)


def _busy(server: Sandlot) -> int:
    metrics = httpx.get(
        f"{server.url}/metrics", headers={"Authorization": f"Bearer {API_KEY}"}, timeout=10
    )
    for line in metrics.text.splitlines():
        if line.startswith("sandlot_instances_busy "):
            return int(float(line.split()[1]))
    return 0


def delete_functions(server: Sandlot, names: list[str]) -> None:
    with sandlot_api.client(server.url) as http:
        for name in names:
            sandlot_api.delete(http, name)
