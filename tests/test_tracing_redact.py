"""Secrets never reach a record unless asked for (fixed cases and Hypothesis)."""

from __future__ import annotations

import json
import typing as t

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.apps import trace_plain as plain
from tests.tracing_fixtures import environ
from wsgiscope import TraceMiddleware
from wsgiscope.redact import REDACTED, Redactor, is_secret_field, is_secret_header, redact_query
from wsgiscope.render.jsonout import dumps_line


def record_for(env: dict[str, t.Any], redact: bool = True) -> dict[str, t.Any]:
    records: list[dict[str, t.Any]] = []
    with TraceMiddleware(plain.secrets, sink=records.append, redact=redact) as mw:
        result = mw(env, lambda status, headers, exc_info=None: None)
        b"".join(result)
        result.close()  # type: ignore[attr-defined]
    return records[0]


@pytest.mark.parametrize(
    "name",
    ["Authorization", "Proxy-Authorization", "Cookie", "X-Api-Key", "X-Auth-Token", "X-CSRF-Token"],
)
def test_secret_headers(name: str) -> None:
    assert is_secret_header(name)
    assert is_secret_header("HTTP_" + name.upper().replace("-", "_"))


@pytest.mark.parametrize("name", ["Accept", "User-Agent", "Content-Type", "Host", "X-Request-Id"])
def test_plain_headers(name: str) -> None:
    assert not is_secret_header(name)


def test_fields_and_query() -> None:
    for name in (
        "password",
        "new_password",
        "passwd",
        "token",
        "api_key",
        "client_secret",
        "otp",
        "user_pin",
    ):
        assert is_secret_field(name), name
    for name in ("author", "user", "q", "page", "footprint", "spin", "lessness"):
        assert not is_secret_field(name), name
    assert redact_query("q=tea&password=x&author=me") == "q=tea&password=[redacted]&author=me"
    assert redact_query("pass%77ord=x") == "pass%77ord=[redacted]"
    assert Redactor().fields({"user": "ada", "password": "x"}) == {
        "user": "ada",
        "password": REDACTED,
    }
    assert Redactor(show_secrets=True).fields({"password": "x"}) == {"password": "x"}


_token = st.text(
    alphabet=st.sampled_from("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-"),
    min_size=1,
    max_size=20,
)
_latin1 = st.text(alphabet=st.characters(min_codepoint=0, max_codepoint=255), max_size=40)


@settings(max_examples=60, deadline=None)
@given(headers=st.dictionaries(_token, _latin1, max_size=6), path=_latin1)
def test_any_header_or_path_gives_a_valid_redacted_record(
    headers: dict[str, str], path: str
) -> None:
    env = environ()
    env["PATH_INFO"] = path
    keys = {}
    for name, value in headers.items():
        key = "HTTP_" + name.upper().replace("-", "_")
        env[key] = value
        keys[key] = value
    record = record_for(env)
    assert json.loads(dumps_line(record))["environ"] == record["environ"]
    assert record["request"]["path"] == path
    for key, value in keys.items():
        expected = REDACTED if is_secret_header(key) else value
        assert record["environ"][key] == expected


def test_redact_false_keeps_everything() -> None:
    env = environ(headers={"Cookie": "sid=1"})
    record = record_for(env, redact=False)
    assert record["environ"]["HTTP_COOKIE"] == "sid=1"
    assert ["Set-Cookie", "sid=abc; HttpOnly"] in record["response"]["headers"]


class Text(str):
    """A str subclass, as a hostile middleware might put in the environ."""


def test_str_subclass_keys_and_values_are_redacted_like_str() -> None:
    shown = Redactor().environ(
        {
            Text("HTTP_AUTHORIZATION"): "Bearer abc",
            "HTTP_COOKIE": Text("sid=1"),
            Text("QUERY_STRING"): Text("q=tea&password=x"),
            "HTTP_ACCEPT": Text("*/*"),
            7: "kept",
        }
    )
    assert shown == {
        "'HTTP_AUTHORIZATION'": REDACTED,  # quoted: not the server's own key
        "HTTP_COOKIE": REDACTED,
        "'QUERY_STRING'": "q=tea&password=[redacted]",
        "HTTP_ACCEPT": "*/*",
        "7": "kept",
    }
    assert all(type(key) is str and type(value) is str for key, value in shown.items())
    kept = Redactor(show_secrets=True).environ({"HTTP_COOKIE": Text("sid=1")})
    assert kept == {"HTTP_COOKIE": "sid=1"}
    assert type(kept["HTTP_COOKIE"]) is str


