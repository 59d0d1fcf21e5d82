"""``wsgiscope serve``: real servers on 127.0.0.1, real HTTP, every record whole."""

from __future__ import annotations

import collections
import json
import socket
import sys
import time

import httpx
import pytest
from click.testing import CliRunner
from serve_fixtures import (
    ServeRun,
    append,
    hammer,
    make_record,
    read_records,
    record_line,
    request_plan,
)

from wsgiscope.cli import cli

EXPECTED = {"/fail": 500, "/stream": 200, "/items": 201}


def expected_status(method: str, path: str) -> int:
    if path.startswith("/nope"):
        return 404
    return EXPECTED.get(path, 200)


def check_run(run: ServeRun, record, plan, statuses, pids):
    """The record file and the terminal both hold exactly one record per request."""
    assert statuses == [expected_status(m, p) for m, p in plan]
    assert run.stop() == 130
    records = read_records(record)
    assert len(records) == len(plan)
    assert len({r["id"] for r in records}) == len(plan)
    sent = collections.Counter((m, p) for m, p in plan)
    got = collections.Counter((r["request"]["method"], r["request"]["path"]) for r in records)
    assert got == sent
    for r in records:
        assert r["response"]["status_code"] == expected_status(
            r["request"]["method"], r["request"]["path"]
        )
        assert r["worker"]["pid"] in pids
    printed = [json.loads(line) for line in run.stdout.splitlines()]
    assert sorted(r["id"] for r in printed) == sorted(r["id"] for r in records)
    assert f"{len(plan)} requests" in run.stderr
    return records


def test_werkzeug_threaded_serves_concurrent_requests(tmp_path):
    record = tmp_path / "rec.jsonl"
    plan = request_plan(300)
    with ServeRun(tmp_path, "--record", str(record), "--json") as run:
        base = run.wait_ready()
        assert "werkzeug's threaded dev server" in run.stderr
        statuses = hammer(base, plan)
        records = check_run(run, record, plan, statuses, {run.server_pid})
    threads = {r["worker"]["thread"] for r in records}
    assert len(threads) > 1  # threaded: requests ran on several threads
    assert "slowest" in run.stderr


@pytest.mark.slow
def test_gevent_serves_concurrent_requests(tmp_path):
    record = tmp_path / "rec.jsonl"
    plan = request_plan(500)
    with ServeRun(tmp_path, "--server", "gevent", "--record", str(record), "--json") as run:
        base = run.wait_ready()
        assert "gevent's WSGIServer" in run.stderr
        statuses = hammer(base, plan, concurrency=16)
        records = check_run(run, record, plan, statuses, {run.server_pid})
    greenlets = {r["worker"]["greenlet"] for r in records}
    assert None not in greenlets
    assert len(greenlets) > 1


@pytest.mark.parametrize(
    "server", [["gevent"], ["gunicorn", "--worker-class", "gevent"]], ids=["gevent", "gunicorn"]
)
def test_gevent_patches_before_the_app_is_imported(tmp_path, server):
    app = "tests/apps/serve_gevent_probe.py:app"
    with ServeRun(tmp_path, "--server", *server, app=app) as run:
        base = run.wait_ready()
        assert httpx.get(base).json() == {"patched_at_import": True}
        assert run.stop() == 130
    assert "1 request in" in run.stderr


@pytest.mark.slow
@pytest.mark.parametrize(
    ("worker_class", "count"), [("sync", 3000), ("gevent", 3000), ("gthread", 500)]
)
def test_gunicorn_workers_write_every_record_whole(tmp_path, worker_class, count):
    record = tmp_path / "rec.jsonl"
    plan = request_plan(count)
    args = ["--server", "gunicorn", "--workers", "2", "--worker-class", worker_class]
    if worker_class == "gthread":
        args += ["--threads", "4"]
    with ServeRun(tmp_path, *args, "--record", str(record), "--json") as run:
        base = run.wait_ready()
        statuses = hammer(base, plan, concurrency=12)
        workers = run.worker_pids()
        assert len(workers) == 2
        assert run.server_pid not in workers
        records = check_run(run, record, plan, statuses, workers)
    # the tail of the file, filtered, finds exactly the failures
    result = CliRunner().invoke(
        cli, ["tail", str(record), "--no-follow", "-n", "all", "--errors", "--json"]
    )
    failed = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(failed) == sum(1 for _, p in plan if p == "/fail")
    assert {r["id"] for r in failed} == {
        r["id"] for r in records if r["request"]["path"] == "/fail"
    }


