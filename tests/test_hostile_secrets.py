"""Issue #22, point 16: no secret in any output without ``--show-secrets``.

Every leak the adversarial pass found, through a real Flask app and
``trace --json`` (the record is the output every other view is built
from), plus properties: a secret-named key anywhere in a JSON body (any
depth, any content type, cut by the capture cap or not) and in ``g``
(any nesting) is never shown; the deny-list is extensible with
``--redact``, ``[tool.wsgiscope] redact`` and ``TraceMiddleware(redact=...)``."""

from __future__ import annotations

import gzip
import json
import os
import typing as t

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st
from werkzeug.test import Client

from tests.conftest import APPS
from wsgiscope import TraceMiddleware
from wsgiscope.cli import cli
from wsgiscope.redact import SENTRY_DENYLIST, reset_secret_names

APP = f"{APPS / 'hostile_flask.py'}:app"
SECRET = "S3CR3T-v4lu3"


@pytest.fixture(autouse=True)
def _forget_names(monkeypatch: pytest.MonkeyPatch) -> t.Iterator[None]:
    monkeypatch.delenv("WSGISCOPE_REDACT", raising=False)
    yield
    reset_secret_names()
    os.environ.pop("WSGISCOPE_REDACT", None)


def trace(*args: str, show: bool = False) -> str:
    extra = ["--show-secrets"] if show else []
    result = CliRunner().invoke(cli, ["trace", APP, *args, "--json", *extra])
    assert result.exit_code in (0, 1), result.output
    return result.output


CASES = [
    ("/", f"X-Auth-Key:{SECRET}"),
    ("/", f"Ocp-Apim-Subscription-Key:{SECRET}"),
    ("/", f"Referer:https://example.com/cb?token={SECRET}&x=1"),
    ("/", f"key=={SECRET}"),
    ("/", f"sig=={SECRET}"),
    ("/", f"AWSAccessKeyId=={SECRET}"),
    (f"/reset/{SECRET}", None),
    ("/g", None),
    ("/leaky-headers", None),
    *[(f"/leaky/{kind}", None) for kind in
      ("html", "bearer", "bomjson", "textjson", "jsonp", "xml", "gzip")],
]  # fmt: skip


@pytest.mark.parametrize(("path", "item"), CASES)
def test_no_secret_in_the_record(path: str, item: str | None) -> None:
    args = [path] + ([item] if item else [])
    output = trace(*args)
    if path.startswith("/reset/"):
        # the route argument is redacted; the path itself is what was asked
        record = json.loads(output)
        assert SECRET not in output  # nor in the path, the environ, the heading
        hooks = [e for e in record["events"] if e.get("view_args")]
        assert hooks
        assert all(e["view_args"]["token"] == "[redacted]" for e in hooks)
        return
    if path == "/g":
        assert "tok-nested-g" not in output
        assert "hash-in-g" not in output
        return
    assert SECRET not in output
    assert "[redacted]" in output
    # and it is there with --show-secrets (the test sees the real thing)
    shown = trace(*args, show=True)
    if path != "/leaky/gzip":
        assert SECRET in shown or SECRET.encode().hex() in shown or "S3CR3T" in shown


def test_json_over_the_capture_cap_is_hidden_whole() -> None:
    output = trace("/leaky/bigjson", "--max-body", "1000")
    assert SECRET not in output
    assert "unparseable JSON naming a secret" in output


REQUEST_BODIES = [
    ("application/x-www-form-urlencoded", b"user=bob&password=" + SECRET.encode() + b"&n=\xff"),
    ("", b"user=bob&password=" + SECRET.encode()),
    ("application/x-www-form-urlencoded", b"user=bob;password=" + SECRET.encode()),
    (
        "multipart/form-data; boundary=XX",
        b'--XX\nContent-Disposition: form-data; name="password"\n\n'
        + SECRET.encode()
        + b"\n--XX--\n",
    ),
    ("application/xml", b"<login><password>" + SECRET.encode() + b"</password></login>"),
    ("text/plain", b"Authorization: Bearer " + SECRET.encode()),
]


