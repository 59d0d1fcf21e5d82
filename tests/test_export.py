"""``wsgiscope export``: HAR round trip through replay, curl/HTTPie against a real
server, Chrome trace events checked against the format, pytest modules run."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from click.testing import CliRunner
from export_fixtures import APPS, REQUESTS, SHOP, env_with, load_shop, received, record_requests

from wsgiscope.cli import cli
from wsgiscope.export.shell import quote
from wsgiscope.replay.sources import load_sources

BIN = Path(sys.executable).parent


@pytest.fixture(scope="module")
def recorded(tmp_path_factory):
    """The records of :data:`REQUESTS`, and what the shop received then."""
    directory = tmp_path_factory.mktemp("export")
    path, log = directory / "traces.jsonl", directory / "original.log"
    os.environ["EXPORT_LOG"] = str(log)
    try:
        records = record_requests(path)
    finally:
        del os.environ["EXPORT_LOG"]
    assert len(records) == len(REQUESTS)
    return path, received(log)


@pytest.fixture(scope="module")
def records_file(recorded):
    return recorded[0]


@pytest.fixture(scope="module")
def original(recorded):
    """What the shop received from the recorded requests (distinct, sorted)."""
    assert len(recorded[1]) == len(REQUESTS)
    return recorded[1]


def export(*args, input=None):
    result = CliRunner().invoke(cli, ["export", *args], input=input, catch_exceptions=False)
    return result


def replay_log(source: Path, log: Path, count: int) -> list[str]:
    """Replay ``source`` against the shop with the real CLI; what the shop received."""
    done = subprocess.run(
        [str(BIN / "wsgiscope"), "replay", SHOP, str(source), "-n", str(count), "--no-check"],
        env=env_with(EXPORT_LOG=str(log)),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return received(log)


# -- HAR -----------------------------------------------------------------------


def test_har_is_har_1_2(records_file, tmp_path):
    out = tmp_path / "session.har"
    result = export("har", str(records_file), "-o", str(out))
    assert result.exit_code == 0, result.output
    assert f"wrote {len(REQUESTS)} records to {out}" in result.stderr
    log = json.loads(out.read_text())["log"]
    assert log["version"] == "1.2"
    assert log["creator"]["name"] == "wsgiscope"
    entries = log["entries"]
    assert [e["request"]["method"] for e in entries] == [r[0] for r in REQUESTS]
    first = entries[0]
    assert first["request"]["url"] == "http://localhost/items/caf%C3%A9?q=a+b&n=1"
    assert first["request"]["queryString"] == [
        {"name": "q", "value": "a b"},
        {"name": "n", "value": "1"},
    ]
    assert {"name": "X-Trace", "value": "a b;c=d:e"} in first["request"]["headers"]
    assert first["response"]["status"] == 200
    assert json.loads(first["response"]["content"]["text"]) == {"name": "café", "q": "a b"}
    for entry in entries:  # every field HAR 1.2 requires
        assert set(entry) >= {"startedDateTime", "time", "request", "response", "cache", "timings"}
        assert set(entry["request"]) >= {
            "method", "url", "httpVersion", "cookies", "headers", "queryString",
            "headersSize", "bodySize",
        }  # fmt: skip
        assert set(entry["response"]) >= {
            "status", "statusText", "httpVersion", "cookies", "headers", "content",
            "redirectURL", "headersSize", "bodySize",
        }  # fmt: skip
        assert set(entry["timings"]) >= {"send", "wait", "receive"}
    blob = entries[3]["request"]["postData"]
    assert blob["encoding"] == "base64"
    assert blob["mimeType"] == "application/octet-stream"
    private = entries[5]["request"]
    assert {"name": "Cookie", "value": "[redacted]"} in private["headers"]
    assert "s3cret" not in out.read_text()
    assert entries[6]["response"]["status"] == 500


@pytest.mark.slow
def test_har_round_trip_through_replay(records_file, original, tmp_path):
    har = tmp_path / "session.har"
    assert export("har", str(records_file), "-o", str(har)).exit_code == 0
    requests = load_sources([har]).requests
    assert [(r.method, r.path, r.query_string) for r in requests][:2] == [
        ("GET", "/items/caf%C3%A9", "q=a+b&n=1"),
        ("POST", "/items", ""),
    ]
    assert requests[3].body == bytes(range(256))
    # the app receives from `replay` of the HAR what it received when recorded
    assert replay_log(har, tmp_path / "har.log", len(REQUESTS)) == original


# -- curl and HTTPie -------------------------------------------------------------


@pytest.fixture
def live_shop(tmp_path, monkeypatch):
    """The shop served by a real threaded HTTP server on a free port."""
    from werkzeug.serving import make_server

    log = tmp_path / "live.log"
    monkeypatch.setenv("EXPORT_LOG", str(log))
    server = make_server("127.0.0.1", 0, load_shop(), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}", log
    server.shutdown()
    thread.join(5)


def run_script(script: Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = env_with(PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}")
    return subprocess.run(
        ["bash", str(script)], cwd=cwd, env=env, capture_output=True, text=True, timeout=60
    )


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_curl_commands_send_the_same_requests(records_file, original, live_shop, tmp_path):
    base, log = live_shop
    script = tmp_path / "requests.sh"
    result = export("curl", str(records_file), "--base-url", base, "-o", str(script))
    assert result.exit_code == 0, result.output
    text = script.read_text()
    assert "# left out, redacted in the record: Cookie" in text
    assert "s3cret" not in text
    done = run_script(script, tmp_path)
    assert done.returncode == 0, done.stderr
    assert received(log) == original
    assert not (tmp_path / "PWNED").exists()


@pytest.mark.slow
def test_httpie_commands_send_the_same_requests(records_file, original, live_shop, tmp_path):
    if not (BIN / "http").exists():
        pytest.skip("HTTPie is not installed (the test extra installs it)")
    base, log = live_shop
    script = tmp_path / "requests.sh"
    assert export("httpie", str(records_file), "--base-url", base, "-o", str(script)).exit_code == 0
    done = run_script(script, tmp_path)
    assert done.returncode == 0, done.stderr
    assert received(log) == original
    assert not (tmp_path / "PWNED").exists()


def test_base_url_keeps_its_path_prefix(records_file):
    result = export(
        "curl", str(records_file), "--base-url", "https://example.test/api/", "--path", "/blob"
    )
    assert result.exit_code == 0
    assert "https://example.test/api/blob" in result.stdout
    assert "printf '%s' AAECAw" in result.stdout  # the binary body piped from base64 -d
    assert "| base64 -d | curl" in result.stdout


def test_quote_keeps_control_characters_inert():
    assert quote("plain") == "plain"
    assert quote("it's") == "'it'\"'\"'s'"
    hostile = "a\x1b[31mred\x07\u202e'\\\n"
    quoted = quote(hostile)
    assert quoted == "$'a\\x1b[31mred\\x07\\xe2\\x80\\xae\\'\\\\\\x0a'"
    done = subprocess.run(["bash", "-c", f"printf '%s' {quoted}"], capture_output=True, timeout=10)
    assert done.stdout == hostile.encode()


# -- Chrome trace events -----------------------------------------------------------


def check_trace_events(document: dict) -> dict:
    """Check ``document`` against the Trace Event Format (JSON Object Format);
    the slices per track."""
    assert set(document) >= {"traceEvents"}
    assert document.get("displayTimeUnit") in ("ms", "ns")
    named_processes, named_threads, tracks = set(), set(), {}
    for event in document["traceEvents"]:
        assert isinstance(event["name"], str)
        assert event["name"]
        assert event["ph"] in ("X", "i", "M")
        for key in ("pid", "tid"):
            assert isinstance(event[key], int)
            assert 0 <= event[key] < 2**31
        assert isinstance(event.get("args", {}), dict)
        if event["ph"] == "M":
            assert event["name"] in ("process_name", "thread_name", "thread_sort_index")
            if event["name"] == "process_name":
                named_processes.add(event["pid"])
            elif event["name"] == "thread_name":
                named_threads.add((event["pid"], event["tid"]))
            continue
        assert isinstance(event["ts"], int)
        assert event["ts"] > 0
        assert isinstance(event["cat"], str)
        if event["ph"] == "i":
            assert event["s"] == "t"
        else:
            assert isinstance(event["dur"], int)
            assert event["dur"] >= 0
            tracks.setdefault((event["pid"], event["tid"]), []).append(event)
    for (pid, tid), slices in tracks.items():
        assert pid in named_processes
        assert (pid, tid) in named_threads
        # complete events on one track nest: none ends inside another and outlives it
        stack: list[dict] = []
        for item in sorted(slices, key=lambda s: (s["ts"], -s["dur"])):
            while stack and item["ts"] >= stack[-1]["ts"] + stack[-1]["dur"]:
                stack.pop()
            if stack:
                assert item["ts"] + item["dur"] <= stack[-1]["ts"] + stack[-1]["dur"], item
            stack.append(item)
    return tracks


def test_chrome_trace_events(tmp_path):
    path = tmp_path / "threads.jsonl"
    records = record_requests(path, threads=3)
    out = tmp_path / "trace.json"
    assert export("chrome", str(path), "-o", str(out)).exit_code == 0
    document = json.loads(out.read_text())
    tracks = check_trace_events(document)
    events = document["traceEvents"]
    names = {(e["pid"], e["tid"]): e["args"]["name"] for e in events if e["name"] == "thread_name"}
    # three threads of one process: three small tids named after the threads
    assert sorted(names.values()) == ["worker-0", "worker-1", "worker-2"]
    assert {tid for _, tid in names} == {1, 2, 3}
    requests = [e for e in events if e.get("cat") == "request"]
    assert len(requests) == len(records) == 3 * len(REQUESTS)
    hooks = [e for e in events if e.get("cat") == "hook"]
    assert len(hooks) == sum(1 for r in records for e in r["events"] if e["kind"] == "hook")
    first = next(e for e in hooks if e["name"].startswith("before_request"))
    assert first["args"]["function"] == "export_shop.remember"
    contexts = [e for e in events if e.get("cat") == "context"]
    assert {e["name"] for e in contexts} == {"app context", "request context"}
    signals = {e["name"] for e in events if e.get("cat") == "signal"}
    assert {"request_started", "request_finished"} <= signals
    bodies = [e for e in events if e.get("cat") == "body"]
    assert bodies
    assert all(e["ph"] == "i" for e in bodies)
    # each hook lies inside its request's slice on the same track
    for hook in hooks:
        parent = [
            r for r in tracks[(hook["pid"], hook["tid"])]
            if r["cat"] == "request" and r["ts"] <= hook["ts"] <= r["ts"] + r["dur"]
        ]  # fmt: skip
        assert len(parent) == 1
    boom = next(e for e in requests if e["name"] == "GET /boom")
    assert boom["args"]["status"] == 500


def test_chrome_remaps_huge_idents_and_separates_overlaps():
    from wsgiscope.export.chrome import request_events  # noqa: F401 (public helper)

    base = {
        "format": "wsgiscope.trace/1",
        "request": {"method": "GET", "path": "/", "query_string": ""},
        "duration_ms": 2.0,
        "events": [],
        "worker": {"pid": 7, "thread": "t", "thread_ident": 2**63 + 5, "greenlet": 2**62},
    }
    overlapping = [
        {**base, "id": "a", "started": "2026-01-01T00:00:00.000000Z"},
        {**base, "id": "b", "started": "2026-01-01T00:00:00.001000Z"},
    ]
    lines = "".join(json.dumps(r) + "\n" for r in overlapping)
    result = export("chrome", "-", input=lines)
    assert result.exit_code == 0, result.output
    tracks = check_trace_events(json.loads(result.stdout))
    assert sorted(tracks) == [(7, 1), (7, 2)]


# -- pytest ------------------------------------------------------------------------


@pytest.mark.slow
def test_pytest_module_replays_through_flask_test_client(records_file, tmp_path):
    module = tmp_path / "test_recorded.py"
    result = export("pytest", str(records_file), "--app", SHOP, "-o", str(module))
    assert result.exit_code == 0, result.output
    source = module.read_text()
    compile(source, str(module), "exec")
    assert "app.test_client()" in source
    assert "assert hooks(records) == [('before_request', 'export_shop.remember')" in source
    assert "s3cret" not in source
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(module)],
        cwd=tmp_path,
        env=env_with(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    # /private was recorded with a session cookie that the record redacted
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"{len(REQUESTS) - 1} passed, 1 xfailed" in done.stdout


@pytest.mark.slow
def test_pytest_module_fails_when_the_app_changes(records_file, tmp_path):
    """The generated tests are real checks: a changed hook order fails them."""
    module = tmp_path / "test_recorded.py"
    result = export(
        "pytest", str(records_file), "--app", SHOP, "--path", "/items/*", "-o", str(module)
    )
    changed = tmp_path / "changed_shop.py"
    changed.write_text(
        Path(SHOP.rsplit(":", 1)[0]).read_text().replace("@app.teardown_request\n", "")
    )
    module.write_text(module.read_text().replace(SHOP.rsplit(":", 1)[0], str(changed)))
    assert result.exit_code == 0
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(module)],
        cwd=tmp_path,
        env=env_with(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1
    assert "teardown_request" in done.stdout


# -- errors --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["har", "missing.jsonl"], "trace file not found: missing.jsonl"),
        (["pytest", "x.jsonl"], "export pytest needs --app"),
        (["har", "x.jsonl", "--base-url", "http://h"], "--base-url applies to curl and httpie"),
        (["curl", "x.jsonl", "--base-url", "ftp://h"], "--base-url must be an http(s) URL"),
        (["yaml", "x.jsonl"], "'yaml' is not one of"),
        (["har", "x.jsonl", "--status", "6xx"], "is not a status class"),
        (["pytest", "x.jsonl", "--app", "no_such_module_here:app"], "no_such_module_here"),
        (["otlp", "x.jsonl", "--endpoint", "ftp://collector"], "--endpoint must be an http(s) URL"),
        (["har", "."], "is a directory, not a trace file"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(args, message, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "x.jsonl").write_text("")
    done = subprocess.run(
        [str(BIN / "wsgiscope"), "export", *args], capture_output=True, text=True, timeout=30
    )
    assert done.returncode == 2
    assert message in done.stderr
    assert "Traceback" not in done.stderr
    assert done.stderr.count("\n") <= 2


def test_bad_lines_are_skipped_with_a_warning(records_file):
    lines = "not json\n" + records_file.read_text().splitlines()[0] + "\n"
    result = export("har", "-", input=lines)
    assert result.exit_code == 0
    assert "-:1: skipped, not JSON" in result.stderr
    assert len(json.loads(result.stdout)["log"]["entries"]) == 1


def test_filters_are_tails(records_file):
    result = export("har", str(records_file), "--status", "5xx")
    entries = json.loads(result.stdout)["log"]["entries"]
    assert [e["request"]["url"] for e in entries] == ["http://localhost/boom"]
    result = export("curl", str(records_file), "--method", "POST")
    assert result.stdout.count("\ncurl ") == 2
    empty = export("har", str(records_file), "--path", "/nothing")
    assert json.loads(empty.stdout)["log"]["entries"] == []
    assert "no trace records matched" in empty.stderr


@pytest.mark.slow
def test_pytest_module_for_django_uses_its_test_client(tmp_path):
    """Django's Client, CSRF enforced: a POST without a token is refused as recorded."""
    from werkzeug.test import Client

    from wsgiscope.loading import AppRef, load_app
    from wsgiscope.tracing import TraceMiddleware

    django_app = f"{APPS / 'export_django.py'}:application"
    path = tmp_path / "django.jsonl"
    app = load_app(AppRef(django_app, "test")).app
    with TraceMiddleware(app, sink=str(path)) as traced:
        client = Client(traced)
        client.get("/hello/ada?q=1").close()
        client.post("/submit", data={"x": "1"}).close()
        client.get("/missing").close()
    statuses = [
        json.loads(line)["response"]["status_code"] for line in path.read_text().splitlines()
    ]
    assert statuses == [200, 403, 404]
    module = tmp_path / "test_django_recorded.py"
    result = export("pytest", str(path), "--app", django_app, "-o", str(module))
    assert result.exit_code == 0, result.output
    source = module.read_text()
    assert "Client(enforce_csrf_checks=True)" in source
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(module)],
        cwd=tmp_path,
        env=env_with(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "3 passed" in done.stdout


@pytest.mark.slow
def test_pytest_module_for_any_wsgi_app_uses_werkzeugs_client(tmp_path):
    """The demo is a Flask app behind ProxyFix: werkzeug's Client, hooks still checked."""
    from werkzeug.test import Client

    from wsgiscope.loading import AppRef, load_app
    from wsgiscope.tracing import TraceMiddleware

    path = tmp_path / "demo.jsonl"
    with TraceMiddleware(load_app(AppRef("wsgiscope.demo", "test")).app, sink=str(path)) as app:
        Client(app).get("/catalog/?user=ada").close()
    module = tmp_path / "test_demo_recorded.py"
    assert export("pytest", str(path), "--app", "wsgiscope.demo", "-o", str(module)).exit_code == 0
    source = module.read_text()
    assert "Client(TraceMiddleware(app, sink=records.append))" in source
    assert "('view', 'wsgiscope.demo.index')" in source
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(module)],
        cwd=tmp_path,
        env=env_with(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 passed" in done.stdout


def test_chrome_shows_capture_events_with_a_duration_as_slices():
    """Events the capture work adds (SQL, outbound HTTP, logs) need no special case."""
    record = {
        "format": "wsgiscope.trace/1",
        "id": "q",
        "started": "2026-01-01T00:00:00.000000Z",
        "duration_ms": 5.0,
        "request": {"method": "GET", "path": "/orders", "query_string": ""},
        "worker": {"pid": 9, "thread": "MainThread", "thread_ident": 1, "greenlet": None},
        "events": [
            {"seq": 0, "t_ms": 1.0, "kind": "sql", "depth": 1, "parent": None,
             "statement": "SELECT * FROM orders", "duration_ms": 2.5},
            {"seq": 1, "t_ms": 4.0, "kind": "log", "depth": 1, "parent": None,
             "level": "WARNING", "message": "slow"},
        ],
    }  # fmt: skip
    result = export("chrome", "-", input=json.dumps(record) + "\n")
    events = check_trace_events(json.loads(result.stdout))[(9, 1)]
    sql = next(e for e in events if e["cat"] == "sql")
    assert (sql["ts"] - events[0]["ts"], sql["dur"]) == (1000, 2500)
    assert sql["args"]["statement"] == "SELECT * FROM orders"
    log = next(e for e in json.loads(result.stdout)["traceEvents"] if e.get("cat") == "log")
    assert log["ph"] == "i"
    assert log["args"]["message"] == "slow"


@pytest.mark.parametrize("command", ["trace", "lint", "replay"])
def test_html_report_that_cannot_be_written_is_one_line(command, tmp_path):
    args = {
        "trace": ["trace", SHOP, "/items/a"],
        "lint": ["lint", str(APPS / "lint_flask_clean.py")],
        "replay": ["replay", str(APPS / "replay_plain.py"), "-n", "5"],
    }[command]
    done = subprocess.run(
        [str(BIN / "wsgiscope"), *args, "--html", str(tmp_path / "missing" / "r.html")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "wsgiscope: error: cannot write the HTML report" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize("format_name", ["har", "curl", "httpie", "chrome", "otlp"])
def test_odd_records_are_exported_without_a_traceback(format_name, tmp_path):
    """Records with missing or mistyped fields (other writers, older versions)."""
    odd = Path(__file__).parent / "data" / "export_odd_records.jsonl"
    out = tmp_path / "out"
    result = export(format_name, str(odd), "-o", str(out))
    assert result.exit_code == 0, result.output
    assert "wrote 3 records" in result.stderr
    if format_name in ("har", "chrome"):
        json.loads(out.read_text())
    assert "\x1b" not in out.read_text()  # the escape in a header stays escaped