@pytest.mark.flask
def test_terminal_lines_streaming_and_raising_requests(tmp_path):
    record = tmp_path / "rec.jsonl"
    with ServeRun(tmp_path, "--record", str(record)) as run:
        base = run.wait_ready()
        with httpx.Client(base_url=base) as client:
            with client.stream("GET", "/stream") as response:
                body = b"".join(response.iter_bytes())
            assert client.get("/fail").status_code == 500
            assert client.get("/items/3").status_code == 200
        assert run.stop() == 130
    # a record is written at close(), which may come after the client saw the body
    by_path = {r["request"]["path"]: r for r in read_records(record)}
    stream, failed, item = by_path["/stream"], by_path["/fail"], by_path["/items/3"]
    assert stream["response"]["body_bytes"] == len(body) == 5 * 100 * len("chunk 0\n")
    assert failed["error"]["type"] == "ZeroDivisionError"
    assert item["error"] is None
    lines = {line.split()[3]: line for line in run.stdout.splitlines()}
    assert len(lines) == 3
    assert lines["/stream"].split()[2:5] == ["GET", "/stream", "200"]
    assert lines["/stream"].endswith("3.9 KiB")  # 4000 bytes, as trace prints sizes
    assert "RAISED ZeroDivisionError: integer division or modulo by zero" in lines["/fail"]
    assert lines["/items/3"].split()[2:5] == ["GET", "/items/3", "200"]
    assert "3 requests" in run.stderr
    assert "500 x1" in run.stderr


def test_filters_apply_to_the_terminal_not_to_the_record(tmp_path):
    record = tmp_path / "rec.jsonl"
    # --record appends; what the file held before is not this server's
    append(record, record_line(make_record(0, path="/old", status=500)))
    with ServeRun(tmp_path, "--record", str(record), "--status", "5xx,404") as run:
        base = run.wait_ready()
        with httpx.Client(base_url=base) as client:
            for path in ("/", "/fail", "/nope", "/items/1"):
                client.get(path)
        run.stop()
    assert sorted(line.split()[3] for line in run.stdout.splitlines()) == ["/fail", "/nope"]
    assert len(read_records(record)) == 5
    assert "4 requests" in run.stderr


def test_without_record_a_temporary_file_is_used_and_removed(tmp_path):
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    with ServeRun(tmp_path, "--json", env={"TMPDIR": str(scratch)}) as run:
        base = run.wait_ready()
        assert httpx.get(base + "print").text == "printed"
        run.stop()
    # what the app prints goes to stderr: stdout stays JSON Lines
    [printed] = [json.loads(line) for line in run.stdout.splitlines()]
    assert printed["request"]["path"] == "/print"
    assert "debug output of the app" in run.stderr
    assert "temporary file" in run.stderr
    assert list(scratch.iterdir()) == []


def test_sigterm_stops_serve_like_ctrl_c(tmp_path):
    with ServeRun(tmp_path, "--server", "gevent") as run:
        base = run.wait_ready()
        assert httpx.get(base + "slow").text == "slow"
        run.proc.terminate()
        assert run.proc.wait(30) == 143  # 128 + SIGTERM, after the same clean stop
    assert "1 request in" in run.stderr
    assert run.stdout.split()[2:5] == ["GET", "/slow", "200"]


def test_an_app_that_does_not_load_is_one_line(tmp_path):
    with ServeRun(tmp_path, app="tests/apps/serve_broken.py") as run:
        assert run.proc.wait(30) == 2
    lines = run.stderr.splitlines()
    assert lines[0].startswith("wsgiscope: error: ")
    assert "database unreachable at import time" in run.stderr
    assert "Traceback" not in lines[0]


