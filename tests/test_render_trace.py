"""The trace tree (wsgiscope.render.trace) from hand-made records.

Records here follow DESIGN.md "The trace record"; the command tests render
real ones. Output is captured at width 100 with colour off.
"""

from __future__ import annotations

import copy
import io
import json
import re

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from tracecli_fixtures import FakeClock, assert_snapshot, mask

from wsgiscope.render.console import make_console
from wsgiscope.render.http import body_preview, format_ms, format_size
from wsgiscope.render.sections import parse_sections
from wsgiscope.render.trace import RenderOptions, render_trace

pytestmark = pytest.mark.flask  # also run under the next Flask (.ci/run)

UNSAFE = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\u2028\u2029]")


def render(record, color: bool = False, width: int = 100, **options) -> str:
    stream = io.StringIO()
    out = make_console("always" if color else "never", width, stream)
    out.print(render_trace(record, RenderOptions(**options)))
    return stream.getvalue()


def record(**changes):
    base = {
        "format": "wsgiscope.trace/1",
        "id": "r1",
        "started": "2026-01-01T00:00:00+00:00",
        "duration_ms": 1.5,
        "request": {
            "method": "GET",
            "path": "/fail",
            "query_string": "",
            "script_name": "",
            "scheme": "http",
            "host": "localhost",
        },
        "environ": {
            "REQUEST_METHOD": "GET",
            "SCRIPT_NAME": "",
            "PATH_INFO": "/fail",
            "QUERY_STRING": "",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "HTTP_HOST": "localhost",
            "HTTP_COOKIE": "[redacted]",
            "wsgi.version": "(1, 0)",
            "wsgi.url_scheme": "http",
            "SERVER_NAME": "localhost",
            "SERVER_PORT": "80",
        },
        "events": [
            {
                "seq": 0,
                "t_ms": 0.1,
                "kind": "push",
                "context": "app",
                "app": "shop",
                "depth": 1,
                "parent": None,
            },
            {
                "seq": 1,
                "t_ms": 0.2,
                "kind": "push",
                "context": "request",
                "app": "shop",
                "depth": 2,
                "parent": 0,
            },
            {
                "seq": 2,
                "t_ms": 0.3,
                "kind": "hook",
                "hook": "view",
                "function": "m.fail",
                "endpoint": "fail",
                "view_args": {},
                "exception": None,
                "raised": "RuntimeError: on fire",
                "duration_ms": 0.05,
                "depth": 2,
                "parent": 1,
            },
            {
                "seq": 3,
                "t_ms": 0.4,
                "kind": "hook",
                "hook": "teardown_request",
                "function": "m.close_db",
                "exception": "RuntimeError: on fire",
                "raised": None,
                "duration_ms": 0.01,
                "depth": 2,
                "parent": 1,
            },
            {
                "seq": 4,
                "t_ms": 0.5,
                "kind": "pop",
                "context": "request",
                "app": "shop",
                "depth": 1,
                "parent": 1,
                "g": {"user": "'ada'"},
                "session": {"visits": "[redacted]"},
            },
            {
                "seq": 5,
                "t_ms": 0.6,
                "kind": "hook",
                "hook": "teardown_appcontext",
                "function": "m.close_app",
                "exception": None,
                "raised": None,
                "duration_ms": 0.01,
                "depth": 1,
                "parent": 0,
            },
            {
                "seq": 6,
                "t_ms": 0.7,
                "kind": "pop",
                "context": "app",
                "app": "shop",
                "depth": 0,
                "parent": 0,
            },
            {"seq": 7, "t_ms": 0.8, "kind": "body", "size": 10, "depth": 0, "parent": None},
            {"seq": 8, "t_ms": 0.9, "kind": "close", "depth": 0, "parent": None},
        ],
        "response": {
            "status": "500 INTERNAL SERVER ERROR",
            "headers": [["Content-Type", "text/plain"], ["Set-Cookie", "[redacted]"]],
            "body_bytes": 10,
            "body_preview": "it broke\n",
            "truncated": False,
        },
        "error": None,
        "lint": [],
        "worker": {"pid": 42, "thread": "MainThread", "thread_ident": 1, "greenlet": None},
    }
    base.update(changes)
    return base