def test_url_headers_lose_the_secrets_they_echo() -> None:
    headers = [
        ("Location", "/login?next=/a&password=hunter2"),
        ("Content-Location", "/x?api_key=abc&page=2"),
        ("X-Other", "password=kept-as-is"),
    ]
    assert Redactor().headers(headers) == [
        ["Location", "/login?next=/a&password=[redacted]"],
        ["Content-Location", "/x?api_key=[redacted]&page=2"],
        ["X-Other", "password=kept-as-is"],
    ]
    assert Redactor(show_secrets=True).headers(headers)[0] == [
        "Location",
        "/login?next=/a&password=hunter2",
    ]


def _read_body(env: dict[str, t.Any], start_response: t.Callable[..., t.Any]) -> list[bytes]:
    env["wsgi.input"].read()
    start_response("204 No Content", [])
    return []


def body_record_for(env: dict[str, t.Any], redact: bool = True) -> dict[str, t.Any]:
    records: list[dict[str, t.Any]] = []
    with TraceMiddleware(_read_body, sink=records.append, redact=redact) as mw:
        result = mw(env, lambda status, headers, exc_info=None: None)
        b"".join(result)
        result.close()  # type: ignore[attr-defined]
    return records[0]


@pytest.mark.parametrize(
    ("content_type", "body", "expected"),
    [
        (
            "application/x-www-form-urlencoded",
            "user=ada&password=hunter2",
            "user=ada&password=[redacted]",
        ),
        (
            "application/json; charset=utf-8",
            '{"user": "ada", "account": {"api_key": "k1", "scopes": [{"token": "t"}]}}',
            '{"user": "ada", "account": {"api_key": "[redacted]", '
            '"scopes": [{"token": "[redacted]"}]}}',
        ),
        ("application/json", '{"user":  "ada"}', '{"user":  "ada"}'),  # untouched, byte for byte
        ("application/json", "{not json", "{not json"),
        # a text body is redacted by what it holds (#22.16): fail closed
        ("text/plain", "password=hunter2", "password=[redacted]"),
        ("text/plain", "just some words", "just some words"),
    ],
)
def test_request_bodies_are_redacted_by_field(content_type: str, body: str, expected: str) -> None:
    record = body_record_for(
        environ("/", method="POST", data=body.encode(), content_type=content_type), redact=True
    )
    assert record["request"]["body"] == expected
    shown = body_record_for(
        environ("/", method="POST", data=body.encode(), content_type=content_type), redact=False
    )
    assert shown["request"]["body"] == body


def test_multipart_request_body_redacts_secret_parts() -> None:
    fields = {"user": "ada", "password": "hunter2", "note": "hi"}
    env = environ("/", method="POST", data=fields, content_type="multipart/form-data")
    record = body_record_for(env)
    body = record["request"]["body"]
    assert 'name="password"\r\n\r\n[redacted]\r\n' in body
    assert "hunter2" not in body
    assert 'name="user"\r\n\r\nada\r\n' in body
    assert 'name="note"\r\n\r\nhi\r\n' in body


def test_a_secret_value_cut_by_the_preview_cap_is_still_redacted() -> None:
    """A ``g`` value previewed while the request was alive is capped at 200
    characters: a secret-named item whose quoted value the cap cut (no
    closing quote, the cap's marker after it) is redacted all the same."""
    from wsgiscope.redact import cap, redact_repr_text

    text = cap(repr([{"pad": "x" * 170, "api_token": "S3CR3T-v4lu3"}]))
    assert text.endswith("'api_token': 'S3C... [212 chars]")  # the cut lands in the secret
    shown = redact_repr_text(text)
    assert "S3C" not in shown
    assert shown.endswith("'api_token': '[redacted]'... [" + text.rsplit("[", 1)[1])
    assert redact_repr_text("{'password': 'abc") == "{'password': '[redacted]'"
    assert redact_repr_text('Login(token="x\\"y') == "Login(token='[redacted]'"
    # closed values and other items are as before
    assert redact_repr_text("{'token': 'a', 'x': 'b'}") == "{'token': '[redacted]', 'x': 'b'}"
