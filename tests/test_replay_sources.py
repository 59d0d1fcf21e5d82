"""Request sources: JSON Lines, Chrome and Firefox HAR, request lines, routes, errors."""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path

import pytest
from replay_fixtures import APPS, DATA

from wsgiscope.errors import SourceError
from wsgiscope.loading import AppRef, load_app
from wsgiscope.replay.engine import call_app, prepare
from wsgiscope.replay.sources import (
    ReplayRequest,
    detect_kind,
    load_sources,
    requests_from_routes,
)

pytestmark = pytest.mark.flask  # also run under the next Flask (.ci/run)


def echo(requests: list[ReplayRequest]) -> list[dict[str, object]]:
    """What the echo app (a real Flask app) receives for each request."""
    app = load_app(AppRef("replay_echo:app", "argument", APPS)).app
    answers = []
    for entry in prepare(requests, app):
        environ = entry.environ.copy()
        environ["wsgi.input"] = io.BytesIO(entry.body)
        status, body = call_app(app, environ)
        assert status == "200 OK", body
        answers.append(json.loads(body))
    return answers


def test_json_lines_trace_records_and_flat_objects() -> None:
    result = load_sources([DATA / "replay_traces.jsonl"])
    first, second, third = result.requests
    assert (first.method, first.path, first.query_string) == ("GET", "/whoami", "user=alice")
    assert ("X-Trace", "1") in first.headers
    assert ("Host", "localhost") in first.headers
    assert first.origin.endswith("replay_traces.jsonl:1")
    # a redacted secret is not replayed as its placeholder
    assert all(name != "Cookie" for name, _ in first.headers)
    assert (second.method, second.query_string) == ("POST", "draft=1")
    assert second.body == b'{"note": "hi"}'
    assert third.describe() == "GET /whoami?user=bob"
    assert third.origin.endswith(":4")  # the blank line is counted
    received = echo(result.requests)
    assert received[1]["json"] == {"note": "hi"}
    assert received[1]["headers"] == {"X-Source": "flat"}


def test_chrome_har_http2_pseudo_headers_cookies_form_and_json() -> None:
    result = load_sources([DATA / "replay_chrome.har"])
    # The CDN entry is for another host: skipped by default and said.
    assert result.other_hosts == 1
    assert result.skipped_hosts == ["cdn.example.net"]
    get, form, _put = result.requests
    assert all(not name.startswith(":") for r in result.requests for name, _ in r.headers)
    assert (get.scheme, get.host) == ("https", "shop.example.com")
    assert get.target == "/catalog/items?page=2&sort=price"
    assert get.origin.endswith("replay_chrome.har: log.entries[0]")
    assert not any(name.lower() == "content-length" for name, _ in form.headers)
    seen = echo(result.requests)
    assert seen[0]["scheme"] == "https"
    assert seen[0]["host"] == "shop.example.com"
    assert seen[0]["query"] == "page=2&sort=price"
    assert seen[0]["cookies"] == {"session": "abc123", "theme": "dark"}
    assert seen[0]["headers"] == {"X-Request-Source": "chrome"}
    assert seen[0]["pseudo"] == []
    assert seen[1]["method"] == "POST"
    assert seen[1]["form"] == {"sku": "AB-123", "quantity": "2"}
    # cookies given only as the HAR list become a Cookie header
    assert seen[1]["cookies"] == {"session": "abc123"}
    assert seen[2]["method"] == "PUT"
    assert seen[2]["json"] == {"quantity": 3, "gift": True}
    assert seen[2]["path"] == "/api/cart/items/7"


def test_firefox_har_host_header_params_and_json() -> None:
    result = load_sources([DATA / "replay_firefox.har"])
    assert result.other_hosts == 0
    search, _login, notes = result.requests
    assert search.host == "localhost:5000"
    assert search.scheme == "http"
    assert [n for n, _ in search.headers].count("Host") == 1
    seen = echo(result.requests)
    assert seen[0]["host"] == "localhost:5000"
    assert seen[0]["cookies"] == {"session": "ff42"}
    assert seen[0]["query"] == "q=red+shoes"
    # params only (no text): encoded per the mimeType
    assert seen[1]["form"] == {"user": "ada", "password": "s3cret&more"}
    assert seen[1]["cookies"] == {"session": "ff42", "lang": "en"}
    assert seen[2]["json"] == {"note": "hello"}
    assert notes.method == "POST"


