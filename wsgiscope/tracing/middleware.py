"""``TraceMiddleware``: one ``wsgiscope.trace/1`` record per request.

    from wsgiscope import TraceMiddleware

    app.wsgi_app = TraceMiddleware(app.wsgi_app, sink="traces.jsonl")

The middleware is transparent (PEP 3333), in the manner of werkzeug's
``LintMiddleware`` and ``ProfilerMiddleware``:

- the response iterable is wrapped, never consumed: each chunk goes to the
  server as soon as the app yields it (a streaming response stays lazy);
- ``close()`` of the app's iterable is called exactly once, when the server
  closes ours, even when iteration raised; the trace ends there (not when
  the app returns), so ``stream_with_context`` teardowns are in it;
- ``start_response`` is called with the arguments the app gave (``exc_info``
  included, so a server's re-raise reaches the app) and the ``write()``
  callable it returns keeps working (its chunks are recorded too);
- a ``wsgi.file_wrapper`` response (an instance of the server's own
  class) is handed back to the server as it is, so its zero-copy
  (sendfile) path is still taken: only its ``close`` is replaced, by one
  that ends the trace; the file's size and first ``max_body`` bytes are
  read with ``pread`` (its position is not moved), the chunks are not seen;
- an iterable with ``len()`` keeps it (servers use ``len() == 1`` to set
  ``Content-Length``);
- the body is recorded up to ``max_body`` bytes (``body_preview``,
  ``truncated``) while the server still gets every byte;
- a request with a body (``CONTENT_LENGTH`` or chunked) gets ``wsgi.input``
  wrapped in an :class:`InputTee`: every read goes to the server's stream,
  and the first ``max_body`` bytes the app read are kept (the record's
  ``request.body``, so ``replay`` can send it again).

Per request it keeps a shallow ``dict(environ)`` and the live objects of each
event; turning them into text (and redacting secrets) happens once, when
the record is built at ``close()``.
"""

from __future__ import annotations

import contextlib
import os
import random
import sys
import threading
import time
import typing as t
import weakref
from threading import get_ident

from wsgiscope.capture import parse_capture
from wsgiscope.tracing import instrument
from wsgiscope.tracing.dispatch import app_label
from wsgiscope.tracing.events import (
    BodyChunk,
    Close,
    ExceptionRaised,
    StartResponse,
    hide_own_frames,
)
from wsgiscope.tracing.record import build_record, degraded_record, is_error
from wsgiscope.tracing.recorder import Clock, Recorder, _current

if t.TYPE_CHECKING:
    from wsgiscope.tracing.sinks import Record
    from wsgiscope.tracing.trigger import Trigger

#: Bytes of response body kept in a record by default (256 KiB).
DEFAULT_MAX_BODY = 256 * 1024

_hold_lock = threading.Lock()

#: ``checks(recorder)``: PEP 3333 findings for one request, see :class:`TraceMiddleware`.
Checks = t.Callable[[Recorder], t.Iterable[t.Mapping[str, str]]]


