"""Journal entries read back as they were written, whatever a function put in its record."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from sandlot.domain.models import Invocation, InvocationStart
from sandlot.domain.states import InvocationState
from sandlot.services import journal_entries as entries

NOW = datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)
START = InvocationStart("01id", "ns", "fid", "hello", 3, "http", NOW)
INVOCATION = Invocation(
    id="01id",
    namespace_id="ns",
    function_id="fid",
    function_name="hello",
    version=3,
    trigger="http",
    state=InvocationState.FAILED,
    cold_start=True,
    created_at=NOW,
    finished_at=NOW,
    duration_ms=1.25,
    timings={"handler_ms": 1.0},
    error={"kind": "FunctionError", "message": "boom"},
    log_excerpt="tail",
    logs_truncated=True,
)


def test_each_kind_round_trips() -> None:
    assert entries.decode(entries.encode_start(START)).start == START
    record = (INVOCATION, '{"a": 1}', "whole logs")
    assert entries.decode(entries.encode_finish(record)).record == record
    forget = entries.decode(entries.encode_forget("01id"))
    assert (forget.kind, forget.id) == ("forget", "01id")


def test_what_the_fast_encoder_refuses_is_still_journaled() -> None:
    # A function controls its error's extra fields: huge integers, lone surrogates.
    odd = replace(INVOCATION, error={"kind": "FunctionError", "n": 2**70, "s": "\ud800"})
    record = (odd, None, "")
    assert entries.decode(entries.encode_finish(record)).record == record
