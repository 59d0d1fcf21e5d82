"""Building the ``wsgiscope.trace/1`` record of a finished request.

The record is a JSON-ready ``dict`` (only str, int, float, bool, None, list
and dict), secrets redacted unless the middleware was told otherwise. Its
fields are documented in ``docs/changes/trace-core.md`` and DESIGN.md.
"""

from __future__ import annotations

import base64
import datetime
import itertools
import os
import secrets
import typing as t

from wsgiscope.outcome import judge
from wsgiscope.redact import REDACTED, Redactor, as_text, is_secret_field
from wsgiscope.tracing.events import (
    HookCall,
    describe_exception,
    exception_message,
    format_traceback,
)
from wsgiscope.wsgistr import decoded_if_different

if t.TYPE_CHECKING:
    from wsgiscope.tracing.middleware import RequestTrace

#: The record format this module writes.
FORMAT = "wsgiscope.trace/1"

_prefix = secrets.token_hex(4)
_counter = itertools.count(1)


def _new_prefix() -> None:
    global _prefix, _counter
    _prefix = secrets.token_hex(4)
    _counter = itertools.count(1)


if hasattr(os, "register_at_fork"):
    # Forked workers (gunicorn) must not hand out their parent's ids.
    os.register_at_fork(after_in_child=_new_prefix)


def new_id() -> str:
    """A request id unique across processes: a per-process prefix and a counter."""
    return f"{_prefix}-{next(_counter):06x}"


_fromtimestamp = datetime.datetime.fromtimestamp
_UTC = datetime.timezone.utc
#: ``(whole second, "YYYY-MM-DDTHH:MM:SS")`` of the last timestamp formatted.
_last_second: tuple[int, str] = (-1, "")


def format_started(timestamp: float) -> str:
    """``timestamp`` (seconds since the epoch) as ISO 8601 UTC with microseconds,
    ``"2026-11-25T09:48:04.261743Z"``.

    The same text as ``datetime.fromtimestamp(timestamp, timezone.utc)
    .isoformat(timespec="microseconds").replace("+00:00", "Z")``, which costs
    three times as much: requests in the same second share the date and
    time part. Only a timestamp whose microseconds are not 0 uses it: then
    ``fromtimestamp`` did not round up into the next second, so that second
    is ``int(timestamp)`` (for timestamps from 1970 on).
    """
    global _last_second
    moment = _fromtimestamp(timestamp, _UTC)
    micro = moment.microsecond
    if micro and timestamp >= 0:
        second, prefix = _last_second
        whole = int(timestamp)
        if whole == second:
            return f"{prefix}.{micro:06d}Z"
        text = moment.isoformat(timespec="microseconds").replace("+00:00", "Z")
        _last_second = (whole, text[:19])  # one tuple: threads see old or new
        return text
    return moment.isoformat(timespec="microseconds").replace("+00:00", "Z")


def status_code(status: t.Any) -> int | None:
    """The integer code of a WSGI status line (``"404 NOT FOUND"`` -> 404)."""
    if not isinstance(status, str):
        return None
    code = str.__str__(status)[:3]
    return int(code) if code.isascii() and code.isdigit() else None


def is_error(trace: RequestTrace) -> bool:
    """Whether the request raised (:mod:`wsgiscope.outcome`'s definition,
    the one ``tail --errors`` applies), answered 5xx or a teardown saw an
    exception."""
    code = status_code(trace.status)
    if code is not None and code >= 500:
        return True
    hooks = (
        ("hook", row[4][0], None, row[4][5], row[4][6])
        for row in trace.rec.rows
        if row[0] is HookCall
    )
    return judge(trace.error or trace.rec.app_error, hooks, describe_exception) is not None


def body_preview(data: bytes) -> tuple[str, str]:
    """``(text, encoding)``: UTF-8 text when it decodes, else base64."""
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError as exc:
        # A multi-byte character cut by the cap still counts as text.
        if exc.start >= len(data) - 3 and exc.reason == "unexpected end of data":
            return data[: exc.start].decode("utf-8"), "utf-8"
        return base64.b64encode(data).decode("ascii"), "base64"