class TraceMiddleware:
    """Wrap a WSGI app so that every request produces a trace record.

    :param app: the WSGI application.
    :param sink: where records go: ``None``, a path (JSON Lines, appended
        atomically), a file-like object or a callable taking the record.
        See :mod:`wsgiscope.tracing.sinks`.
    :param redact: replace secrets with ``"[redacted]"`` in the record
        (see :mod:`wsgiscope.redact`); ``False`` keeps them; a list of
        names redacts those too (headers, parameters, fields, keys), in
        addition to the built-in deny-lists, in this process.
    :param max_body: response body bytes kept in the record, and request
        body bytes (of those the app read).
    :param sample: fraction of requests traced (0.0 to 1.0); the others pass
        straight through, untouched.
    :param only_errors: give the sink only records of requests that raised,
        answered 5xx or had a teardown receive an exception.
    :param clock: monotonic clock for ``t_ms`` and durations (seconds).
    :param wall_clock: clock for the ``started`` timestamp (seconds since
        the epoch).
    :param checks: a callable run once per request after ``close()`` with the
        request's :class:`~wsgiscope.tracing.recorder.Recorder` (live values:
        ``recorder.events()``, ``recorder.environ``, ``recorder.body_bytes``);
        it returns PEP 3333
        findings, each ``{"rule": ..., "message": ...}``, which become the
        record's ``lint`` list (empty without ``checks``). ``wsgiscope.lint``
        supplies one.
    :param capture: what is captured inside the hooks (see
        :mod:`wsgiscope.capture`): any of ``"sql"``, ``"logging"``,
        ``"http"``, ``"templates"``; all of them by default, ``()`` none.
    :param trigger: a :class:`~wsgiscope.tracing.trigger.Trigger`: trace only
        the requests that carry its header or cookie with the shared secret
        (then ``sample`` does not apply); the others pass straight through.

    .. versionadded:: 0.1
    """

    def __init__(
        self,
        app: t.Callable[..., t.Any],
        sink: t.Any = None,
        *,
        redact: bool | t.Iterable[str] = True,
        max_body: int = DEFAULT_MAX_BODY,
        sample: float = 1.0,
        only_errors: bool = False,
        clock: Clock = time.perf_counter,
        wall_clock: Clock = time.time,
        checks: Checks | None = None,
        capture: t.Iterable[str] | None = None,
        trigger: Trigger | None = None,
    ) -> None:
        if not 0.0 <= sample <= 1.0:
            raise ValueError(f"sample must be between 0 and 1, not {sample!r}")
        if max_body < 0:
            raise ValueError(f"max_body must not be negative, not {max_body!r}")
        self.app = app
        if sink is None:  # (trace and the tests: no sink module, no orjson imported)
            self.sink = None
        else:
            from wsgiscope.tracing.sinks import make_sink

            self.sink = make_sink(sink)
        if not isinstance(redact, bool):
            from wsgiscope.redact import add_secret_names

            if isinstance(redact, str):
                raise TypeError("redact takes True, False or a list of names, not a str")
            add_secret_names(redact)
            redact = True
        self.redact = redact
        self.max_body = max_body
        self.sample = sample
        self.only_errors = only_errors
        self.clock = clock
        self.wall_clock = wall_clock
        self.checks = checks
        self.capture = parse_capture(capture)
        self.trigger = trigger
        self.app_name = app_label(app)
        self._release: weakref.finalize | None = None
        #: Records that could not be built whole (see ``capture_errors`` in them).
        self.degraded = 0

    @property
    def dropped(self) -> int:
        """Records the sink failed to take (each one lost, counted here)."""
        return 0 if self.sink is None else self.sink.failures

    def __call__(
        self, environ: dict[str, t.Any], start_response: t.Callable[..., t.Any]
    ) -> t.Iterable[bytes]:
        trigger = self.trigger
        if trigger is not None:
            if not trigger.matches(environ):
                return t.cast("t.Iterable[bytes]", self.app(environ, start_response))
        elif self.sample < 1.0 and random.random() >= self.sample:
            return t.cast("t.Iterable[bytes]", self.app(environ, start_response))
        if self._release is None:
            self._hold()
        try:
            return RequestTrace(self, environ).run(environ, start_response)
        except BaseException as exc:
            hide_own_frames(exc)  # the server's error log shows the app's frames
            raise

    def _hold(self) -> None:
        with _hold_lock:
            if self._release is None:
                instrument.acquire()
                # Released by close(), or when the middleware is collected.
                self._release = weakref.finalize(self, instrument.release)

    def close(self) -> None:
        """Stop holding the framework instrumentation (restored exactly if no
        other tracer holds it). Requests after this install it again."""
        with _hold_lock:
            release, self._release = self._release, None
        if release is not None:
            release()

    def __enter__(self) -> TraceMiddleware:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def emit(self, record: Record) -> None:
        """Hand a finished record to the sink (never raises)."""
        if self.sink is not None:
            self.sink(record)


