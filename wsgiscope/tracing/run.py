"""Running one request through the tracer in-process: :func:`run_traced`.

This is what ``wsgiscope trace`` and ``replay`` call. It plays the server:
calls the app through :class:`~wsgiscope.tracing.middleware.TraceMiddleware`,
honours ``start_response``'s ``exc_info`` contract, reads the body up to
``max_body`` bytes (an endless streaming response is cut there, its
iterable closed and the record says ``truncated``), always closes the
iterable, and never lets the app's exception escape: it comes back in
:attr:`TraceResult.exc_info` for rendering. A Ctrl-C while the app runs
(``KeyboardInterrupt``) ends the request the same way, with
:attr:`TraceResult.interrupted` set, so that what was recorded up to that
point (the teardowns that saw the interrupt included) is not lost; under
:func:`~wsgiscope.interrupts.watching_ctrl_c`, an app that raises
``KeyboardInterrupt`` itself is not taken for a Ctrl-C.
"""

from __future__ import annotations

import dataclasses
import time
import types
import typing as t

from wsgiscope.interrupts import is_ctrl_c
from wsgiscope.tracing.events import app_traceback
from wsgiscope.tracing.instrument import instrumentation
from wsgiscope.tracing.middleware import (
    DEFAULT_MAX_BODY,
    Checks,
    RequestTrace,
    TracedIterable,
    TraceMiddleware,
)
from wsgiscope.tracing.record import chunk_bytes
from wsgiscope.tracing.recorder import Clock, Recorder

ExcInfo = tuple[type[BaseException], BaseException, types.TracebackType | None]


@dataclasses.dataclass
class TraceResult:
    """What :func:`run_traced` found.

    :param record: the ``wsgiscope.trace/1`` record (JSON-ready).
    :param exc_info: the app's exception, if it raised (escaped the WSGI
        call or the body, or was turned into a 500 by the framework), as
        ``(type, value, traceback)`` for rich traceback rendering, the
        traceback without wsgiscope's own frames. Not part of the record.
    :param body: the response body bytes read (at most ``max_body``).
    :param recorder: the request's recorder (live events, for checks).
    :param interrupted: a ``KeyboardInterrupt`` (Ctrl-C) ended the request.
    :param headers: the response headers as the app sent them, unredacted
        (``trace --session`` keeps cookies, ``--follow`` reads ``Location``).
        Not part of the record.
    """

    record: dict[str, t.Any]
    exc_info: ExcInfo | None
    body: bytes
    recorder: Recorder
    interrupted: bool = False
    headers: list[tuple[str, str]] = dataclasses.field(default_factory=list)
    #: The record with secrets kept (``run_traced(keep_secrets=True)``).
    unredacted: dict[str, t.Any] | None = None

    @property
    def status_code(self) -> int | None:
        """The response's status code (``None`` if the app never started one)."""
        return t.cast("int | None", self.record["response"]["status_code"])

    @property
    def failed(self) -> bool:
        """The app raised or answered 5xx (``trace`` exits 1 then)."""
        code = self.status_code
        return self.exc_info is not None or code is None or code >= 500


def run_traced(
    app: t.Callable[..., t.Any],
    environ: dict[str, t.Any],
    *,
    max_body: int = DEFAULT_MAX_BODY,
    redact: bool = True,
    clock: Clock = time.perf_counter,
    checks: Checks | None = None,
    keep_secrets: bool = False,
    capture: t.Iterable[str] | None = None,
) -> TraceResult:
    """Run one request through ``app`` under the tracer and return its trace.

    :param app: any WSGI application.
    :param environ: the request's environ (e.g. from ``EnvironBuilder``).
    :param max_body: body bytes read and recorded; reading stops there.
    :param redact: redact secrets in the record.
    :param clock: monotonic clock (for tests).
    :param checks: PEP 3333 checks feeding the record's ``lint`` list.
    :param keep_secrets: also build the record with secrets kept
        (:attr:`TraceResult.unredacted`), for ``trace --save --keep-secrets``.
    :param capture: what is captured inside the hooks (see :mod:`wsgiscope.capture`).
    """
    finished: list[RequestTrace] = []
    mw = TraceMiddleware(
        app, None, redact=redact, max_body=max_body, clock=clock, checks=checks, capture=capture
    )
    state: dict[str, t.Any] = {"status": None, "sent": False}
    body: list[bytes] = []

    def start_response(status: str, headers: list[t.Any], exc_info: t.Any = None) -> t.Any:
        if exc_info is not None and state["sent"]:
            raise exc_info[1].with_traceback(exc_info[2])
        state["status"] = status
        state["headers"] = _plain_headers(headers)
        return write

    def write(data: bytes) -> None:
        state["sent"] = True
        body.append(chunk_bytes(data))

    with instrumentation():
        # Created after installing, so installing is not part of the timings.
        trace = RequestTrace(mw, environ)
        trace.on_finish = finished.append
        error = _drive(trace, environ, start_response, state, body, max_body)
    if not finished:  # pragma: no cover - finish() always runs in _drive
        trace.finish()
    record = trace.record if trace.record is not None else {}
    if error is None:
        error = trace.rec.app_error
    exc_info: ExcInfo | None = None
    if error is not None:
        exc_info = (type(error), error, app_traceback(error.__traceback__))
    interrupted = is_ctrl_c(error)
    result = TraceResult(
        record,
        exc_info,
        b"".join(body)[:max_body],
        trace.rec,
        interrupted,
        state.get("headers") or [],
    )
    if keep_secrets:
        from wsgiscope.tracing.record import build_record

        mw.redact = False
        try:
            result.unredacted = build_record(trace)
        finally:
            mw.redact = redact
    return result


def _plain_headers(headers: t.Any) -> list[tuple[str, str]]:
    """The ``(str, str)`` pairs of a header list; nothing of anything stranger
    (an iterator is not consumed: the server's view of it is the middleware's)."""
    if type(headers) is not list:
        return []
    return [
        (item[0], item[1])
        for item in headers
        if type(item) is tuple and len(item) == 2 and all(type(x) is str for x in item)
    ]


def _drive(
    trace: RequestTrace,
    environ: dict[str, t.Any],
    start_response: t.Callable[..., t.Any],
    state: dict[str, t.Any],
    body: list[bytes],
    max_body: int,
) -> BaseException | None:
    """Play the server: call, iterate up to ``max_body``, close."""
    error: BaseException | None = None
    size = 0
    # BaseException: an app's SystemExit or GeneratorExit is its error too,
    # shown with the trace rather than ending wsgiscope with nothing printed.
    try:
        app_iter = trace.run(environ, start_response)
    except BaseException as exc:
        error = exc
    else:
        try:
            for chunk in app_iter:
                state["sent"] = True
                data = chunk_bytes(chunk)
                body.append(data)
                size += len(data)
                if size >= max_body:
                    if isinstance(app_iter, TracedIterable):
                        app_iter.mark_truncated()
                    break
        except BaseException as exc:
            error = exc
        finally:
            try:
                t.cast(t.Any, app_iter).close()
            except BaseException as exc:
                error = error or exc
    return error