def chunk_bytes(chunk: t.Any) -> bytes:
    """A body chunk as the bytes to show: bytes-like ones as they are, a str
    UTF-8 encoded (not allowed by PEP 3333, but shown rather than hidden),
    anything else (an int, ``None``) nothing."""
    if type(chunk) is bytes:
        return chunk
    try:
        if isinstance(chunk, (bytes, bytearray, memoryview)):
            return bytes(chunk)
        if isinstance(chunk, str):
            return str.__str__(chunk).encode("utf-8", "backslashreplace")
    except Exception:  # a subclass whose buffer or __str__ raises
        pass
    return b""


def _preview_bytes(trace: RequestTrace) -> bytes:
    preview = trace.preview
    if len(preview) == 1 and type(preview[0]) is bytes:
        return preview[0][: trace.mw.max_body]  # one chunk (jsonify, most views)
    return b"".join(map(chunk_bytes, preview))[: trace.mw.max_body]


def _hidden_binary(trace: RequestTrace, data: bytes, redactor: Redactor) -> str | None:
    """What replaces a binary response preview (``data``) that holds a secret
    (a gzip body, a form with a byte that is not UTF-8), else ``None``."""
    content_type = content_encoding = None
    headers = trace.headers
    for item in headers if isinstance(headers, list) else ():
        if type(item) is tuple and len(item) == 2 and type(item[0]) is str:
            name = item[0].lower()
            if name == "content-type":
                content_type = item[1]
            elif name == "content-encoding":
                content_encoding = item[1]
    return redactor.binary_body(data, content_type, content_encoding)


def _error(trace: RequestTrace) -> dict[str, t.Any] | None:
    exc = trace.error
    propagated = exc is not None
    if exc is None:
        exc = trace.rec.app_error
    if exc is None:
        return None
    return {
        "type": type(exc).__qualname__,
        "message": exception_message(exc),
        "traceback": format_traceback(exc),
        "propagated": propagated,
    }


def _request(environ: t.Mapping[str, t.Any], redactor: Redactor) -> dict[str, t.Any]:
    host = environ.get("HTTP_HOST")
    if not host:
        name = environ.get("SERVER_NAME", "")
        port = environ.get("SERVER_PORT", "")
        host = f"{name}:{port}" if port else name
    request = {
        "method": environ.get("REQUEST_METHOD", ""),
        "path": environ.get("PATH_INFO", ""),
        "query_string": redactor.query(str(environ.get("QUERY_STRING", ""))),
        "script_name": environ.get("SCRIPT_NAME", ""),
        "scheme": environ.get("wsgi.url_scheme", ""),
        "host": host,
    }
    # The WSGI strings above are latin-1 decoded bytes: where the framework
    # reads other text from them (non-ASCII paths), that text too. ASCII
    # strings without a percent escape in the query (nearly every request)
    # read the same decoded: nothing to add, and no need to decode them.
    path, script, query = request["path"], request["script_name"], request["query_string"]
    if (
        type(path) is str
        and type(script) is str
        and type(query) is str
        and path.isascii()
        and script.isascii()
        and query.isascii()
        and "%" not in query
    ):
        return request
    try:
        decoded = decoded_if_different(request)
    except Exception:  # a hostile PATH_INFO object: the record keeps what it has
        decoded = None
    if decoded is not None:
        request["decoded"] = decoded
    return request


def _request_body(trace: RequestTrace, redactor: Redactor) -> dict[str, t.Any]:
    """The request body the app read (a request with a body only)."""
    tee = trace.input_tee
    assert tee is not None
    text, encoding = body_preview(tee.body)
    if encoding == "utf-8":
        text = redactor.body(text, trace.environ.get("CONTENT_TYPE"))
    elif not redactor.show_secrets:
        environ = trace.environ
        hidden = redactor.binary_body(
            tee.body, environ.get("CONTENT_TYPE"), environ.get("HTTP_CONTENT_ENCODING")
        )
        if hidden is not None:
            text, encoding = hidden, "utf-8"
    return {
        "body": text,
        "body_encoding": encoding,
        "body_bytes": tee.size,
        "body_truncated": tee.truncated,
    }


