"""Encoding trace records: orjson fast path, stdlib fallback, same content."""

from __future__ import annotations

import json
import typing as t

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wsgiscope.render.jsonout import dumps_line
from wsgiscope.tracing.sinks import JsonLinesFile, encode_record


def stdlib_line(record: t.Any) -> bytes:
    """How the sinks encoded a record before orjson."""
    return (dumps_line(record) + "\n").encode("ascii")


def check_same(record: t.Any) -> bytes:
    data = encode_record(record)
    assert isinstance(data, bytes)
    assert data.isascii()
    assert data.endswith(b"\n")
    assert data.count(b"\n") == 1  # one line: newlines inside strings are escaped
    assert json.loads(data) == json.loads(stdlib_line(record))
    return data


# Any text, lone surrogates and control characters included.
any_text = st.text(st.characters(exclude_categories=()), max_size=30)
scalars = (
    st.none()
    | st.booleans()
    | st.integers()  # beyond 64 bits too
    | st.floats(allow_nan=False, allow_infinity=False)
    | any_text
)
keys = any_text | st.integers() | st.booleans() | st.none()
values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=5)
        | st.lists(children, max_size=5).map(tuple)
        | st.dictionaries(any_text, children, max_size=5)
        | st.dictionaries(keys, children, max_size=5)
    ),
    max_leaves=40,
)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(any_text, values, max_size=8))
def test_any_record_encodes_like_the_stdlib(record: dict[str, t.Any]) -> None:
    check_same(record)


@pytest.mark.parametrize(
    "record",
    [
        {"text": "caf\u00e9 \u65e5\u672c \U0001f600"},
        {"esc": "\x1b[31mred\x1b[0m", "nul": "\x00", "del": "\x7f"},
        {"c1": "\x9b31m", "nel": "\x85"},
        {"surrogate": "\udc80"},
        {"big": 2**64, "small": -(2**63) - 1, "edge": [2**63, 2**64 - 1, -(2**63)]},
        {"huge": 10**100},
        {"tuple": (1, "a", (2, None))},
        {"set": {3}, "frozenset": frozenset({"x"})},
        {2: "int key", None: "none key", True: "bool key", 2.5: "float key"},
        {"nested": {"keys": {7: [1, 2]}}},
        {"bytes": b"\x00\xff", "object": object.__new__(type("Odd", (), {}))},
        {"floats": [0.1, 1e16, -0.0, 5e-324, 1.7976931348623157e308]},
        {"deep": json.loads("[" * 300 + "]" * 300)},
        {"newline": "a\nb\r\nc\u2028d\u2029"},
    ],
    ids=lambda record: ",".join(str(key) for key in record),
)
def test_odd_records_encode_like_the_stdlib(record: dict[t.Any, t.Any]) -> None:
    data = check_same(record)
    assert b"\x1b" not in data
    assert b"\x9b" not in data


def test_subclasses_take_the_stdlib_path() -> None:
    class Name(str):
        pass

    class Count(int):
        def __repr__(self) -> str:
            return "Count!"

    record = {"name": Name("x"), "count": Count(3), "list": [Name("y")]}
    assert encode_record(record) == stdlib_line(record)


def test_plain_ascii_records_take_the_orjson_path() -> None:
    # Guards the speed-up itself: a built record must not fall back.
    record = {"format": "wsgiscope.trace/1", "t_ms": 0.125, "events": [{"seq": 0}], "x": None}
    assert encode_record(record) == orjson.dumps(record) + b"\n"


def test_file_sink_writes_ascii_lines(tmp_path: t.Any) -> None:
    target = tmp_path / "records.jsonl"
    sink = JsonLinesFile(target)
    records = [{"path": "/caf\u00e9", "csi": "\x9b"}, {"path": "/plain", "n": 2**70}, {"ok": 1}]
    for record in records:
        sink(record)
    sink.close()
    data = target.read_bytes()
    assert data.isascii()
    assert [json.loads(line) for line in data.splitlines()] == [
        {"path": "/caf\u00e9", "csi": "\x9b"},
        {"path": "/plain", "n": 2**70},
        {"ok": 1},
    ]
