"""Trace records: orjson encoding like the stdlib's, and built exactly as specified."""

from __future__ import annotations

import datetime
import json
import os
import re
import socket
import sys
import threading
import typing as t

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.apps import trace_flask_lifecycle as lifecycle
from tests.apps import trace_plain as plain
from tests.tracing_fixtures import environ
from wsgiscope import TraceMiddleware, demo
from wsgiscope.redact import (
    REDACTED,
    VALUE_CAP,
    Redactor,
    is_secret_field,
    is_secret_header,
    redact_query,
)
from wsgiscope.render.jsonout import dumps_line
from wsgiscope.tracing.events import (
    KINDS,
    ContextPop,
    Dispatch,
    Event,
    ExceptionRaised,
    HookCall,
    SignalSent,
    StartResponse,
    format_traceback,
    function_name,
)
from wsgiscope.tracing.middleware import RequestTrace
from wsgiscope.tracing.record import build_record, format_started
from wsgiscope.tracing.sinks import JsonLinesFile, encode_record

pytestmark = pytest.mark.flask  # also run under the next Flask (.ci/run)


def stdlib_line(record: t.Any) -> bytes:
    """How the sinks encoded a record before orjson."""
    return (dumps_line(record) + "\n").encode("ascii")


def check_same(record: t.Any) -> bytes:
    data = encode_record(record)
    assert isinstance(data, bytes)
    assert data.isascii()
    assert data.endswith(b"\n")
    assert data.count(b"\n") == 1  # one line: newlines inside strings are escaped
    assert json.loads(data) == json.loads(stdlib_line(record))
    return data


# Any text, lone surrogates and control characters included.
any_text = st.text(st.characters(exclude_categories=()), max_size=30)
scalars = (
    st.none()
    | st.booleans()
    | st.integers()  # beyond 64 bits too
    | st.floats(allow_nan=False, allow_infinity=False)
    | any_text
)
keys = any_text | st.integers() | st.booleans() | st.none()
values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=5)
        | st.lists(children, max_size=5).map(tuple)
        | st.dictionaries(any_text, children, max_size=5)
        | st.dictionaries(keys, children, max_size=5)
    ),
    max_leaves=40,
)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(any_text, values, max_size=8))
def test_any_record_encodes_like_the_stdlib(record: dict[str, t.Any]) -> None:
    check_same(record)


@pytest.mark.parametrize(
    "record",
    [
        {"text": "caf\u00e9 \u65e5\u672c \U0001f600"},
        {"esc": "\x1b[31mred\x1b[0m", "nul": "\x00", "del": "\x7f"},
        {"c1": "\x9b31m", "nel": "\x85"},
        {"surrogate": "\udc80"},
        {"big": 2**64, "small": -(2**63) - 1, "edge": [2**63, 2**64 - 1, -(2**63)]},
        {"huge": 10**100},
        {"tuple": (1, "a", (2, None))},
        {"set": {3}, "frozenset": frozenset({"x"})},
        {2: "int key", None: "none key", True: "bool key", 2.5: "float key"},
        {"nested": {"keys": {7: [1, 2]}}},
        {"bytes": b"\x00\xff", "object": object.__new__(type("Odd", (), {}))},
        {"floats": [0.1, 1e16, -0.0, 5e-324, 1.7976931348623157e308]},
        {"deep": json.loads("[" * 300 + "]" * 300)},
        {"newline": "a\nb\r\nc\u2028d\u2029"},
    ],
    ids=lambda record: ",".join(str(key) for key in record),
)
def test_odd_records_encode_like_the_stdlib(record: dict[t.Any, t.Any]) -> None:
    data = check_same(record)
    assert b"\x1b" not in data
    assert b"\x9b" not in data


def test_subclasses_take_the_stdlib_path() -> None:
    class Name(str):
        pass

    class Count(int):
        def __repr__(self) -> str:
            return "Count!"

    record = {"name": Name("x"), "count": Count(3), "list": [Name("y")]}
    assert encode_record(record) == stdlib_line(record)


