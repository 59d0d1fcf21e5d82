"""Issue #22, points 6-7: ``tail`` reads other people's files.

A record whose fields have the wrong type (or hold a lone surrogate) is
skipped with one escaped warning naming ``file:line``, and the tail goes
on; the reader is fuzzed against the record schema (every field of a real
record replaced by any JSON value). ``tail -n all`` streams: the first line
comes before the file is read, and memory stays bounded."""

from __future__ import annotations

import copy
import io
import json
import os
import subprocess
import sys
import time
import typing as t

from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import APPS
from wsgiscope.cli import cli
from wsgiscope.cli.tail import RecordPrinter, make_filter
from wsgiscope.render.console import make_console
from wsgiscope.render.trace import render_trace
from wsgiscope.schemas import CHECK_VARIABLE
from wsgiscope.serving.summary import Summary
from wsgiscope.tailing import BadLine, TraceLine, parse_line

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _real_record() -> dict[str, t.Any]:
    """A record of a real Flask request (hooks, g, session, headers, body)."""
    sys.path.insert(0, str(APPS))
    import hostile_flask
    from werkzeug.test import Client

    from wsgiscope import TraceMiddleware

    records: list[dict[str, t.Any]] = []
    Client(TraceMiddleware(hostile_flask.app, sink=records.append)).get("/g", buffered=True)
    Client(TraceMiddleware(hostile_flask.app, sink=records.append)).post(
        "/echo-length", json={"a": 1}, buffered=True
    )
    record = records[0]
    record["request"].update({k: v for k, v in records[1]["request"].items() if "body" in k})
    record["error"] = {"type": "E", "message": "m", "traceback": "tb", "propagated": True}
    record["lint"] = [{"rule": "WSGI100", "message": "x"}]
    return record


REAL = _real_record()


def _paths(value: t.Any, prefix: tuple[t.Any, ...] = ()) -> t.Iterator[tuple[t.Any, ...]]:
    yield prefix
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value[:3]):
            yield from _paths(item, (*prefix, index))


PATHS = [path for path in _paths(REAL) if path and path != ("format",)]

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(st.characters(codec=None, exclude_categories=()), max_size=8)
    | st.sampled_from(["", "x", "\ud800", "500 X", "2026-13-45T99", "\x1b]0;pwn\x07"]),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3)
    ),
    max_leaves=6,
)


def _mutate(record: dict[str, t.Any], path: tuple[t.Any, ...], value: t.Any) -> dict[str, t.Any]:
    mutated = copy.deepcopy(record)
    target = mutated
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value
    return mutated


def _line(record: dict[str, t.Any]) -> bytes:
    return json.dumps(record).encode()  # ensure_ascii: lone surrogates become \ud800


def _show_everywhere(record: dict[str, t.Any]) -> None:
    """Every reader of a record: the compact line, the tree, JSON, the
    filters and serve's summary."""
    out = make_console("always", 100, io.StringIO())
    # tail --json passes another writer's line through as read: the published
    # schema describes the records wsgiscope writes (checked where written).
    checking = os.environ.pop(CHECK_VARIABLE, None)
    try:
        for verbose, as_json in ((False, False), (True, False), (False, True)):
            printer = RecordPrinter(
                "f.jsonl",
                make_filter((), ("GET",), "/*", 1.0, True, (1,)),
                as_json,
                verbose,
                None if as_json else out,
            )
            printer.records([TraceLine(record, _line(record))])
    finally:
        if checking is not None:
            os.environ[CHECK_VARIABLE] = checking
    out.print(render_trace(record))
    summary = Summary()
    summary.add(record)
    summary.as_dict()
    make_filter(((500, 599),), ("GET",), "/*", 1.0, True, (1,))(record)


fuzz = settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


@fuzz
@given(path=st.sampled_from(PATHS), value=json_values)
def test_a_record_with_any_field_replaced_is_shown_or_skipped(
    path: tuple[t.Any, ...], value: t.Any, capsys: t.Any
) -> None:
    record = _mutate(REAL, path, value)
    item = parse_line(_line(record), 7)
    if isinstance(item, BadLine):
        assert item.reason.startswith(("not a valid trace record", "not a trace record"))
        return
    assert isinstance(item, TraceLine)
    _show_everywhere(item.record)


def test_the_real_record_is_valid() -> None:
    assert isinstance(parse_line(_line(REAL), 1), TraceLine)
    _show_everywhere(REAL)