def test_host_filter_all_and_explicit() -> None:
    every = load_sources([DATA / "replay_chrome.har"], host_filter=["*"])
    assert len(every.requests) == 4
    assert every.other_hosts == 0
    cdn = load_sources([DATA / "replay_chrome.har"], host_filter=["cdn.*"])
    assert [r.path for r in cdn.requests] == ["/static/site.css"]
    assert cdn.other_hosts == 3


def test_request_lines_with_headers(tmp_path: Path) -> None:
    source = tmp_path / "requests.txt"
    source.write_text(
        "# a comment\n"
        "GET /a?x=1\n"
        "X-One: 1\n"
        "  X-Two: two words\n"
        "\n"
        "post /b HTTP/1.1\n"
        "/c\n"
        "DELETE http://example.com/d?y=2\n"
    )
    a, b, c, d = load_sources([source]).requests
    assert (a.method, a.path, a.query_string) == ("GET", "/a", "x=1")
    assert a.headers == (("X-One", "1"), ("X-Two", "two words"))
    assert (b.method, b.path, b.headers) == ("POST", "/b", ())
    assert (c.method, c.path) == ("GET", "/c")
    assert (d.method, d.target) == ("DELETE", "/d?y=2")
    assert a.origin == f"{source}:2"


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        (
            "bad.jsonl",
            '{"method": "GET", "path": "/"}\n{"method": \n',
            r"bad.jsonl:2: invalid JSON",
        ),
        ("bad.jsonl", '{"method": "FETCH", "path": "/"}\n', r"bad.jsonl:1: unknown method 'FETCH'"),
        ("bad.jsonl", '{"method": "GET"}\n', r"bad.jsonl:1: no request path"),
        ("bad.jsonl", "[1, 2]\n", r"bad.jsonl:1: expected a JSON object"),
        ("bad.har", '{"log": {"version": "1.2"}}', r"bad.har: not a HAR file: no log.entries"),
        ("bad.har", '{"log": ', r"bad.har:1: invalid JSON in HAR file"),
        (
            "bad.har",
            '{"log": {"entries": [{"request": {"method": "GET", "url": "/relative"}}]}}',
            r"bad.har: log.entries\[0\]: the URL must be absolute",
        ),
        (
            "bad.har",
            '{"log": {"entries": [{"request": {"method": "BREW", "url": "http://a/"}}]}}',
            r"bad.har: log.entries\[0\]: unknown method 'BREW'",
        ),
        ("bad.txt", "GET /ok\nBREW /coffee\n", r"bad.txt:2: unknown method 'BREW'"),
        ("bad.txt", "X-Early: 1\nGET /\n", r"bad.txt:1: header line before any request line"),
        ("bad.txt", "GET relative\n", r"bad.txt:1: the path must start with '/'"),
    ],
)
def test_malformed_sources_name_file_and_line(
    tmp_path: Path, name: str, text: str, message: str
) -> None:
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(SourceError, match=message) as info:
        load_sources([path])
    assert info.value.exit_code == 2
    assert str(path) in info.value.message


def test_missing_source_file(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="request source not found"):
        load_sources([tmp_path / "nope.jsonl"])


def test_skip_invalid_reads_the_rest_and_counts(tmp_path: Path) -> None:
    jsonl = tmp_path / "mixed.jsonl"
    jsonl.write_text('{"method": "GET", "path": "/a"}\nnot json\n{"method": "NOPE", "path": "/"}\n')
    har = tmp_path / "mixed.har"
    har.write_text(
        json.dumps(
            {
                "log": {
                    "entries": [
                        {"request": {"method": "GET", "url": "http://h/ok"}},
                        {"request": {"method": "GET"}},
                        {"nothing": 1},
                    ]
                }
            }
        )
    )
    text = tmp_path / "mixed.txt"
    text.write_text("GET /x\nBREW /y\nX-Header: belongs to the skipped request\nGET /z\n")
    result = load_sources([jsonl, har, text], skip_invalid=True)
    assert [r.path for r in result.requests] == ["/a", "/ok", "/x", "/z"]
    assert result.requests[-1].headers == ()
    assert result.invalid == 5
    assert result.invalid_examples[0].endswith(
        "mixed.jsonl:2: invalid JSON: Expecting value (column 1)"
    )


