"""Request items as HTTPie means them (issue #16), against a real Flask app.

The parity table follows the grammar HTTPie 3 documents (request items,
nested JSON, ``--print`` letters, sessions, ``-a``, ``--follow``); every
case is sent through ``build_environ`` to a Flask app that echoes what it
received, and the command-line cases run the installed ``wsgiscope`` script.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import typing as t
from pathlib import Path

import pytest
from tracecli_fixtures import echo, load

from wsgiscope.errors import UsageError
from wsgiscope.request import build_environ, parse_request

pytest.importorskip("flask")

ROOT = Path(__file__).parent.parent


@pytest.fixture(scope="module")
def app() -> t.Any:
    return load("tracecli_echo.py:app")


def sent(app: t.Any, items: list[str], tmp_path: Path | None = None, **kwargs: t.Any) -> t.Any:
    spec = parse_request("/echo", items, base_dir=tmp_path, **kwargs)
    return echo(app, build_environ(spec, app))


# -- field=value is JSON, as HTTPie sends it --------------------------------------

NESTED = [
    (["name=python", "version:=3"], {"name": "python", "version": 3}),
    (
        ["date[year]:=2021", "date[month]=December", "systems[]=Linux", "systems[]=Mac"],
        {"date": {"year": 2021, "month": "December"}, "systems": ["Linux", "Mac"]},
    ),
    (["ids[1]:=1000", "ids[3]:=3000"], {"ids": [None, 1000, None, 3000]}),
    (
        ["pet[0][name]=Dahut", "pet[1][name]:=\"Billie\""],
        {"pet": [{"name": "Dahut"}, {"name": "Billie"}]},
    ),
    (["highlander[]=one"], {"highlander": ["one"]}),
    (["key[]:=1", "key[][]:=2"], {"key": [1, [2]]}),
    ([r"escaped\[\]:=1", r"e\[s\][c]:=2"], {"escaped[]": 1, "e[s]": {"c": 2}}),
    ([r"foo[\1]=text key"], {"foo": {"1": "text key"}}),
    (["[]:=1", "[]=foo"], [1, "foo"]),
    (["a=1", "a=2"], {"a": "2"}),  # a repeated name: the last value (HTTPie 3)
    (["empty="], {"empty": ""}),
    (["special[]:=true", "special[]:=null"], {"special": [True, None]}),
]  # fmt: skip


@pytest.mark.parametrize(("items", "body"), NESTED, ids=[" ".join(i) for i, _ in NESTED])
def test_fields_are_json_with_httpies_nesting(app: t.Any, items: list[str], body: t.Any) -> None:
    seen = sent(app, items)
    assert seen["method"] == "POST"
    assert seen["content_type"] == "application/json"
    assert seen["json"] == body
    assert seen["headers"]["Accept"] == "application/json, */*;q=0.5"


@pytest.mark.parametrize(
    ("items", "message"),
    [
        (["a[b=1"], "invalid nested JSON field name 'a[b': expected ']', found the end"),
        (["a]=1"], "invalid nested JSON field name 'a]': expected '[', found ']'"),
        (["a[b]=1", "a[]=2"], "field 'a[]': a is an object, not an array"),
        (["a=1", "a[b]=2"], "field 'a[b]': a is a string, not an object"),
        (["[]=1", "a=2"], "field 'a': the body is an array, not an object"),
        (["a[-1]=x"], "field 'a[-1]': negative array indexes are not supported"),
    ],
)
def test_nested_json_errors_are_one_line(app: t.Any, items: list[str], message: str) -> None:
    with pytest.raises(UsageError) as raised:
        sent(app, items)
    assert raised.value.message == message


def test_form_with_f_and_json_primitives_as_text(app: t.Any) -> None:
    seen = sent(app, ["name=Ada", "n:=3", "ok:=true", "a[b]=c"], mode="form")
    assert seen["content_type"] == "application/x-www-form-urlencoded"
    # in a form, nested names are plain names (HTTPie interprets them in JSON only)
    assert seen["form"] == {"name": ["Ada"], "n": ["3"], "ok": ["true"], "a[b]": ["c"]}
    assert "Accept" not in seen["headers"]
    with pytest.raises(UsageError, match="a JSON dict cannot be sent in a form"):
        sent(app, ['o:={"k": 1}'], mode="form")


# -- values from files: =@ :=@ :@ ==@ and uploads with ;type= -----------------------


def test_values_read_from_files(app: t.Any, tmp_path: Path) -> None:
    (tmp_path / "bio.txt").write_text("line one\nline two\n")
    (tmp_path / "tags.json").write_text('["a", {"b": 2}]')
    (tmp_path / "token.txt").write_text("s3cret\n")
    (tmp_path / "q.txt").write_text("tea pot\n")
    seen = sent(
        app,
        ["bio=@bio.txt", "tags:=@tags.json", "user[bio]=@bio.txt", "X-Token:@token.txt",
         "q==@q.txt"],
        tmp_path,
    )  # fmt: skip
    assert seen["json"] == {
        "bio": "line one\nline two\n",
        "tags": ["a", {"b": 2}],
        "user": {"bio": "line one\nline two\n"},
    }
    assert seen["headers"]["X-Token"] == "s3cret"  # the trailing newline dropped, as HTTPie
    assert seen["args"] == {"q": ["tea pot"]}


def test_value_file_errors(app: t.Any, tmp_path: Path) -> None:
    (tmp_path / "blob.bin").write_bytes(b"\xff\xfe\x00")
    (tmp_path / "bad.json").write_text("{nope")
    with pytest.raises(UsageError, match=r"'bio=@blob.bin': 'blob.bin' is not a UTF-8 text file"):
        sent(app, ["bio=@blob.bin"], tmp_path)
    with pytest.raises(UsageError, match=r"'o:=@bad.json': 'bad.json' is not JSON"):
        sent(app, ["o:=@bad.json"], tmp_path)
    with pytest.raises(UsageError, match=r"file not found: 'missing\.txt'"):
        sent(app, ["bio=@missing.txt"], tmp_path)


def test_upload_with_a_type_and_fields(app: t.Any, tmp_path: Path) -> None:
    (tmp_path / "pic.dat").write_bytes(b"PNGDATA")
    seen = sent(app, ["pic@pic.dat;type=image/png", "title=Hi", "n:=2"], tmp_path)
    assert seen["content_type"].startswith("multipart/form-data; boundary=")
    assert seen["files"] == {"pic": ["pic.dat", "image/png", "PNGDATA"]}
    assert seen["form"] == {"title": ["Hi"], "n": ["2"]}


# -- Header: removes, Header; sends empty -------------------------------------------


def test_header_removal_and_empty_headers(app: t.Any) -> None:
    seen = sent(app, ["User-Agent:", "X-Empty;", "X-Kept:1", "a=1", "Accept:"])
    assert "User-Agent" not in seen["headers"]
    assert "Accept" not in seen["headers"]  # HTTPie's JSON Accept removed too
    assert seen["headers"]["X-Empty"] == ""
    assert seen["headers"]["X-Kept"] == "1"
    with pytest.raises(UsageError) as raised:
        parse_request("/echo", ["X-Bad;value"])
    assert (
        raised.value.message == "invalid item 'X-Bad;value': to send an empty header use 'X-Bad;'"
    )


# -- the command line: -p letters, -a, --session, --follow ---------------------------

SHOP = """
import base64