def test_merged_context_and_g_before_and_after_teardown():
    events = [
        {"seq": 0, "t_ms": 0.1, "kind": "push", "context": "app+request", "app": "shop",
         "depth": 1, "parent": None, "path": "/"},
        {"seq": 1, "t_ms": 0.2, "kind": "pop", "context": "app+request", "app": "shop",
         "depth": 1, "parent": 0, "path": "/",
         "g": {"user": "<User ada>", "db": "<Connection open>", "token": "[redacted]"},
         "g_after": {"user": "<User ada>", "token": "[redacted]", "audit": "'closed'"},
         "session": {"visits": "[redacted]"}},
        {"seq": 2, "t_ms": 0.3, "kind": "push", "context": "app", "app": "shop",
         "depth": 1, "parent": None, "path": None},
        # a record written before g_after existed
        {"seq": 3, "t_ms": 0.4, "kind": "pop", "context": "app", "app": "shop",
         "depth": 1, "parent": 2, "path": None, "g": {"user": "<User ada>"}, "session": None},
    ]  # fmt: skip
    text = render(record(events=events), width=200, sections=parse_sections("c"))
    assert "▶ push context (app + request) shop  @0.10ms" in text
    assert "◀ pop context (app + request) shop  @0.20ms" in text
    assert "g at teardown start  user=<User ada>, db=<Connection open>, token=[redacted]" in text
    assert (
        "g after teardown  user=<User ada>, token=[redacted]  +audit='closed' (added)  "
        "removed: db" in text
    )
    assert "▶ push app context shop" in text
    old_pop = text[text.index("◀ pop app context shop") :]
    assert "g at teardown start  user=<User ada>" in old_pop
    assert "g after teardown" not in old_pop


def test_tree_nests_contexts_and_shows_teardown_exceptions():
    text = render(record())
    assert text.splitlines()[0] == (
        "GET /fail → 500 INTERNAL SERVER ERROR  1.50ms  10 B  app shop  pid 42 MainThread"
    )
    lifecycle = text[text.index("lifecycle") : text.index("environ")]
    assert lifecycle == (
        "lifecycle\n"
        "│   ├── ▶ push app context shop  @0.10ms\n"
        "│   │   ├── ▶ push request context shop  @0.20ms\n"
        "│   │   │   ├── view fail → m.fail  0.05ms  @0.30ms\n"
        "│   │   │   │   └── raised RuntimeError: on fire\n"
        "│   │   │   ├── teardown_request m.close_db  0.01ms  @0.40ms\n"
        "│   │   │   │   └── received RuntimeError: on fire\n"
        "│   │   │   └── ◀ pop request context shop  @0.50ms\n"
        "│   │   │       ├── g at teardown start  user='ada'\n"
        "│   │   │       └── session  visits=[redacted]\n"
        "│   │   ├── teardown_appcontext m.close_app  0.01ms  @0.60ms\n"
        "│   │   │   └── received no exception\n"
        "│   │   └── ◀ pop app context shop  @0.70ms\n"
        "│   ├── body chunk 10 B  @0.80ms\n"
        "│   └── close()  @0.90ms\n"
        "├── "
    )


def test_worker_with_a_greenlet():
    head = render(record(worker={"pid": 7, "thread": "T", "greenlet": 255})).splitlines()[0]
    assert head.endswith("  pid 7 T greenlet 0xff")


def test_teardown_exception_is_red():
    text = render(record(), color=True)
    line = next(line for line in text.splitlines() if "received" in line and "fire" in line)
    assert "\x1b[1;31mRuntimeError: on fire" in line


def test_records_without_parent_nest_by_push_and_pop_order():
    events = [{k: v for k, v in e.items() if k != "parent"} for e in record()["events"]]
    assert render(record(events=events)) == render(record())


def test_unmatched_pop_and_unknown_kinds_are_shown():
    events = [
        {"seq": 0, "t_ms": 0.0, "kind": "pop", "context": "request", "app": "x", "depth": 0},
        {"seq": 1, "t_ms": 0.1, "kind": "mystery", "depth": 0, "detail": "[b]x[/b]"},
    ]
    text = render(record(events=events))
    assert "◀ pop request context x  @0.00ms  (no matching push)" in text
    assert "mystery detail=[b]x[/b]  @0.10ms" in text


