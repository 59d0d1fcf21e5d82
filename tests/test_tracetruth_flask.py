"""#15 points 5, 6 and 8 on a Flask app with blueprints, a real SQLite
database and a logged 500 (``tests/apps/tracetruth_flask.py``)."""

from __future__ import annotations

import json
import sys
import typing as t
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.conftest import APPS
from wsgiscope.cli import cli

APP = str(APPS / "tracetruth_flask.py")


@pytest.fixture
def flask_app(tmp_path: Path) -> t.Any:
    from tests.tracecli_fixtures import load

    app = load("tracetruth_flask.py:app")
    app.config["DATABASE"] = str(tmp_path / "notes.sqlite3")
    return app


@pytest.fixture(autouse=True)
def database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRACETRUTH_DB", str(tmp_path / "notes.sqlite3"))


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def run_process(*args: str) -> tuple[int, str, str]:
    """The real CLI in a fresh interpreter."""
    import os
    import subprocess

    root = Path(__file__).parent.parent
    environment = {**os.environ, "PYTHONPATH": str(root)}
    for name in ("WSGISCOPE_APP", "NO_COLOR", "FORCE_COLOR"):
        environment.pop(name, None)
    done = subprocess.run(
        [sys.executable, "-m", "wsgiscope", *args],
        capture_output=True,
        text=True,
        env=environment,
        timeout=60,
    )
    return done.returncode, done.stdout, done.stderr


def record_requests(app: t.Any, path: Path) -> None:
    """Real requests through TraceMiddleware into a trace file, as in production."""
    from werkzeug.test import Client

    from wsgiscope import TraceMiddleware

    with TraceMiddleware(app.wsgi_app, sink=str(path)) as traced:
        app.wsgi_app = traced
        client = Client(app)
        for method, url, form, status in [
            ("POST", "/notes/", {"title": "Milk", "tag": "shopping"}, 201),
            ("POST", "/notes/", {"title": ""}, 400),  # abort(400)
            ("POST", "/notes/", {"title": "x", "tag": "t" * 30}, 400),  # raise BadRequest
            ("GET", "/notes/1", None, 200),
            ("GET", "/nowhere", None, 404),  # routing: nothing of the app's raised
        ]:
            with client.open(url, method=method, data=form) as response:
                assert response.status_code == status
    app.wsgi_app = traced.app


# -- point 6: one definition of "raised" -------------------------------------------


def test_a_4xx_the_framework_made_of_a_raised_exception_is_an_error_everywhere(
    flask_app: t.Any, tmp_path: Path
) -> None:
    traces = tmp_path / "traces.jsonl"
    record_requests(flask_app, traces)
    code, out, _ = run(
        "tail", str(traces), "--errors", "-n", "all", "--no-follow", "--width", "200"
    )
    assert code == 0
    lines = sorted(out.splitlines(), key=len)
    assert len(lines) == 2, out
    assert all("POST /notes/  400" in line for line in lines)
    assert lines[0].endswith("RAISED BadRequest: 400 Bad Request: tag too long")
    assert lines[1].endswith("RAISED BadRequest: 400 Bad Request: a note needs a title")
    # the same requests, unfiltered: the marker is on exactly those two lines
    code, out, _ = run("tail", str(traces), "-n", "all", "--no-follow", "--width", "200")
    marked = [line.split()[2:5] for line in out.splitlines() if "RAISED" in line]
    assert (len(out.splitlines()), marked) == (5, [["POST", "/notes/", "400"]] * 2)


def test_serve_summary_and_only_errors_count_the_same_requests(
    flask_app: t.Any, tmp_path: Path
) -> None:
    from wsgiscope.serving.summary import Summary
    from wsgiscope.tailing import TraceLine, TraceTail

    traces = tmp_path / "traces.jsonl"
    record_requests(flask_app, traces)
    with TraceTail(traces) as tail:
        records = [i.record for i in tail.backlog(None) if isinstance(i, TraceLine)]
    summary = Summary()
    for record in records:
        summary.add(record)
    assert summary.as_dict()["errors"] == 2
    # TraceMiddleware(only_errors=True) keeps exactly those
    errors_only = tmp_path / "errors.jsonl"
    from werkzeug.test import Client

    from wsgiscope import TraceMiddleware

    with TraceMiddleware(flask_app.wsgi_app, sink=str(errors_only), only_errors=True) as traced:
        flask_app.wsgi_app = traced
        client = Client(flask_app)
        for method, url, form in [
            ("POST", "/notes/", {"title": "Milk"}),
            ("POST", "/notes/", {"title": ""}),
            ("GET", "/nowhere", None),
        ]:
            client.open(url, method=method, data=form).close()
    kept = [json.loads(line) for line in errors_only.read_text().splitlines()]
    assert [(r["request"]["path"], r["response"]["status_code"]) for r in kept] == [
        ("/notes/", 400)
    ]


