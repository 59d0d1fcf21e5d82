"""#15 point 7: a response real servers refuse makes ``trace`` exit 1 and
say what werkzeug's and gunicorn's servers do with it.

``tests/apps/tracetruth_refusals.py`` makes one mistake per route. The slow
tests run it under werkzeug's development server and under gunicorn and
check that :data:`wsgiscope.lint.refusals.REFUSALS` says what they really do.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import threading
import typing as t

import pytest
from click.testing import CliRunner

from tests.conftest import APPS
from wsgiscope.cli import cli
from wsgiscope.lint.refusals import REFUSALS, refusal_for

APP = str(APPS / "tracetruth_refusals.py")

#: rule -> the request target (raw, as sent on the wire) that breaks it.
CASES = {
    "WSGI101": "/nothing",
    "WSGI102": "/export/raw",
    "WSGI201": "/forgot",
    "WSGI202": "/export/stream",
    "WSGI203": "/status",
    "WSGI204": "/export/meta",
    "WSGI205": "/count",
    "WSGI206": "/export/label",
    "WSGI207": "/back?next=/ok%0D%0ASet-Cookie:%20x=1",
    "WSGI208": "/greet",
    "WSGI301": "/export/report.csv",
    "WSGI502": "/export/legacy",
}


def test_every_refusal_has_a_case() -> None:
    assert sorted({refusal.rule for refusal in REFUSALS}) == sorted(CASES)


def _trace_words(target: str) -> list[str]:
    path, _, query = target.partition("?")
    if not query:
        return [path]
    from urllib.parse import parse_qsl

    return [path, *(f"{name}=={value}" for name, value in parse_qsl(query))]


@pytest.mark.parametrize("rule", sorted(CASES))
def test_trace_of_a_refused_response_exits_1_and_says_what_servers_do(rule: str) -> None:
    runner = CliRunner()
    words = _trace_words(CASES[rule])
    result = runner.invoke(cli, ["trace", APP, *words, "--width", "300"])
    assert result.exit_code == 1, result.output
    assert "a real server would not send this response as shown" in result.stdout
    refusal = next(r for r in REFUSALS if r.rule == rule)
    assert f"werkzeug  {refusal.werkzeug_detail}" in result.stdout
    assert f"gunicorn  {refusal.gunicorn_detail}" in result.stdout
    data = json.loads(runner.invoke(cli, ["trace", APP, *words, "--json"]).stdout)
    assert rule in [item["rule"] for item in data["server_refusals"]]


def test_a_str_body_that_answered_200_in_process_is_still_a_failure() -> None:
    """The issue's case: today's trace showed 200 and exited 0."""
    result = CliRunner().invoke(cli, ["trace", APP, "/export/report.csv", "--json"])
    record = json.loads(result.stdout)
    assert (result.exit_code, record["response"]["status_code"]) == (1, 200)
    assert record["server_refusals"] == [
        {
            "rule": "WSGI301",
            "message": "body yielded str, not bytes",
            "werkzeug": refusal_for("WSGI301", "").werkzeug_detail,  # type: ignore[union-attr]
            "gunicorn": refusal_for("WSGI301", "").gunicorn_detail,  # type: ignore[union-attr]
        }
    ]


def test_a_correct_response_and_a_status_without_reason_are_not_refused() -> None:
    result = CliRunner().invoke(cli, ["trace", APP, "/ok", "--json"])
    assert result.exit_code == 0
    assert "server_refusals" not in json.loads(result.stdout)
    # '200' without a reason phrase is WSGI203 too, but both servers send it
    assert refusal_for("WSGI203", "status '200' has no reason phrase") is None


# -- what the servers really do ---------------------------------------------------


def fetch(port: int, target: str) -> bytes:
    """One request on a fresh connection; everything the server sent."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(f"GET {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        data = b""
        while True:
            try:
                chunk = sock.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            data += chunk
    return data


def outcome(data: bytes) -> str:
    """What the client got: no response, an error page, a malformed or cut
    off response, or the response as the app gave it."""
    if not data:
        return "no response"
    head, _, body = data.partition(b"\r\n\r\n")
    status_line, *header_lines = head.split(b"\r\n")
    if not re.fullmatch(rb"HTTP/1\.[01] \d{3}( .*)?", status_line):
        return "malformed"
    if status_line.split()[1] == b"500" and b"Internal Server Error" in body:
        return "error page"
    headers = {}
    for line in header_lines:
        name, _, value = line.partition(b":")
        headers[name.strip().lower()] = value.strip()
    if headers.get(b"transfer-encoding") == b"chunked":
        return "sent" if body.endswith(b"0\r\n\r\n") else "cut off"
    if b"content-length" in headers:
        return "sent" if len(body) >= int(headers[b"content-length"]) else "cut off"
    return "sent"


@pytest.fixture(scope="module")
def werkzeug_port() -> t.Iterator[int]:
    from werkzeug.serving import make_server

    sys.path.insert(0, str(APPS))
    try:
        import tracetruth_refusals
    finally:
        sys.path.remove(str(APPS))
    server = make_server("127.0.0.1", 0, tracetruth_refusals.app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_port
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def gunicorn_port() -> t.Iterator[int]:
    pytest.importorskip("gunicorn")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "-b",
            "127.0.0.1:0",
            "-w",
            "1",
            "tracetruth_refusals:app",
        ],
        cwd=APPS,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(APPS)},
    )
    assert process.stderr is not None
    port = None
    for line in process.stderr:
        found = re.search(r"Listening at: http://127\.0\.0\.1:(\d+)", line)
        if found:
            port = int(found.group(1))
        if "Booting worker" in line:
            break
    assert port is not None, "gunicorn did not start"
    # drain its log so it never blocks on a full pipe
    drain = threading.Thread(target=process.stderr.read, daemon=True)
    drain.start()
    yield port
    process.terminate()
    process.wait(timeout=30)
    drain.join(timeout=10)
    process.stderr.close()