@pytest.mark.parametrize(("content_type", "body"), REQUEST_BODIES)
def test_no_secret_in_request_bodies(content_type: str, body: bytes) -> None:
    records: list[dict[str, t.Any]] = []
    import sys

    sys.path.insert(0, str(APPS))
    import hostile_flask

    client = Client(TraceMiddleware(hostile_flask.app, sink=records.append))
    headers = {"Content-Type": content_type} if content_type else {}
    client.post("/echo-length", data=body, headers=headers, buffered=True)
    text = json.dumps(records[0])
    assert SECRET not in text
    assert "[redacted]" in text


def test_a_gzip_request_body_naming_a_secret_is_hidden() -> None:
    records: list[dict[str, t.Any]] = []
    import sys

    sys.path.insert(0, str(APPS))
    import hostile_flask

    client = Client(TraceMiddleware(hostile_flask.app, sink=records.append))
    body = gzip.compress(json.dumps({"password": SECRET}).encode())
    client.post(
        "/echo-length", data=body, buffered=True,
        headers={"Content-Type": "application/json", "Content-Encoding": "gzip"},
    )  # fmt: skip
    assert records[0]["request"]["body"].startswith("[redacted]")


def test_error_messages_do_not_echo_secret_items() -> None:
    result = CliRunner().invoke(cli, ["trace", APP, "/", f"password:={SECRET}"])
    assert result.exit_code == 2
    assert SECRET not in result.output
    assert "password:=[redacted]" in result.output
    result = CliRunner().invoke(cli, ["trace", APP, "/", f"Authorization:Bearer {SECRET}\x00"])
    assert result.exit_code == 2
    assert SECRET not in result.output


# -- properties ------------------------------------------------------------

secret_names = st.sampled_from(
    ["password", "api_token", "X-Api-Key", "client_secret", "sessionid", "PHPSESSID", "key"]
)
plain = st.one_of(st.integers(), st.text(st.characters(categories=("L", "N")), max_size=5))
names = st.text(st.characters(categories=("Ll",)), min_size=1, max_size=6).filter(
    lambda n: not any(w in n for w in ("pass", "pwd", "key", "sig", "auth", "pin", "otp"))
)


@st.composite
def json_with_a_secret(draw: st.DrawFn, keys: st.SearchStrategy[str] = secret_names) -> t.Any:
    """A JSON value holding ``{<one of keys>: SECRET}`` somewhere inside."""
    value: t.Any = {draw(keys): SECRET}
    for _ in range(draw(st.integers(0, 30))):
        if draw(st.booleans()):
            value = {draw(names): value, **draw(st.dictionaries(names, plain, max_size=2))}
        else:
            value = [*draw(st.lists(plain, max_size=2)), value]
    return value


budget = settings(max_examples=60, deadline=None)


@budget
@given(
    value=json_with_a_secret(),
    content_type=st.sampled_from(["application/json", "text/plain", "", "application/vnd+json"]),
    wrap=st.sampled_from(["plain", "bom", "jsonp"]),
    cap=st.sampled_from([None, 40, 200]),
)
def test_a_secret_key_at_any_depth_in_any_json_body_is_never_shown(
    value: t.Any, content_type: str, wrap: str, cap: int | None
) -> None:
    text = json.dumps(value)
    text = {"plain": text, "bom": "\ufeff" + text, "jsonp": f"cb({text});"}[wrap]

    def app(environ: t.Any, start_response: t.Any) -> list[bytes]:
        headers = [("Content-Type", content_type)] if content_type else []
        start_response("200 OK", headers)
        return [text.encode()]

    records: list[dict[str, t.Any]] = []
    kwargs = {} if cap is None else {"max_body": cap}
    Client(TraceMiddleware(app, sink=records.append, **kwargs)).get("/", buffered=True)
    assert SECRET not in records[0]["response"]["body_preview"]


