"""#15 points 5, 6 and 8 on a Flask app with blueprints, a real SQLite
database and a logged 500 (``tests/apps/tracetruth_flask.py``)."""

from __future__ import annotations

import json
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
