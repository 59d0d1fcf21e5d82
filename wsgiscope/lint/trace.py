"""The lint checks a trace can run: findings from a request's recorded events.

``TraceMiddleware(app, checks=trace_checks)`` calls :func:`trace_checks`
once per request after ``close()`` with the request's recorder; the
``{rule, message}`` dicts it returns become the trace record's ``lint``
list. The trace is transparent (it never becomes a strict server), so only
what its events show is checked: ``start_response`` arguments (status,
headers, a second call without ``exc_info``), body data before
``start_response``, bodies on HEAD/1xx/204/304, ``Content-Length`` against
the recorded body, and exceptions escaping the app (``KeyError`` on an
optional key included). ``wsgiscope lint`` runs the full set.

Events are read by duck typing (``kind`` plus the fields of the
``wsgiscope.trace/1`` format), so this module does not import the tracing
package.

.. versionadded:: 0.1
"""

from __future__ import annotations

import typing as t

from wsgiscope.lint.environ import is_missing_optional_key
from wsgiscope.lint.findings import FindingList, exc_text
from wsgiscope.lint.headers import (
    check_header_list,
    check_status,
    content_length,
    status_code,
)

_RAISED_RULE = {"call": "WSGI103", "iter": "WSGI104", "close": "WSGI402"}


def trace_checks(recorder: t.Any) -> list[dict[str, str]]:
    """PEP 3333 findings for one traced request, as ``{rule, message}``."""
    found = FindingList()
    environ = getattr(recorder, "environ", None) or {}
    method = str(environ.get("REQUEST_METHOD", "GET")).upper()
    started = 0
    status: t.Any = None
    pairs: list[tuple[str, str]] = []
    body = 0
    for event in recorder.events():
        kind = getattr(event, "kind", "")
        if kind == "start_response":
            started += 1
            if started > 1 and getattr(event, "exc_info", None) is None:
                found.add(
                    "WSGI202",
                    f"start_response called {started} times without exc_info",
                    "start_response",
                )
            status = getattr(event, "status", None)
            for rule, message in check_status(status):
                found.add(rule, message, "start_response")
            problems, pairs = check_header_list(getattr(event, "headers", None))
            for rule, message in problems:
                found.add(rule, message, "start_response")
        elif kind == "body":
            size = getattr(event, "size", 0) or 0
            if not started:
                found.add("WSGI201", "body data before start_response was called", "body")
            body += size
        elif kind == "exception":
            _exception(found, event, environ)
    _body_checks(found, method, status_code(status), pairs, body)
    return [finding.to_record() for finding in found]


def _exception(found: FindingList, event: t.Any, environ: t.Mapping[str, t.Any]) -> None:
    exc = getattr(event, "exception", None)
    where = getattr(event, "where", "")
    if not isinstance(exc, BaseException) or where not in _RAISED_RULE:
        return
    if is_missing_optional_key(exc, environ):
        found.add(
            "WSGI702", f"KeyError: {exc.args[0]!r} (a key the server need not provide)", "call"
        )
        return
    prefix = "close() raised " if where == "close" else ""
    found.add(_RAISED_RULE[where], prefix + exc_text(exc), "call")


def _body_checks(
    found: FindingList,
    method: str,
    code: int | None,
    pairs: list[tuple[str, str]],
    body: int,
) -> None:
    if code is None:
        return
    if body and method == "HEAD":
        found.add("WSGI303", f"{body} body bytes sent for HEAD", "body")
    forbidden = code < 200 or code in (204, 304)
    if forbidden and body:
        found.add("WSGI304", f"{body} body bytes sent with status {code}", "body")
    declared = content_length(pairs)
    # The recorder may stop recording chunks of a long body, so only a body
    # longer than declared is certain here.
    if declared is not None and body > declared and not forbidden and method != "HEAD":
        found.add(
            "WSGI302", f"Content-Length {declared} but the body has at least {body} bytes", "body"
        )
