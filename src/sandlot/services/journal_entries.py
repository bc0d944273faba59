"""The invocation entries the recorder writes to its journal, and reading them back.

Three kinds, each one JSON object: `start` (a call is about to run), `finish` (its whole
record, result and logs included) and `forget` (it never ran: refused before it started).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sandlot.domain.models import Invocation, InvocationStart
from sandlot.domain.states import InvocationState

Record = tuple[Invocation, str | None, str]  # the record, its result as JSON text, its logs

_COMPACT = (",", ":")


def encode_start(start: InvocationStart) -> bytes:
    entry = {
        "kind": "start",
        "id": start.id,
        "namespace_id": start.namespace_id,
        "function_id": start.function_id,
        "function_name": start.function_name,
        "version": start.version,
        "trigger": start.trigger,
        "created_at": start.created_at.isoformat(),
    }
    return json.dumps(entry, separators=_COMPACT).encode()


def encode_finish(record: Record) -> bytes:
    invocation, result_text, logs = record
    entry = {
        "kind": "finish",
        "id": invocation.id,
        "namespace_id": invocation.namespace_id,
        "function_id": invocation.function_id,
        "function_name": invocation.function_name,
        "version": invocation.version,
        "trigger": invocation.trigger,
        "state": invocation.state.value,
        "cold_start": invocation.cold_start,
        "created_at": invocation.created_at.isoformat(),
        "finished_at": _time_text(invocation.finished_at),
        "duration_ms": invocation.duration_ms,
        "timings": invocation.timings,
        "error": invocation.error,
        "log_excerpt": invocation.log_excerpt,
        "logs_truncated": invocation.logs_truncated,
        "result_json": result_text,
        "logs": logs,
    }
    return json.dumps(entry, separators=_COMPACT).encode()


def encode_forget(invocation_id: str) -> bytes:
    return json.dumps({"kind": "forget", "id": invocation_id}, separators=_COMPACT).encode()


@dataclass(frozen=True)
class Entry:
    kind: str  # "start", "finish" or "forget"
    id: str
    start: InvocationStart | None = None
    record: Record | None = None


def decode(payload: bytes) -> Entry:
    """An entry as written; raises ValueError (or KeyError) on anything else."""
    fields: dict[str, Any] = json.loads(payload)
    kind = fields["kind"]
    if kind == "start":
        return Entry(kind, fields["id"], start=_start(fields))
    if kind == "finish":
        return Entry(kind, fields["id"], record=_record(fields))
    if kind == "forget":
        return Entry(kind, str(fields["id"]))
    raise ValueError(f"unknown journal entry kind {kind!r}")


def _start(fields: dict[str, Any]) -> InvocationStart:
    return InvocationStart(
        id=fields["id"],
        namespace_id=fields["namespace_id"],
        function_id=fields["function_id"],
        function_name=fields["function_name"],
        version=int(fields["version"]),
        trigger=fields["trigger"],
        created_at=datetime.fromisoformat(fields["created_at"]),
    )


def _record(fields: dict[str, Any]) -> Record:
    invocation = Invocation(
        id=fields["id"],
        namespace_id=fields["namespace_id"],
        function_id=fields["function_id"],
        function_name=fields["function_name"],
        version=int(fields["version"]),
        trigger=fields["trigger"],
        state=InvocationState(fields["state"]),
        cold_start=bool(fields["cold_start"]),
        created_at=datetime.fromisoformat(fields["created_at"]),
        finished_at=_time(fields["finished_at"]),
        duration_ms=fields["duration_ms"],
        timings=fields["timings"],
        error=fields["error"],
        log_excerpt=fields["log_excerpt"],
        logs_truncated=bool(fields["logs_truncated"]),
    )
    return invocation, fields["result_json"], fields["logs"]


def _time_text(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def _time(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)
