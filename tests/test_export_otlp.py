"""``wsgiscope export otlp``: spans received by a real OTLP/HTTP receiver, OTLP JSON."""

from __future__ import annotations

import http.server
import json
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from export_fixtures import REQUESTS, record_requests

pytest.importorskip("opentelemetry.exporter.otlp.proto.http", reason="needs wsgiscope[otel]")
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2

BIN = Path(sys.executable).parent
SERVER, INTERNAL = 2, 1  # Span.SpanKind
ERROR = 2  # Status.StatusCode


class Receiver(http.server.ThreadingHTTPServer):
    """A minimal OTLP/HTTP trace receiver: decodes each ExportTraceServiceRequest."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.requests: list[trace_service_pb2.ExportTraceServiceRequest] = []
        self.paths: list[str] = []
        self.content_types: list[str] = []


class _Handler(http.server.BaseHTTPRequestHandler):
    server: Receiver

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        message = trace_service_pb2.ExportTraceServiceRequest()
        message.ParseFromString(body)
        self.server.requests.append(message)
        self.server.paths.append(self.path)
        self.server.content_types.append(self.headers["Content-Type"])
        answer = trace_service_pb2.ExportTraceServiceResponse().SerializeToString()
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def receiver():
    server = Receiver()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join(5)


@pytest.fixture(scope="module")
def records(tmp_path_factory):
    path = tmp_path_factory.mktemp("otlp") / "traces.jsonl"
    return path, record_requests(path)


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "wsgiscope"), "export", "otlp", *args],
        capture_output=True,
        text=True,
        timeout=60,
    )


def spans_of(receiver: Receiver) -> list:
    found = []
    for request in receiver.requests:
        for resource_spans in request.resource_spans:
            resource = {a.key: a.value for a in resource_spans.resource.attributes}
            for scope_spans in resource_spans.scope_spans:
                assert scope_spans.scope.name == "wsgiscope"
                for span in scope_spans.spans:
                    found.append((resource, span))
    return found


def attrs(span) -> dict:
    out = {}
    for item in span.attributes:
        value = item.value
        out[item.key] = getattr(value, value.WhichOneof("value"))
    return out


def started_ns(record: dict) -> int:
    from wsgiscope.export.fields import started_us

    return started_us(record) * 1000


@pytest.mark.slow
def test_spans_reach_a_real_otlp_receiver(records, receiver):
    path, recorded = records
    done = run(str(path), "--endpoint", f"http://127.0.0.1:{receiver.server_port}")
    assert done.returncode == 0, done.stderr
    assert f"sent {len(REQUESTS)} records as OTLP spans" in done.stderr
    assert receiver.paths == ["/v1/traces"]
    assert receiver.content_types == ["application/x-protobuf"]
    spans = spans_of(receiver)
    by_id = {span.span_id: span for _, span in spans}
    roots = [span for _, span in spans if not span.parent_span_id]
    # one trace per request, its root the SERVER span
    assert len(roots) == len(recorded)
    assert len({span.trace_id for span in roots}) == len(recorded)
    assert all(span.kind == SERVER for span in roots)
    for resource, span in spans:
        assert resource["service.name"].string_value == "export_shop"
        if span.parent_span_id:
            parent = by_id[span.parent_span_id]
            assert span.trace_id == parent.trace_id
            assert span.kind == INTERNAL
            # a child lies within its parent
            assert parent.start_time_unix_nano <= span.start_time_unix_nano
            assert span.end_time_unix_nano <= parent.end_time_unix_nano
    for record, root in zip(recorded, roots, strict=False):
        # real timestamps: the record's start and duration, to the microsecond
        assert root.start_time_unix_nano == started_ns(record)
        duration = root.end_time_unix_nano - root.start_time_unix_nano
        assert duration == round(record["duration_ms"] * 1_000_000)
        assert attrs(root)["wsgiscope.record.id"] == record["id"]
        assert attrs(root)["http.request.method"] == record["request"]["method"]
        tree = [s for _, s in spans if s.trace_id == root.trace_id]
        hooks = [e for e in record["events"] if e["kind"] == "hook"]
        hook_spans = [s for s in tree if "wsgiscope.hook" in attrs(s)]
        assert [
            (attrs(s)["wsgiscope.hook"], attrs(s)["code.function.name"]) for s in hook_spans
        ] == [(e["hook"], e["function"]) for e in hooks]
        for span, event in zip(hook_spans, hooks, strict=False):
            assert span.start_time_unix_nano == started_ns(record) + round(event["t_ms"] * 1e6)
            # a hook runs inside the request context, inside the app context, inside the request
            context = by_id[span.parent_span_id]
            assert context.name == "request context"
            assert by_id[context.parent_span_id].name == "app context"
            assert by_id[by_id[context.parent_span_id].parent_span_id] == root
    first = attrs(roots[0])
    assert first["url.path"] == "/items/caf%C3%A9"
    assert first["url.query"] == "q=a+b&n=1"
    assert first["http.response.status_code"] == 200
    assert first["server.address"] == "localhost"
    # signals are span events of the span open when they fired
    context = next(s for _, s in spans if s.name == "request context")
    assert {"request_started", "request_finished"} <= {e.name for e in context.events}
    boom = roots[[r["request"]["path"] for r in recorded].index("/boom")]
    assert boom.status.code == ERROR
    assert attrs(boom)["http.response.status_code"] == 500
    assert attrs(boom)["error.type"] == "RuntimeError"  # the exception Flask handled
    exception = next(e for e in boom.events if e.name == "exception")
    event_attrs = {a.key: a.value.string_value for a in exception.attributes}
    assert event_attrs["exception.type"] == "RuntimeError"
    assert 'raise RuntimeError("boom")' in event_attrs["exception.stacktrace"]


def test_otlp_json_file(records, tmp_path):
    from click.testing import CliRunner

    from wsgiscope.cli import cli

    path, recorded = records
    out = tmp_path / "spans.json"
    result = CliRunner().invoke(cli, ["export", "otlp", str(path), "-o", str(out)])
    assert result.exit_code == 0, result.output
    lines = out.read_text().splitlines()
    assert len(lines) == 1  # one ExportTraceServiceRequest per line (the OTLP file format)
    document = json.loads(lines[0])
    spans = [
        span
        for resource in document["resourceSpans"]
        for scope in resource["scopeSpans"]
        for span in scope["spans"]
    ]
    roots = [s for s in spans if "parentSpanId" not in s]
    assert len(roots) == len(recorded)
    ids = {s["spanId"] for s in spans}
    for span in spans:
        assert len(span["traceId"]) == 32  # OTLP/JSON: ids in hex, not base64
        int(span["traceId"], 16)
        assert len(span["spanId"]) == 16
        if "parentSpanId" in span:
            assert span["parentSpanId"] in ids
    assert roots[0]["kind"] == SERVER
    assert roots[0]["startTimeUnixNano"] == str(started_ns(recorded[0]))
    # exporting again gives the same ids (a backend deduplicates them)
    again = CliRunner().invoke(cli, ["export", "otlp", str(path), "-o", "-"])
    assert (
        json.loads(again.stdout)["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["traceId"]
        == (document["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["traceId"])
    )


def test_unreachable_endpoint_is_one_line(records):
    path, _ = records
    done = run(str(path), "--endpoint", "http://127.0.0.1:9")
    assert done.returncode == 2
    assert done.stderr.startswith("wsgiscope: error: could not send spans to http://127.0.0.1:9")
    assert "Traceback" not in done.stderr
    assert done.stderr.count("\n") == 2


def test_missing_extra_is_named(records):
    path, _ = records
    code = (
        "import sys; sys.modules['opentelemetry.exporter.otlp.proto.http.trace_exporter'] = None;"
        "from wsgiscope.cli import main; main(['export', 'otlp', sys.argv[1]])"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(path)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2
    assert "export otlp needs the OpenTelemetry packages" in done.stderr
    assert "pip install 'wsgiscope[otel]'" in done.stderr


@pytest.mark.slow
def test_traceparent_links_the_spans_into_the_callers_trace(receiver, tmp_path):
    from export_fixtures import load_shop
    from werkzeug.test import Client

    from wsgiscope.tracing import TraceMiddleware

    path = tmp_path / "linked.jsonl"
    app = load_shop()
    with TraceMiddleware(app, sink=str(path)) as traced:
        client = Client(traced)
        client.get(
            "/items/a",
            headers={"traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"},
        ).close()
        client.get("/items/b").close()
    done = run(str(path), "--endpoint", f"http://127.0.0.1:{receiver.server_port}")
    assert done.returncode == 0, done.stderr
    spans = [span for _, span in spans_of(receiver)]
    caller_trace = bytes.fromhex("4bf92f3577b34da6a3ce929d0e0e4736")
    linked = [s for s in spans if s.trace_id == caller_trace]
    root = next(s for s in linked if s.kind == SERVER)
    # the request's server span is a child of the caller's span, in the caller's trace
    assert root.parent_span_id == bytes.fromhex("00f067aa0ba902b7")
    assert root.flags & 0x100  # the parent is remote
    assert {attrs(s).get("wsgiscope.hook") for s in linked} >= {"before_request", "view"}
    assert all(s.parent_span_id for s in linked)
    # the request without one gets a trace of its own
    other = [s for s in spans if s.trace_id != caller_trace]
    assert len([s for s in other if not s.parent_span_id]) == 1
