"""Issue #22, points 4-5: a record is written whole or not at all, every
lost record is counted and ``serve`` says so; a record file that is no
regular file is one line and exit 2.

A full disk is made real with ``RLIMIT_FSIZE`` (the kernel cuts the write
that crosses the limit short, then fails the next ones with EFBIG), in a
subprocess, with SIGXFSZ ignored."""

from __future__ import annotations

import json
import os
import resource
import signal
import subprocess
import sys

import httpx
import pytest
from click.testing import CliRunner
from serve_fixtures import ServeRun

from tests.conftest import APPS
from wsgiscope.cli import cli

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

WRITER = """
import io, json, resource, signal, sys
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
resource.setrlimit(resource.RLIMIT_FSIZE, (int(sys.argv[2]), int(sys.argv[2])))
from wsgiscope import TraceMiddleware
def app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [environ["PATH_INFO"].encode() * 20]
mw = TraceMiddleware(app, sink=sys.argv[1])
answered = 0
for i in range(int(sys.argv[3])):
    environ = {"REQUEST_METHOD": "GET", "PATH_INFO": f"/{i}", "wsgi.input": io.BytesIO(),
               "SERVER_NAME": "x", "SERVER_PORT": "80", "wsgi.url_scheme": "http"}
    body = mw(environ, lambda *a: None)
    answered += b"".join(body) == f"/{i}".encode() * 20
    body.close()
print(json.dumps({"answered": answered, "dropped": mw.dropped}))
"""


@pytest.mark.parametrize("limit", [3000, 7777, 20000])
def test_a_full_disk_leaves_only_whole_records_and_counts_the_rest(tmp_path, limit):
    path = tmp_path / "rec.jsonl"
    done = subprocess.run(
        [sys.executable, "-c", WRITER, str(path), str(limit), "40"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": ROOT},
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["answered"] == 40  # the app never noticed
    data = path.read_bytes()
    assert data.endswith(b"\n")
    lines = data.splitlines()
    records = [json.loads(line) for line in lines]  # every line whole
    assert [r["request"]["path"] for r in records] == [f"/{i}" for i in range(len(records))]
    assert len(records) + result["dropped"] == 40
    assert result["dropped"] > 0
    assert "No space" in done.stderr or "too large" in done.stderr  # logged once


def test_trace_save_to_a_full_disk_is_one_line(tmp_path):
    result = CliRunner().invoke(
        cli, ["trace", f"{APPS / 'hostile_flask.py'}:app", "/", "--save", "/dev/full"]
    )
    assert result.exit_code == 2
    assert "No space left on device" in result.output
    assert "Traceback" not in result.output


def _small_disk() -> None:
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (12000, 12000))


@pytest.mark.slow
@pytest.mark.parametrize("server", [[], ["--server", "gunicorn", "--workers", "2"]])
def test_serve_on_a_full_disk_says_how_many_records_were_lost(tmp_path, server):
    pytest.importorskip("gunicorn")
    record = tmp_path / "rec.jsonl"
    with ServeRun(
        tmp_path, *server, "--record", str(record), app=f"{APPS / 'hostile_flask.py'}:app",
        preexec_fn=_small_disk,
    ) as run:  # fmt: skip
        base = run.wait_ready()
        with httpx.Client(base_url=base, timeout=10) as client:
            for _ in range(30):
                assert client.get("/").text == "ok"
        assert run.stop() == 130
    written = [json.loads(line) for line in record.read_bytes().splitlines()]
    lost = 30 - len(written)
    assert lost > 0
    assert "records are being lost" in run.stderr
    assert f"{lost} records lost" in run.stderr


@pytest.mark.parametrize("target", ["/dev/null", "/dev/full", "fifo"])
def test_serve_record_that_is_not_a_regular_file(tmp_path, target):
    if target == "fifo":
        target = str(tmp_path / "fifo")
        os.mkfifo(target)
    result = subprocess.run(
        [sys.executable, "-m", "wsgiscope", "serve", f"{APPS / 'hostile_flask.py'}:app",
         "--port", "0", "--record", target],
        capture_output=True, text=True, timeout=30, cwd=ROOT,
        env={**os.environ, "PYTHONPATH": ROOT},
    )  # fmt: skip
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert result.stderr.splitlines()[0].startswith(f"wsgiscope: error: the record file {target}")


def test_the_sink_does_not_block_on_a_fifo_nobody_reads(tmp_path):
    from werkzeug.test import Client

    from wsgiscope import TraceMiddleware

    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    sys.path.insert(0, str(APPS))
    import hostile_flask

    mw = TraceMiddleware(hostile_flask.app, sink=str(fifo))
    response = Client(mw).get("/", buffered=True)
    assert response.get_data() == b"ok"
    assert mw.dropped == 1


EVIL = "\x1b]0;pwned\x07\x1b]52;c;cHduZWQ=\x07\u200b\x9b2J"


@pytest.mark.slow
@pytest.mark.parametrize("server", [[], ["--server", "gunicorn"]])
def test_serve_relays_the_apps_output_escaped(tmp_path, server):
    """#22.17: the app's logger, print to stderr, wsgi.errors and exception
    logs reach serve's terminal with control and invisible characters escaped."""
    if server:
        pytest.importorskip("gunicorn")
    with ServeRun(tmp_path, *server, app=f"{APPS / 'hostile_flask.py'}:app") as run:
        base = run.wait_ready()
        with httpx.Client(base_url=base, timeout=10) as client:
            assert client.get("/log", params={"evil": EVIL}).text == "logged"
            assert client.get("/log", params={"evil": EVIL, "raise": "1"}).status_code == 500
        assert run.stop() == 130
    err = run.err_path.read_bytes()
    for raw in (b"\x1b", b"\x07", "\u200b".encode(), "\x9b".encode()):
        assert raw not in err
    text = err.decode()
    for where in ("logger saw", "print saw", "wsgi.errors saw", "exception saw"):
        assert f"{where} \\x1b]0;pwned\\x07\\x1b]52;c;cHduZWQ=\\x07\\u200b\\x9b2J" in text, where


@pytest.mark.parametrize(
    "char", ["\u200b", "\u200c", "\u200d", "\u2060", "\U000e0041", "\u3164", "\ufe0f", "\u00ad"]
)
def test_invisible_characters_are_escaped_in_text_output(char):
    result = CliRunner().invoke(
        cli, ["trace", f"{APPS / 'hostile_flask.py'}:app", "/echo", f"v==a{char}b", "-v"]
    )
    assert result.exit_code == 0, result.output
    assert char not in result.output
    code = ord(char)
    escaped = f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"
    if code < 0x100:
        escaped = f"\\x{code:02x}"
    assert f"a{escaped}b" in result.output