def test_plain_ascii_records_take_the_orjson_path() -> None:
    # Guards the speed-up itself: a built record must not fall back.
    record = {"format": "wsgiscope.trace/1", "t_ms": 0.125, "events": [{"seq": 0}], "x": None}
    assert encode_record(record) == orjson.dumps(record) + b"\n"


def test_file_sink_writes_ascii_lines(tmp_path: t.Any) -> None:
    target = tmp_path / "records.jsonl"
    sink = JsonLinesFile(target)
    records = [{"path": "/caf\u00e9", "csi": "\x9b"}, {"path": "/plain", "n": 2**70}, {"ok": 1}]
    for record in records:
        sink(record)
    sink.close()
    data = target.read_bytes()
    assert data.isascii()
    assert [json.loads(line) for line in data.splitlines()] == [
        {"path": "/caf\u00e9", "csi": "\x9b"},
        {"path": "/plain", "n": 2**70},
        {"ok": 1},
    ]


# --- build_record: the record is exactly what a plain reading of the format gives


def ref_cap(value: t.Any) -> str:
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= VALUE_CAP else f"{text[:VALUE_CAP]}... [{len(text)} chars]"


def ref_uri(uri: str) -> str:
    path, sep, query = uri.partition("?")
    return f"{path}?{redact_query(query)}" if sep else uri


def ref_environ(environ: t.Mapping[t.Any, t.Any], show: bool) -> dict[str, str]:
    out = {}
    for key, value in environ.items():
        name = key if type(key) is str else repr(key)
        # a str subclass key or value counts by its text
        text_key = str.__str__(key) if isinstance(key, str) else name
        if not isinstance(value, str):
            out[name] = ref_cap(value)
            continue
        value = str.__str__(value)
        if show:
            out[name] = value
        elif text_key.startswith("HTTP_") and is_secret_header(text_key):
            out[name] = REDACTED
        elif text_key == "QUERY_STRING":
            out[name] = redact_query(value)
        elif text_key in ("REQUEST_URI", "RAW_URI"):
            out[name] = ref_uri(value)
        else:
            out[name] = value
    return out


def ref_headers(headers: t.Any, show: bool) -> list[list[str]]:
    try:
        items = list(headers)
    except TypeError:
        return [[ref_cap(headers), ""]]
    out = []
    for item in items:
        try:
            name, value = item
        except (TypeError, ValueError):
            out.append([ref_cap(item), ""])
            continue
        name = name if isinstance(name, str) else repr(name)
        value = value if isinstance(value, str) else repr(value)
        if not show and is_secret_header(name):
            value = REDACTED
        elif not show and name.lower() in ("location", "content-location", "refresh", "link"):
            value = ref_uri(value)
        out.append([name, value])
    return out


def ref_exception(exc: BaseException | None) -> str | None:
    if exc is None:
        return None
    return f"{type(exc).__qualname__}: {exc}" if str(exc) else type(exc).__qualname__


def ref_ms(seconds: float) -> float:
    # Not round(x * 1000, 3): that differs in the last digit now and then.
    return int(seconds * 1e6 + 0.5) / 1000


def ref_event(event: Event, show: bool) -> dict[str, t.Any]:
    out: dict[str, t.Any] = {
        "seq": event.seq,
        "t_ms": event.t_ms,
        "kind": event.kind,
        "depth": event.depth,
        "parent": event.parent,
    }
    fields = {name: getattr(event, name) for name in event.FIELDS}
    if isinstance(event, ContextPop):
        # g and session hold previews made while the request was alive
        # (capped reprs); the record only redacts them.
        g, g_after, session = fields["g"], fields["g_after"], fields["session"]
        if g is not None:
            g = {k: REDACTED if not show and is_secret_field(k) else v for k, v in g.items()}
        if g_after is not None:
            g_after = {
                k: REDACTED if not show and is_secret_field(k) else v for k, v in g_after.items()
            }
        if session is not None:
            session = {k: v if show else REDACTED for k, v in session.items()}
        fields.update(g=g, g_after=g_after, session=session)
    elif isinstance(event, HookCall):
        view_args = fields["view_args"]
        fields.update(
            function=function_name(fields["function"]),
            view_args=None
            if view_args is None
            else {str(k): ref_cap(repr(v)) for k, v in view_args.items()},
            exception=ref_exception(fields["exception"]),
            raised=ref_exception(fields["raised"]),
        )
        duration = fields.pop("duration")
        fields["duration_ms"] = None if duration is None else ref_ms(duration)
    elif isinstance(event, SignalSent):
        fields["exception"] = ref_exception(fields["exception"])
    elif isinstance(event, Dispatch):
        fields["changed"] = ref_environ(fields["changed"], show)
        fields["removed"] = [str(key) for key in fields["removed"]]
    elif isinstance(event, StartResponse):
        status = fields["status"]
        fields.update(
            status=status if isinstance(status, str) else repr(status),
            headers=ref_headers(fields["headers"], show),
            exc_info=ref_exception(fields["exc_info"]),
        )
    elif isinstance(event, ExceptionRaised):
        exc = fields.pop("exception")
        where = fields.pop("where")
        fields.update(
            type=type(exc).__qualname__,
            message=str(exc),
            traceback=format_traceback(exc),
            where=where,
        )
    out.update(fields)
    return out