def test_body_runs_collapse():
    events = [
        {"seq": i, "t_ms": float(i), "kind": "body", "size": 100, "depth": 0, "parent": None}
        for i in range(1000)
    ]
    text = render(record(events=events))
    assert "body 1000 chunks, 97.7 KiB  @0.00ms..999ms" in text
    assert text.count("body") == 1


def test_dispatch_and_exception_events():
    events = [
        {
            "seq": 0,
            "t_ms": 0.0,
            "kind": "dispatch",
            "mount": "/admin",
            "app": "admin",
            "script_name": "/admin",
            "path_info": "/",
            "changed": {
                "SCRIPT_NAME": "/admin",
                "PATH_INFO": "/",
                "HTTP_X_MOUNT": "admin",
                "wsgi.input": "<wsgiscope.lint.streams.InputWatcher object at 0x1>",
            },
            "removed": ["HTTP_X_TOP"],
            "depth": 0,
            "parent": None,
        },
        {
            "seq": 1,
            "t_ms": 0.1,
            "kind": "exception",
            "type": "KeyError",
            "message": "'x'",
            "traceback": "...",
            "where": "call",
            "depth": 0,
            "parent": None,
        },
        {
            "seq": 2,
            "t_ms": 0.2,
            "kind": "signal",
            "name": "got_request_exception",
            "exception": "KeyError: 'x'",
            "depth": 0,
            "parent": None,
        },
        {
            "seq": 3,
            "t_ms": 0.3,
            "kind": "start_response",
            "status": "200 OK",
            "headers": [["A", "b"]],
            "exc_info": None,
            "depth": 0,
            "parent": None,
        },
    ]
    text = render(record(events=events))
    assert "dispatch /admin → admin  SCRIPT_NAME=/admin PATH_INFO=/  @0.00ms" in text
    assert "environ changed  HTTP_X_MOUNT  (-v for values)\n" in text
    assert "environ changed  HTTP_X_MOUNT=admin\n" in render(record(events=events), verbose=True)
    assert "environ removed  HTTP_X_TOP\n" in text
    assert "exception in call KeyError: 'x'  @0.10ms" in text
    assert "signal got_request_exception  @0.20ms" in text
    assert "exception KeyError: 'x'" in text
    assert "start_response 200 OK  1 headers  @0.30ms" in text


# -- sections ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("contexts", {"contexts"}),
        ("contexts,response", {"contexts", "response"}),
        # HTTPie's letters (h response headers, b response body, H/B the request,
        # m meta) and wsgiscope's own (c contexts, k hooks, e environ)
        ("hb", {"response", "body"}),
        ("kb", {"hooks", "body"}),
        ("HBm", {"request", "request-body", "meta"}),
        ("slot", {"sql", "logs", "outbound", "templates"}),
        (
            "all",
            {"contexts", "hooks", "environ", "request", "request-body", "response", "meta", "body"}
            | {"sql", "logs", "outbound", "templates"},
        ),
        ("Environ body", {"environ", "body"}),
    ],
)
def test_parse_sections(value, expected):
    assert parse_sections(value) == expected


@pytest.mark.parametrize("value", ["headers", "xyz", "", ","])
def test_parse_sections_rejects(value):
    with pytest.raises(ValueError, match="section"):
        parse_sections(value)


def test_sections_select_what_is_shown():
    only_contexts = render(record(), sections=parse_sections("contexts"))
    assert "push request context" in only_contexts
    assert "m.close_db" not in only_contexts
    assert "environ" not in only_contexts
    assert "response" not in only_contexts
    only_hooks = render(record(), sections=parse_sections("hooks"))
    assert "push" not in only_hooks
    assert "├── teardown_request m.close_db" in only_hooks  # moved up, not nested
    body = render(record(), sections=parse_sections("body"))
    assert "it broke" in body
    assert "Content-Type" not in body
    response = render(record(), sections=parse_sections("response"))
    assert "Content-Type: text/plain" in response
    assert "it broke" not in response


def test_environ_summary_and_whole():
    summary = render(record())
    assert "environ (summary; -v or --print environ for all)" in summary
    assert "SERVER_PROTOCOL" not in summary  # a CGI variable outside the summary
    assert "… 1 more" in summary
    assert "wsgi.*  2  wsgi.url_scheme, wsgi.version" in summary
    assert "HTTP_COOKIE = [redacted]" in summary
    whole = render(record(), environ_whole=True)
    assert "SERVER_PROTOCOL = HTTP/1.1" in whole
    assert "wsgi.version = (1, 0)" in whole
    assert "SERVER_PORT = 80" in whole
    assert render(record(), verbose=True) == whole


