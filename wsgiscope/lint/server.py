"""The strict server: drives one request through an app the way a careful
WSGI server would, with a :class:`~wsgiscope.lint.checker.LintSession`
between them, and never lets the app's misbehaviour escape as an exception.

It gives the app only what PEP 3333 requires (optional keys left out when
empty, ``wsgi.input`` holding exactly the body), re-raises ``exc_info`` when
headers were already sent, does not strip bodies (so HEAD/204/304 bodies are
seen), caps endless bodies, and always calls ``close()``. When the app fails
without an optional key, the request is run again with the keys present to
tell "requires a key" (WSGI702) from an ordinary error.

.. versionadded:: 0.1
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import typing as t

from wsgiscope.interrupts import is_ctrl_c
from wsgiscope.lint.checker import LintSession
from wsgiscope.lint.environ import fill_optional, is_optional_key, strictify
from wsgiscope.lint.findings import Finding, exc_text
from wsgiscope.lint.headers import status_code

if t.TYPE_CHECKING:
    from _typeshed.wsgi import WSGIApplication

#: Default caps on a body: bytes read, and chunks read (an endless stream of
#: empty chunks has no bytes).
MAX_BODY = 8 * 1024 * 1024
MAX_CHUNKS = 100_000


@dataclasses.dataclass
class LintResult:
    """What one linted request produced.

    :param findings: the rules it violated.
    :param status: the status the app gave (``None`` if it never did).
    :param headers: the well-formed headers of the response.
    :param body_bytes: bytes of body the app produced (up to the cap).
    :param error: ``"Type: message"`` of an exception that escaped the app.
    :param stderr: what the app wrote to ``wsgi.errors``.
    """

    findings: list[Finding]
    status: str | None = None
    headers: list[tuple[str, str]] = dataclasses.field(default_factory=list)
    body_bytes: int = 0
    error: str | None = None
    stderr: str = ""

    @property
    def failed(self) -> bool:
        """The app raised or answered 5xx."""
        code = status_code(self.status)
        return self.error is not None or code is None or code >= 500


def run_strict(
    app: WSGIApplication,
    environ: dict[str, t.Any],
    *,
    max_body: int = MAX_BODY,
    max_chunks: int = MAX_CHUNKS,
) -> LintResult:
    """Run one request through ``app`` under the checker; never raises
    (except the user's Ctrl-C, see :func:`~wsgiscope.interrupts.is_ctrl_c`)."""
    errors = io.StringIO()
    environ["wsgi.errors"] = errors
    session = LintSession(environ)

    def start_response(*args: t.Any, **kwargs: t.Any) -> t.Callable[[t.Any], None]:
        exc_info = args[2] if len(args) > 2 else kwargs.get("exc_info")
        if exc_info is not None and session.headers_sent:
            # PEP 3333: with headers sent, start_response re-raises exc_info.
            exc = exc_info[1] if type(exc_info) is tuple and len(exc_info) == 3 else None
            if isinstance(exc, BaseException):
                raise exc
            raise RuntimeError("start_response(exc_info) after headers were sent")
        return _discard

    result = LintResult(findings=[])
    try:
        body = session.call(app, environ, start_response)
    except BaseException as exc:
        if is_ctrl_c(exc):
            raise
        result.error = exc_text(exc)
        return _done(session, result, errors)
    if session.done:  # not iterable: already reported
        return _done(session, result, errors)
    try:
        chunks = 0
        for chunks, _chunk in enumerate(body, 1):
            if chunks == 1:
                _ask_length(body)
            if session.body_bytes > max_body or chunks >= max_chunks:
                session.capped = True
                session.add(
                    "WSGI305",
                    f"stopped after {chunks} chunks, {session.body_bytes} bytes "
                    f"(caps: {max_chunks} chunks, {max_body} bytes)",
                    "body",
                )
                break
        if chunks == 0:
            _ask_length(body)
    except BaseException as exc:
        if is_ctrl_c(exc):
            raise
        result.error = exc_text(exc)
    finally:
        try:
            body.close()
        except BaseException as exc:
            if is_ctrl_c(exc):
                raise
            result.error = result.error or exc_text(exc)
    return _done(session, result, errors)


def _ask_length(body: t.Any) -> None:
    """Call ``len()`` of a sized body, as wsgiref does to set Content-Length
    when the headers go out, after the first chunk or an empty body (the
    exceptions it takes for "no length" are let pass)."""
    if hasattr(type(body), "__len__"):
        with contextlib.suppress(TypeError, AttributeError, NotImplementedError):
            len(body)


def _discard(data: t.Any) -> None:
    """The strict server's write(): the checker already counted the data."""


def _done(session: LintSession, result: LintResult, errors: io.StringIO) -> LintResult:
    session.finish()
    result.findings = session.findings
    result.status = session.status
    result.headers = session.headers
    result.body_bytes = session.body_bytes
    result.stderr = errors.getvalue()
    return result


def lint_request(
    app: WSGIApplication,
    make_environ: t.Callable[[], dict[str, t.Any]],
    *,
    max_body: int = MAX_BODY,
    max_chunks: int = MAX_CHUNKS,
) -> LintResult:
    """Lint one request: ``make_environ()`` builds a fresh full environ.

    The request runs with the environ made strict. If the app then fails
    (raises or answers 5xx) and keys were left out, it runs again with all
    of them (empty where the builder had none); when that succeeds, it runs
    once more per left-out key to name the one the app needs, and the
    result is finding WSGI702. Only failing requests are re-run.
    """
    environ = make_environ()
    strictify(environ)
    result = run_strict(app, environ, max_body=max_body, max_chunks=max_chunks)
    already = any(finding.rule == "WSGI702" for finding in result.findings)
    if not result.failed or already:
        return result

    def full_environ(only: str | None = None) -> dict[str, t.Any]:
        full = make_environ()
        fill_optional(full)
        if only is not None:
            strict = make_environ()
            strictify(strict)
            strict[only] = full[only]
            return strict
        return full

    full = full_environ()
    removed = [key for key in full if key not in environ and is_optional_key(key)]
    if not removed:
        return result
    answer = run_strict(app, full, max_body=max_body, max_chunks=max_chunks)
    if answer.failed:
        return result
    needed = [
        key
        for key in removed
        if not run_strict(app, full_environ(key), max_body=max_body, max_chunks=max_chunks).failed
    ]
    keys = ", ".join(needed or removed)
    failure = result.error or f"status {result.status}"
    result.findings.append(
        Finding(
            "WSGI702",
            "error",
            f"fails ({failure}) without {keys}, which a server may leave out; "
            f"answers {answer.status} with {'it' if len(needed) == 1 else 'them'}",
            "environ",
        )
    )
    return result
