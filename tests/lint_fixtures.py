"""Helpers for the lint tests: build environs and lint one request."""

from __future__ import annotations

import typing as t

from werkzeug.test import EnvironBuilder

from wsgiscope.lint import LintResult, lint_request


def environ_factory(
    method: str = "GET", path: str = "/", data: t.Any = None
) -> t.Callable[[], dict[str, t.Any]]:
    """A function building a fresh environ for the request, as a test client would."""

    def make() -> dict[str, t.Any]:
        return EnvironBuilder(path, method=method, data=data).get_environ()

    return make


def lint(app: t.Any, method: str = "GET", path: str = "/", data: t.Any = None) -> LintResult:
    """Lint one request with small caps (fast on endless bodies)."""
    return lint_request(
        app, environ_factory(method, path, data), max_body=64 * 1024, max_chunks=2000
    )


def rules_of(result: LintResult) -> list[str]:
    """The rule ids found, in order."""
    return [finding.rule for finding in result.findings]