@budget
@given(value=json_with_a_secret())
def test_a_secret_key_at_any_depth_in_g_is_never_shown(value: t.Any) -> None:
    from flask import Flask, g

    app = Flask(__name__)

    @app.get("/")
    def index() -> str:
        g.data = value
        return "ok"

    records: list[dict[str, t.Any]] = []
    Client(TraceMiddleware(app.wsgi_app, sink=records.append)).get("/", buffered=True)
    # the value is capped at 200 characters: look where it was not cut
    assert SECRET not in json.dumps(records[0])


user_names = st.sampled_from(["customer_ref", "Customer-Ref", "CUSTOMER_REF", "jwt"])


class Account:
    def __init__(self, value: t.Any) -> None:
        self.value = value

    def __repr__(self) -> str:
        return f"Account(jwt={SECRET!r}, value={self.value!r})"


@budget
@given(value=json_with_a_secret(user_names), where=st.sampled_from(["body", "text", "g"]))
def test_a_name_the_user_added_is_never_shown_at_any_depth(value: t.Any, where: str) -> None:
    # Without a built-in secret word in the text, the scan that decides
    # whether a body or a repr is parsed must know the user's names.
    from flask import Flask, Response, g

    from wsgiscope.redact import reset_secret_names

    app = Flask(__name__)

    @app.get("/")
    def index() -> t.Any:
        if where == "g":
            g.account = Account(value)
            return "ok"
        return Response(json.dumps(value), mimetype="application/json" if where == "body" else "")

    records: list[dict[str, t.Any]] = []
    try:
        mw = TraceMiddleware(app.wsgi_app, sink=records.append, redact=["customer_ref", "jwt"])
        Client(mw).get("/", buffered=True)
    finally:
        reset_secret_names()
    assert SECRET not in json.dumps(records[0])


def test_sentry_and_otel_defaults_are_the_floor() -> None:
    from wsgiscope.redact import OTEL_QUERY_DENYLIST, is_secret_field, is_secret_header

    for name in SENTRY_DENYLIST:
        assert is_secret_field(name), name
        assert is_secret_header(name), name
    for name in OTEL_QUERY_DENYLIST:
        assert is_secret_field(name), name


# -- extending it ----------------------------------------------------------


def test_redact_option_adds_a_name() -> None:
    assert SECRET in trace("/", f"X-Tenant:{SECRET}")
    output = trace("/", f"X-Tenant:{SECRET}", "--redact", "x-tenant")
    assert SECRET not in output
    assert os.environ["WSGISCOPE_REDACT"] == "x-tenant"


def test_pyproject_redact_adds_names(tmp_path: t.Any, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "pyproject.toml").write_text('[tool.wsgiscope]\nredact = ["customer_ref"]\n')
    monkeypatch.chdir(tmp_path)
    output = trace("/", f"customer_ref=={SECRET}")
    assert SECRET not in output


def test_pyproject_redact_must_be_a_list(tmp_path: t.Any, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "pyproject.toml").write_text('[tool.wsgiscope]\nredact = "x"\n')
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["trace", APP, "/"])
    assert result.exit_code == 2
    assert "redact must be a list of names" in result.output


def test_middleware_redact_list() -> None:
    def app(environ: t.Any, start_response: t.Any) -> list[bytes]:
        start_response("200 OK", [("X-Shop-Code", SECRET)])
        return [b"ok"]

    records: list[dict[str, t.Any]] = []
    mw = TraceMiddleware(app, sink=records.append, redact=["X-Shop-Code"])
    Client(mw).get("/?x=1", headers={"X-Shop-Code": SECRET}, buffered=True)
    assert SECRET not in json.dumps(records[0])
    with pytest.raises(TypeError):
        TraceMiddleware(app, redact="X-Shop-Code")


def test_replay_examples_redact_text_bodies() -> None:
    from wsgiscope.replay.isolation import preview

    body = (
        f'<input type="hidden" name="csrf_token" value="{SECRET}"> '
        f"Authorization: Bearer {SECRET} password={SECRET}"
    ).encode()
    shown = preview(body)
    assert SECRET not in shown
    assert shown.count("[redacted]") == 3
