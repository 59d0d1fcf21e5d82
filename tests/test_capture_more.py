"""Logging, outbound HTTP, templates and ``tail --queries-over``, beneath the
hooks of real apps (a Flask-SQLAlchemy blog, a real local HTTP server)."""

from __future__ import annotations

import contextlib
import http.server
import importlib
import json
import logging
import os
import subprocess
import sys
import threading
import typing as t
from pathlib import Path

import pytest
from click.testing import CliRunner
from werkzeug.test import EnvironBuilder

from wsgiscope.capture.outbound import clean_url
from wsgiscope.cli import cli
from wsgiscope.tracing import TraceMiddleware, run_traced

pytest.importorskip("flask_sqlalchemy")

ROOT = Path(__file__).parent.parent


@pytest.fixture(scope="module")
def blog() -> t.Any:
    sys.path.insert(0, str(ROOT))
    try:
        return importlib.import_module("tests.apps.beneath_flask_blog").create_app()
    finally:
        sys.path.remove(str(ROOT))


def traced(app: t.Any, path: str, **kwargs: t.Any) -> dict[str, t.Any]:
    return run_traced(app, EnvironBuilder(path).get_environ(), **kwargs).record


def owner(record: dict[str, t.Any], event: dict[str, t.Any]) -> dict[str, t.Any]:
    return next(e for e in record["events"] if e["seq"] == event["parent"])


def of_kind(record: dict[str, t.Any], kind: str) -> list[dict[str, t.Any]]:
    return [e for e in record["events"] if e["kind"] == kind]


