"""Lint findings in trace records: TraceLint (full checker) and trace_checks."""

from __future__ import annotations

import importlib
import io
import typing as t

import pytest
from werkzeug.test import Client, EnvironBuilder

from tests.conftest import APPS
from wsgiscope.lint.trace import TraceLint, trace_checks
from wsgiscope.tracing import TraceMiddleware, run_traced
from wsgiscope.tracing.dispatch import app_label

pytestmark = pytest.mark.flask  # also run under the next Flask (.ci/run)


@pytest.fixture
def apps(monkeypatch: pytest.MonkeyPatch) -> t.Any:
    monkeypatch.syspath_prepend(str(APPS))
    return importlib.import_module("lint_violations"), importlib.import_module("lint_flask_clean")


def _environ(method: str = "GET", path: str = "/") -> dict[str, t.Any]:
    return EnvironBuilder(path, method=method).get_environ()


@pytest.mark.parametrize(
    ("name", "method", "rule"),
    [
        ("hop_by_hop", "GET", "WSGI209"),
        ("app_raises", "GET", "WSGI103"),
        ("write_after_return", "GET", "WSGI501"),
        ("head_with_body", "HEAD", "WSGI303"),
        ("file_without_close", "GET", "WSGI401"),
        ("mutates_environ", "GET", "WSGI701"),
        ("close_raises", "GET", "WSGI402"),
    ],
)
def test_trace_record_lint_full_checker(apps: t.Any, name: str, method: str, rule: str) -> None:
    violations, _ = apps
    linted = TraceLint(getattr(violations, name))
    result = run_traced(linted, _environ(method), checks=linted.checks)
    assert {finding["rule"] for finding in result.record["lint"]} == {rule}
    assert all(set(finding) == {"rule", "message"} for finding in result.record["lint"])


def test_trace_record_lint_from_events(apps: t.Any) -> None:
    violations, _ = apps
    result = run_traced(violations.hop_by_hop, _environ(), checks=trace_checks)
    assert result.record["lint"] == [
        {"rule": "WSGI209", "message": "hop-by-hop header 'Connection' set by the application"}
    ]
    result = run_traced(violations.head_with_body, _environ("HEAD"), checks=trace_checks)
    assert [f["rule"] for f in result.record["lint"]] == ["WSGI303"]


def test_clean_flask_trace_has_empty_lint(apps: t.Any) -> None:
    _, clean = apps
    linted = TraceLint(clean.app)
    for path in ("/", "/stream", "/go", "/items/3"):
        result = run_traced(linted, _environ("GET", path), checks=linted.checks)
        assert result.record["lint"] == [], path
    assert app_label(linted) == app_label(clean.app) == "lint_flask_clean"
    assert app_label(TraceLint(trace_checks)) == app_label(trace_checks)


def test_trace_middleware_records_lint_and_stays_transparent(apps: t.Any) -> None:
    violations, clean = apps
    records: list[dict[str, t.Any]] = []

    def dispatch(environ: dict[str, t.Any], start_response: t.Any) -> t.Any:
        target = violations.hop_by_hop if environ["PATH_INFO"] == "/bad" else clean.app
        return target(environ, start_response)

    linted = TraceLint(dispatch)
    with TraceMiddleware(linted, records.append, checks=linted.checks) as traced:
        client = Client(traced)
        assert client.get("/stream").text == "0\n1\n2\n"
        assert client.post("/form", data={"name": "ada"}).text == "got ada"
        assert client.get("/bad").headers["Connection"] == "close"
    assert [record["lint"] for record in records[:2]] == [[], []]
    assert [f["rule"] for f in records[2]["lint"]] == ["WSGI209"]
    assert linted._found == {}


def test_untraced_requests_pass_straight_through(apps: t.Any) -> None:
    violations, _ = apps
    seen: list[t.Any] = []

    def app(environ: dict[str, t.Any], start_response: t.Any) -> t.Any:
        seen.append(environ["wsgi.input"])
        return violations.hop_by_hop(environ, start_response)

    linted = TraceLint(app)
    response = Client(linted).get("/")
    assert response.headers["Connection"] == "close"
    assert linted._found == {}
    # No checker between: the app got the server's own input stream.
    assert type(seen[0]).__module__ != "wsgiscope.lint.streams"


def test_trace_rendering_shows_the_lint_section(monkeypatch: pytest.MonkeyPatch) -> None:
    from wsgiscope.render.console import make_console
    from wsgiscope.render.trace import RenderOptions, render_trace

    monkeypatch.syspath_prepend(str(APPS))
    bad = importlib.import_module("lint_flask_bad").app
    linted = TraceLint(bad)
    result = run_traced(linted, _environ("GET", "/download"), checks=linted.checks)
    out = io.StringIO()
    make_console("never", 120, stream=out).print(render_trace(result.record, RenderOptions()))
    text = out.getvalue()
    assert "lint  1" in text
    assert "WSGI209  hop-by-hop header 'Connection' set by the application" in text


def test_trace_leaves_out_rules_given(apps: t.Any) -> None:
    violations, _ = apps
    linted = TraceLint(violations.head_with_body, leave_out={"WSGI303"})
    result = run_traced(linted, _environ("HEAD", "/"), checks=linted.checks)
    assert result.record["lint"] == []


def test_trace_of_django_head_leaves_out_what_lint_leaves_out() -> None:
    # Django leaves HEAD bodies to the server: `lint` does not report them
    # without --strict, and neither does trace's lint section.
    import json
    import subprocess
    import sys

    command = [sys.executable, "-m", "wsgiscope", "trace", str(APPS / "lint_django_clean.py")]
    done = subprocess.run([*command, "HEAD", "/", "--json"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    record = json.loads(done.stdout)
    assert record["response"]["status"] == "200 OK"
    assert record["lint"] == []
