"""TraceMiddleware is transparent (PEP 3333) and records plain WSGI apps."""

from __future__ import annotations

import base64
import io
import threading
import typing as t
import wsgiref.util
import wsgiref.validate

import pytest
from werkzeug.middleware.dispatcher import DispatcherMiddleware

from tests.apps import trace_plain as plain
from tests.tracing_fixtures import environ, merged_flask, trace
from wsgiscope import TraceMiddleware
from wsgiscope.tracing import instrument

pytestmark = pytest.mark.flask  # also run under the next Flask (.ci/run)


class Server:
    """A minimal in-process server: start_response, write and a body list."""

    def __init__(self) -> None:
        self.status: str | None = None
        self.headers: list[tuple[str, str]] = []
        self.body: list[bytes] = []
        self.sent = False

    def start_response(self, status: str, headers: list[t.Any], exc_info: t.Any = None) -> t.Any:
        if exc_info is not None and self.sent:
            raise exc_info[1].with_traceback(exc_info[2])
        self.status, self.headers = status, headers
        return self.write

    def write(self, data: bytes) -> None:
        self.sent = True
        self.body.append(data)

    def run(self, app: t.Any, env: dict[str, t.Any] | None = None) -> bytes:
        env = environ() if env is None else env
        result = app(env, self.start_response)
        try:
            for chunk in result:
                self.sent = True
                self.body.append(chunk)
        finally:
            if hasattr(result, "close"):
                result.close()
        return b"".join(self.body)


_made: list[TraceMiddleware] = []


@pytest.fixture(autouse=True)
def _close_middlewares() -> t.Iterator[None]:
    yield
    while _made:
        _made.pop().close()
    assert not instrument.active(), "a test left the instrumentation installed"


def traced(app: t.Any, **kwargs: t.Any) -> tuple[TraceMiddleware, list[dict[str, t.Any]]]:
    records: list[dict[str, t.Any]] = []
    mw = TraceMiddleware(app, records.append, **kwargs)
    _made.append(mw)
    return mw, records


def test_plain_app_record() -> None:
    mw, records = traced(plain.hello)
    with mw:
        body = Server().run(mw, environ("/x", query_string="a=1&password=hunter2"))
    assert body == b"hello"
    (record,) = records
    assert record["format"] == "wsgiscope.trace/1"
    assert record["request"] == {
        "method": "GET",
        "path": "/x",
        "query_string": "a=1&password=[redacted]",
        "script_name": "",
        "scheme": "http",
        "host": "localhost",
    }
    assert record["environ"]["QUERY_STRING"] == "a=1&password=[redacted]"
    assert record["environ"]["wsgi.input"].startswith("<")
    assert all(isinstance(v, str) for v in record["environ"].values())
    assert [e["kind"] for e in record["events"]] == ["start_response", "body", "close"]
    assert record["response"]["status"] == "200 OK"
    assert record["response"]["headers"] == [
        ["Content-Type", "text/plain"],
        ["Content-Length", "5"],
    ]
    assert record["response"]["body_bytes"] == 5
    assert record["error"] is None
    assert record["lint"] == []
    worker = record["worker"]
    assert worker["thread"] == threading.current_thread().name
    assert worker["thread_ident"] == threading.get_ident()
    assert isinstance(worker["pid"], int)
    assert record["duration_ms"] >= 0


def test_streaming_stays_lazy() -> None:
    app = plain.Streaming()
    mw, records = traced(app)
    result = mw(environ(), Server().start_response)
    assert app.produced == 0
    assert next(iter(result)) == b"chunk1\n"
    assert app.produced == 1
    assert records == []
    assert list(result) == [b"chunk2\n", b"chunk3\n"]
    assert records == []  # the trace ends at close(), not when the body ends
    result.close()
    assert app.closes == 1
    assert len(records) == 1
    assert [e["size"] for e in records[0]["events"] if e["kind"] == "body"] == [7, 7, 7]


def test_first_chunk_reaches_a_real_server_before_the_generator_finishes() -> None:
    httpx = pytest.importorskip("httpx")
    from werkzeug.serving import make_server

    release = threading.Event()

    def slow(env: dict[str, t.Any], start_response: t.Any) -> t.Any:
        start_response("200 OK", [("Content-Type", "text/plain")])
        yield b"first\n"
        release.wait(10)
        yield b"second\n"

    mw, records = traced(slow)
    server = make_server("127.0.0.1", 0, mw, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_port}/"
        with httpx.stream("GET", url, timeout=10) as response:
            chunks = response.iter_raw()
            assert next(chunks).startswith(b"first")
            assert not release.is_set()
            release.set()
            rest = b"".join(chunks)
        assert rest.endswith(b"second\n")
    finally:
        release.set()
        server.shutdown()
        thread.join(5)
        mw.close()
    assert records
    assert records[0]["response"]["body_bytes"] == 13


