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
from wsgiscope.lint.rules import RULES as RULES
from wsgiscope.lint.rules import Rule as Rule
from wsgiscope.lint.rules import get_rule as get_rule

if t.TYPE_CHECKING:
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

#: The strict server's names, imported on first use: ``trace`` runs the
#: checker (:mod:`~wsgiscope.lint.checker`) without the strict server.
_SERVER_NAMES = frozenset({"LintResult", "lint_request", "run_strict"})


def __getattr__(name: str) -> t.Any:
    if name not in _SERVER_NAMES:
        raise AttributeError(f"module 'wsgiscope.lint' has no attribute {name!r}")
    from wsgiscope.lint import server

    value = getattr(server, name)
    globals()[name] = value
    return value