def _events(trace: RequestTrace, redactor: Redactor) -> list[dict[str, t.Any]]:
    # Milliseconds to 3 decimals as int(...) / 1000: round(x, 3) is correctly
    # rounded through a decimal conversion and costs 3x as much, per event.
    # Rows come full, (cls, t, depth, parent, values, seq), or as leaf rows,
    # (cls, t, (depth, parent), *values) (see recorder.full_row), read here
    # as they are rather than made full first.
    t0 = trace.rec.t0
    events: list[dict[str, t.Any]] = []
    append = events.append
    for seq, row in enumerate(trace.rec.rows):
        cls, when, depth = row[0], row[1], row[2]
        if type(depth) is tuple:
            depth, parent = depth
            values = row[3:]
        else:
            parent, values = row[3], row[4]
        append(
            cls.to_record(seq, int((when - t0) * 1e6 + 0.5) / 1000, depth, parent, values, redactor)
        )
    return events


#: Redactors hold no state but their setting: one of each serves every record.
_REDACTING = Redactor(show_secrets=False)
_SHOWING = Redactor(show_secrets=True)


def build_record(trace: RequestTrace) -> dict[str, t.Any]:
    """The ``wsgiscope.trace/1`` record of a finished request."""
    mw = trace.mw
    rec = trace.rec
    redactor = _REDACTING if mw.redact else _SHOWING
    environ = trace.environ
    ended = trace.ended if trace.ended is not None else rec.clock()
    data = _preview_bytes(trace)
    preview, encoding = body_preview(data)
    if mw.redact and trace.headers is not None:
        if encoding == "utf-8":
            preview = redactor.response_body(preview, trace.headers)
        else:
            hidden = _hidden_binary(trace, data, redactor)
            if hidden is not None:
                preview, encoding = hidden, "utf-8"
    status = trace.status
    pid, thread, thread_ident, greenlet = trace.worker
    record: dict[str, t.Any] = {
        "format": FORMAT,
        "id": new_id(),
        "started": format_started(trace.started),
        "duration_ms": int((ended - rec.t0) * 1e6 + 0.5) / 1000,
        "app": mw.app_name,
        "request": _request(environ, redactor)
        if trace.input_tee is None
        else {**_request(environ, redactor), **_request_body(trace, redactor)},
        "environ": redactor.environ(environ),
        "events": _events(trace, redactor),
        "response": {
            "status": None if status is None else as_text(status),
            "status_code": status_code(status),
            "headers": [] if trace.headers is None else redactor.headers(trace.headers),
            "body_bytes": trace.body_bytes,
            "chunks": trace.chunks,
            "body_preview": preview,
            "body_encoding": encoding,
            "truncated": trace.truncated,
            "file_wrapper": trace.file_wrapper,
            "closed": trace.closed,
        },
        "error": _error(trace),
        "lint": trace.lint,
        "worker": {
            "pid": pid,
            "thread": thread.name,
            "thread_ident": thread_ident,
            "greenlet": greenlet,
        },
    }
    if rec.dropped:
        record["dropped_events"] = rec.dropped
    if rec.captured is not None:
        from wsgiscope.capture import record_fields

        record.update(record_fields(rec, record["events"]))
    if mw.trigger is not None:
        mw.trigger.scrub(record)  # the trigger's secret stays out of the record
    if "HTTP_TRACEPARENT" in environ:
        from wsgiscope.tracing.trigger import trace_context

        parent = trace_context(environ)
        if parent is not None:
            record["traceparent"] = parent
    if mw.redact:
        _hide_secret_route_values(trace, record)
    return record


def _hide_secret_route_values(trace: RequestTrace, record: dict[str, t.Any]) -> None:
    """A route argument named like a secret (``/reset/<token>``) is redacted
    in ``view_args``; its value is hidden in the request path too."""
    values = []
    for row in trace.rec.rows:
        if row[0] is HookCall and type(row[2]) is not tuple:
            view_args = row[4][4]
            if view_args:
                values += [
                    v
                    for k, v in view_args.items()
                    if type(v) is str and len(v) >= 3 and is_secret_field(as_text(k))
                ]
    if not values:
        return
    holders = [(record["request"], "path")]
    holders += [(record["environ"], key) for key in ("PATH_INFO", "REQUEST_URI", "RAW_URI")]
    holders += [(event, "path") for event in record["events"] if "path" in event]
    for holder, key in holders:
        text = holder.get(key)
        if isinstance(text, str):
            for value in values:
                text = text.replace(value, REDACTED)
            holder[key] = text


