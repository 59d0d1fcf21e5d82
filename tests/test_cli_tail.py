"""``wsgiscope tail``: printing, filters, JSON, errors, and following a live file."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest
from click.testing import CliRunner
from serve_fixtures import append, make_record, record_line

from wsgiscope.cli import cli


@pytest.fixture
def trace_file(tmp_path):
    path = tmp_path / "traces.jsonl"
    records = [
        make_record(1, path="/shop/items", duration_ms=3.25, pid=11),
        make_record(2, method="POST", path="/api/orders", status=201, duration_ms=250, pid=12),
        make_record(
            3,
            path="/fail",
            status=500,
            pid=11,
            error={"type": "ZeroDivisionError", "message": "division by zero"},
        ),
        make_record(4, path="/missing", status=404, pid=12),
        make_record(5, path="/close", teardown_exception="ValueError: db gone", pid=11),
    ]
    append(path, b"".join(record_line(r) for r in records))
    return path


def run(*args):
    return CliRunner().invoke(cli, ["tail", *args], catch_exceptions=False)


def test_prints_one_line_per_request(trace_file):
    result = run(str(trace_file), "--no-follow")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert len(lines) == 5
    fields = lines[0].split()
    assert fields[0].endswith(":05.678")  # local time of 03:04:05.678 UTC
    assert fields[1] == f"11:{(139_000_000 + 1) & 0xFFFF:04x}"
    assert fields[2:] == ["GET", "/shop/items", "200", "3.25ms", "12", "B"]
    fields = lines[1].split()
    assert fields[1].startswith("12:")
    assert fields[2:7] == ["POST", "/api/orders", "201", "250ms", "12"]
    assert "RAISED ZeroDivisionError: division by zero" in lines[2]
    assert "teardown saw ValueError: db gone" in lines[4]
    assert "RAISED" not in lines[3]
    assert "teardown" not in lines[3]
    assert result.stderr == ""


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        (["--status", "5xx"], ["/fail"]),
        (["--status", "2xx,404"], ["/shop/items", "/api/orders", "/missing", "/close"]),
        (["--method", "post"], ["/api/orders"]),
        (["--path", "/s*"], ["/shop/items"]),
        (["--slower-than", "100ms"], ["/api/orders"]),
        (["--errors"], ["/fail", "/close"]),
        (["--worker", "12"], ["/api/orders", "/missing"]),
        (["--errors", "--worker", "11", "-n", "1"], ["/close"]),
        (["-n", "2"], ["/missing", "/close"]),
        (["-n", "all", "--status", "404", "--status", "201"], ["/api/orders", "/missing"]),
    ],
)
def test_filters(trace_file, options, expected):
    result = run(str(trace_file), "--no-follow", *options)
    assert result.exit_code == 0, result.output
    assert [line.split()[3] for line in result.stdout.splitlines()] == expected


def test_json_passes_matching_records_through(trace_file):
    result = run(str(trace_file), "--no-follow", "--json", "--errors", "--color", "always")
    assert result.exit_code == 0
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["request"]["path"] for r in records] == ["/fail", "/close"]
    assert records[0] == make_record(
        3,
        path="/fail",
        status=500,
        pid=11,
        error={"type": "ZeroDivisionError", "message": "division by zero"},
    )
    assert "\x1b" not in result.stdout


def test_request_text_is_data_not_markup_or_escapes(tmp_path):
    path = tmp_path / "t.jsonl"
    append(path, record_line(make_record(1, path="/[bold]x\x1b]0;pwned\x07\n200")))
    result = run(str(path), "--no-follow", "--color", "always")
    assert "[bold]x\\x1b]0;pwned\\x07\\n200" in result.stdout
    assert "\x07" not in result.stdout
    assert result.stdout.count("\n") == 1


def test_corrupt_lines_are_reported_on_stderr(trace_file):
    append(trace_file, b"{broken\n")
    append(trace_file, record_line(make_record(9, path="/after")))
    result = run(str(trace_file), "--no-follow")
    assert result.exit_code == 0
    assert result.stdout.splitlines()[-1].split()[3] == "/after"
    assert result.stderr.startswith(f"wsgiscope: warning: {trace_file}:6: skipped, not JSON")


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--status", "6xx"], "'6xx' is not a status class"),
        (["--slower-than", "soon"], "'soon' is not a duration"),
        (["-n", "-3"], "is not a number of records"),
    ],
)
def test_bad_option_values(trace_file, options, message):
    result = run(str(trace_file), "--no-follow", *options)
    assert result.exit_code == 2
    assert message in result.stderr


def test_missing_file_is_one_line_and_exit_2(tmp_path):
    result = run(str(tmp_path / "nope.jsonl"), "--no-follow")
    assert result.exit_code == 2
    assert (
        result.stderr.splitlines()[0]
        == f"wsgiscope: error: trace file not found: {tmp_path / 'nope.jsonl'}"
    )


def _read_until(proc, count, timeout=20.0):
    lines = []
    deadline = time.monotonic() + timeout
    while len(lines) < count and time.monotonic() < deadline:
        line = proc.stdout.readline()
        if line:
            lines.append(line)
    return lines


def test_follows_a_live_file_through_rotation_and_partial_writes(tmp_path):
    path = tmp_path / "live.jsonl"
    append(path, record_line(make_record(0, path="/old")))
    proc = subprocess.Popen(
        [sys.executable, "-m", "wsgiscope", "tail", str(path), "--json", "--status", "2xx"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONPATH": os.getcwd()},
    )  # fmt: skip
    try:
        assert [json.loads(x)["id"] for x in _read_until(proc, 1)] == ["req-0"]
        line = record_line(make_record(1, path="/a"))
        append(path, line[:25])
        time.sleep(0.3)  # the tail polls the half-written line and must wait
        append(path, line[25:])
        append(path, record_line(make_record(2, path="/b", status=500)))
        os.rename(path, tmp_path / "live.jsonl.1")
        time.sleep(0.3)
        append(path, record_line(make_record(3, path="/c")))
        got = [json.loads(x)["id"] for x in _read_until(proc, 2)]
        assert got == ["req-1", "req-3"]
    finally:
        proc.terminate()
        try:
            _, err = proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            _, err = proc.communicate()
    assert "was replaced (rotated); following the new file" in err
    assert "skipped" not in err


@pytest.mark.parametrize("command", ["tail", "serve"])
def test_help_imports_nothing_heavy(command):
    code = (
        "import sys\n"
        "from wsgiscope.cli import main\n"
        "try:\n"
        f"    main(['{command}', '--help'])\n"
        "except SystemExit:\n"
        "    pass\n"
        "heavy = {'rich', 'werkzeug', 'gevent', 'flask', 'gunicorn', 'wsgiscope.tailing'}\n"
        "print(sorted(heavy & set(sys.modules)))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True,
        env={**os.environ, "PYTHONPATH": os.getcwd()},
    )  # fmt: skip
    assert "--no-follow" in result.stdout or "--server" in result.stdout
    assert result.stdout.splitlines()[-1] == "[]"


def write_real_records(path):
    """Records written by TraceMiddleware around the serve test app."""
    from pathlib import Path

    from werkzeug.test import Client

    from wsgiscope.loading import AppRef, load_app
    from wsgiscope.tracing import TraceMiddleware

    root = Path(__file__).parent.parent
    app = load_app(AppRef("tests/apps/serve_flask.py:app", "argument", root)).app
    # the with block releases Flask's instrumentation afterwards
    with TraceMiddleware(app, sink=str(path)) as traced:
        client = Client(traced)
        for url, status in (("/items/4", 200), ("/fail", 500)):
            response = client.get(url)
            assert response.status_code == status
            response.close()  # the trace ends, and the record is written, at close()


@pytest.mark.flask
def test_verbose_prints_the_trace_tree_of_real_records(tmp_path):
    path = tmp_path / "t.jsonl"
    write_real_records(path)
    result = run(str(path), "--no-follow", "-v", "--errors", "--width", "100")
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert out.startswith("GET /fail → 500 INTERNAL SERVER ERROR")
    assert "teardown_request serve_flask.remember" in out
    assert "received ZeroDivisionError: integer division or modulo by zero" in out
    assert "/items/4" not in out


@pytest.mark.flask
def test_compact_lines_of_real_records(tmp_path):
    path = tmp_path / "t.jsonl"
    write_real_records(path)
    result = run(str(path), "--no-follow")
    ok, failed = result.stdout.splitlines()
    assert ok.split()[2:5] == ["GET", "/items/4", "200"]
    body = f'{{"n":4,"pid":{os.getpid()}}}\n'  # the view's JSON; its size varies with the pid
    assert ok.endswith(f"  {len(body)} B")
    assert failed.split()[2:5] == ["GET", "/fail", "500"]
    assert failed.endswith("RAISED ZeroDivisionError: integer division or modulo by zero")
    assert ok.split()[1].split(":")[0] == str(os.getpid())


def test_json_re_encodes_lines_that_are_not_plain_ascii(tmp_path):
    path = tmp_path / "t.jsonl"
    record = make_record(1, path="/caf\u00e9\u009b[31m")
    append(path, json.dumps(record, ensure_ascii=False).encode() + b"\n")
    result = run(str(path), "--no-follow", "--json")
    assert result.stdout.isascii()
    assert "\\u009b" in result.stdout
    assert json.loads(result.stdout) == record


def test_a_fifo_is_read_as_a_stream(tmp_path, trace_file):
    # a named pipe is read as it arrives, like `tail -` (see test_habits_tail.py)
    import threading

    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)

    def writer() -> None:
        with open(fifo, "wb") as pipe:
            pipe.write(trace_file.read_bytes())

    thread = threading.Thread(target=writer)
    thread.start()
    result = run(str(fifo), "--no-follow", "-n", "2")
    thread.join(10)
    assert result.exit_code == 0, result.output
    assert len(result.stdout.splitlines()) == 2