def ref_record(trace: RequestTrace) -> dict[str, t.Any]:
    """The record of ``trace`` as the format describes it (``id`` left out)."""
    mw, rec, environ = trace.mw, trace.rec, trace.environ
    show = not mw.redact
    host = environ.get("HTTP_HOST") or (
        f"{environ.get('SERVER_NAME', '')}:{environ['SERVER_PORT']}"
        if environ.get("SERVER_PORT")
        else environ.get("SERVER_NAME", "")
    )
    query = str(environ.get("QUERY_STRING", ""))
    error = trace.error if trace.error is not None else rec.app_error
    preview = b"".join(
        bytes(c) if isinstance(c, (bytes, bytearray, memoryview)) else c.encode()
        for c in trace.preview
    )[: mw.max_body]
    started = datetime.datetime.fromtimestamp(trace.started, datetime.timezone.utc)
    status = trace.status
    greenlet = sys.modules.get("greenlet")
    record = {
        "format": "wsgiscope.trace/1",
        "started": started.isoformat(timespec="microseconds").replace("+00:00", "Z"),
        "duration_ms": ref_ms(trace.ended - rec.t0),
        "app": mw.app_name,
        "request": {
            "method": environ.get("REQUEST_METHOD", ""),
            "path": environ.get("PATH_INFO", ""),
            "query_string": query if show else redact_query(query),
            "script_name": environ.get("SCRIPT_NAME", ""),
            "scheme": environ.get("wsgi.url_scheme", ""),
            "host": host,
        },
        "environ": ref_environ(environ, show),
        "events": [ref_event(event, show) for event in rec.events()],
        "response": {
            "status": status if isinstance(status, str) or status is None else repr(status),
            "status_code": int(status[:3]) if isinstance(status, str) else None,
            "headers": [] if trace.headers is None else ref_headers(trace.headers, show),
            "body_bytes": trace.body_bytes,
            "chunks": trace.chunks,
            "body_preview": preview.decode(),  # these tests' bodies are UTF-8
            "body_encoding": "utf-8",
            "truncated": trace.truncated,
            "file_wrapper": trace.file_wrapper,
            "closed": trace.closed,
        },
        "error": None
        if error is None
        else {
            "type": type(error).__qualname__,
            "message": str(error),
            "traceback": format_traceback(error),
            "propagated": trace.error is not None,
        },
        "lint": trace.lint,
        "worker": {
            "pid": os.getpid(),
            "thread": threading.current_thread().name,
            "thread_ident": threading.get_ident(),
            "greenlet": None if greenlet is None else id(greenlet.getcurrent()),
        },
    }
    if rec.dropped:
        record["dropped_events"] = rec.dropped
    return record


def without_id(record: dict[str, t.Any]) -> dict[str, t.Any]:
    out = dict(record)
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{6,}", out.pop("id"))
    return out


def start_response(
    status: str, headers: list[t.Any], exc_info: t.Any = None
) -> t.Callable[[bytes], None]:
    return lambda data: None


