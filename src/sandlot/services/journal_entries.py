"""The invocation entries the recorder writes to its journal, and reading them back.

Three kinds, each one JSON object: `start` (a call is about to run), `finish` (its whole
record, result and logs included) and `forget` (it never ran: refused before it started).
Two are encoded on every call, so they are written by orjson (about 2 µs each, against some
20 µs for the standard library's encoder); replays read them with the standard library.

Fields added later have defaults, and entries are read by name: a journal an older release
left (no `event` in its records, say) replays unchanged. `start` carries the call's event as
kept (`domain.invocation_events`), so a call the server died under still shows what it was
sent; `finish` carries it again, as it settles on its own when the start's segment is gone.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson

from sandlot.domain.models import Invocation, InvocationStart
from sandlot.domain.states import InvocationState

Record = tuple[Invocation, str | None, str]  # the record, its result as JSON text, its logs


def encode_start(start: InvocationStart) -> bytes:
    return _dumps({"kind": "start", "start": start})


def encode_finish(record: Record) -> bytes:
    invocation, result_text, logs = record
    entry = {"kind": "finish", "invocation": invocation, "result_json": result_text, "logs": logs}
    return _dumps(entry)


def encode_forget(invocation_id: str) -> bytes:
    return _dumps({"kind": "forget", "id": invocation_id})


def _dumps(entry: dict[str, Any]) -> bytes:
    try:
        return orjson.dumps(entry)
    except orjson.JSONEncodeError:
        # What orjson refuses and a function can still produce (an integer past 64 bits or a
        # lone surrogate in an error's fields) the standard library writes.
        return json.dumps(entry, default=_plain).encode()


def _plain(value: object) -> object:
    if isinstance(value, datetime):
        return value.isoformat()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {field.name: getattr(value, field.name) for field in dataclasses.fields(value)}
    raise TypeError(f"{type(value).__name__} is not JSON")


@dataclass(frozen=True)
class Entry:
    kind: str  # "start", "finish" or "forget"
    id: str
    start: InvocationStart | None = None
    record: Record | None = None


def decode(payload: bytes) -> Entry:
    """An entry as written; raises ValueError, KeyError or TypeError on anything else."""
    fields: dict[str, Any] = json.loads(payload)
    kind = fields["kind"]
    if kind == "start":
        start = _start(fields["start"])
        return Entry(kind, start.id, start=start)
    if kind == "finish":
        invocation = _invocation(fields["invocation"])
        record = (invocation, fields["result_json"], fields["logs"])
        return Entry(kind, invocation.id, record=record)
    if kind == "forget":
        return Entry(kind, str(fields["id"]))
    raise ValueError(f"unknown journal entry kind {kind!r}")


def _start(fields: dict[str, Any]) -> InvocationStart:
    return InvocationStart(**{**fields, "created_at": datetime.fromisoformat(fields["created_at"])})


def _invocation(fields: dict[str, Any]) -> Invocation:
    finished = fields["finished_at"]
    return Invocation(
        **{
            **fields,
            "state": InvocationState(fields["state"]),
            "created_at": datetime.fromisoformat(fields["created_at"]),
            "finished_at": None if finished is None else datetime.fromisoformat(finished),
            # JSON has no tuples; entries of an earlier release have none.
            "attempts": tuple(fields.get("attempts", ())),
        }
    )