class Keep(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


# -- logging -----------------------------------------------------------------------


def test_log_records_in_place_and_the_apps_handlers_get_every_one(blog: t.Any) -> None:
    audit = logging.getLogger("blog.audit")
    mine = Keep()
    audit.addHandler(mine)
    root_level = logging.getLogger().level
    try:
        untraced = blog.test_client().get("/api/authors")
        assert untraced.status_code == 200
        record = traced(blog, "/api/authors")
    finally:
        audit.removeHandler(mine)
    # the app's own handler got the record both times: the trace took nothing
    assert [r.getMessage() for r in mine.records] == ["api listing by user ada"] * 2
    assert logging.getLogger().level == root_level
    assert logging.getLogger().handlers == logging.getLogger().handlers  # none added
    (log,) = of_kind(record, "log")
    assert (log["logger"], log["level"], log["message"]) == (
        "blog.audit",
        "WARNING",
        "api listing by user ada",
    )
    assert log["where"].startswith("beneath_flask_blog.api_authors:")
    view = owner(record, log)
    assert (view["hook"], view["endpoint"]) == ("view", "api_authors")
    assert record["logs"] == {"count": 1, "levels": {"WARNING": 1}}


def test_app_logger_at_info_and_the_level_option(
    blog: t.Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from wsgiscope.capture import logs

    # wsgiscope changes no logger's level: app.logger.info is seen once the
    # app's logger is enabled for INFO, and then it is captured by default
    record = traced(blog, "/authors")
    assert of_kind(record, "log") == []
    level = blog.logger.level
    blog.logger.setLevel(logging.INFO)
    try:
        record = traced(blog, "/authors")
    finally:
        blog.logger.setLevel(level)
    (log,) = of_kind(record, "log")
    assert (log["logger"], log["level"], log["message"]) == ("blog", "INFO", "listing 4 authors")
    # other loggers' INFO records need the level option
    other = logging.getLogger("blog_helper_lib")
    other.setLevel(logging.INFO)

    def app(environ: dict[str, t.Any], start_response: t.Any) -> list[bytes]:
        other.info("token=abc123 used")
        other.debug("not enabled: never made")
        start_response("200 OK", [])
        return [b""]

    assert of_kind(traced(app, "/"), "log") == []
    monkeypatch.setattr(logs, "LEVEL", logging.INFO)
    (log,) = of_kind(traced(app, "/"), "log")
    assert log["message"] == "token=[redacted] used"
    with pytest.raises(ValueError, match="unknown log level"):
        logs.set_level("LOUD")


def test_log_records_of_concurrent_requests_do_not_mix() -> None:
    log = logging.getLogger("concurrent.app")
    barrier = threading.Barrier(4)

    def app(environ: dict[str, t.Any], start_response: t.Any) -> list[bytes]:
        barrier.wait(timeout=10)
        for n in range(20):
            log.warning("%s %d", environ["PATH_INFO"], n)
        start_response("200 OK", [])
        return [b""]

    records: list[dict[str, t.Any]] = []
    lock = threading.Lock()

    def sink(record: dict[str, t.Any]) -> None:
        with lock:
            records.append(record)

    with TraceMiddleware(app, sink=sink) as mw:

        def one(path: str) -> None:
            result = mw(EnvironBuilder(path).get_environ(), lambda *a: None)
            list(result)
            result.close()  # type: ignore[attr-defined]

        threads = [threading.Thread(target=one, args=(f"/r{n}",)) for n in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert len(records) == 4
    for record in records:
        path = record["request"]["path"]
        messages = [e["message"] for e in of_kind(record, "log")]
        assert messages == [f"{path} {n}" for n in range(20)]


# -- outbound HTTP --------------------------------------------------------------


class Upstream(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path.startswith("/data"):
            body = b'{"ok": true}'
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        else:
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()

    def log_message(self, *args: t.Any) -> None:
        pass


@pytest.fixture
def upstream() -> t.Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Upstream)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.slow
def test_outbound_calls_to_a_real_local_server(blog: t.Any, upstream: str) -> None:
    pytest.importorskip("requests")
    blog.config["UPSTREAM"] = upstream
    record = traced(blog, "/upstream")
    assert record["response"]["status_code"] == 200
    calls = of_kind(record, "http")
    assert [(c["method"], c["status"], c["client"]) for c in calls] == [
        ("GET", 200, "http.client"),
        ("GET", 404, "http.client"),
    ]
    assert calls[0]["url"] == f"{upstream}data?token=[redacted]&page=1"
    assert calls[1]["url"] == f"{upstream}missing"
    assert calls[0]["response_bytes"] == 12
    for call in calls:
        assert call["duration_ms"] > 0
        view = owner(record, call)
        assert (view["hook"], view["endpoint"]) == ("view", "upstream")
    assert record["outbound"]["count"] == 2
    assert "abc123" not in json.dumps(record)


@pytest.mark.slow
def test_outbound_httpx_and_a_refused_connection(upstream: str) -> None:
    httpx = pytest.importorskip("httpx")
    import socket
    import urllib.error
    import urllib.request

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]  # nothing listens there once closed

    def app(environ: dict[str, t.Any], start_response: t.Any) -> list[bytes]:
        with httpx.Client() as client:
            client.get(f"{upstream}data", params={"api_key": "k"})
        with contextlib.suppress(urllib.error.URLError, OSError):
            urllib.request.urlopen(f"http://127.0.0.1:{closed}/x?password=p", timeout=2)
        start_response("200 OK", [])
        return [b""]

    record = traced(app, "/")
    first, second = of_kind(record, "http")
    assert (first["client"], first["status"], first["url"]) == (
        "httpx",
        200,
        f"{upstream}data?api_key=[redacted]",
    )
    assert first["response_bytes"] == 12
    assert second["status"] is None
    assert second["error"].startswith("ConnectionRefusedError")
    assert second["url"] == f"http://127.0.0.1:{closed}/x?password=[redacted]"
    assert second["duration_ms"] >= 0
    assert clean_url("https://user:pw@example.com:8443/a?b=1") == "https://example.com:8443/a?b=1"


# -- templates and the CLI ----------------------------------------------------------


def test_templates_section_and_print_letters(blog: t.Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    app = str(ROOT / "tests" / "apps" / "beneath_flask_blog.py")
    result = CliRunner().invoke(cli, ["trace", app, "/authors", "-p", "t", "--width", "200"])
    assert result.exit_code == 0, result.output
    lines = [line for line in result.stdout.splitlines() if "──" in line]
    assert len(lines) == 2
    assert "lifecycle" in lines[0]
    assert "template authors.html  jinja2" in lines[1]
    result = CliRunner().invoke(cli, ["trace", app, "/", "-p", "x"])
    assert result.exit_code == 2
    assert "sql, logs, outbound, templates" in result.output


def test_tail_queries_over(blog: t.Any, tmp_path: Path) -> None:
    path = tmp_path / "traces.jsonl"
    with TraceMiddleware(blog.wsgi_app, sink=str(path)) as mw:
        blog.wsgi_app = mw
        try:
            client = blog.test_client()
            client.get("/api/authors")  # 6 queries
            client.post("/users")  # 3: the user, the insert, the user again
        finally:
            blog.wsgi_app = mw.app
    result = CliRunner().invoke(
        cli, ["tail", str(path), "--no-follow", "-n", "all", "--color", "never"]
    )
    lines = result.stdout.splitlines()
    assert "6q" in lines[0]
    assert "(4 dup)" in lines[0]
    assert "3q" in lines[1]
    result = CliRunner().invoke(
        cli, ["tail", str(path), "--no-follow", "-n", "all", "--queries-over", "5", "--json"]
    )
    (record,) = [json.loads(line) for line in result.stdout.splitlines()]
    assert record["request"]["path"] == "/api/authors"
    result = CliRunner().invoke(cli, ["tail", str(path), "--queries-over", "-1"])
    assert result.exit_code == 2


# -- replay --queries --------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("mode", [["--threads", "2"], ["--processes", "2"]])
def test_replay_counts_queries_per_endpoint(tmp_path: Path, mode: list[str]) -> None:
    source = tmp_path / "requests.txt"
    source.write_text("GET /user/1/posts\n\nGET /user/2/posts\n\nGET /\n")
    app = str(ROOT / "tests" / "apps" / "beneath_sqlite_tutorial.py")
    result = CliRunner().invoke(
        cli,
        ["replay", app, str(source), *mode, "-n", "30", "--queries", "--json"],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    rows = {row["endpoint"]: row for row in summary["queries"]}
    # user 1 has two posts (3 statements), user 2 one (2): the N+1 grows with the data
    posts = rows["user_posts"]
    assert posts["max"] == 3
    assert 2 < posts["mean"] < 3
    assert rows["index"]["mean"] == rows["index"]["max"] == 4
    assert summary["queries"][0]["endpoint"] in ("index", "user_posts")
    # without --queries: no counting, no field
    result = CliRunner().invoke(cli, ["replay", app, str(source), "-n", "5", "--json"])
    assert "queries" not in json.loads(result.stdout)


GREENLETS = """
from gevent import monkey
monkey.patch_all()
import json, logging, sqlite3
import gevent
from flask import Flask
from werkzeug.test import EnvironBuilder
from wsgiscope import TraceMiddleware

app = Flask("green")
log = logging.getLogger("green.app")
logging.getLogger().addHandler(logging.NullHandler())  # no lastResort output

@app.get("/<name>")
def view(name):
    db = sqlite3.connect(":memory:")
    for n in range(3):
        db.execute("SELECT ?", (name,)).fetchone()
        log.warning("%s %d", name, n)
        gevent.sleep(0.005)  # the other greenlets run meanwhile
    db.close()
    return name

records = []
with TraceMiddleware(app, sink=records.append) as mw:
    def one(name):
        result = mw(EnvironBuilder(f"/{name}").get_environ(), lambda *a: None)
        list(result)
        result.close()
    gevent.joinall([gevent.spawn(one, f"g{n}") for n in range(5)])
print(json.dumps(records))
"""


@pytest.mark.slow
def test_greenlets_keep_their_own_statements_and_records() -> None:
    pytest.importorskip("gevent")
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    done = subprocess.run(
        [sys.executable, "-c", GREENLETS], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    records = json.loads(done.stdout)
    assert len(records) == 5
    for record in records:
        name = record["request"]["path"][1:]
        assert [e["parameters"] for e in of_kind(record, "sql")] == [[repr(name)]] * 3
        assert [e["message"] for e in of_kind(record, "log")] == [f"{name} {n}" for n in range(3)]
