"""Property: whatever an app passes to start_response or yields, the strict
server returns findings and never raises."""

from __future__ import annotations

import typing as t

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.lint_fixtures import lint
from wsgiscope.lint import RULES

RULE_IDS = {rule.id for rule in RULES}

values = st.one_of(
    st.none(),
    st.integers(),
    st.text(max_size=20),
    st.binary(max_size=20),
    st.tuples(st.text(max_size=5), st.text(max_size=5)),
    st.lists(st.text(max_size=5), max_size=3),
)
headers = st.one_of(
    values,
    st.lists(st.one_of(st.tuples(values, values), values), max_size=4),
)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(status=values, response_headers=headers, body=st.lists(values, max_size=4))
def test_any_start_response_and_body(status: t.Any, response_headers: t.Any, body: t.Any) -> None:
    def app(environ: t.Any, start_response: t.Any) -> t.Any:
        start_response(status, response_headers)
        return body

    result = lint(app)
    assert {finding.rule for finding in result.findings} <= RULE_IDS
    assert all("\n" not in finding.message for finding in result.findings)


@settings(max_examples=60, deadline=None)
@given(returned=values, method=st.sampled_from(["GET", "HEAD", "POST"]))
def test_any_return_value(returned: t.Any, method: str) -> None:
    def app(environ: t.Any, start_response: t.Any) -> t.Any:
        start_response("200 OK", [("Content-Type", "text/plain")])
        return returned

    result = lint(app, method)
    assert {finding.rule for finding in result.findings} <= RULE_IDS