def test_trace_says_the_app_raised_and_what_flask_answered() -> None:
    code, out, _ = run("trace", APP, "POST", "/notes/", "title=", "-f", "--width", "200")
    assert code == 0  # a 4xx is the app's answer, not a failure
    assert "raised BadRequest: 400 Bad Request: a note needs a title" in out
    assert (
        "the app raised BadRequest: 400 Bad Request: a note needs a title "
        "(in tracetruth_flask.create); the framework answered 400 BAD REQUEST"
    ) in out


# -- point 8: wsgiscope's frames out of the tracebacks the app logs ------------------


def _logged_frames(log: str) -> list[str]:
    return [line.strip() for line in log.splitlines() if line.strip().startswith('File "')]


@pytest.mark.skipif(
    sys.version_info < (3, 11), reason="Python 3.10's bare raise restores the traceback as caught"
)
@pytest.mark.parametrize(
    ("words", "app_frame"),
    [
        (["/notes/report"], "in report"),  # the view raised
        (["/notes/1", "X-Owner-Id:abc"], "in load_owner"),  # a before_request function raised
    ],
)
def test_the_traceback_flask_logs_has_no_wsgiscope_frames(words: list[str], app_frame: str) -> None:
    # A subprocess: under pytest the root logger has a handler, and Flask
    # then adds none of its own (its log would not reach wsgi.errors).
    code, out, _ = run_process("trace", APP, *words, "-v", "--width", "250", "-p", "c")
    assert code == 1
    log = out[out.index("app log (wsgi.errors)") : out.index("the app raised")]
    assert "ERROR in app: Exception on" in log
    frames = _logged_frames(log)
    assert app_frame in frames[-1], log
    assert any("flask/app.py" in frame for frame in frames)
    assert not [frame for frame in frames if "wsgiscope" in frame], log


@pytest.mark.skipif(
    sys.version_info < (3, 11), reason="Python 3.10's bare raise restores the traceback as caught"
)
def test_the_logger_of_an_app_under_the_middleware_sees_the_apps_frames(
    flask_app: t.Any,
) -> None:
    """In production: TraceMiddleware around wsgi_app, Flask logging the 500."""
    import io
    import traceback

    from werkzeug.test import Client

    from wsgiscope import TraceMiddleware

    logged: list[BaseException] = []
    flask_app.logger.disabled = True  # keep the test output clean; the exception is kept below
    from flask import got_request_exception

    def keep(sender: t.Any, exception: BaseException, **extra: t.Any) -> None:
        logged.append(exception)

    got_request_exception.connect(keep, flask_app)
    errors = io.StringIO()
    with TraceMiddleware(flask_app.wsgi_app, sink=lambda record: None) as traced:
        flask_app.wsgi_app = traced
        response = Client(flask_app).get("/notes/report", errors_stream=errors)
        assert response.status_code == 500
        response.close()
    got_request_exception.disconnect(keep, flask_app)
    (exc,) = logged
    files = [frame.filename for frame in traceback.extract_tb(exc.__traceback__)]
    assert files[-1].endswith("tracetruth_flask.py")
    assert not [name for name in files if "wsgiscope" in name], files


@pytest.mark.skipif(
    sys.version_info < (3, 11), reason="Python 3.10's bare raise restores the traceback as caught"
)
def test_an_exception_escaping_the_middleware_carries_no_wsgiscope_frames() -> None:
    """What a server (gunicorn's "Error handling request") logs."""
    import traceback

    from wsgiscope import TraceMiddleware

    def app(environ: dict[str, t.Any], start_response: t.Any) -> t.Any:
        raise LookupError("no such page")

    def body(environ: dict[str, t.Any], start_response: t.Any) -> t.Any:
        start_response("200 OK", [("Content-Type", "text/plain")])
        yield b"start"
        raise LookupError("mid-body")

    from werkzeug.test import EnvironBuilder

    for wsgi_app in (app, body):
        with TraceMiddleware(wsgi_app, sink=lambda record: None) as traced:
            try:
                result = traced(EnvironBuilder("/").get_environ(), lambda *a: None)
                for _ in result:
                    pass
            except LookupError as exc:
                files = [f.filename for f in traceback.extract_tb(exc.__traceback__)]
            else:
                raise AssertionError("the app's exception did not propagate")
            finally:
                if "result" in locals():
                    result.close()
                    del result
        assert files[0] == __file__, files
        assert files[-1] == __file__, files
        assert not [name for name in files if "wsgiscope" in name], files


# -- point 5: non-ASCII paths shown as the framework decodes them ---------------------


