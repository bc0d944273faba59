"""The journal carries each call's kept event, and reads back entries written before it did."""

from __future__ import annotations

import json
from dataclasses import replace

from sandlot.domain.invocation_events import keep_event
from sandlot.services import journal_entries as entries
from sandlot.services.recorder import crashed_record
from tests.services.test_journal_entries import INVOCATION, START


def test_a_start_and_a_finish_carry_the_event() -> None:
    start = replace(START, event='{"big": "xx', event_truncated=True)
    record = (replace(INVOCATION, event='{"a":1}'), None, "")

    assert entries.decode(entries.encode_start(start)).start == start
    assert entries.decode(entries.encode_finish(record)).record == record


def test_entries_of_an_earlier_release_read_back_without_an_event() -> None:
    old_start = json.loads(entries.encode_start(START))
    del old_start["start"]["event"], old_start["start"]["event_truncated"]
    old_finish = json.loads(entries.encode_finish((INVOCATION, None, "")))
    del old_finish["invocation"]["event"], old_finish["invocation"]["event_truncated"]

    start = entries.decode(json.dumps(old_start).encode()).start
    finish = entries.decode(json.dumps(old_finish).encode()).record

    assert start == START and start.event is None
    assert finish is not None and finish[0] == INVOCATION


def test_a_call_the_server_died_under_keeps_its_event() -> None:
    start = replace(START, event='{"why": 1}')

    assert crashed_record(start)[0].event == '{"why": 1}'


def test_keeping_an_event() -> None:
    assert keep_event(b'{"a":1}', 0).text is None
    assert keep_event(b'{"a":1}', 7) == keep_event(b'{"a":1}', 100)
    assert keep_event(b'{"a":1}', 3).text == '{"a'
    assert keep_event('"€"'.encode(), 3).text == '"'  # "€" is 3 bytes: none of it fits
    assert keep_event('"€"'.encode(), 4).text == '"€'
    assert keep_event(b'"\xff"', 10).text == '"\ufffd"'  # not UTF-8: replaced, not refused