def test_close_called_exactly_once_when_iteration_raises() -> None:
    app = plain.FailingBody()
    mw, records = traced(app)
    result = mw(environ(), Server().start_response)
    with pytest.raises(ValueError, match="broken body"):
        for _ in result:
            pass
    result.close()
    result.close()
    assert app.closes == 1
    (record,) = records
    assert record["error"]["type"] == "ValueError"
    assert record["error"]["propagated"] is True
    assert [e["kind"] for e in record["events"]] == ["start_response", "body", "exception", "close"]
    assert record["events"][2]["where"] == "iter"


def test_write_callable_keeps_working() -> None:
    mw, records = traced(plain.writer)
    server = Server()
    assert server.run(mw) == b"written returned"
    (record,) = records
    assert [e.get("source") for e in record["events"] if e["kind"] == "body"] == ["write", "iter"]
    assert record["response"]["body_bytes"] == 16


def test_file_wrapper_keeps_working() -> None:
    mw, records = traced(plain.file_app)
    env = environ()
    env["wsgi.file_wrapper"] = wsgiref.util.FileWrapper
    assert Server().run(mw, env) == b"0123456789" * 10
    response = records[0]["response"]
    assert response["file_wrapper"] is True
    # the server's own object reaches it (its sendfile path): the size and
    # the start of the file are read without iterating it
    assert (response["chunks"], response["body_bytes"]) == (0, 100)
    assert response["body_preview"] == "0123456789" * 10
    assert response["closed"] is True


def test_exc_info_replaces_an_unsent_response() -> None:
    mw, records = traced(plain.error_after_start)
    server = Server()
    assert server.run(mw) == b"error"
    assert server.status == "500 Internal Server Error"
    starts = [e for e in records[0]["events"] if e["kind"] == "start_response"]
    assert [e["exc_info"] for e in starts] == [None, "KeyError: 'missing'"]


def test_exc_info_reraise_reaches_the_app_caller() -> None:
    server = Server()
    server.sent = True  # headers already went out: the server must re-raise
    mw, records = traced(plain.error_after_start)
    with pytest.raises(KeyError, match="missing"):
        mw(environ(), server.start_response)
    (record,) = records
    assert record["error"]["type"] == "KeyError"
    assert [e.get("where") for e in record["events"] if e["kind"] == "exception"] == [
        "start_response",
        "call",
    ]


def test_exception_from_the_app_call_propagates_unchanged() -> None:
    mw, records = traced(plain.raising)
    with pytest.raises(LookupError, match="no such thing") as info:
        mw(environ(), Server().start_response)
    assert "wsgiscope" not in info.traceback[-1].path.name
    assert records[0]["error"]["message"] == "no such thing"
    assert records[0]["response"]["status"] is None


def test_len_of_a_list_response_is_kept() -> None:
    mw, _ = traced(plain.hello)
    result = mw(environ(), Server().start_response)
    assert len(result) == 1  # type: ignore[arg-type]
    result.close()  # type: ignore[attr-defined]
    assert not hasattr(traced(plain.Streaming())[0](environ(), Server().start_response), "__len__")


@pytest.mark.parametrize(
    "app",
    [plain.hello, plain.writer, plain.Streaming(), plain.file_app, plain.error_after_start],
    ids=["hello", "writer", "streaming", "file_wrapper", "exc_info"],
)
def test_wsgiref_validator_outside_and_inside_finds_nothing_new(app: t.Any) -> None:
    def run(wrapped: t.Any) -> bytes:
        env = environ()
        env["wsgi.file_wrapper"] = wsgiref.util.FileWrapper
        return Server().run(wrapped, env)

    baseline = run(wsgiref.validate.validator(app))
    mw, records = traced(wsgiref.validate.validator(app))
    # filterwarnings=error turns any validator warning into a failure.
    assert run(wsgiref.validate.validator(mw)) == baseline
    assert len(records) == 1


def test_flask_app_under_validator() -> None:
    from tests.apps.trace_flask_lifecycle import app

    mw, records = traced(wsgiref.validate.validator(app))
    body = Server().run(wsgiref.validate.validator(mw), environ("/stream"))
    assert body == b"a/streamc"
    assert records[0]["response"]["status_code"] == 200