class RequestTrace:
    """The state of one traced request, from the call to ``close()``.

    Per-request state starts as these class-level defaults; only what a
    request changes is stored on the instance (cheaper than setting two
    dozen attributes on every request).
    """

    status: t.Any = None
    headers: t.Any = None
    body_bytes = 0
    chunks = 0
    preview_len = 0
    truncated = False
    error: BaseException | None = None
    app_iter: t.Any = None
    file_wrapper = False
    has_close = False
    closed = False
    finished = False
    ended: float | None = None
    lint: list[dict[str, str]] = []  # replaced per request, never mutated
    record: Record | None = None
    on_finish: t.Callable[[RequestTrace], None] | None = None
    input_tee: InputTee | None = None

    def __init__(self, mw: TraceMiddleware, environ: dict[str, t.Any]) -> None:
        self.mw = mw
        #: The environ as received, shallow: values are stringified at the end.
        self.environ = copied = dict(environ)
        self.rec = Recorder(mw.clock, environ=copied)
        self.rec.capture = mw.capture
        self.started = mw.wall_clock()
        self.thread_ident = get_ident()
        greenlet = _modules.get("greenlet")
        self.greenlet = None if greenlet is None else id(greenlet.getcurrent())
        self.preview: list[bytes] = []

    @property
    def worker(self) -> tuple[int, threading.Thread, int, int | None]:
        """``(pid, thread, thread ident, greenlet id or None)`` that served the request."""
        ident = self.thread_ident
        # The serving thread is alive while its request ends; looked up here
        # rather than per request, where it would cost a Python call.
        thread = threading._active.get(ident) or threading.current_thread()  # type: ignore[attr-defined]
        return (_pid, thread, ident, self.greenlet)

    def run(
        self, environ: dict[str, t.Any], start_response: t.Callable[..., t.Any]
    ) -> t.Iterable[bytes]:
        """Call the app (with the server's own environ) and wrap what it returns."""
        rec = self.rec
        self.server_start_response = start_response
        length = environ.get("CONTENT_LENGTH")
        if (length and length != "0") or "HTTP_TRANSFER_ENCODING" in environ:
            stream = environ.get("wsgi.input")
            if stream is not None:
                self.input_tee = environ["wsgi.input"] = InputTee(stream, self.mw.max_body)
        token = _current.set(rec)
        try:
            try:
                app_iter = self.mw.app(environ, self.start_response)
            except BaseException as exc:
                self.exception(exc, "call")
                self.finish()
                raise
        finally:
            _current.reset(token)
        self.app_iter = app_iter
        wrapper_class = environ.get("wsgi.file_wrapper")
        if isinstance(wrapper_class, type) and isinstance(app_iter, wrapper_class):
            self.file_wrapper = True
            if self.keep_file_wrapper(app_iter):
                return t.cast("t.Iterable[bytes]", app_iter)
        kind = type(app_iter)
        sized = _sized.get(kind)
        if sized is None:
            # hasattr() on a class that lacks the attribute raises inside and
            # costs a microsecond: asked once per iterable type.
            sized = hasattr(kind, "__len__")
            if len(_sized) < 256:
                _sized[kind] = sized
        return SizedTracedIterable(self, app_iter) if sized else TracedIterable(self, app_iter)

    def keep_file_wrapper(self, app_iter: t.Any) -> bool:
        """Hand the server the app's own ``wsgi.file_wrapper`` object (so its
        sendfile path is taken): only its ``close`` is replaced, by one that
        ends the trace; the size and the start of the file are read without
        moving its position. False when ``close`` cannot be set."""
        original = getattr(app_iter, "close", None)
        trace = self

        def close() -> None:
            trace.close_app(original)

        try:
            app_iter.close = close
        except Exception:  # __slots__, a read-only property: wrapped as any iterable
            return False
        size, head = _file_extent(getattr(app_iter, "filelike", None), self.mw.max_body)
        if size is not None:
            self.body_bytes = size
            self.truncated = size > len(head)
            if head:
                self.preview.append(head)
                self.preview_len = len(head)
        return True

    def close_app(self, close: t.Callable[[], t.Any] | None) -> None:
        """Close the app's iterable (its ``close``, if any) once and end the trace."""
        if self.closed:
            return
        self.closed = True
        rec = self.rec
        token = _current.set(rec)
        try:
            self.has_close = close is not None
            if close is not None:
                try:
                    close()
                except BaseException as exc:
                    self.exception(exc, "close")
                    hide_own_frames(exc)
                    raise
        finally:
            rows = rec.rows
            if len(rows) < rec.limit:
                rows.append((Close, rec.clock(), rec.state, self.has_close))
            else:
                rec.dropped += 1
            _current.reset(token)
            self.finish()

    def start_response(self, status: t.Any, headers: t.Any, *args: t.Any) -> t.Any:
        """The ``start_response`` the app gets: records the call, then makes it."""
        try:
            copied = list(headers)
        except Exception:  # not iterable, or an iterator that raises
            copied = headers
        self.status = status
        self.headers = copied
        rec = self.rec
        rows = rec.rows
        if len(rows) < rec.limit:
            exc = _exception_of(args[0]) if args else None
            rows.append((StartResponse, rec.clock(), rec.state, status, copied, exc))
        else:
            rec.dropped += 1
        try:
            write = self.server_start_response(status, headers, *args)
        except BaseException as exc:
            self.exception(exc, "start_response")
            hide_own_frames(exc)
            raise
        if not callable(write):
            return write
        self.server_write = write
        return self.write

    def write(self, data: bytes) -> t.Any:
        """The ``write()`` callable the app gets: records the chunk, then writes it."""
        self.body(data, "write")
        return self.server_write(data)

    def body(self, chunk: t.Any, source: str) -> None:
        try:
            size = len(chunk)
        except Exception:  # not sized (an int), or a __len__ that raises
            size = 0
        self.body_bytes += size
        self.chunks += 1
        max_body = self.mw.max_body
        if self.preview_len < max_body:
            self.preview.append(chunk)
            self.preview_len += size
            rec = self.rec
            rows = rec.rows
            if len(rows) < rec.limit:
                rows.append((BodyChunk, rec.clock(), rec.state, size, source))
            else:
                rec.dropped += 1
            if self.preview_len > max_body:
                self.truncated = True
        elif size:
            self.truncated = True

    def exception(self, exc: BaseException, where: str) -> None:
        if self.error is None:
            self.error = exc
        self.rec.add(ExceptionRaised, self.rec.depth, [exc, where])

    def finish(self) -> None:
        """End the trace: release the instrumentation, build and emit the record."""
        if self.finished:
            return
        self.finished = True
        self.ended = self.rec.clock()
        mw = self.mw
        if mw.checks is not None:
            self.rec.body_bytes = self.body_bytes
            self.lint = _run_checks(mw.checks, self.rec)
        if mw.only_errors and not is_error(self):
            return
        if mw.sink is None and self.on_finish is None:
            return
        try:
            self.record = build_record(self)
        except Exception as exc:  # never the request's problem: a degraded record
            self.record = degraded_record(self, exc)
            mw.degraded += 1
        mw.emit(self.record)
        if self.on_finish is not None:
            self.on_finish(self)