def test_trace_shows_a_non_ascii_path_and_query_decoded(tmp_path: Path) -> None:
    saved = tmp_path / "traces.jsonl"
    code, out, _ = run(
        "trace", APP, "/tags/café", "q==naïve", "--save", str(saved), "--width", "200"
    )
    assert code == 0
    assert out.startswith("GET /tags/café?q=naïve → 200 OK")
    assert "PATH_INFO = /tags/café\n" in out
    assert "QUERY_STRING = q=naïve\n" in out
    assert "Ã" not in out  # no latin-1 mojibake anywhere (environ, header, body)
    # the view saw the same text
    assert '"path": "/tags/café"' in out
    # -v: the WSGI strings as received, beside the decoded ones
    code, out, _ = run("trace", APP, "/tags/café", "q==naïve", "-v", "--width", "200")
    assert "PATH_INFO = /tags/café  (as received /tags/cafÃ©)" in out
    assert "QUERY_STRING = q=naïve  (as received q=na%C3%AFve)" in out
    # --json: the record keeps the WSGI strings and adds the decoded ones
    code, out, _ = run("trace", APP, "/tags/café", "q==naïve", "--json")
    request = json.loads(out)["request"]
    assert (request["path"], request["query_string"]) == ("/tags/cafÃ©", "q=na%C3%AFve")
    assert request["decoded"] == {
        "script_name": "",
        "path": "/tags/café",
        "query_string": "q=naïve",
    }
    # tail and serve print the saved record's line decoded; --path matches the text
    code, out, _ = run(
        "tail", str(saved), "--no-follow", "-n", "all", "--path", "/tags/caf*", "--width", "200"
    )
    assert code == 0
    assert "  GET /tags/café?q=naïve  200  " in out
    from wsgiscope.serving.summary import Summary

    summary = Summary()
    summary.add(json.loads(saved.read_text()))
    assert summary.as_dict()["slowest"][0]["path"] == "/tags/café"


def test_replaying_a_recorded_non_ascii_path_sends_the_same_path(tmp_path: Path) -> None:
    """A record holds WSGI strings: replay must not encode them a second time."""
    from wsgiscope.replay.engine import prepare
    from wsgiscope.replay.sources import request_from_record

    saved = tmp_path / "traces.jsonl"
    assert run("trace", APP, "/tags/café", "q==naïve", "--save", str(saved))[0] == 0
    record = json.loads(saved.read_text())
    (entry,) = prepare([request_from_record(record)], load_app())
    environ = next(v for v in vars_of(entry) if isinstance(v, dict) and "PATH_INFO" in v)
    assert environ["PATH_INFO"] == record["request"]["path"] == "/tags/cafÃ©"
    assert environ["QUERY_STRING"] == "q=na%C3%AFve"


def load_app() -> t.Any:
    from tests.tracecli_fixtures import load

    return load("tracetruth_flask.py:app")


def vars_of(obj: t.Any) -> list[t.Any]:
    names = getattr(type(obj), "__slots__", None) or vars(obj)
    return [getattr(obj, name, None) for name in names]


# -- all three under a real server -----------------------------------------------------


@pytest.mark.slow
def test_serve_lines_count_raised_4xx_show_decoded_paths_and_log_clean_tracebacks(
    tmp_path: Path,
) -> None:
    import httpx

    from tests.serve_fixtures import ServeRun, read_records

    record = tmp_path / "rec.jsonl"
    env = {"TRACETRUTH_DB": str(tmp_path / "notes.sqlite3")}
    app = "tests/apps/tracetruth_flask.py:app"
    with ServeRun(tmp_path, "--record", str(record), app=app, env=env) as served:
        base = served.wait_ready()
        with httpx.Client(base_url=base) as client:
            assert client.post("/notes/", data={"title": ""}).status_code == 400
            assert client.get("/tags/café", params={"q": "naïve"}).status_code == 200
            assert client.get("/notes/report").status_code == 500
        assert served.stop() == 130
    assert len(read_records(record)) == 3
    lines = {line.split()[3]: line for line in served.stdout.splitlines() if line.strip()}
    # 6: the 400 Flask made of a raised BadRequest carries the RAISED marker
    assert "RAISED BadRequest: 400 Bad Request: a note needs a title" in lines["/notes/"]
    assert "RAISED ZeroDivisionError: division by zero" in lines["/notes/report"]
    # 5: the path as Flask decoded it
    assert lines["/tags/café?q=naïve"].split()[2:5] == ["GET", "/tags/café?q=naïve", "200"]
    assert "2 with errors" in served.stderr
    # 8: Flask's logged traceback (on the server's stderr) has no wsgiscope frame
    log = served.stderr
    assert "Exception on /notes/report [GET]" in log
    frames = _logged_frames(log)
    assert any("tracetruth_flask.py" in frame and "in report" in frame for frame in frames)
    if sys.version_info >= (3, 11):
        assert not [frame for frame in frames if "wsgiscope" in frame], log


@pytest.mark.parametrize(
    ("wsgi", "path", "query"),
    [
        ("/cafÃ©", "/café", "/café"),
        ("/caf\xe9", "/caf\ufffd", "/caf\ufffd"),  # the byte 0xE9 alone: invalid UTF-8
        ("/\u0141", "/\u0141", "/\u0141"),  # not a WSGI string (not latin-1): as is
        ("a=%C3%A9&b=%26%3D&c=%20", "a=%C3%A9&b=%26%3D&c=%20", "a=é&b=%26%3D&c=%20"),
        ("a=%C3", "a=%C3", "a=%C3"),  # a cut escape stays as sent
        ("", "", ""),
    ],
)
def test_display_of_wsgi_strings(wsgi: str, path: str, query: str) -> None:
    from wsgiscope.wsgistr import display_path, display_query

    assert (display_path(wsgi), display_query(wsgi)) == (path, query)