@pytest.mark.slow
def test_gunicorn_worker_that_cannot_load_the_app(tmp_path):
    with ServeRun(tmp_path, "--server", "gunicorn", app="tests/apps/serve_broken.py") as run:
        assert run.proc.wait(60) == 2
    assert "wsgiscope: error: " in run.stderr
    assert "database unreachable at import time" in run.stderr


def test_a_taken_port_is_a_usage_error():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = CliRunner().invoke(
            cli, ["serve", "tests/apps/serve_flask.py:app", "--port", str(port)]
        )
    assert result.exit_code == 2
    assert result.stderr.startswith(f"wsgiscope: error: cannot listen on 127.0.0.1:{port}")


def test_gunicorn_options_need_gunicorn_server():
    # without --server they mean gunicorn (test_habits_serve.py); with another server: an error
    result = CliRunner().invoke(
        cli, ["serve", "tests/apps/serve_flask.py:app", "--server", "werkzeug", "--workers", "2"]
    )
    assert result.exit_code == 2
    assert "--workers only apply to --server gunicorn" in result.stderr


def test_missing_gunicorn_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "gunicorn", None)
    result = CliRunner().invoke(
        cli, ["serve", "tests/apps/serve_flask.py:app", "--server", "gunicorn"]
    )
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        "wsgiscope: error: --server gunicorn needs the 'gunicorn' package, which is not installed",
        "hint: install it with: pip install gunicorn",
    ]


@pytest.mark.slow
def test_record_file_rotated_mid_stream(tmp_path):
    record = tmp_path / "rec.jsonl"
    first, second = request_plan(600), request_plan(600)
    args = ["--server", "gunicorn", "--workers", "2", "--record", str(record), "--json"]
    with ServeRun(tmp_path, *args) as run:
        base = run.wait_ready()
        hammer(base, first)
        record.rename(tmp_path / "rec.jsonl.1")  # logrotate's first step
        time.sleep(1.2)  # the workers' sinks look at the path about once a second
        hammer(base, second)
        assert run.stop() == 130
    # each worker moved to the new file at its first record after the check
    assert len(read_records(tmp_path / "rec.jsonl.1")) == len(first)
    assert len(read_records(record)) == len(second)
    written = read_records(tmp_path / "rec.jsonl.1") + read_records(record)
    printed = [json.loads(line)["id"] for line in run.stdout.splitlines()]
    assert sorted(printed) == sorted(r["id"] for r in written)


@pytest.mark.flask
def test_verbose_shows_each_request_as_a_tree(tmp_path):
    with ServeRun(tmp_path, "-v", "--width", "100") as run:
        base = run.wait_ready()
        assert httpx.get(base + "items/9").status_code == 200
        run.stop()
    assert run.stdout.startswith("GET /items/9 → 200 OK")
    assert "view item n=9 → serve_flask.item" in run.stdout


@pytest.mark.parametrize(
    "server",
    [
        ["werkzeug"],
        ["gevent"],
        ["gunicorn", "--worker-class", "gevent"],
        ["gunicorn", "--threads", "4"],
    ],
    ids=["werkzeug", "gevent", "gunicorn-gevent", "gunicorn-gthread"],
)
def test_stopping_waits_for_requests_in_flight_not_for_idle_connections(tmp_path, server):
    import threading

    record = tmp_path / "rec.jsonl"
    with ServeRun(tmp_path, "--server", *server, "--record", str(record)) as run:
        base = run.wait_ready()
        with httpx.Client(base_url=base) as idle, httpx.Client(base_url=base) as busy:
            assert idle.get("/").status_code == 200  # its connection stays open
            answers = []
            slow = threading.Thread(target=lambda: answers.append(busy.get("/slow").text))
            slow.start()
            time.sleep(0.1)  # /slow is being served
            began = time.monotonic()
            assert run.stop() == 130
            slow.join()
            assert time.monotonic() - began < 8  # the grace period is 10 s
    assert answers == ["slow"]
    assert sorted(r["request"]["path"] for r in read_records(record)) == ["/", "/slow"]
    assert "2 requests" in run.stderr