class InputTee:
    """``wsgi.input`` for a request with a body: reads go to the server's
    stream, and the first ``limit`` bytes read are kept.

    Only what the app reads is kept (nothing is read on its behalf). Every
    other attribute is the server stream's own.
    """

    __slots__ = ("_limit", "_stream", "kept", "size")

    def __init__(self, stream: t.Any, limit: int) -> None:
        self._stream = stream
        self._limit = limit
        #: The chunks kept, at most ``limit`` bytes (plus the last chunk's rest).
        self.kept: list[bytes] = []
        #: Bytes read through this stream.
        self.size = 0

    def _keep(self, data: t.Any) -> None:
        if data:
            if self.size < self._limit:
                self.kept.append(bytes(data))
            self.size += len(data)

    @property
    def body(self) -> bytes:
        """The start of the body, at most ``limit`` bytes."""
        return b"".join(self.kept)[: self._limit]

    @property
    def truncated(self) -> bool:
        return self.size > self._limit

    def read(self, *args: t.Any) -> t.Any:
        data = self._stream.read(*args)
        self._keep(data)
        return data

    def readline(self, *args: t.Any) -> t.Any:
        data = self._stream.readline(*args)
        self._keep(data)
        return data

    def readlines(self, *args: t.Any) -> t.Any:
        lines = self._stream.readlines(*args)
        for line in lines:
            self._keep(line)
        return lines

    def readinto(self, buffer: t.Any) -> t.Any:
        # werkzeug's LimitedStream uses readinto() when the stream has it.
        readinto = getattr(self._stream, "readinto", None)
        if readinto is None:
            data = self._stream.read(len(buffer))
            buffer[: len(data)] = data
            size = len(data)
        else:
            size = readinto(buffer)
        if size:
            self._keep(memoryview(buffer)[:size])
        return size

    def __iter__(self) -> t.Iterator[t.Any]:
        for line in self._stream:
            self._keep(line)
            yield line

    def __getattr__(self, name: str) -> t.Any:
        return getattr(self._stream, name)


