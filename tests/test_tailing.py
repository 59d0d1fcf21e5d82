"""wsgiscope.tailing: last records, following, rotation, truncation, filters."""

from __future__ import annotations

import os
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from serve_fixtures import append, make_record, record_line

from wsgiscope.tailing import (
    BadLine,
    FileNotice,
    RecordFilter,
    TraceLine,
    TraceTail,
    parse_duration_ms,
    parse_statuses,
    record_error,
)


def ids(items):
    return [i.record["id"] for i in items if isinstance(i, TraceLine)]


def write_records(path, numbers, **kw):
    append(path, b"".join(record_line(make_record(n, **kw)) for n in numbers))


def test_backlog_returns_the_last_n_records_in_file_order(tmp_path):
    path = tmp_path / "t.jsonl"
    write_records(path, range(100))
    with TraceTail(path) as tail:
        assert ids(tail.backlog(3)) == ["req-97", "req-98", "req-99"]
        assert tail.poll() == []
    with TraceTail(path) as tail:
        assert len(ids(tail.backlog(None))) == 100
    with TraceTail(path) as tail:
        assert tail.backlog(0) == []


def test_backlog_counts_matching_records_and_reads_big_files_backwards(tmp_path):
    path = tmp_path / "t.jsonl"
    # > several 64 KiB blocks, with the 500s far from the end
    write_records(path, range(10), status=500)
    write_records(path, range(10, 2000))
    assert path.stat().st_size > 4 * 65536
    only_5xx = RecordFilter(statuses=parse_statuses(["5xx"]))
    with TraceTail(path) as tail:
        assert ids(tail.backlog(4, only_5xx)) == [f"req-{n}" for n in range(6, 10)]


def test_a_record_larger_than_a_block_is_read_whole(tmp_path):
    path = tmp_path / "t.jsonl"
    big = make_record(1)
    big["response"]["body_preview"] = "x" * 300_000
    write_records(path, [0])
    append(path, record_line(big))
    write_records(path, [2])
    with TraceTail(path) as tail:
        items = tail.backlog(2)
        assert ids(items) == ["req-1", "req-2"]
        assert len(items[0].record["response"]["body_preview"]) == 300_000
    with TraceTail(path) as tail:
        assert ids(tail.backlog(None)) == ["req-0", "req-1", "req-2"]


def test_corrupt_lines_are_reported_with_their_line_number(tmp_path):
    path = tmp_path / "t.jsonl"
    write_records(path, range(3))
    append(path, b"{not json\n")
    write_records(path, range(3, 5))
    append(path, b'{"format": "other/2"}\n[1, 2]\n\n')
    write_records(path, [5])
    for count in (None, 4):
        with TraceTail(path) as tail:
            items = tail.backlog(count)
        bad = [(i.line, i.reason) for i in items if isinstance(i, BadLine)]
        assert [line for line, _ in bad] == [4, 7, 8]
        assert bad[0][1].startswith("not JSON")
        assert "other/2" in bad[1][1]
        assert bad[2][1] == "not a JSON object"
        assert ids(items)[-1] == "req-5"


def test_a_partial_last_line_is_waited_for(tmp_path):
    path = tmp_path / "t.jsonl"
    write_records(path, [0])
    line = record_line(make_record(1))
    append(path, line[:40])
    with TraceTail(path) as tail:
        assert ids(tail.backlog(10)) == ["req-0"]
        assert tail.poll() == []
        append(path, line[40:-1])
        assert tail.poll() == []
        append(path, b"\n")
        assert ids(tail.poll()) == ["req-1"]


def test_finish_reads_a_last_line_without_newline(tmp_path):
    path = tmp_path / "t.jsonl"
    write_records(path, [0])
    append(path, record_line(make_record(1))[:-1])
    with TraceTail(path) as tail:
        tail.backlog(10)
        assert ids(tail.finish()) == ["req-1"]
    append(path, b"\n" + record_line(make_record(2))[:30])
    with TraceTail(path) as tail:
        tail.backlog(10)
        [bad] = tail.finish()
        assert isinstance(bad, BadLine)
        assert bad.line == 3
        assert "incomplete" in bad.reason


def test_rotation_reads_the_old_file_to_its_end_then_the_new_one(tmp_path):
    path = tmp_path / "t.jsonl"
    write_records(path, [0])
    with TraceTail(path) as tail:
        assert ids(tail.backlog(10)) == ["req-0"]
        write_records(path, [1])
        os.rename(path, tmp_path / "t.jsonl.1")
        items = tail.poll()
        assert ids(items) == ["req-1"]
        assert items[-1] == FileNotice("missing", str(path))
        assert tail.poll() == []
        write_records(path, [2, 3])
        items = tail.poll()
        assert items[0] == FileNotice("rotated", str(path))
        assert ids(items) == ["req-2", "req-3"]
        append(path, b"oops\n")
        [bad] = tail.poll()
        assert bad.line == 3  # numbered in the new file


def test_rotation_with_the_new_file_in_place_at_once(tmp_path):
    path = tmp_path / "t.jsonl"
    write_records(path, [0])
    with TraceTail(path) as tail:
        tail.backlog(10)
        write_records(path, [1])
        os.rename(path, tmp_path / "old")
        write_records(path, [2])
        items = tail.poll()
        assert ids(items) == ["req-1", "req-2"]
        assert FileNotice("rotated", str(path)) in items


