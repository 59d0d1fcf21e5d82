"""Issue #22, point 8: every source entry becomes a request that can be
built, or a clear error (a skip with ``--skip-invalid``), never a traceback.

Regression cases from the adversarial pass, then a fuzz of both readers
(HAR entries and JSON Lines records with any field replaced by any JSON
value): ``load_sources`` raises only ``SourceError``, and every request it
returns builds an environ (``replay``'s own ``prepare``)."""

from __future__ import annotations

import json
import typing as t

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import APPS
from wsgiscope.cli import cli
from wsgiscope.errors import SourceError
from wsgiscope.replay.engine import prepare
from wsgiscope.replay.sources import load_sources

APP = f"{APPS / 'hostile_flask.py'}:app"


def plain_app(environ: t.Any, start_response: t.Any) -> list[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"ok"]


def har(*entries: t.Any) -> str:
    return json.dumps({"log": {"version": "1.2", "entries": list(entries)}})


def entry(url: str = "http://example.com/", headers: t.Any = (), **request: t.Any) -> t.Any:
    return {"request": {"method": "GET", "url": url, "headers": list(headers), **request}}


GOOD = entry()
BAD_HAR = [
    entry(headers=[{"name": "X-A", "value": "a\r\nInjected: yes"}]),
    entry(headers=[{"name": "X A", "value": "v"}]),
    entry(url="http://example.com:99999/x"),
    entry(url="http://[::1/x"),
    entry(url="http://exa mple.com/x"),
]
BAD_JSONL = [
    {"method": "GET", "path": "/a\x00b"},
    {"method": "GET", "path": "/\ud800"},
    {"method": "GET", "path": "/", "host": "example.com:70000"},
    {"method": "GET", "path": "/", "headers": {"X-A": "1\n2"}},
    {"method": "GET", "path": "/", "query": "a=\x00"},
]


@pytest.mark.parametrize("bad", BAD_HAR)
def test_bad_har_entries_are_one_line_or_skipped(tmp_path: t.Any, bad: t.Any) -> None:
    source = tmp_path / "s.har"
    source.write_text(har(GOOD, bad))
    with pytest.raises(SourceError, match=r"log\.entries\[1\]"):
        load_sources([source])
    result = load_sources([source], skip_invalid=True)
    assert (len(result.requests), result.invalid) == (1, 1)
    prepare(result.requests, plain_app)


@pytest.mark.parametrize("bad", BAD_JSONL)
def test_bad_jsonl_records_are_one_line_or_skipped(tmp_path: t.Any, bad: t.Any) -> None:
    source = tmp_path / "s.jsonl"
    source.write_text(json.dumps({"method": "GET", "path": "/"}) + "\n" + json.dumps(bad) + "\n")
    with pytest.raises(SourceError, match=r"s\.jsonl:2"):
        load_sources([source])
    result = load_sources([source], skip_invalid=True)
    assert (len(result.requests), result.invalid) == (1, 1)
    prepare(result.requests, plain_app)


@pytest.mark.parametrize("command", ["replay", "lint"])
def test_the_commands_say_one_line(tmp_path: t.Any, command: str) -> None:
    source = tmp_path / "s.har"
    source.write_text(har(GOOD, BAD_HAR[0]))
    result = CliRunner().invoke(cli, [command, APP, str(source)])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert "log.entries[1]" in result.output
    if command == "replay":
        result = CliRunner().invoke(
            cli, [command, APP, str(source), "--skip-invalid", "--requests", "2"]
        )
        assert result.exit_code in (0, 1), result.output
        assert "Traceback" not in result.output


# -- fuzz --------------------------------------------------------------------

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats()
    | st.text(max_size=10)
    | st.sampled_from(
        ["/", "/x?y=1", "http://h/", "http://[::1]:80/", "http://h:0/", "GET", "\r\n", "\ud800"]
    ),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=5,
)

HAR_ENTRY = {
    "request": {
        "method": "POST",
        "url": "https://example.com:8443/api/x?q=1",
        "headers": [{"name": "Accept", "value": "*/*"}, {"name": ":authority", "value": "h"}],
        "cookies": [{"name": "a", "value": "b"}],
        "postData": {
            "mimeType": "application/x-www-form-urlencoded",
            "params": [{"name": "n", "value": "v"}],
        },
    }
}
RECORD = {
    "format": "wsgiscope.trace/1",
    "request": {"method": "POST", "path": "/p", "query_string": "a=1", "script_name": "/s",
                "scheme": "http", "host": "localhost:5000", "body": "x=1",
                "body_encoding": "utf-8"},
    "environ": {"HTTP_ACCEPT": "*/*", "CONTENT_TYPE": "application/x-www-form-urlencoded"},
}  # fmt: skip


def _paths(value: t.Any, prefix: tuple[t.Any, ...] = ()) -> list[tuple[t.Any, ...]]:
    found = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, item in value.items():
            found += _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += _paths(item, (*prefix, index))
    return found


def _mutate(value: t.Any, path: tuple[t.Any, ...], new: t.Any) -> t.Any:
    copied = json.loads(json.dumps(value))
    target = copied
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = new
    return copied


fuzz = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@fuzz
@given(
    kind=st.sampled_from(["har", "jsonl"]),
    path=st.data(),
    value=json_values,
)
def test_any_source_entry_is_a_request_or_a_clear_error(
    tmp_path_factory: t.Any, kind: str, path: t.Any, value: t.Any
) -> None:
    base = HAR_ENTRY if kind == "har" else RECORD
    where = path.draw(st.sampled_from(_paths(base)))
    mutated = _mutate(base, where, value)
    source = tmp_path_factory.mktemp("src") / f"s.{kind}"
    text = har(mutated) if kind == "har" else json.dumps(mutated)
    source.write_text(text, encoding="utf-8", errors="surrogatepass")
    try:
        load_sources([source])
        message = ""
    except SourceError as exc:
        message = exc.message
    assert "\n" not in message
    result = load_sources([source], skip_invalid=True, host_filter=["*"])
    assert len(result.requests) + result.invalid == 1
    prepare(result.requests, plain_app)


def test_source_errors_do_not_echo_secrets(tmp_path: t.Any) -> None:
    source = tmp_path / "s.har"
    source.write_text(har(entry(url="http://bob:hunter2@[::1/x?token=S3CR3T&a=1")))
    with pytest.raises(SourceError) as caught:
        load_sources([source])
    assert "hunter2" not in caught.value.message
    assert "S3CR3T" not in caught.value.message
    assert "Invalid IPv6 URL" in caught.value.message
    source = tmp_path / "s.jsonl"
    source.write_text(json.dumps({"method": "GET", "path": "/", "query": "token=S3CR3T&x=\x01"}))
    with pytest.raises(SourceError) as caught:
        load_sources([source])
    assert "S3CR3T" not in caught.value.message