@pytest.fixture
def finished(monkeypatch: pytest.MonkeyPatch) -> list[RequestTrace]:
    """Every RequestTrace that finishes during the test (after its record is built)."""
    traces: list[RequestTrace] = []
    monkeypatch.setattr(RequestTrace, "on_finish", staticmethod(traces.append))
    return traces


def serve(app: t.Any, env: dict[str, t.Any], redact: bool = True) -> None:
    """Play a server: call, read, close; the app raising is part of the case."""
    with TraceMiddleware(app, sink=None, redact=redact, capture=()) as mw:
        try:
            result = mw(env, start_response)
        except LookupError:
            return
        try:
            for _chunk in result:
                pass
        finally:
            result.close()  # type: ignore[attr-defined]


def gunicorn_like(path: str, sock: socket.socket, odd_key: bool) -> dict[t.Any, t.Any]:
    env: dict[t.Any, t.Any] = environ(path, headers=SECRET_HEADERS)
    env.update(
        {
            "SERVER_SOFTWARE": "gunicorn/23.0.0",
            "RAW_URI": path,
            "REMOTE_ADDR": "127.0.0.1",
            "REMOTE_PORT": "51234",
            "gunicorn.socket": sock,
            "wsgi.input_terminated": True,
            "x.none": None,
            "x.int": 10**300,  # a repr longer than the cap
            "x.long": "v" * 500,  # str values are never capped
            "x.bytes": b"\x00\xff",
            "x.set": frozenset({1}),
        }
    )
    if odd_key:  # (werkzeug's request headers fail on it: plain apps only)
        env[("x", 1)] = "a non-str key"
    return env


SECRET_HEADERS = {
    "Authorization": "Basic YWRhOnB3",
    "Cookie": "session=abc",
    "X-Api-Key": "k3y",
    "Accept": "*/*",
    "User-Agent": "test/1.0",
}

#: (name, app factory, path, the status the app answers)
CASES = [
    ("flask /", lifecycle.create_app, "/", 200),
    ("flask hooks", lifecycle.create_app, "/shop/en/item/7?password=pw&q=1", 200),
    ("flask fail", lifecycle.create_app, "/fail", 500),
    ("flask conflict", lifecycle.create_app, "/conflict", 409),
    ("flask redirect", lifecycle.create_app, "/redirect", 200),
    ("flask session", lifecycle.create_app, "/login", 200),
    ("flask stream", lifecycle.create_app, "/stream", 200),
    ("flask chain", lifecycle.create_app, "/chain", 200),
    ("flask 404", lifecycle.create_app, "/missing?token=t", 404),
    ("demo dispatch", lambda: demo.application, "/admin/", 200),
    ("demo redirect", lambda: demo.application, "/old/SKU-1001", 200),
    ("plain secrets", lambda: plain.secrets, "/?api_key=1&x=2", 200),
    ("plain writer", lambda: plain.writer, "/", 200),
    ("plain error_after_start", lambda: plain.error_after_start, "/", 500),
    ("plain raising", lambda: plain.raising, "/", None),
]


@pytest.mark.parametrize("redact", [True, False], ids=["redacted", "show-secrets"])
@pytest.mark.parametrize(("name", "make", "path", "status"), CASES, ids=[c[0] for c in CASES])
def test_build_record_matches_the_reference(
    finished: list[RequestTrace],
    name: str,
    make: t.Callable[[], t.Any],
    path: str,
    status: int | None,
    redact: bool,
) -> None:
    plain_app = name.startswith("plain")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        serve(make(), gunicorn_like(path, sock, odd_key=plain_app), redact=redact)
        assert len(finished) == 1
        trace = finished[0]
        assert trace.record is not None
        assert trace.record["response"]["status_code"] == status
        expected = ref_record(trace)
        # repr: same keys in the same order, same values of the same types
        assert repr(without_id(build_record(trace))) == repr(expected)
        if trace.error is None:
            # (a propagating exception has gained frames since the middleware saw it)
            assert repr(without_id(t.cast(dict, trace.record))) == repr(expected)
    assert trace.record is not None
    assert trace.record["environ"]["x.long"] == "v" * 500
    if plain_app:
        assert trace.record["environ"]["('x', 1)"] == "a non-str key"
    assert trace.record["environ"]["x.int"].endswith("... [301 chars]")
    if redact:
        assert trace.record["environ"]["HTTP_AUTHORIZATION"] == REDACTED
        assert "k3y" not in repr(trace.record)
    else:
        assert trace.record["environ"]["HTTP_COOKIE"] == "session=abc"


