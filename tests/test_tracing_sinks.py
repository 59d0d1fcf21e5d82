"""Trace sinks: JSON Lines files (many processes), callables, streams, failures."""

from __future__ import annotations

import io
import json
import logging
import multiprocessing
import os
import typing as t

import pytest

from tests.apps import trace_plain as plain
from tests.tracing_fixtures import append_records, environ
from wsgiscope import TraceMiddleware
from wsgiscope.tracing.sinks import JsonLinesFile, make_sink


def call(mw: TraceMiddleware, path: str = "/") -> bytes:
    result = mw(environ(path), lambda status, headers, exc_info=None: None)
    try:
        return b"".join(result)
    finally:
        result.close()  # type: ignore[attr-defined]


def test_path_sink_appends_json_lines(tmp_path: t.Any) -> None:
    target = tmp_path / "traces.jsonl"
    target.write_text('{"earlier": true}\n')
    with TraceMiddleware(plain.hello, sink=str(target)) as mw:
        call(mw, "/one")
        call(mw, "/two")
    lines = target.read_text().splitlines()
    assert json.loads(lines[0]) == {"earlier": True}
    records = [json.loads(line) for line in lines[1:]]
    assert [r["request"]["path"] for r in records] == ["/one", "/two"]
    assert all(r["format"] == "wsgiscope.trace/1" for r in records)
    assert records[0]["id"] != records[1]["id"]


def test_pathlike_and_huge_record_written_whole(tmp_path: t.Any) -> None:
    target = tmp_path / "big.jsonl"
    sink = JsonLinesFile(target)
    record = {"format": "x", "blob": "\u00e9" * 300_000}
    sink(record)
    sink(record)
    sink.close()
    lines = target.read_bytes().split(b"\n")
    assert lines[-1] == b""
    assert [json.loads(line) for line in lines[:-1]] == [record, record]


def test_a_renamed_file_is_followed_to_the_new_one_at_the_path(tmp_path: t.Any) -> None:
    target = tmp_path / "rot.jsonl"
    sink = JsonLinesFile(target, check_every=0)
    sink({"n": 1})
    target.rename(tmp_path / "rot.jsonl.1")  # logrotate without copytruncate
    sink({"n": 2})
    (tmp_path / "rot.jsonl").unlink()  # removed outright
    sink({"n": 3})
    target.write_text("")  # truncated in place (copytruncate): same file, kept
    sink({"n": 4})
    sink.close()
    assert (tmp_path / "rot.jsonl.1").read_text() == '{"n":1}\n'
    assert target.read_text() == '{"n":4}\n'


def test_rotation_is_checked_about_once_a_second(tmp_path: t.Any) -> None:
    target = tmp_path / "slow.jsonl"
    sink = JsonLinesFile(target, check_every=3600)
    sink({"n": 1})
    target.rename(tmp_path / "slow.jsonl.1")
    sink({"n": 2})  # not checked yet: still the renamed file
    sink.check_every = 0
    sink._check_at = 0.0  # the hour has passed
    sink({"n": 3})
    sink.close()
    assert (tmp_path / "slow.jsonl.1").read_text() == '{"n":1}\n{"n":2}\n'
    assert target.read_text() == '{"n":3}\n'


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="counts /proc/self/fd")
def test_descriptors_replaced_by_a_rotation_are_closed_later(tmp_path: t.Any) -> None:
    target = tmp_path / "fds.jsonl"
    sink = JsonLinesFile(target, check_every=0)
    sink.RETIRE_AFTER = 0.0
    before = len(os.listdir("/proc/self/fd"))
    for n in range(20):
        sink({"n": n})
        target.rename(tmp_path / f"fds.jsonl.{n}")
    sink({"n": "last"})
    assert len(os.listdir("/proc/self/fd")) <= before + 2
    sink.close()
    assert len(os.listdir("/proc/self/fd")) <= before


def test_callable_and_file_like_sinks() -> None:
    got: list[dict[str, t.Any]] = []
    with TraceMiddleware(plain.hello, sink=got.append) as mw:
        call(mw)
    assert got[0]["response"]["body_bytes"] == 5

    text = io.StringIO()
    binary = io.BytesIO()
    for stream in (text, binary):
        with TraceMiddleware(plain.hello, sink=stream) as mw:
            call(mw)
    assert json.loads(text.getvalue())["response"]["status"] == "200 OK"
    assert json.loads(binary.getvalue())["response"]["status"] == "200 OK"


def test_failing_sink_is_reported_once_and_the_app_keeps_answering(
    caplog: pytest.LogCaptureFixture,
) -> None:
    def broken(record: dict[str, t.Any]) -> None:
        raise OSError("disk on fire")

    with (
        caplog.at_level(logging.WARNING, logger="wsgiscope"),
        TraceMiddleware(plain.hello, sink=broken) as mw,
    ):
        bodies = [call(mw) for _ in range(3)]
    assert bodies == [b"hello"] * 3
    reports = [r for r in caplog.records if "sink" in r.getMessage()]
    assert len(reports) == 1
    assert "disk on fire" in (reports[0].exc_text or "")


def test_unwritable_path_sink_does_not_break_requests(
    tmp_path: t.Any, caplog: pytest.LogCaptureFixture
) -> None:
    with (
        caplog.at_level(logging.WARNING, logger="wsgiscope"),
        TraceMiddleware(plain.hello, sink=str(tmp_path / "missing" / "x.jsonl")) as mw,
    ):
        assert call(mw) == b"hello"
        assert call(mw) == b"hello"
    assert len([r for r in caplog.records if "sink" in r.getMessage()]) == 1


def test_make_sink_rejects_nonsense() -> None:
    with pytest.raises(TypeError, match="trace sink"):
        make_sink(42)
    assert make_sink(None) is None


def test_four_processes_appending_to_one_file_stay_intact(tmp_path: t.Any) -> None:
    target = str(tmp_path / "shared.jsonl")
    count, size = 60, 70_000  # each record well above PIPE_BUF and a page
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=append_records, args=(target, count, size)) for _ in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
        assert worker.exitcode == 0
    pids = [worker.pid for worker in workers]
    with open(target, "rb") as handle:
        lines = handle.read().split(b"\n")
    assert lines[-1] == b""
    records = [json.loads(line) for line in lines[:-1]]
    assert len(records) == 4 * count
    assert len({r["id"] for r in records}) == 4 * count
    per_pid: dict[int, int] = {}
    for record in records:
        pid = record["worker"]["pid"]
        per_pid[pid] = per_pid.get(pid, 0) + 1
        assert record["response"]["body_preview"].startswith(f"{pid}:")
        assert len(record["response"]["body_preview"]) == size
    assert per_pid == dict.fromkeys(pids, count)
    assert os.getpid() not in per_pid
