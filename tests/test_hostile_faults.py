"""Issue #22, points 1-3: the traced app never notices the tracer.

Deeply nested JSON bodies (either way), app exceptions whose ``__str__``
raises and a server's ``wsgi.file_wrapper`` go through ``TraceMiddleware``
exactly as without it; a record that cannot be built whole is degraded
(``capture_errors``) and counted, never the request's problem."""

from __future__ import annotations

import http.client
import io
import sys
import threading
import typing as t
import wsgiref.simple_server
import wsgiref.util

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st
from werkzeug.test import Client

from tests.conftest import APPS
from wsgiscope import TraceMiddleware
from wsgiscope.cli import cli
from wsgiscope.render.console import make_console
from wsgiscope.render.trace import RenderOptions, render_trace

sys.path.insert(0, str(APPS))
import hostile_flask

budget = settings(max_examples=40, deadline=None)


def _client(records: list[dict[str, t.Any]], **kwargs: t.Any) -> Client:
    return Client(TraceMiddleware(hostile_flask.app, sink=records.append, **kwargs))


def _render(record: dict[str, t.Any]) -> str:
    console = make_console(stream=io.StringIO(), width=100)
    with console.capture() as captured:
        console.print(render_trace(record, RenderOptions()))
    return captured.get()


@budget
@given(
    depth=st.integers(1, 4000),
    key=st.sampled_from(["password", "api_token", "plain"]),
    opener=st.sampled_from(["{", "["]),
)
def test_deep_json_either_way_is_traced_and_redacted(depth: int, key: str, opener: str) -> None:
    if opener == "{":
        body = f'{{"{key}": ' * depth + '"s3cr3t-value"' + "}" * depth
    else:
        body = "[" * depth + f'{{"{key}": "s3cr3t-value"}}' + "]" * depth
    records: list[dict[str, t.Any]] = []
    client = _client(records)
    response = client.post(
        "/echo-length", data=body, content_type="application/json", buffered=True
    )
    assert response.status_code == 200
    assert response.get_data() == str(len(body)).encode()
    (record,) = records
    assert "capture_errors" not in record
    request_body = record["request"]["body"]
    if key == "plain":
        assert request_body == body
    else:
        assert "s3cr3t-value" not in request_body
    _render(record)


def test_deep_json_response_is_served_and_recorded() -> None:
    records: list[dict[str, t.Any]] = []
    response = _client(records).get("/deep?depth=3000")
    assert response.get_data(as_text=True) == hostile_flask.deep_json(3000)
    response.close()
    (record,) = records
    assert record["response"]["status_code"] == 200
    # nested too deep to parse, and naming a secret: hidden whole (fail closed)
    assert record["response"]["body_preview"].startswith("[redacted]")
    assert "JSON nested deeper than" in record["response"]["body_preview"]


def test_trace_cli_on_a_deep_json_response() -> None:
    result = CliRunner().invoke(
        cli, ["trace", f"{APPS / 'hostile_flask.py'}:app", "/deep?depth=3000", "--width", "100"]
    )
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output
    assert "200" in result.output


def test_an_app_exception_whose_str_raises_propagates_as_is() -> None:
    records: list[dict[str, t.Any]] = []
    mw = TraceMiddleware(hostile_flask.app, sink=records.append)
    hostile_flask.app.config["PROPAGATE_EXCEPTIONS"] = True
    try:
        with pytest.raises(hostile_flask.BadStr):
            Client(mw).get("/badstr")
    finally:
        hostile_flask.app.config["PROPAGATE_EXCEPTIONS"] = None
    (record,) = records
    assert record["error"]["type"] == "BadStr"
    assert "capture_errors" not in record
    kinds = [event["kind"] for event in record["events"]]
    assert "exception" in kinds
    _render(record)


def test_a_record_that_cannot_be_built_is_degraded_and_counted(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from wsgiscope.redact import Redactor

    def broken(self: Redactor, environ: t.Any) -> t.NoReturn:
        raise RecursionError("maximum recursion depth exceeded")

    # a failure wsgiscope has no answer for yet, in one part of the record
    monkeypatch.setattr(Redactor, "environ", broken)
    records: list[dict[str, t.Any]] = []
    mw = TraceMiddleware(hostile_flask.app, sink=records.append)
    response = Client(mw).get("/", buffered=True)
    assert response.get_data() == b"ok"
    (record,) = records
    assert record["capture_errors"] == [
        {"field": "environ", "error": "RecursionError: maximum recursion depth exceeded"}
    ]
    assert record["environ"] == {}
    assert record["response"]["status_code"] == 200
    assert record["request"]["path"] == "/"
    assert mw.degraded == 1
    shown = _render(record)
    assert "not captured (the request itself was not affected)" in shown
    assert "RecursionError: maximum recursion depth exceeded" in shown


class _SendfileHandler(wsgiref.simple_server.WSGIRequestHandler):
    def log_message(self, *args: t.Any) -> None:
        pass


def test_the_servers_file_wrapper_reaches_it(tmp_path: t.Any) -> None:
    """wsgiref's real server: the object the app returned is the one the
    server checks for its sendfile path (``result_is_file``)."""
    seen: list[bool] = []

    class Handler(wsgiref.simple_server.ServerHandler):
        def sendfile(self) -> bool:
            seen.append(self.result_is_file())
            return False

    class RequestHandler(_SendfileHandler):
        def handle(self) -> None:
            self.raw_requestline = self.rfile.readline(65537)
            if not self.parse_request():
                return
            handler = Handler(self.rfile, self.wfile, self.get_stderr(), self.get_environ())
            handler.request_handler = self  # type: ignore[attr-defined]
            handler.run(self.server.get_app())  # type: ignore[attr-defined]

    records: list[dict[str, t.Any]] = []
    mw = TraceMiddleware(hostile_flask.app, sink=records.append)
    server = wsgiref.simple_server.make_server("127.0.0.1", 0, mw, handler_class=RequestHandler)
    thread = threading.Thread(target=server.handle_request, daemon=True)
    thread.start()
    try:
        conn = http.client.HTTPConnection("127.0.0.1", server.server_port, timeout=10)
        conn.request("GET", "/file")
        body = conn.getresponse().read()
        conn.close()
        thread.join(10)
    finally:
        server.server_close()
    with open(hostile_flask.FILE, "rb") as f:
        expected = f.read()
    assert body == expected
    assert seen == [True]
    (record,) = records
    response = record["response"]
    assert response["file_wrapper"] is True
    assert response["body_bytes"] == len(expected)
    assert response["closed"] is True
    assert response["body_preview"].startswith('"""A Flask app made to break a tracer')


def test_a_bytesio_file_wrapper_keeps_identity() -> None:
    records: list[dict[str, t.Any]] = []
    mw = TraceMiddleware(hostile_flask.app, sink=records.append)
    client = Client(mw)
    environ_overrides = {"wsgi.file_wrapper": wsgiref.util.FileWrapper}
    response = client.get("/bytesfile", environ_overrides=environ_overrides)
    assert response.get_data() == b"x" * 5000
    response.close()
    (record,) = records
    assert record["response"]["body_bytes"] == 5000
    assert record["response"]["file_wrapper"] is True
