"""How to make every call through HTTP land on a fresh instance: pluggable.

1. A pool knob, when `sandlot.config.Settings` has one (see KNOB_FIELDS): then the server
   itself never reuses an instance.
2. Otherwise, eviction: the pool's global instance cap (`SANDLOT_MAX_INSTANCES`) equals the
   number of concurrent callers, and calls rotate over twice as many copies of the same
   function, so every call finds no idle instance of its own version and evicts another
   version's (least recently used) to make room: a cold start, with the version's zygote
   (once the pool has zygotes) still running. Only answers with X-Sandlot-Cold-Start: true
   are counted.
"""

from __future__ import annotations

from dataclasses import dataclass

# Settings fields that, when present, make the pool start an instance for every call.
# Add the pool's real knob here once it exists; the first one found is used.
KNOB_FIELDS: dict[str, str] = {
    "reuse_instances": "false",
    "bench_no_reuse": "true",
    "max_idle_per_version": "0",
}


@dataclass(frozen=True)
class ColdMethod:
    description: str
    env: dict[str, str]
    copies: int  # copies of the function to rotate over


def cold_method(concurrency: int) -> ColdMethod:
    from sandlot.config import Settings

    for name, value in KNOB_FIELDS.items():
        if name in Settings.model_fields:
            variable = f"SANDLOT_{name.upper()}"
            return ColdMethod(f"pool knob {variable}={value}", {variable: value}, 2 * concurrency)
    return ColdMethod(
        f"eviction: SANDLOT_MAX_INSTANCES={concurrency}, {concurrency} caller(s) rotating over "
        f"{2 * concurrency} copies of the function; only cold-start answers counted",
        {"SANDLOT_MAX_INSTANCES": str(concurrency)},
        2 * concurrency,
    )