def test_reference_sees_the_cases_it_should(finished: list[RequestTrace]) -> None:
    # The cases above are only worth something if they reach every kind.
    kinds: set[str] = set()
    for _name, make, path, _status in CASES:
        finished.clear()
        serve(make(), environ(path, headers=SECRET_HEADERS))
        kinds.update(event["kind"] for event in t.cast(dict, finished[0].record)["events"])
    assert kinds == set(KINDS)


class Text(str):
    """A str subclass: kept as it is where a value is, repr'd where a key is."""


environ_keys = (
    st.sampled_from(
        [
            "HTTP_AUTHORIZATION",
            "HTTP_COOKIE",
            "HTTP_X_API_KEY",
            "HTTP_ACCEPT",
            "HTTP_HOST",
            "QUERY_STRING",
            "REQUEST_URI",
            "RAW_URI",
            "PATH_INFO",
            "wsgi.version",
        ]
    )
    | any_text
    | st.builds(Text, st.sampled_from(["HTTP_COOKIE", "QUERY_STRING", "PATH_INFO"]))
    | st.integers()
    | st.tuples(st.text(max_size=3), st.integers())
)
environ_values = (
    st.sampled_from(["a=1&password=x&q=2", "/p?token=t&x=1", "Basic abc", "", "?"])
    | any_text
    | st.text(max_size=300)
    | st.builds(Text, st.text(max_size=250))
    | st.booleans()
    | st.none()
    | st.integers()
    | st.tuples(st.integers(), st.integers())
    | st.binary(max_size=120)
)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(environ_keys, environ_values, max_size=12), st.booleans())
def test_environ_redaction_matches_the_reference(env: dict[t.Any, t.Any], show: bool) -> None:
    assert repr(Redactor(show_secrets=show).environ(env)) == repr(ref_environ(env, show))


header_names = (
    st.sampled_from(["Set-Cookie", "X-Api-Key", "Location", "LINK", "Content-Type", "Refresh"])
    | any_text
    | st.builds(Text, st.sampled_from(["Set-Cookie", "Location", "Accept"]))
    | st.integers()
)
header_values = environ_values | st.sampled_from(["/next?password=x&page=2", "0; url=/?token=1"])


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.tuples(header_names, header_values)
        | st.tuples(header_names)
        | st.tuples(header_names, header_values, header_values)
        | st.integers()
        | st.none(),
        max_size=8,
    ),
    st.booleans(),
)
def test_header_redaction_matches_the_reference(headers: list[t.Any], show: bool) -> None:
    assert repr(Redactor(show_secrets=show).headers(headers)) == repr(ref_headers(headers, show))


def ref_started(timestamp: float) -> str:
    moment = datetime.datetime.fromtimestamp(timestamp, datetime.timezone.utc)
    return moment.isoformat(timespec="microseconds").replace("+00:00", "Z")


NEAR_SECONDS = [
    1_764_064_084.0,
    1_764_064_084.9999995,
    1_764_064_084.9999996,
    1_764_064_084.9999994,
    1_764_064_085.0000004,
    1_764_064_085.0000005,
    1_764_064_085.5,
    0.0,
    0.0000005,
    0.9999999,
    -0.25,
    -1.0000004,
    253_402_300_799.999,
    7,
]


@settings(max_examples=500, deadline=None)
@given(
    st.lists(
        st.sampled_from(NEAR_SECONDS)
        | st.floats(min_value=-1e9, max_value=2.5e11)
        | st.integers(min_value=0, max_value=2**32)
        | st.floats(min_value=1_764_064_084, max_value=1_764_064_086),
        min_size=1,
        max_size=6,
    )
)
def test_started_is_formatted_like_datetime(timestamps: list[float]) -> None:
    # In sequence: a timestamp is formatted right whatever was formatted before.
    for timestamp in timestamps:
        assert format_started(timestamp) == ref_started(timestamp)