def _file_extent(filelike: t.Any, limit: int) -> tuple[int | None, bytes]:
    """``(bytes left to send, the first of them up to limit)`` of a file
    object, read without moving its position; ``(None, b"")`` when unknown."""
    try:
        fileno = filelike.fileno()
        position = filelike.tell()
        size = os.fstat(fileno).st_size - position
        if size < 0:
            return None, b""
        return size, os.pread(fileno, min(size, limit), position) if limit and size else b""
    except Exception:  # no descriptor (BytesIO), not seekable, a pipe
        pass
    try:
        position = filelike.tell()
        with filelike.getbuffer() as buffer:
            size = max(buffer.nbytes - position, 0)
            return size, bytes(buffer[position : position + min(size, limit)])
    except Exception:
        return None, b""


def _exception_of(exc_info: t.Any) -> BaseException | None:
    """The exception of a ``start_response`` exc_info, if it is a real one
    (the checks on what else it may be are rule WSGI210's)."""
    if type(exc_info) is tuple and len(exc_info) == 3 and isinstance(exc_info[1], BaseException):
        return exc_info[1]
    return None


_modules = sys.modules
_pid = os.getpid()
#: Response iterable types, and whether they have ``len()``.
#: (Bounded: types are few, unless an app makes classes per request.)
_sized: dict[type, bool] = {}


def _after_fork() -> None:
    global _pid
    _pid = os.getpid()


if hasattr(os, "register_at_fork"):
    # os.getpid() is a system call; the pid only changes in a forked child.
    os.register_at_fork(after_in_child=_after_fork)


_checks_failed = False


def _run_checks(checks: Checks, rec: Recorder) -> list[dict[str, str]]:
    global _checks_failed
    try:
        return [
            {"rule": str(f.get("rule", "")), "message": str(f.get("message", ""))}
            for f in checks(rec)
        ]
    except Exception:
        if not _checks_failed:
            _checks_failed = True
            import logging

            logging.getLogger("wsgiscope").exception(
                "wsgiscope: the lint checks failed (reported once); lint left empty"
            )
        return []


def _generate(trace: RequestTrace) -> t.Iterator[bytes]:
    # A generator, and a for loop over the app's iterable: the end of the
    # body then costs no StopIteration objects (one per layer otherwise).
    # The recorder is current while the app's code produces a chunk
    # (stream_with_context pushes contexts then), not while suspended.
    rec = trace.rec
    var = _current
    token: t.Any = var.set(rec)
    try:
        for chunk in trace.app_iter:
            var.reset(token)
            token = None
            trace.body(chunk, "iter")
            yield chunk
            token = var.set(rec)
    except GeneratorExit:
        raise
    except BaseException as exc:
        trace.exception(exc, "iter")
        hide_own_frames(exc)
        raise
    finally:
        if token is not None:
            var.reset(token)


class TracedIterable:
    """The response iterable the server gets: passes chunks through, records them."""

    __slots__ = ("_chunks", "trace")

    def __init__(self, trace: RequestTrace, app_iter: t.Iterable[bytes]) -> None:
        self.trace = trace
        self._chunks: t.Iterator[bytes] | None = None

    def __iter__(self) -> t.Iterator[bytes]:
        # One generator per response, however often iter() is called.
        if self._chunks is None:
            # Not a method: the generator must not hold the iterable, or the
            # pair would form a cycle that only the cyclic GC frees.
            self._chunks = _generate(self.trace)
        return self._chunks

    def __next__(self) -> bytes:
        return next(iter(self))

    def close(self) -> None:
        """Close the app's iterable (once) and end the trace."""
        trace = self.trace
        if not trace.closed:
            trace.close_app(getattr(trace.app_iter, "close", None))

    def mark_truncated(self) -> None:
        """Say the consumer stopped reading at the cap (an endless body)."""
        self.trace.truncated = True

    def __del__(self) -> None:
        # A server that never calls close() (against PEP 3333) must not keep
        # the instrumentation installed forever: end the trace without
        # closing the app's iterable (its own finaliser does that).
        trace = getattr(self, "trace", None)
        if trace is not None and not trace.finished:
            with contextlib.suppress(Exception):
                trace.finish()


class SizedTracedIterable(TracedIterable):
    """A :class:`TracedIterable` for an app iterable that has ``len()``."""

    __slots__ = ()

    def __len__(self) -> int:
        return len(self.trace.app_iter)
