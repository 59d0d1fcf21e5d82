"""Request items, specs and environs (wsgiscope.request) against real apps."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tracecli_fixtures import echo, load

from wsgiscope.errors import UsageError
from wsgiscope.request import (
    RequestSpec,
    base_url,
    build_environ,
    is_method,
    parse_item,
    parse_request,
    split_target,
)

pytestmark = pytest.mark.flask  # also run under the next Flask (.ci/run)


@pytest.fixture(scope="module")
def app():
    return load("tracecli_echo.py:app")


# -- items ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("item", "kind", "name", "value"),
    [
        ("X-Api:abc", "header", "X-Api", "abc"),
        ("X-Time:12:00", "header", "X-Time", "12:00"),
        ("Accept: text/html ", "header", "Accept", "text/html"),
        ("X-Gone:", "header", "X-Gone", None),
        ("X-Empty;", "header", "X-Empty", ""),
        ("q==tea pot", "query", "q", "tea pot"),
        ("url==http://x/?a=b", "query", "url", "http://x/?a=b"),
        ("q==", "query", "q", ""),
        ("name=Ada", "field", "name", "Ada"),
        ("email=a@b.example", "field", "email", "a@b.example"),
        ("eq=a=b", "field", "eq", "a=b"),
        ("n:=3", "json", "n", 3),
        ('tags:=["a", 1]', "json", "tags", ["a", 1]),
        ("ok:=true", "json", "ok", True),
        ('s:="text"', "json", "s", "text"),
        ("doc@notes.txt", "file", "doc", "notes.txt"),
        ("@body.json", "body", "", "body.json"),
        ("a\\=b=c", "field", "a=b", "c"),
        ("a\\:b==c", "query", "a:b", "c"),
        ("who=me\\@home", "field", "who", "me@home"),
    ],
)
def test_parse_item(item, kind, name, value):
    parsed = parse_item(item)
    assert (parsed.kind, parsed.name, parsed.value, parsed.raw) == (kind, name, value, item)


def test_header_value_outside_latin1_arrives_as_utf8_bytes():
    assert parse_item("X-Name:caf\u00e9").value == "caf\u00e9"
    assert parse_item("X-Name:\u20ac").value == "\u20ac".encode().decode("latin-1")


@pytest.mark.parametrize(
    ("item", "message"),
    [
        ("users", "is not Header:value"),
        ("=value", "has no name"),
        (":value", "has no name"),
        ("==v", "has no name"),
        ("n:=tru", "invalid JSON in 'n:=tru'"),
        ("n:={", "invalid JSON"),
        ("n:=", "invalid JSON"),
        ("Bad Name:x", "invalid header name 'Bad Name'"),
        ("X-A:one\ntwo", "line break"),
        ("X-A:one\rtwo", "line break"),
        ("@", "needs a file name"),
        ("doc@", "needs a file name"),
    ],
)
def test_malformed_items(item, message):
    with pytest.raises(UsageError, match=None) as info:
        parse_item(item)
    assert message in info.value.message
    assert "\n" not in info.value.message.replace("\\n", "")


def test_bad_json_hint_suggests_quoting():
    with pytest.raises(UsageError) as info:
        parse_item("name:=Ada")
    assert "name:='\"text\"'" in (info.value.hint or "")


# -- specs ------------------------------------------------------------------


def test_method_defaults_to_get_or_post_with_a_body():
    assert parse_request("/x").effective_method == "GET"
    assert parse_request("/x", ["q==1", "X-A:b"]).effective_method == "GET"
    assert parse_request("/x", ["a=1"]).effective_method == "POST"
    assert parse_request("/x", raw="hello").effective_method == "POST"
    assert parse_request("/x", ["a=1"], method="put").effective_method == "PUT"


def test_encoding_follows_mode_and_items():
    # fields are JSON unless --form, as HTTPie sends them
    assert parse_request("/x", ["a=1"]).encoding == "json"
    assert parse_request("/x", ["a=1"], mode="form").encoding == "form"
    assert parse_request("/x", ["a=1"], mode="json").encoding == "json"
    assert parse_request("/x", ["a=1", 's:="x"']).encoding == "json"
    assert parse_request("/x").encoding == "none"


def test_file_items_read_relative_to_base_dir(tmp_path: Path):
    (tmp_path / "body.json").write_bytes(b'{"a": 1}')
    (tmp_path / "notes.txt").write_bytes(b"hello")
    spec = parse_request("/x", ["@body.json"], base_dir=tmp_path)
    assert (spec.body, spec.body_name) == (b'{"a": 1}', "body.json")
    spec = parse_request("/x", ["doc@notes.txt", "title=t"], base_dir=tmp_path)
    assert spec.uploads[0][0] == "doc"
    assert (spec.uploads[0][1].filename, spec.uploads[0][1].content) == ("notes.txt", b"hello")
    assert spec.uploads[0][1].content_type == "text/plain"


@pytest.mark.parametrize(
    ("items", "kwargs", "message"),
    [
        (["@missing.bin"], {}, "file not found: 'missing.bin'"),
        (["doc@missing.txt"], {}, "file not found: 'missing.txt'"),
        (["@."], {}, "is a directory"),
        (["n:=[1]"], {"mode": "form"}, "a JSON list cannot be sent in a form (--form)"),
        (["n:=null"], {"mode": "form"}, "a JSON null cannot be sent in a form"),
        (["doc@notes.txt"], {"mode": "json"}, "needs a form"),
        (["doc@notes.txt", 'n:={"a": 1}'], {}, "cannot be sent in a form (a file upload)"),
        (["@notes.txt", "@notes.txt"], {}, "given twice"),
        (["@notes.txt"], {"raw": "x"}, "--raw and an @file body"),
        (["a=1"], {"raw": "x"}, "cannot be combined with field items"),
    ],
)
def test_spec_errors(tmp_path: Path, items, kwargs, message):
    (tmp_path / "notes.txt").write_bytes(b"hello")
    with pytest.raises(UsageError) as info:
        parse_request("/x", items, base_dir=tmp_path, **kwargs)
    assert message in info.value.message


def test_path_must_look_like_a_path():
    with pytest.raises(UsageError) as info:
        parse_request("users")
    assert info.value.hint == "try '/users'"


# -- APP / METHOD / PATH by shape --------------------------------------------


@pytest.mark.parametrize(
    ("words", "expected"),
    [
        (["/x"], (None, None, "/x", [])),
        (["GET", "/x"], (None, "GET", "/x", [])),
        (["delete", "/x", "a=1"], (None, "DELETE", "/x", ["a=1"])),
        (["PURGE", "/x"], (None, "PURGE", "/x", [])),
        (["app:app", "/x", "q==1"], ("app:app", None, "/x", ["q==1"])),
        (["app.py", "post", "/x"], ("app.py", "POST", "/x", [])),
        (["wsgiscope.demo", "https://h/x"], ("wsgiscope.demo", None, "https://h/x", [])),
        (["app", "GET", "/x", "/y"], ("app", "GET", "/x", ["/y"])),
    ],
)
def test_split_target(words, expected):
    assert split_target(words) == expected


@pytest.mark.parametrize(
    ("words", "message", "hint"),
    [
        ([], "no PATH given", "[APP] [METHOD] PATH"),
        (["app:app"], "no PATH given", "[APP] [METHOD] PATH"),
        (["app:app", "users"], "got 'users'", "did you mean '/users'?"),
        (["GET", "app:app", "/x"], "got 'app:app'", "[APP] [METHOD] PATH"),
        (["app", "GET", "POST", "/x"], "got 'POST'", "did you mean '/POST'?"),
    ],
)
def test_split_target_errors(words, message, hint):
    with pytest.raises(UsageError) as info:
        split_target(words)
    assert message in info.value.message
    assert hint in (info.value.hint or "")


def test_split_target_absolute_app_file(tmp_path: Path):
    app = tmp_path / "app.py"
    app.write_text("")
    assert split_target([str(app), "/x"]) == (str(app), None, "/x", [])
    assert split_target([f"{app}:wsgi", "GET", "/x"]) == (f"{app}:wsgi", "GET", "/x", [])
    # Without a PATH after it, or when no such file exists, it is the PATH.
    assert split_target([str(app)]) == (None, None, str(app), [])
    assert split_target([str(tmp_path / "none.py"), "/x"])[2] == str(tmp_path / "none.py")


def test_is_method():
    for word in ("get", "OPTIONS", "PROPFIND"):
        assert is_method(word)
    for word in ("app", "app:app", "/x"):
        assert not is_method(word)


# -- environs, through a real Flask app -----------------------------------------


def test_query_and_headers_reach_the_app(app):
    spec = parse_request("/echo?a=1", ["b==2", "a==3", "X-Token:t", "Accept:text/plain"])
    environ = build_environ(spec, app)
    assert environ["REQUEST_URI"] == "/echo?a=1&b=2&a=3"
    seen = echo(app, environ)
    assert seen["args"] == {"a": ["1", "3"], "b": ["2"]}
    assert seen["headers"]["X-Token"] == "t"
    assert seen["headers"]["Accept"] == "text/plain"
    assert seen["headers"]["User-Agent"] == "wsgiscope"
    assert seen["method"] == "GET"


def test_form_fields(app):
    spec = parse_request("/echo", ["a=1", "a=2", "b=x y", "n:=3"], mode="form")
    seen = echo(app, build_environ(spec, app))
    assert seen["method"] == "POST"
    assert seen["content_type"] == "application/x-www-form-urlencoded"
    assert seen["form"] == {"a": ["1", "2"], "b": ["x y"], "n": ["3"]}
    assert seen["headers"].get("Accept") is None  # HTTPie's JSON Accept only with JSON


def test_json_fields(app):
    spec = parse_request("/echo", ["a=1", "n:=2", "a=3", 'o:={"k": [null]}'], method="PUT")
    seen = echo(app, build_environ(spec, app))
    assert (seen["method"], seen["content_type"]) == ("PUT", "application/json")
    # a repeated name: the last value, as HTTPie 3 (a[]=1 a[]=3 for a list)
    assert seen["json"] == {"a": "3", "n": 2, "o": {"k": [None]}}
    assert seen["headers"]["Accept"] == "application/json, */*;q=0.5"


def test_json_mode_makes_text_fields_json(app):
    seen = echo(app, build_environ(parse_request("/echo", ["a=1"], mode="json"), app))
    assert seen["json"] == {"a": "1"}


def test_multipart_upload(app, tmp_path: Path):
    (tmp_path / "notes.txt").write_bytes(b"hello")
    spec = parse_request("/echo", ["doc@notes.txt", "title=t"], base_dir=tmp_path)
    seen = echo(app, build_environ(spec, app))
    assert seen["content_type"].startswith("multipart/form-data; boundary=")
    assert seen["files"] == {"doc": ["notes.txt", "text/plain", "hello"]}
    assert seen["form"] == {"title": ["t"]}


@pytest.mark.parametrize(
    ("kwargs", "items", "content_type"),
    [
        ({"raw": '{"a": 1}'}, [], "application/json"),
        ({"raw": "hello"}, [], "text/plain; charset=utf-8"),
        ({"raw": b"\xff\x00"}, [], "application/octet-stream"),
        ({"raw": "a=1", "mode": "form"}, [], "application/x-www-form-urlencoded"),
        ({"raw": "x", "mode": "json"}, [], "application/json"),
        ({"raw": "x"}, ["Content-Type:text/csv"], "text/csv"),
        ({}, ["@notes.txt"], "text/plain"),
        ({}, ["@blob"], "application/octet-stream"),
    ],
)
def test_raw_body_content_type(app, tmp_path: Path, kwargs, items, content_type):
    (tmp_path / "notes.txt").write_bytes(b"hello")
    (tmp_path / "blob").write_bytes(b"\x00\x01")
    spec = parse_request("/echo", items, base_dir=tmp_path, **kwargs)
    environ = build_environ(spec, app)
    assert environ["CONTENT_TYPE"] == content_type
    assert environ["REQUEST_METHOD"] == "POST"
    assert environ["wsgi.input"].read() == spec.body
    assert environ["CONTENT_LENGTH"] == str(len(spec.body or b""))


def test_an_empty_raw_body_gets_no_content_type(app):
    environ = build_environ(RequestSpec("/echo", method="POST", body=b""), app)
    assert "CONTENT_TYPE" not in environ
    assert echo(app, environ)["method"] == "POST"


def test_default_base_url_is_localhost(app):
    assert base_url(None) == "http://localhost/"
    assert base_url(app) == "http://localhost/"
    seen = echo(app, build_environ(RequestSpec("/echo"), app))
    assert seen["url"] == "http://localhost/echo"


def test_flask_config_behind_middleware_sets_the_base_url():
    configured = load("tracecli_echo.py:configured")
    assert base_url(configured) == "https://shop.example:8443/shop"
    environ = build_environ(RequestSpec("/echo"), configured)
    assert (environ["SCRIPT_NAME"], environ["PATH_INFO"]) == ("/shop", "/echo")
    assert echo(configured, environ)["url"] == "https://shop.example:8443/shop/echo"


def test_base_url_matches_flasks_own_test_client():
    from flask.testing import EnvironBuilder as FlaskBuilder

    configured = load("tracecli_echo.py:configured")
    flask_app = configured.app
    ours = build_environ(RequestSpec("/echo?x=1"), configured)
    builder = FlaskBuilder(flask_app, "/echo?x=1")
    try:
        theirs = builder.get_environ()
    finally:
        builder.close()
    keys = (
        "SCRIPT_NAME",
        "PATH_INFO",
        "QUERY_STRING",
        "SERVER_NAME",
        "SERVER_PORT",
        "HTTP_HOST",
        "wsgi.url_scheme",
        "REQUEST_METHOD",
    )
    assert {k: ours[k] for k in keys} == {k: theirs[k] for k in keys}


def test_a_known_base_url_skips_the_app(app):
    environ = build_environ(RequestSpec("/echo"), base="https://h.example/root")
    assert (environ["HTTP_HOST"], environ["SCRIPT_NAME"]) == ("h.example", "/root")
    assert echo(app, environ)["url"] == "https://h.example/root/echo"


def test_demo_base_url_comes_from_the_dispatchers_default_app():
    import wsgiscope.demo

    assert base_url(wsgiscope.demo.application) == "http://localhost/"


def test_absolute_url_overrides_scheme_and_host(app):
    seen = echo(app, build_environ(parse_request("https://api.example/echo?q=1"), app))
    assert seen["url"] == "https://api.example/echo?q=1"


def test_host_header_item_wins(app):
    seen = echo(app, build_environ(parse_request("/echo", ["Host:other.example"]), app))
    assert seen["url"] == "http://other.example/echo"


def test_plain_wsgi_app_and_odd_paths():
    plain = load("tracecli_plain.py")
    environ = build_environ(parse_request("/[bold red]x[/] %41"), plain)
    assert environ["PATH_INFO"] == "/[bold red]x[/] A"
    environ = build_environ(parse_request("/caf\u00e9"), plain)
    # PEP 3333: the path's UTF-8 bytes, as latin-1 text.
    assert environ["PATH_INFO"] == "/caf\u00e9".encode().decode("latin-1")


@pytest.mark.parametrize(
    ("path", "path_info", "request_uri"),
    [
        ("//x/%41?q=1", "//x/A", "//x/%41?q=1&a=b"),
        ("//[", "//[", "//[?a=b"),
        ("//a]b", "//a]b", "//a]b?a=b"),
        ("//caf\u00e9", "//caf\u00c3\u00a9", "//caf\u00c3\u00a9?a=b"),
    ],
)
def test_a_path_starting_with_two_slashes_is_a_path(path, path_info, request_uri):
    # urlsplit would read "//x" as a host (and reject "//[").
    environ = build_environ(parse_request(path, ["a==b"]))
    assert (environ["PATH_INFO"], environ["REQUEST_URI"]) == (path_info, request_uri)
    assert environ["RAW_URI"] == request_uri
    assert (environ["HTTP_HOST"], environ["QUERY_STRING"][-3:]) == ("localhost", "a=b")


def test_django_base_url(tmp_path: Path):
    pytest.importorskip("django")
    import subprocess
    import sys

    code = (
        "import django; from django.conf import settings;"
        "settings.configure(ALLOWED_HOSTS=%r);"
        "from wsgiscope.request import base_url;"
        "from django.core.handlers.wsgi import WSGIHandler; django.setup();"
        "print(base_url(WSGIHandler()))"
    )
    results = []
    for hosts in ([], ["*"], ["api.example", ".example"], [".example"]):
        out = subprocess.run(
            [sys.executable, "-c", code % (hosts,)],
            capture_output=True,
            text=True,
            check=True,
            env={"PYTHONPATH": str(Path(__file__).parent.parent)},
        )
        results.append(out.stdout.strip())
    assert results == [
        "http://localhost/",
        "http://testserver/",
        "http://api.example/",
        "http://localhost/",
    ]


def test_environ_is_json_free_of_surprises(app):
    environ = build_environ(parse_request("/echo", ["a:=1"]), app)
    assert json.loads(environ["wsgi.input"].read()) == {"a": 1}
    assert environ["REMOTE_ADDR"] == "127.0.0.1"
