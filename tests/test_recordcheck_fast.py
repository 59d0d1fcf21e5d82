"""The fast way a record line is read gives what the careful way gives.

``parse_line`` decodes with orjson when it can and checks a record's shape
with one quick pass (``recordcheck._fine``) before the field-by-field check;
both are shortcuts for ``serve``, which reads thousands of records a second.
Here every line of the hostile-tail fuzz (any field of a real record replaced
by any JSON value, written by json, by json without ASCII escapes and by
orjson) is read both ways: the same record (types and key order included)
or the same reason for skipping it. The quick pass never accepts a record
the full check refuses.
"""

from __future__ import annotations

import contextlib
import copy
import json
import typing as t

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.test_hostile_tail import PATHS, REAL, _mutate, fuzz, json_values
from wsgiscope import recordcheck, tailing
from wsgiscope.tailing import BadLine, TraceLine, parse_line


def _careful(data: bytes) -> t.Any:
    """parse_line as it was: json, and the full check."""
    saved = tailing._strict_loads
    tailing._strict_loads = None
    try:
        return parse_line(data, 3)
    finally:
        tailing._strict_loads = saved


def _same(data: bytes) -> None:
    fast, careful = parse_line(data, 3), _careful(data)
    assert type(fast) is type(careful)
    if isinstance(fast, BadLine):
        assert fast == careful
    elif isinstance(fast, TraceLine):
        assert isinstance(careful, TraceLine)
        # json.dumps tells 1 from 1.0 and keeps the key order
        assert json.dumps(fast.record) == json.dumps(careful.record)
        assert fast.raw == careful.raw


def _quick_pass_holds(record: t.Any) -> None:
    """The quick pass accepts no record the full check refuses (given what
    strict decoding guarantees: no integer literal of 19 digits or more)."""
    text = json.dumps(record).encode()
    if tailing._LONG_NUMBER not in text.translate(tailing._DIGITS) and recordcheck._fine(record):
        recordcheck._check(record)  # raises if the quick pass was wrong


def _encodings(record: t.Any) -> list[bytes]:
    lines = [
        json.dumps(record).encode(),
        json.dumps(record, ensure_ascii=False).encode("utf-8", "surrogatepass"),
    ]
    with contextlib.suppress(TypeError, ValueError):  # big integers, lone surrogates
        lines.append(orjson.dumps(record))
    return lines


@fuzz
@given(path=st.sampled_from(PATHS), value=json_values)
def test_a_mutated_record_reads_the_same_fast(path: tuple[t.Any, ...], value: t.Any) -> None:
    record = _mutate(REAL, path, value)
    for line in _encodings(record):
        _same(line)
    _quick_pass_holds(record)


#: The field names the record check knows, at any level.
KNOWN_KEYS = sorted(
    {
        *recordcheck._EVENT_FIELDS, *recordcheck._EVENT_TEXT, *recordcheck._EVENT_NUMBERS,
        *recordcheck._EVENT_INTEGERS, "body_bytes", "body_truncated", "decoded", "headers",
        "status_code", "chunks", "status", "body_preview", "body_encoding", "id", "started",
        "app", "duration_ms", "request", "environ", "events", "response", "error", "lint",
        "worker", "dropped_events", "capture_errors", "pid", "rule", "message",
    }
)  # fmt: skip


@fuzz
@given(
    path=st.sampled_from(PATHS),
    key=st.sampled_from(KNOWN_KEYS) | st.text(max_size=6),
    value=json_values,
)
def test_an_added_field_reads_the_same_fast(
    path: tuple[t.Any, ...], key: str, value: t.Any
) -> None:
    record = copy.deepcopy(REAL)
    target = record
    for step in path[:-1]:
        target = target[step]
    if isinstance(target, dict):
        target[key] = value
    for line in _encodings(record):
        _same(line)
    _quick_pass_holds(record)


@pytest.mark.parametrize(
    "text",
    [
        b'{"format":"wsgiscope.trace/1","duration_ms":123456789012345678901234}',
        b'{"format":"wsgiscope.trace/1","worker":{"pid":9223372036854775808}}',
        b'{"format":"wsgiscope.trace/1","worker":{"pid":-9223372036854775808}}',
        b'{"format":"wsgiscope.trace/1","worker":{"pid":922337203685477580}}',
        b'{"format":"wsgiscope.trace/1","duration_ms":NaN}',
        b'{"format":"wsgiscope.trace/1","duration_ms":1e400}',
        b'\xef\xbb\xbf{"format":"wsgiscope.trace/1"}',
        b'{"format":"wsgiscope.trace/1","app":"\\ud800"}',
        b'{"format":"wsgiscope.trace/1","app":"\xed\xa0\x80"}',
        b'{"format":"wsgiscope.trace/1","app":"\xff"}',
        b'{"format":"wsgiscope.trace/1","app":"caf\xc3\xa9 \\ud83d\\ude00"}',
        b'{"format":"wsgiscope.trace/1","format":"x"}',
        b'{"format":"wsgiscope.trace/1","events":[' + b"[" * 5000 + b"]" * 5000 + b"]}",
        b'{"format":"wsgiscope.trace/1"} x',
        b'{"format":"wsgiscope.trace/1","app":"\t"}',
        b"[1, 2]",
        b'"wsgiscope.trace/1"',
        b'{"format":"wsgiscope.trace/1","id":"a","id":5}',
        b'{"format":"wsgiscope.trace/1","events":[{"seq":true}]}',
        b'{"format":"wsgiscope.trace/1","events":[{"g":{"a":1}}]}',
        b'{"format":"wsgiscope.trace/1","events":[{"headers":[["a","b","c"]]}]}',
        b'{"format":"wsgiscope.trace/1","response":{"headers":[["a",null]]}}',
        b'{"format":"wsgiscope.trace/1","lint":[null]}',
        b'{"format":"wsgiscope.trace/1","capture_errors":[null, {"a": 1}]}',
        b'{"format":"wsgiscope.trace/1","error":"text"}',
        b'{"format":"wsgiscope.trace/1","error":{"a":[]}}',
    ],
)
def test_lines_orjson_reads_differently_are_read_as_json_reads_them(text: bytes) -> None:
    _same(text)


def test_a_real_record_takes_the_quick_pass() -> None:
    line = orjson.dumps(REAL)
    assert recordcheck._fine(orjson.loads(line))
    item = parse_line(line, 1)
    assert isinstance(item, TraceLine)
    assert item.raw == line