def test_lint_section_only_when_there_are_findings():
    assert "lint" not in render(record())
    text = render(record(lint=[{"rule": "content-length", "message": "says 3, sent 10"}]))
    assert "lint  1\n    └── content-length  says 3, sent 10" in text


def test_error_text_without_live_exception():
    error = {
        "type": "RuntimeError",
        "message": "on fire",
        "traceback": 'Traceback (most recent call last):\n  File "m.py", line 1\n'
        "RuntimeError: on fire\n",
    }
    text = render(record(error=error))
    assert text.endswith(
        "the app raised RuntimeError: on fire\nTraceback (most recent call last):\n"
        '  File "m.py", line 1\nRuntimeError: on fire\n'
    )


# -- bodies ----------------------------------------------------------------------


def preview(content_type, body_preview_value, size=None, **response):
    response = {
        "status": "200 OK",
        "headers": [["Content-Type", content_type]] if content_type else [],
        "body_bytes": size if size is not None else len(str(body_preview_value)),
        "body_preview": body_preview_value,
        **response,
    }
    stream = io.StringIO()
    make_console("never", 100, stream).print(body_preview(response))
    return stream.getvalue()


def test_json_body_is_pretty_printed():
    assert preview("application/json", '{"a":[1,"x"],"b":"\\u001b[31m"}') == (
        '{\n  "a": [\n    1,\n    "x"\n  ],\n  "b": "\\u001b[31m"\n}\n'
    )


def test_invalid_json_is_shown_as_text():
    assert preview("application/json", "{oops") == "{oops\n"


def test_text_body_lines_are_capped():
    text = "\n".join(f"line {i}" for i in range(100))
    out = preview("text/plain", text)
    assert out.splitlines()[-1] == "… 60 more lines (-v for all)"
    assert "line 39" in out
    assert "line 40" not in out


def test_binary_body_as_hex_dump():
    out = preview("image/png", {"encoding": "base64", "data": "iVBORw0KGgoAAAANSUhEUg=="}, 5000)
    assert out == (
        "binary, 4.9 KiB\n"
        "00000000  89 50 4e 47 0d 0a 1a 0a 00 00 00 0d 49 48 44 52  |.PNG........IHDR|\n"
    )
    # A binary body recorded as latin-1 text is dumped the same way.
    assert preview("application/octet-stream", "\x89PNG") == (
        "binary, 4 B\n00000000  89 50 4e 47                                      |.PNG|\n"
    )


def test_empty_and_missing_bodies():
    assert preview("text/plain", "") == "empty body\n"
    assert preview("text/plain", None, 10) == "body not recorded\n"


def test_truncated_response_says_so():
    response = dict(record()["response"], truncated=True, body_bytes=1024)
    text = render(record(response=response), max_body=1024)
    assert "1.0 KiB (truncated)" in text.splitlines()[0]
    assert (
        "truncated at 1.0 KiB (--max-body): reading stopped there and the iterable was closed"
        in text
    )
    text = render(record(response=response))
    assert "truncated: the body preview stops at the recorder's cap" in text


def test_formatting_helpers():
    assert [format_size(n) for n in (0, 1023, 1024, 1536, 5 * 1024**2)] == [
        "0 B",
        "1023 B",
        "1.0 KiB",
        "1.5 KiB",
        "5.0 MiB",
    ]
    assert [format_ms(v) for v in (0.123, 12.34, 123.4, None)] == [
        "0.12ms",
        "12.3ms",
        "123ms",
        "?",
    ]


# -- safety -----------------------------------------------------------------------

EVIL_HEADER = "\x1b]0;title\x07"
EVIL_PATH = "/[bold red]x[/]"


def evil_record(value: str, path: str) -> dict:
    rec = copy.deepcopy(record())
    rec["request"]["path"] = path
    rec["environ"]["PATH_INFO"] = path
    rec["environ"]["HTTP_X_EVIL"] = value
    rec["response"]["headers"].append(["X-Evil", value])
    rec["response"]["body_preview"] = value + path
    rec["events"][2]["raised"] = f"ValueError: {value}"
    rec["events"][4]["g"] = {value: path}
    return rec


