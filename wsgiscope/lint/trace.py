"""Lint checks inside a trace: the record's ``lint`` list.

``TraceMiddleware(app, checks=...)`` calls its ``checks`` once per request
after ``close()`` with the request's recorder; the ``{rule, message}`` dicts
returned become the trace record's ``lint`` list. Two ways to fill it:

* the full checker, transparent (no strict server)::

      linted = TraceLint(app)
      traced = TraceMiddleware(linted, checks=linted.checks)

  :class:`TraceLint` runs a :class:`~wsgiscope.lint.checker.LintSession`
  between the trace and the app for every traced request (every rule but
  the strict server's own: WSGI305 body cap, the WSGI702 re-run);
* events only: ``TraceMiddleware(app, checks=trace_checks)``.
  :func:`trace_checks` checks what the recorded events show:
  ``start_response`` arguments (status, headers, a second call without
  ``exc_info``), body data before ``start_response``, bodies on
  HEAD/1xx/204/304, a body longer than ``Content-Length``, and exceptions
  escaping the app (``KeyError`` on an optional key included).

Events are read by duck typing (``kind`` plus the fields of the
``wsgiscope.trace/1`` format), and the tracing package is imported only
while a request runs.

.. versionadded:: 0.1
"""

from __future__ import annotations

import threading
import typing as t

from wsgiscope.lint.checker import LintSession
from wsgiscope.lint.environ import is_missing_optional_key
from wsgiscope.lint.findings import Finding, FindingList, exc_text
from wsgiscope.lint.headers import (
    check_header_list,
    check_semantics,
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
    for rule, message in check_semantics(code, pairs):
        found.add(rule, message, "start_response")
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


def _current_recorder() -> t.Any:
    try:
        from wsgiscope.tracing.recorder import current
    except ImportError:  # pragma: no cover - the tracing package is part of wsgiscope
        return None
    return current()


class TraceLint:
    """A WSGI app wrapper that lints every traced request with the full
    checker and hands the findings to the trace through :meth:`checks`.

    Requests that are not traced (sampled out) pass straight through.

    :param app: the WSGI application.
    :param leave_out: rule ids not to report (what the answering framework
        leaves to the server by design, as ``lint`` leaves them out).
    """

    def __init__(self, app: t.Any, leave_out: t.Collection[str] = ()) -> None:
        self.app = app
        self.leave_out = frozenset(leave_out)
        self._found: dict[int, list[Finding]] = {}
        self._lock = threading.Lock()
        # Trace records label the app by name or module.qualname: keep the
        # wrapped app's, so a linted trace names the same app.
        owner = app if hasattr(app, "__qualname__") else type(app)
        self.__qualname__ = owner.__qualname__
        self.__module__ = getattr(owner, "__module__", "?")

    @property
    def name(self) -> str | None:
        """The wrapped app's name (trace records label the app by it)."""
        name = getattr(self.app, "name", None)
        return name if isinstance(name, str) else None

    def __call__(self, environ: dict[str, t.Any], start_response: t.Any) -> t.Any:
        recorder = _current_recorder()
        if recorder is None:
            return self.app(environ, start_response)
        key = id(recorder)

        def store(findings: list[Finding]) -> None:
            kept = [finding for finding in findings if finding.rule not in self.leave_out]
            with self._lock:
                self._found[key] = kept

        return LintSession(environ, on_done=store).call(self.app, environ, start_response)

    def checks(self, recorder: t.Any) -> list[dict[str, str]]:
        """The ``checks`` hook of ``TraceMiddleware``: this request's findings
        (from the recorded events when the checker did not see the request,
        e.g. a server that never called ``close()``)."""
        with self._lock:
            findings = self._found.pop(id(recorder), None)
        if findings is None:
            return trace_checks(recorder)
        return [finding.to_record() for finding in findings]
