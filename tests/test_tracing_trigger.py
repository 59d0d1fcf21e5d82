"""``TraceMiddleware(trigger=...)`` and W3C ``traceparent``, behind a real HTTP server."""

from __future__ import annotations

import json
import threading
import time

import httpx
import pytest
from export_fixtures import load_shop

from wsgiscope.tracing import TraceMiddleware
from wsgiscope.tracing.trigger import Trigger, trace_context

SECRET = "open-sesame-0123456789"
TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


@pytest.fixture
def serve(tmp_path):
    """``serve(trigger)``: the shop behind TraceMiddleware on a real server; (url, records())."""
    from werkzeug.serving import make_server

    started = []

    def start(trigger, **options):
        path = tmp_path / f"traces{len(started)}.jsonl"
        app = load_shop()
        middleware = TraceMiddleware(app.wsgi_app, sink=str(path), trigger=trigger, **options)
        app.wsgi_app = middleware
        server = make_server("127.0.0.1", 0, app, threaded=True)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        started.append((server, thread, middleware))

        def records(count):
            """The records, once ``count`` are written (the server writes
            each when it closes the response, just after the client has it)."""
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                lines = path.read_text().splitlines() if path.exists() else []
                if len(lines) >= count:
                    break
                time.sleep(0.02)
            return [json.loads(line) for line in lines]

        return f"http://127.0.0.1:{server.server_port}", records, path

    yield start
    for server, thread, middleware in started:
        server.shutdown()
        thread.join(5)
        middleware.close()


@pytest.mark.slow
def test_header_trigger_traces_only_requests_with_the_secret(serve):
    url, records, path = serve(Trigger(header="X-Wsgiscope-Trace", secret=SECRET))
    with httpx.Client(base_url=url) as client:
        plain = client.get("/items/a")
        wrong = client.get("/items/b", headers={"X-Wsgiscope-Trace": SECRET[:-1] + "X"})
        short = client.get("/items/c", headers={"X-Wsgiscope-Trace": SECRET[:5]})
        traced = client.get("/items/d", headers={"X-Wsgiscope-Trace": SECRET})
    # every request is answered the same, traced or not
    assert [r.status_code for r in (plain, wrong, short, traced)] == [200] * 4
    assert plain.json()["name"] == "a"
    assert traced.json()["name"] == "d"
    found = records(1)
    assert [r["request"]["path"] for r in found] == ["/items/d"]
    assert found[0]["environ"]["HTTP_X_WSGISCOPE_TRACE"] == "[redacted]"
    assert SECRET not in path.read_text()


@pytest.mark.slow
def test_cookie_trigger_keeps_the_secret_out_even_unredacted(serve):
    url, records, path = serve(Trigger(cookie="wsgiscope", secret=SECRET), redact=False)
    with httpx.Client(base_url=url) as client:
        client.get("/items/a", headers={"Cookie": "theme=dark"})
        client.get("/items/b", headers={"Cookie": f"theme=dark; wsgiscope={SECRET}"})
    found = records(1)
    assert [r["request"]["path"] for r in found] == ["/items/b"]
    # redact=False keeps the other cookies, never the trigger's secret
    assert found[0]["environ"]["HTTP_COOKIE"] == "theme=dark; wsgiscope=[redacted]"
    assert SECRET not in path.read_text()


@pytest.mark.slow
def test_traceparent_is_recorded(serve):
    url, records, _ = serve(None)
    with httpx.Client(base_url=url) as client:
        client.get("/items/a", headers={"traceparent": TRACEPARENT, "tracestate": "congo=t61"})
        client.get("/items/b", headers={"traceparent": "00-" + "0" * 32 + "-00f067aa0ba902b7-01"})
        client.get("/items/c")
    # by path: a threaded server may finish the records out of request order
    by_path = {record["request"]["path"]: record for record in records(3)}
    first, invalid, none = by_path["/items/a"], by_path["/items/b"], by_path["/items/c"]
    assert first["traceparent"] == {
        "trace_id": "4bf92f3577b34da6a3ce929d0e0e4736",
        "parent_span_id": "00f067aa0ba902b7",
        "sampled": True,
        "tracestate": "congo=t61",
    }
    assert "traceparent" not in invalid
    assert "traceparent" not in none


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (TRACEPARENT, ("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7", True)),
        (TRACEPARENT[:-2] + "00", ("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7", False)),
        # a later version: its first four fields are read
        (
            "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
            ("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7", True),
        ),
        (TRACEPARENT.upper(), None),
        (TRACEPARENT + "-extra", None),  # version 00 has exactly four fields
        ("ff" + TRACEPARENT[2:], None),
        ("00-4bf92f3577b34da6a3ce929d0e0e4736-" + "0" * 16 + "-01", None),
        ("00-4bf92f35-00f067aa0ba902b7-01", None),
        ("garbage", None),
    ],
)
def test_trace_context_follows_the_w3c_rules(header, expected):
    found = trace_context({"HTTP_TRACEPARENT": header})
    if expected is None:
        assert found is None
    else:
        assert (found["trace_id"], found["parent_span_id"], found["sampled"]) == expected


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"secret": SECRET}, "exactly one of header= and cookie="),
        ({"header": "X-T", "cookie": "t", "secret": SECRET}, "exactly one"),
        ({"header": "X-T", "secret": "short"}, "at least 16 characters"),
    ],
)
def test_trigger_refuses_bad_settings(kwargs, message):
    with pytest.raises(ValueError, match=message):
        Trigger(**kwargs)


def test_trigger_repr_hides_the_secret():
    assert SECRET not in repr(Trigger(header="X-T", secret=SECRET))