@pytest.mark.parametrize("color", [False, True])
def test_markup_and_terminal_controls_print_literally(color):
    text = render(evil_record(EVIL_HEADER, EVIL_PATH), color=color)
    plain = re.sub(r"\x1b\[[0-9;]*m", "", text) if color else text
    assert "GET /[bold red]x[/] →" in plain
    assert "HTTP_X_EVIL = \\x1b]0;title\\x07" in plain
    assert "X-Evil: \\x1b]0;title\\x07" in plain
    assert "raised ValueError: \\x1b]0;title\\x07" in plain
    assert "\x07" not in text
    assert "\x1b]" not in text
    # Only rich's own SGR sequences remain when colour is on.
    assert not re.sub(r"\x1b\[[0-9;]*m", "", text).count("\x1b")


def test_newline_in_a_value_cannot_forge_a_tree_line():
    text = render(evil_record("a\n├── forged", "/p\r\nx"))
    assert "a\\n├── forged" in text
    assert "/p\\r\\nx" in text
    assert not any(line.startswith("├── forged") for line in text.splitlines())


latin1 = st.text(st.characters(min_codepoint=0, max_codepoint=255), max_size=40)


NO_BODY = frozenset({"contexts", "hooks", "environ", "response"})
BASELINE_LINES = len(render(evil_record("v", "/p"), width=5000, sections=NO_BODY).splitlines())


@settings(max_examples=40, deadline=None)
@given(value=latin1, path=latin1.map(lambda p: "/" + p), name=latin1)
def test_any_latin1_record_text_renders_as_data(value, path, name):
    rec = evil_record(value, path)
    assume("HTTP_" + name not in rec["environ"])
    rec["environ"]["HTTP_" + name] = value
    rec["response"]["headers"].append([name, value])
    assert not UNSAFE.search(render(rec, verbose=True))
    # Wide enough that nothing wraps: a value cannot add a line of its own
    # (the body preview may, as a hex dump, so it is left out here).
    text = render(rec, width=5000, sections=NO_BODY)
    assert len(text.splitlines()) == BASELINE_LINES + 2


def test_json_output_of_a_record_has_no_ansi():
    from wsgiscope.render.jsonout import dumps

    out = dumps(evil_record(EVIL_HEADER, EVIL_PATH))
    assert "\x1b" not in out
    assert json.loads(out)["environ"]["HTTP_X_EVIL"] == EVIL_HEADER


# -- snapshots of real traces (fake clock, width 100, colour off) --------------------------


def traced_demo(path: str, **options) -> str:
    import wsgiscope.demo
    from wsgiscope.request import build_environ, parse_request
    from wsgiscope.tracing import run_traced

    app = wsgiscope.demo.application
    environ = build_environ(parse_request(path), app)
    environ["wsgi.errors"] = io.StringIO()
    result = run_traced(app, environ, clock=FakeClock())
    # The worker differs between runs, and has a greenlet once any test
    # imported greenlet: pinned before rendering, so line wrapping is stable.
    result.record["worker"].update(pid="<pid>", greenlet=None)
    text = mask(render(result.record, app_label="wsgiscope.demo", **options))
    if result.exc_info is not None:
        # The traceback names files and lines of Flask itself: not snapshotted.
        text = text[: text.index("Traceback (most recent call last)")]
    return text


@pytest.mark.parametrize(
    ("name", "path", "options"),
    [
        ("tracecli_demo_catalog.txt", "/catalog/?user=ada", {}),
        ("tracecli_demo_fail.txt", "/fail", {}),
        ("tracecli_demo_old.txt", "/old/SKU-1001", {"sections": parse_sections("ck")}),
        ("tracecli_demo_admin.txt", "/admin/", {}),
        (
            "tracecli_demo_environ.txt",
            "/catalog/SKU-1001",
            {"sections": parse_sections("e"), "environ_whole": True},
        ),
    ],
)
def test_snapshot(name, path, options):
    from tests.tracing_fixtures import merged_flask

    if merged_flask():
        # Flask 3.2's one context per request: its own lifecycle (and timings).
        name = name.replace(".txt", ".flask32.txt")
    assert_snapshot(name, traced_demo(path, **options))