def degraded_record(trace: RequestTrace, failure: BaseException) -> dict[str, t.Any]:
    """The record of a request whose :func:`build_record` failed (an app value
    nested too deep, a ``__str__`` that raises, no memory left): every part
    that can still be built is, each one that cannot is left at an empty
    value and named in ``capture_errors`` (``[{"field", "error"}]``).

    Slower than :func:`build_record` (each part is guarded), and only taken
    when that failed; never raises.
    """
    errors: list[dict[str, str]] = []

    def part(name: str, build: t.Callable[[], t.Any], fallback: t.Any) -> t.Any:
        try:
            return build()
        except Exception as exc:
            errors.append({"field": name, "error": _failure_text(exc)})
            return fallback

    mw = trace.mw
    redactor = _REDACTING if mw.redact else _SHOWING
    environ = trace.environ
    rec = trace.rec
    ended = trace.ended if trace.ended is not None else rec.clock()

    def preview() -> tuple[str, str]:
        text, encoding = body_preview(_preview_bytes(trace))
        if encoding == "utf-8" and mw.redact and trace.headers is not None:
            text = redactor.response_body(text, trace.headers)
        return text, encoding

    def request() -> dict[str, t.Any]:
        fields = _request(environ, redactor)
        if trace.input_tee is not None:
            fields.update(part("request.body", lambda: _request_body(trace, redactor), {}))
        return fields

    def events() -> list[dict[str, t.Any]]:
        out: list[dict[str, t.Any]] = []
        t0 = rec.t0
        for seq, row in enumerate(rec.rows):
            cls, when, depth = row[0], row[1], row[2]
            if type(depth) is tuple:
                depth, parent = depth
                values = row[3:]
            else:
                parent, values = row[3], row[4]
            t_ms = int((when - t0) * 1e6 + 0.5) / 1000
            out.append(
                part(
                    f"events[{seq}]",
                    lambda: cls.to_record(seq, t_ms, depth, parent, values, redactor),  # noqa: B023
                    {"seq": seq, "t_ms": t_ms, "kind": cls.kind, "depth": depth, "parent": parent},
                )
            )
        return out

    status = trace.status
    text, encoding = part("response.body_preview", preview, ("", "utf-8"))
    worker = part("worker", lambda: trace.worker, (_pid_now(), None, trace.thread_ident, None))
    record: dict[str, t.Any] = {
        "format": FORMAT,
        "id": new_id(),
        "started": part("started", lambda: format_started(trace.started), ""),
        "duration_ms": int((ended - rec.t0) * 1e6 + 0.5) / 1000,
        "app": part("app", lambda: as_text(mw.app_name), ""),
        "request": part(
            "request",
            request,
            {
                "method": "",
                "path": "",
                "query_string": "",
                "script_name": "",
                "scheme": "",
                "host": "",
            },
        ),
        "environ": part("environ", lambda: redactor.environ(environ), {}),
        "events": part("events", events, []),
        "response": {
            "status": part(
                "response.status", lambda: None if status is None else as_text(status), None
            ),
            "status_code": part("response.status_code", lambda: status_code(status), None),
            "headers": part(
                "response.headers",
                lambda: [] if trace.headers is None else redactor.headers(trace.headers),
                [],
            ),
            "body_bytes": trace.body_bytes,
            "chunks": trace.chunks,
            "body_preview": text,
            "body_encoding": encoding,
            "truncated": trace.truncated,
            "file_wrapper": trace.file_wrapper,
            "closed": trace.closed,
        },
        "error": part("error", lambda: _error(trace), None),
        "lint": part("lint", lambda: list(trace.lint), []),
        "worker": {
            "pid": worker[0],
            "thread": part("worker.thread", lambda: as_text(worker[1].name), ""),
            "thread_ident": worker[2],
            "greenlet": worker[3],
        },
    }
    if rec.dropped:
        record["dropped_events"] = rec.dropped
    if not errors:  # every part built on its own: the failure was in between
        errors.append({"field": "record", "error": _failure_text(failure)})
    record["capture_errors"] = errors
    return record


def _failure_text(exc: BaseException) -> str:
    name = type(exc).__qualname__
    try:
        message = str(exc)
    except Exception:
        message = ""
    message = message if type(message) is str else ""
    return f"{name}: {message[:200]}" if message else name


def _pid_now() -> int:
    return os.getpid()