def test_endless_body_is_capped_in_the_record_only() -> None:
    def endless(env: dict[str, t.Any], start_response: t.Any) -> t.Any:
        start_response("200 OK", [("Content-Type", "application/octet-stream")])
        while True:
            yield b"\xff" * 1000

    mw, records = traced(endless, max_body=2500)
    result = mw(environ(), Server().start_response)
    received = 0
    for chunk in result:
        received += len(chunk)
        if received >= 20_000:
            break
    result.close()
    assert received == 20_000
    response = records[0]["response"]
    assert response["body_bytes"] == 20_000
    assert response["truncated"] is True
    assert response["body_encoding"] == "base64"
    assert len(response["body_preview"]) == 4 * ((2500 + 2) // 3)
    assert len([e for e in records[0]["events"] if e["kind"] == "body"]) == 3


def test_run_traced_stops_an_endless_stream_at_the_cap() -> None:
    from tests.apps import trace_flask_lifecycle as lifecycle

    lifecycle.CLOSED.clear()
    result = trace(lifecycle.app, "/endless", max_body=10_000)
    assert lifecycle.CLOSED == ["endless"]
    assert result.record["response"]["truncated"] is True
    assert len(result.body) == 10_000
    assert not instrument.active()


def test_dispatcher_levels_record_what_each_app_saw() -> None:
    from tests.apps.trace_flask_lifecycle import app, second

    nested = DispatcherMiddleware(plain.hello, {"/api": DispatcherMiddleware(app, {"/v2": second})})
    result = trace(nested, "/api/v2/inner")
    dispatches = [e for e in result.record["events"] if e["kind"] == "dispatch"]
    assert [(d["mount"], d["app"], d["script_name"], d["path_info"]) for d in dispatches] == [
        ("/api", "werkzeug.middleware.dispatcher.DispatcherMiddleware", "/api", "/v2/inner"),
        ("/v2", "second", "/api/v2", "/inner"),
    ]
    assert dispatches[1]["changed"]["SCRIPT_NAME"] == "/api/v2"
    assert dispatches[1]["changed"]["PATH_INFO"] == "/inner"
    assert dispatches[1]["removed"] == []
    assert result.record["request"]["path"] == "/api/v2/inner"
    assert result.record["response"]["body_preview"] == "inner"


def test_threads_see_only_their_own_requests() -> None:
    from flask import Flask

    app = Flask("threads")
    barrier = threading.Barrier(2, timeout=10)

    @app.get("/<name>")
    def view(name: str) -> str:
        barrier.wait()  # both requests are inside their view at once
        return name

    mw, records = traced(app)
    bodies: dict[str, bytes] = {}

    def worker(name: str) -> None:
        bodies[name] = Server().run(mw, environ(f"/{name}"))

    threads = [threading.Thread(target=worker, args=(n,), name=f"w-{n}") for n in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    mw.close()
    assert bodies == {"a": b"a", "b": b"b"}
    assert len(records) == 2
    for record in records:
        name = record["request"]["path"].strip("/")
        assert record["worker"]["thread"] == f"w-{name}"
        views = [e for e in record["events"] if e.get("hook") == "view"]
        assert [v["view_args"] for v in views] == [{"name": repr(name)}]
        # (an app and a request context; one merged context on Flask 3.2)
        pushes = 1 if merged_flask() else 2
        assert [e["kind"] for e in record["events"]].count("push") == pushes


def test_sample_and_only_errors() -> None:
    mw, records = traced(plain.hello, sample=0.0)
    Server().run(mw)
    assert records == []
    mw, records = traced(plain.hello, only_errors=True)
    Server().run(mw)
    assert records == []
    mw2, records2 = traced(plain.raising, only_errors=True)
    with pytest.raises(LookupError):
        Server().run(mw2)
    assert len(records2) == 1


def test_checks_fill_the_lint_list() -> None:
    def checks(recorder: t.Any) -> list[dict[str, str]]:
        starts = [e for e in recorder.events() if e.kind == "start_response"]
        message = f"{len(starts)} start_response call(s), {recorder.body_bytes} bytes"
        return [{"rule": "demo", "message": message}]

    mw, records = traced(plain.hello, checks=checks)
    Server().run(mw)
    assert records[0]["lint"] == [{"rule": "demo", "message": "1 start_response call(s), 5 bytes"}]


def test_secret_headers_are_redacted() -> None:
    mw, records = traced(plain.secrets)
    env = environ(headers={"Authorization": "Bearer x", "X-Api-Key": "k", "Accept": "*/*"})
    Server().run(mw, env)
    record = records[0]
    assert record["environ"]["HTTP_AUTHORIZATION"] == "[redacted]"
    assert record["environ"]["HTTP_X_API_KEY"] == "[redacted]"
    assert record["environ"]["HTTP_ACCEPT"] == "*/*"
    assert record["response"]["headers"][1:] == [
        ["Set-Cookie", "[redacted]"],
        ["X-Api-Key", "[redacted]"],
    ]
    mw, records = traced(plain.secrets, redact=False)
    Server().run(mw, env)
    assert records[0]["environ"]["HTTP_AUTHORIZATION"] == "Bearer x"


def test_middleware_releases_instrumentation_on_close() -> None:
    from tests.apps.trace_flask_lifecycle import app

    mw, records = traced(app)
    Server().run(mw)
    assert instrument.active()
    mw.close()
    assert not instrument.active()
    Server().run(mw)
    assert len(records) == 2
    mw.close()
    assert not instrument.active()


def test_middleware_as_context_manager() -> None:
    out = io.StringIO()
    with TraceMiddleware(plain.hello, out) as mw:
        Server().run(mw)
        assert instrument.active()
    assert not instrument.active()
    assert out.getvalue().count("\n") == 1


def test_failing_checks_leave_lint_empty(caplog: pytest.LogCaptureFixture) -> None:
    def checks(recorder: t.Any) -> list[dict[str, str]]:
        raise RuntimeError("checker bug")

    mw, records = traced(plain.hello, checks=checks)
    Server().run(mw)
    Server().run(mw)
    assert [r["lint"] for r in records] == [[], []]
    assert len([r for r in caplog.records if "lint checks failed" in r.getMessage()]) <= 1


def test_a_server_that_never_closes_still_gets_a_record() -> None:
    app = plain.Streaming()
    mw, records = traced(app)
    result = mw(environ(), Server().start_response)
    assert next(iter(result)) == b"chunk1\n"
    del result  # dropped without close(), against PEP 3333
    assert len(records) == 1
    assert records[0]["response"]["closed"] is False
    assert app.closes == 0  # wsgiscope does not close on the server's behalf


def test_only_errors_keeps_a_teardown_exception_and_a_5xx() -> None:
    from tests.apps.trace_flask_lifecycle import app

    mw, records = traced(app, only_errors=True)
    for path in ("/", "/fail", "/missing"):
        Server().run(mw, environ(path))
    assert [r["request"]["path"] for r in records] == ["/fail"]


def test_sample_traces_a_fraction() -> None:
    mw, records = traced(plain.hello, sample=0.5)
    for _ in range(400):
        Server().run(mw)
    assert 100 < len(records) < 300


def test_bad_options_are_refused() -> None:
    with pytest.raises(ValueError, match="sample"):
        TraceMiddleware(plain.hello, sample=2.0)
    with pytest.raises(ValueError, match="max_body"):
        TraceMiddleware(plain.hello, max_body=-1)


def _reads_body(how: str) -> t.Any:
    """A plain app that reads its body with ``how`` and answers with it."""

    def app(env: dict[str, t.Any], start_response: t.Callable[..., t.Any]) -> list[bytes]:
        stream = env["wsgi.input"]
        if how == "read":
            data = stream.read(int(env["CONTENT_LENGTH"]))
        elif how == "readline":
            data = b"".join(iter(lambda: stream.readline(), b""))
        elif how == "readlines":
            data = b"".join(stream.readlines())
        elif how == "iter":
            data = b"".join(stream)
        else:
            data = b""
        start_response("200 OK", [("Content-Type", "application/octet-stream")])
        return [data]

    return app


@pytest.mark.parametrize("how", ["read", "readline", "readlines", "iter"])
def test_request_body_is_recorded_as_the_app_read_it(how: str) -> None:
    payload = b"line one\nline two\n\xff\x00 binary"
    mw, records = traced(_reads_body(how))
    with mw:
        body = Server().run(mw, environ("/upload", method="PUT", data=payload))
    assert body == payload  # the app read every byte through the tee
    request = records[0]["request"]
    assert request["body_encoding"] == "base64"
    assert base64.b64decode(request["body"]) == payload
    assert (request["body_bytes"], request["body_truncated"]) == (len(payload), False)


def test_request_body_through_flask_and_capped() -> None:
    from tests.apps.replay_echo import app as flask_app

    mw, records = traced(flask_app, max_body=10)
    with mw:
        body = Server().run(mw, environ("/notes", method="POST", json={"note": "a long note"}))
    assert b'"note":"a long note"' in body  # Flask read it whole
    request = records[0]["request"]
    assert request["body"] == '{"note": "'
    assert request["body_encoding"] == "utf-8"
    assert request["body_bytes"] == len('{"note": "a long note"}')
    assert request["body_truncated"] is True


def test_request_body_not_read_by_the_app_is_not_read_for_it() -> None:
    mw, records = traced(_reads_body("nothing"))
    env = environ("/", method="POST", data=b"unread")
    with mw:
        Server().run(mw, env)
    assert env["wsgi.input"].read() == b"unread"  # still there for the server to drain
    request = records[0]["request"]
    assert (request["body"], request["body_bytes"]) == ("", 0)