BAD = [
    ("request", "x"),
    ("events", 5),
    ("response", {"status": 5}),
    ("duration_ms", ""),
    ("app", "\ud800"),
    ("worker", {"pid": 2**80}),
]


def test_tail_skips_bad_records_with_a_warning_naming_the_line(tmp_path: t.Any) -> None:
    path = tmp_path / "t.jsonl"
    lines = [_line(REAL)]
    for key, value in BAD:
        lines.append(_line({**REAL, key: value}))
    lines.append(_line({**REAL, "id": "last"}))
    path.write_bytes(b"\n".join(lines) + b"\n")
    result = CliRunner().invoke(
        cli, ["tail", str(path), "-n", "all", "--no-follow", "--json"], catch_exceptions=False
    )
    assert result.exit_code == 0, result.output
    shown = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["id"] for r in shown] == [REAL["id"], "last"]
    warnings = [line for line in result.stderr.splitlines() if "skipped" in line]
    assert [w.split(": skipped")[0] for w in warnings] == [
        f"wsgiscope: warning: {path}:{n}" for n in range(2, 2 + len(BAD))
    ]
    assert all("\ud800" not in w and "\x1b" not in w for w in warnings)


def _peak_mb_of_tail_all(path: t.Any) -> int:
    script = (
        "import sys\n"
        "from wsgiscope.cli import cli\n"
        "try:\n"
        "    cli(['tail', sys.argv[1], '-n', 'all', '--no-follow', '--status', '418'])\n"
        "except SystemExit:\n"
        "    pass\n"
        # VmHWM: this program's own peak (ru_maxrss keeps the forking test
        # process's peak across exec on Linux)
        "peak = [l for l in open('/proc/self/status') if l.startswith('VmHWM')][0]\n"
        "print(int(peak.split()[1]) // 1024, file=sys.stderr)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(path)],
        capture_output=True, text=True, timeout=120, cwd=ROOT,
        env={**os.environ, "PYTHONPATH": ROOT},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout == ""
    return int(done.stderr.strip().splitlines()[-1])


def test_tail_all_streams_a_large_file_in_bounded_memory(tmp_path: t.Any) -> None:
    """10 MB and 60 MB of records, none matching the filter: the peak RSS
    does not grow with the file (it was ~6x the file), and the first record
    of an unfiltered run is printed long before the file is read through."""
    line = _line({**REAL, "environ": {f"K{i}": "v" * 40 for i in range(40)}}) + b"\n"
    peaks = []
    for megabytes in (10, 60):
        path = tmp_path / f"big{megabytes}.jsonl"
        count = (megabytes << 20) // len(line)
        with open(path, "wb") as f:
            for _ in range(count // 1000):
                f.write(line * 1000)
        peaks.append(_peak_mb_of_tail_all(path))
    assert peaks[1] - peaks[0] < 20, peaks  # 50 MB more file, (almost) no more memory
    assert peaks[1] < 200, peaks

    # the first line is out long before the reader reaches the end of the file
    began = time.monotonic()
    proc = subprocess.Popen(
        [sys.executable, "-m", "wsgiscope", "tail", str(path), "-n", "all", "--no-follow"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, cwd=ROOT,
        env={**os.environ, "PYTHONPATH": ROOT, "NO_COLOR": "1"},
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        first_at = time.monotonic() - began
        assert b"GET" in first
        rest = sum(1 for _ in proc.stdout)
        total = time.monotonic() - began
    finally:
        proc.kill()
        proc.wait()
        assert proc.stdout is not None
        proc.stdout.close()
    assert rest == (count // 1000) * 1000 - 1
    assert first_at < total / 2, (first_at, total)


def test_an_overlong_line_is_skipped_in_bounded_memory(tmp_path: t.Any, monkeypatch: t.Any) -> None:
    from wsgiscope import tailing
    from wsgiscope.tailing import TraceTail

    monkeypatch.setattr(tailing, "MAX_LINE", 1 << 20)
    path = tmp_path / "t.jsonl"
    first = _line({**REAL, "id": "first"})
    last = _line({**REAL, "id": "last"})
    path.write_bytes(first + b"\n" + b"x" * (3 << 20) + b"\n" + last + b"\n")
    for count in (None, 5):
        with TraceTail(path) as tail:
            items = tail.backlog(count)
        kinds = [
            item.record["id"] if isinstance(item, TraceLine) else item.reason for item in items
        ]
        assert kinds == ["first", "not a trace record (a line longer than 1 MiB)", "last"]
        assert [item.line for item in items if isinstance(item, BadLine)] == [2]