def test_truncation_restarts_from_the_beginning(tmp_path):
    path = tmp_path / "t.jsonl"
    write_records(path, range(5))
    with TraceTail(path) as tail:
        tail.backlog(10)
        os.truncate(path, 0)
        write_records(path, [7])
        items = tail.poll()
        assert items[0] == FileNotice("truncated", str(path))
        assert ids(items) == ["req-7"]


def test_waiting_for_a_file_that_does_not_exist_yet(tmp_path):
    path = tmp_path / "later.jsonl"
    with pytest.raises(FileNotFoundError):
        TraceTail(path)
    with TraceTail(path, wait=True) as tail:
        assert not tail.exists
        assert tail.backlog(10) == []
        assert tail.poll() == []
        write_records(path, [0])
        items = tail.poll()
        assert items[0] == FileNotice("appeared", str(path))
        assert ids(items) == ["req-0"]


def test_follow_stops_when_asked(tmp_path):
    path = tmp_path / "t.jsonl"
    write_records(path, [0])
    with TraceTail(path) as tail:
        tail.seek_end()
        write_records(path, [1, 2])
        seen = []
        for item in tail.follow(interval=0.01, stop=lambda: len(seen) >= 2):
            seen.append(item)
        assert ids(seen) == ["req-1", "req-2"]


def test_parse_statuses_and_durations():
    assert parse_statuses(["5xx,404", "2XX"]) == ((500, 599), (404, 404), (200, 299))
    for bad in ("600", "5x", "abc", ""):
        with pytest.raises(ValueError, match="not a status"):
            parse_statuses([bad])
    assert parse_duration_ms("100ms") == 100
    assert parse_duration_ms("1.5s") == 1500
    assert parse_duration_ms("250us") == 0.25
    assert parse_duration_ms("2m") == 120000
    assert parse_duration_ms("7") == 7000  # a bare number is seconds (wsgiscope.units)
    with pytest.raises(ValueError, match="not a duration"):
        parse_duration_ms("fast")


def test_record_filter():
    slow_post = make_record(1, method="POST", path="/api/items", status=201, duration_ms=150, pid=7)
    raised = make_record(2, status=500, error={"type": "KeyError", "message": "'x'"})
    torn = make_record(3, teardown_exception="ValueError: db")
    plain = make_record(4, path="/health")
    records = [slow_post, raised, torn, plain]

    def picked(**kw):
        return [r["id"] for r in records if RecordFilter(**kw)(r)]

    assert picked() == ["req-1", "req-2", "req-3", "req-4"]
    assert not RecordFilter().active
    assert picked(statuses=parse_statuses(["2xx"])) == ["req-1", "req-3", "req-4"]
    assert picked(statuses=parse_statuses(["201,500"])) == ["req-1", "req-2"]
    assert picked(methods=frozenset({"POST"})) == ["req-1"]
    assert picked(path="/api/*") == ["req-1"]
    assert picked(slower_than_ms=100) == ["req-1"]
    assert picked(errors=True) == ["req-2", "req-3"]
    assert picked(workers=frozenset({7})) == ["req-1"]
    assert picked(errors=True, statuses=parse_statuses(["5xx"])) == ["req-2"]
    assert record_error(raised) == ("raised", "KeyError: 'x'")
    assert record_error(torn) == ("teardown", "ValueError: db")
    assert record_error(plain) is None


def test_writers_still_on_the_rotated_file_are_read_for_a_while(tmp_path):
    path = tmp_path / "t.jsonl"
    write_records(path, [0])
    late_writer = os.open(path, os.O_WRONLY | os.O_APPEND)  # a worker not yet reopened
    try:
        with TraceTail(path) as tail:
            tail.backlog(10)
            tail.linger = 0.3
            os.rename(path, tmp_path / "t.jsonl.1")
            write_records(path, [1])
            assert ids(tail.poll()) == ["req-1"]
            os.write(late_writer, record_line(make_record(2)))
            write_records(path, [3])
            assert sorted(ids(tail.poll())) == ["req-2", "req-3"]
            time.sleep(0.35)
            os.write(late_writer, record_line(make_record(4)))
            assert ids(tail.poll()) == ["req-4"]  # read once more, then closed
            os.write(late_writer, record_line(make_record(5)))
            assert tail.poll() == []
    finally:
        os.close(late_writer)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(cuts=st.lists(st.integers(min_value=0, max_value=4000), max_size=12), bad=st.booleans())
def test_any_split_of_the_writes_gives_the_same_items(tmp_path_factory, cuts, bad):
    path = tmp_path_factory.mktemp("split") / "t.jsonl"
    data = b"".join(record_line(make_record(n)) for n in range(6))
    if bad:
        data = data + b"{half a record\n" + record_line(make_record(6))
    path.write_bytes(b"")
    seen = []
    with TraceTail(path) as tail:
        tail.backlog(0)
        start = 0
        for cut in sorted({min(c, len(data)) for c in cuts}):
            append(path, data[start:cut])
            start = max(start, cut)
            seen.extend(tail.poll())
        append(path, data[start:])
        seen.extend(tail.poll())
    expected = [f"req-{n}" for n in range(7 if bad else 6)]
    assert ids(seen) == expected
    assert [i.line for i in seen if isinstance(i, BadLine)] == ([7] if bad else [])
