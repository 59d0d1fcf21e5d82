"""Property: whatever an app hands the server (str subclasses whose methods
raise, objects whose repr/len/bool raise, an exc_info that is no exception,
a body whose len() or iteration raises), ``lint``'s strict server returns
findings, ``trace`` returns a JSON-ready record that renders, and neither
raises; the same apps through the ``trace`` CLI end with exit 0 or 1."""

from __future__ import annotations

import io
import json
import re
import typing as t

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from werkzeug.test import EnvironBuilder

from tests import hostile
from tests.lint_fixtures import lint
from wsgiscope.cli import cli
from wsgiscope.lint import RULES
from wsgiscope.lint.trace import TraceLint
from wsgiscope.render.console import make_console
from wsgiscope.render.trace import RenderOptions, render_trace
from wsgiscope.tracing import run_traced

RULE_IDS = {rule.id for rule in RULES}
#: A frame of wsgiscope's own code in a traceback.
OWN_FRAME = re.compile(r"wsgiscope/(?:lint|tracing|cli|render|redact)\b")

apps = st.builds(
    hostile.make_app,
    status=hostile.hostile_values(),
    headers=hostile.hostile_headers(),
    exc_info=hostile.hostile_exc_info(),
    body=hostile.hostile_bodies(),
    twice=st.booleans(),
)
fuzz = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@fuzz
@given(app=apps, method=st.sampled_from(["GET", "HEAD"]))
def test_lint_survives_any_app(app: t.Any, method: str) -> None:
    result = lint(app, method)
    assert {finding.rule for finding in result.findings} <= RULE_IDS
    for finding in result.findings:
        assert type(finding.message) is str
        assert "\n" not in finding.message


def _trace(app: t.Any, checked: bool) -> dict[str, t.Any]:
    environ = EnvironBuilder("/", method="GET").get_environ()
    environ["wsgi.errors"] = io.StringIO()
    checks = None
    if checked:
        app = TraceLint(app)
        checks = app.checks
    result = run_traced(app, environ, max_body=1024, checks=checks)
    record = result.record
    json.dumps(record)  # JSON-ready: plain str, numbers, lists and dicts only
    out = make_console("never", 100, stream=io.StringIO())
    out.print(render_trace(record, RenderOptions(exc_info=result.exc_info, width=100)))
    return record


@fuzz
@given(app=apps, checked=st.booleans())
def test_trace_survives_any_app(app: t.Any, checked: bool) -> None:
    record = _trace(app, checked)
    response = record["response"]
    assert response["status"] is None or type(response["status"]) is str
    for name, value in response["headers"]:
        assert (type(name), type(value)) == (str, str)
    error = record["error"]
    if error is not None:
        assert not OWN_FRAME.search(error["traceback"])


def _named(**apps: t.Any) -> list[t.Any]:
    return [pytest.param(app, id=name) for name, app in apps.items()]


H = hostile
CASES = _named(
    str_chunks=H.make_app("200 OK", [("Content-Type", "text/plain")], None, ["text", 5], False),
    hostile_status=H.make_app(H.HostileStr("200 OK"), [], None, [b"x"], False),
    hostile_headers=H.make_app(
        "200 OK", [(H.HostileStr("X-A"), H.HostileStr("v")), H.Boom()], None, [b"x"], False
    ),
    no_exception=H.make_app("500 Oops", [], (None, None, None), [b"x"], True),
    exc_info_int=H.make_app("200 OK", [], 5, [b"x"], False),
    exc_info_no_truth=H.make_app("200 OK", [], H.Boom(), [b"x"], False),
    len_raises=H.make_app("200 OK", [], None, H.BadLenList([b"x"]), False),
    iter_raises=H.make_app("200 OK", [], None, H.BadIter(), False),
    hostile_chunks=H.make_app("200 OK", [], None, [H.HostileBytes(b"ab"), H.Boom()], False),
)


@pytest.mark.parametrize("app", CASES)
def test_trace_cli_on_hostile_apps(app: t.Any, monkeypatch: pytest.MonkeyPatch) -> None:
    import tests.hostile as module

    monkeypatch.setattr(module, "app", app, raising=False)
    for extra in ([], ["--json"]):
        result = CliRunner().invoke(
            cli, ["trace", "tests.hostile:app", "/", *extra], catch_exceptions=False
        )
        assert result.exit_code in (0, 1), result.output
        assert not OWN_FRAME.search(result.output)
        if extra:
            json.loads(result.stdout)