def test_detect_kind(tmp_path: Path) -> None:
    assert detect_kind(Path("x.har"), "") == "har"
    assert detect_kind(Path("x.jsonl"), "") == "jsonl"
    assert detect_kind(Path("x.txt"), '{"log": {"entries": []}}') == "har"
    assert detect_kind(Path("x.txt"), '{\n  "log": {}\n}') == "har"
    assert detect_kind(Path("x.log"), '{"method": "GET", "path": "/"}\n{"a": 1}\n') == "jsonl"
    assert detect_kind(Path("x.txt"), "GET /\n") == "lines"


def test_requests_from_routes_get_and_head() -> None:
    from wsgiscope.frameworks.base import Route

    routes = [
        Route("/items/<int:id>", "item", ["GET", "HEAD"], None, "flask", "shop", url="/items/1"),
        Route("/post", "post", ["POST"], None, "flask", "shop", url="/post"),
        Route("/x/<a>", "nourl", ["GET"], None, "flask", "shop", url=None, url_error="no"),
        Route("/*", "*", ["*"], None, "wsgi", "plain", url="/"),
        Route("/h", "host", ["GET"], None, "flask", "shop", url="http://api.local/h?x=1"),
    ]
    requests = requests_from_routes(routes)
    assert [r.describe() for r in requests] == [
        "GET /items/1",
        "HEAD /items/1",
        "GET /",
        "HEAD /",
        "GET /h?x=1",
        "HEAD /h?x=1",
    ]
    assert requests[-1].host == "api.local"


def test_records_written_by_trace_middleware_replay_as_recorded(tmp_path: Path) -> None:
    from werkzeug.test import Client

    from wsgiscope.tracing.middleware import TraceMiddleware

    app = load_app(AppRef("replay_echo:app", "argument", APPS)).app
    sink = tmp_path / "traces.jsonl"
    traced = TraceMiddleware(app, sink=str(sink))
    client = Client(traced)
    client.get("/items/7?page=2", headers={"X-Trace-Me": "yes", "Cookie": "session=secret"})
    client.delete("/items/7")
    client.post("/notes", json={"note": "hi"})
    requests = load_sources([sink]).requests
    assert [r.describe() for r in requests] == [
        "GET /items/7?page=2",
        "DELETE /items/7",
        "POST /notes",
    ]
    assert requests[2].body == b'{"note": "hi"}'
    assert ("X-Trace-Me", "yes") in requests[0].headers
    assert all(name != "Cookie" for name, _ in requests[0].headers)
    seen = echo(requests)
    assert seen[0]["headers"] == {"X-Trace-Me": "yes"}
    assert seen[1]["method"] == "DELETE"
    assert seen[2]["json"] == {"note": "hi"}


def test_trace_save_records_replay_with_their_bodies(apps_dir: Path, tmp_path: Path) -> None:
    from click.testing import CliRunner

    from wsgiscope.cli import cli

    saved = tmp_path / "traces.jsonl"
    upload = tmp_path / "blob.bin"
    upload.write_bytes(b"\x00\xffraw")
    for args in (
        ["POST", "/api/notes", "note:=3", 'tags:=["a"]'],
        ["POST", "/login", "user=ada", "remember=1", "--form"],
        ["PUT", "/blob", f"@{upload}", "Content-Type:application/octet-stream"],
    ):
        result = CliRunner().invoke(
            cli, ["trace", "replay_echo:app", *args, "--save", str(saved), "--json"]
        )
        assert result.exit_code == 0, result.stderr
    notes, login, blob = load_sources([saved]).requests
    assert json.loads(notes.body) == {"note": 3, "tags": ["a"]}
    assert login.body == b"user=ada&remember=1"
    assert blob.body == b"\x00\xffraw"  # recorded as base64, replayed as bytes
    seen = echo([notes, login, blob])
    assert seen[0]["json"] == {"note": 3, "tags": ["a"]}
    assert seen[1]["form"] == {"user": "ada", "remember": "1"}
    assert base64.b64decode(seen[2]["raw"]) == b"\x00\xffraw"
