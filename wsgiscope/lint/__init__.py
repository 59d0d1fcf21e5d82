"""PEP 3333 conformance checks: rules, the checker and the strict server.

:mod:`~wsgiscope.lint.rules` names the rules, :mod:`~wsgiscope.lint.checker`
watches one request between a server and an app (also usable as middleware
or as the ``TraceMiddleware`` hook), :mod:`~wsgiscope.lint.server` drives a
request like a strict server would, and :mod:`~wsgiscope.lint.runner` lints
a whole set of requests (the ``wsgiscope lint`` command). Nothing here
prints or imports rich.

.. versionadded:: 0.1
"""

from __future__ import annotations

import typing as t

from wsgiscope.lint.checker import LintSession as LintSession
from wsgiscope.lint.checker import lint_middleware as lint_middleware
from wsgiscope.lint.findings import Finding as Finding

if t.TYPE_CHECKING:
    from wsgiscope.lint.rules import RULES as RULES
    from wsgiscope.lint.rules import Rule as Rule
    from wsgiscope.lint.rules import get_rule as get_rule
    from wsgiscope.lint.server import LintResult as LintResult
    from wsgiscope.lint.server import lint_request as lint_request
    from wsgiscope.lint.server import run_strict as run_strict

__all__ = [
    "RULES",
    "Finding",
    "LintResult",
    "LintSession",
    "Rule",
    "get_rule",
    "lint_middleware",
    "lint_request",
    "run_strict",
]

#: framework -> {rule: why}: what a framework leaves to the server by
#: design, so its apps cannot fix it. Not reported unless ``strict``; the
#: report says how many findings were left out (``LintReport.delegated``).
#: A framework's name is its package's: an app of it has that package in
#: ``sys.modules`` (``trace`` asks the routing which framework answers only then).
SERVER_HANDLED: dict[str, dict[str, str]] = {
    "django": {
        "WSGI303": "Django leaves HEAD bodies to the server by design "
        "(its runserver and gunicorn strip them; wsgiref does not)",
    },
}

#: Names imported on first use, and their module: ``trace`` runs the checker
#: (:mod:`~wsgiscope.lint.checker`) without the strict server, and needs the
#: rule table only when a request has findings.
_LAZY = {
    "RULES": "rules",
    "Rule": "rules",
    "get_rule": "rules",
    "LintResult": "server",
    "lint_request": "server",
    "run_strict": "server",
}


def __getattr__(name: str) -> t.Any:
    module_name = _LAZY.get(name)
    if module_name is None:
        raise AttributeError(f"module 'wsgiscope.lint' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(f"wsgiscope.lint.{module_name}"), name)
    globals()[name] = value
    return value