from flask import Flask, jsonify, redirect, request, session

app = Flask(__name__)
app.secret_key = "dev"


@app.post("/login")
def login():
    session["user"] = request.get_json()["user"]
    return redirect("/account")


@app.get("/account")
def account():
    if "user" not in session:
        return "who are you?", 401
    return jsonify(user=session["user"])


@app.get("/whoami")
def whoami():
    header = request.headers.get("Authorization", "")
    user = base64.b64decode(header.split()[-1]).decode() if header.startswith("Basic") else None
    return jsonify(basic=user, bearer=header[7:] if header.startswith("Bearer") else None)


@app.post("/logout")
def logout():
    session.clear()
    return "bye"
"""


def cli(*args: str, cwd: Path, config: Path) -> subprocess.CompletedProcess[str]:
    script = Path(sys.executable).parent / "wsgiscope"
    command = [str(script)] if script.exists() else [sys.executable, "-m", "wsgiscope"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("WSGISCOPE_APP")}
    env.update(PYTHONPATH=str(ROOT), NO_COLOR="1", WSGISCOPE_CONFIG_DIR=str(config))
    return subprocess.run(
        [*command, "trace", "shop:app", *args], capture_output=True, text=True, cwd=cwd,
        env=env, timeout=60, stdin=subprocess.DEVNULL,
    )  # fmt: skip


@pytest.fixture
def shop(tmp_path: Path) -> Path:
    (tmp_path / "shop.py").write_text(SHOP)
    return tmp_path


def record(result: subprocess.CompletedProcess[str]) -> dict[str, t.Any]:
    assert result.returncode == 0, result.stderr
    return t.cast("dict[str, t.Any]", json.loads(result.stdout))


@pytest.mark.slow
def test_log_in_then_trace_the_logged_in_page_with_a_session(shop: Path) -> None:
    config = shop / "config"
    login = cli("POST", "/login", "user=ada", "--session", "ada", "--json", cwd=shop, config=config)
    assert record(login)["response"]["status_code"] == 302
    stored = config / "sessions" / "localhost" / "ada.json"
    assert stat.S_IMODE(stored.stat().st_mode) == 0o600
    assert stat.S_IMODE(stored.parent.stat().st_mode) == 0o700
    assert "session" in json.loads(stored.read_text())["cookies"]
    account = record(cli("/account", "--session", "ada", "--json", cwd=shop, config=config))
    assert account["response"]["body_preview"].replace(" ", "").startswith('{"user":"ada"}')
    assert account["environ"]["HTTP_COOKIE"] == "[redacted]"  # still a secret in the record
    # another session, or none, is not logged in
    assert (
        record(cli("/account", "--json", cwd=shop, config=config))["response"]["status_code"] == 401
    )
    # the app clearing the session cookie removes it from the session file
    record(cli("POST", "/logout", "--session", "ada", "--json", cwd=shop, config=config))
    assert json.loads(stored.read_text())["cookies"] == {}


@pytest.mark.slow
def test_auth_basic_bearer_and_no_terminal_to_ask(shop: Path) -> None:
    config = shop / "config"
    seen = record(
        cli("/whoami", "-a", "ada:pw", "--json", "--show-secrets", cwd=shop, config=config)
    )
    assert json.loads(seen["response"]["body_preview"]) == {"basic": "ada:pw", "bearer": None}
    seen = record(cli("/whoami", "-A", "bearer", "-a", "tok", "--json", "--show-secrets",
                      cwd=shop, config=config))  # fmt: skip
    assert json.loads(seen["response"]["body_preview"]) == {"basic": None, "bearer": "tok"}
    asked = cli("/whoami", "-a", "ada", cwd=shop, config=config)
    assert asked.returncode == 2
    assert asked.stderr.splitlines() == [
        "wsgiscope: error: -a ada: no password given and no terminal to ask for it",
        "hint: give it as -a ada:PASSWORD",
    ]


@pytest.mark.slow
def test_follow_traces_each_hop(shop: Path) -> None:
    config = shop / "config"
    result = cli("POST", "/login", "user=bob", "--follow", "--json", cwd=shop, config=config)
    assert result.returncode == 0, result.stderr
    hops = [json.loads(line) for line in result.stdout.splitlines()]
    assert [(h["request"]["method"], h["request"]["path"]) for h in hops] == [
        ("POST", "/login"),
        ("GET", "/account"),
    ]
    # the cookie set by the first hop reached the second (nothing stored: no --session)
    assert hops[1]["response"]["status_code"] == 200
    assert not config.exists()
    text = cli("POST", "/login", "user=bob", "--follow", "-p", "hm", cwd=shop, config=config)
    assert "↪ 302 Location: /account  → GET /account" in text.stdout
    assert text.stdout.count("size ") == 2
    stopped = cli("POST", "/login", "user=bob", "--follow", "--max-redirects", "0", "--json",
                  cwd=shop, config=config)  # fmt: skip
    assert stopped.returncode == 1
    assert "too many redirects (--max-redirects=0)" in stopped.stderr


@pytest.mark.slow
def test_print_letters_mean_what_they_mean_in_httpie(shop: Path) -> None:
    config = shop / "config"

    def shown(letters: str) -> str:
        result = cli("POST", "/login", "user=ada", "-p", letters, "--width", "200",
                     cwd=shop, config=config)  # fmt: skip
        assert result.returncode == 0, result.stderr
        return result.stdout

    request_headers = shown("H")
    assert "request\n" in request_headers
    assert "Content-Type: application/json" in request_headers
    assert "Accept: application/json, */*;q=0.5" in request_headers
    assert "Location" not in request_headers
    assert 'body {"user": "ada"}' in shown("B")
    response_headers = shown("h")
    assert "Location: /account" in response_headers
    assert "size " not in response_headers
    meta = shown("m")
    assert "size " in meta
    assert "Location" not in meta
    assert "Redirecting..." in shown("b")
    hooks = shown("k")
    assert "view login" in hooks
    assert "push request context" not in hooks
    assert "push request context" in shown("c")
    old = cli("/account", "-p", "r", cwd=shop, config=config)
    assert old.returncode == 2
    assert "unknown section 'r'" in old.stderr