@pytest.mark.slow
@pytest.mark.parametrize("rule", sorted(CASES))
def test_werkzeug_and_gunicorn_do_what_the_table_says(
    rule: str, werkzeug_port: int, gunicorn_port: int
) -> None:
    from importlib.metadata import version

    refusal = next(r for r in REFUSALS if r.rule == rule)
    target = CASES[rule]
    got = (outcome(fetch(werkzeug_port, target)), outcome(fetch(gunicorn_port, target)))
    gunicorn = refusal.gunicorn
    if int(version("gunicorn").split(".")[0]) < 27:
        gunicorn = refusal.gunicorn_before_27 or gunicorn
    assert got == (refusal.werkzeug, gunicorn)


@pytest.mark.slow
def test_both_servers_send_the_correct_response(werkzeug_port: int, gunicorn_port: int) -> None:
    assert outcome(fetch(werkzeug_port, "/ok")) == outcome(fetch(gunicorn_port, "/ok")) == "sent"


def test_lint_shows_an_escaped_non_ascii_target_decoded() -> None:
    """#15.5 in lint: the target as text; --json keeps it as requested."""
    target = "/greet?city=%C5%81%C3%B3d%C5%BA"
    runner = CliRunner()
    result = runner.invoke(cli, ["lint", APP, "-r", target, "--width", "200"])
    assert result.exit_code == 1
    assert "GET /greet?city=Łódź  header 'X-City' value 'Łódź' is not ISO-8859-1" in result.stdout
    data = json.loads(runner.invoke(cli, ["lint", APP, "-r", target, "--json"]).stdout)
    assert target in [finding["path"] for finding in data["findings"]]


def test_lint_explain_says_what_servers_do() -> None:
    result = CliRunner().invoke(cli, ["lint", "--explain", "WSGI301", "--width", "300"])
    refusal = refusal_for("WSGI301", "")
    assert refusal is not None
    assert "What servers do with it:" in result.stdout
    assert f"werkzeug  {refusal.werkzeug_detail}" in result.stdout
    assert f"gunicorn  {refusal.gunicorn_detail}" in result.stdout
    # a rule servers do not refuse says nothing of the kind
    other = CliRunner().invoke(cli, ["lint", "--explain", "WSGI213", "--width", "300"])
    assert "What servers do" not in other.stdout
