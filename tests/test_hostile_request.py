"""Issue #22, points 9-11: building a request from argv never ends in a
traceback: bytes that are not UTF-8, bad URLs, credentials in a URL, files
that are not regular files, and ``match``/``lint -r`` parsed like ``trace``.

The fuzz feeds ``trace`` arbitrary argv bytes (as Python receives them,
``surrogateescape``-decoded) as PATH and items: the exit is 0, 1 or 2 and
the output holds no wsgiscope traceback."""

from __future__ import annotations

import base64
import json
import os
import typing as t

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import APPS
from wsgiscope.cli import cli

APP = f"{APPS / 'hostile_flask.py'}:app"


def run(*args: str) -> t.Any:
    return CliRunner().invoke(cli, list(args))


def argv(data: bytes) -> str:
    return os.fsdecode(data)


@pytest.mark.parametrize(
    "args",
    [
        ["/\xff"],
        ["/", "X-A:\xff"],
        ["/", "a=\xff"],
        ["/", "a==\xff"],
        ["/", "a:=\xff"],
        ["/", "\xff@x"],
    ],
)
def test_bytes_that_are_not_utf8_are_one_line(args: list[str]) -> None:
    result = run("trace", APP, *[argv(a.encode("latin-1")) for a in args])
    assert result.exit_code == 2
    assert "is not valid UTF-8" in result.output
    assert "Traceback" not in result.output


def test_raw_sends_bytes_as_given() -> None:
    result = run("trace", APP, "POST", "/echo-length", "--raw", argv(b"a\xffb"), "--json")
    assert result.exit_code == 0, result.output
    record = json.loads(result.output)
    assert base64.b64decode(record["request"]["body"]) == b"a\xffb"


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://host:99999/x", "Port out of range"),
        ("http://[::1/x", "Invalid IPv6 URL"),
        ("http:///x", "has no host"),
    ],
)
def test_bad_urls_are_one_line(url: str, message: str) -> None:
    result = run("trace", APP, url)
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output


def test_url_credentials_become_a_redacted_authorization_header() -> None:
    result = run("trace", APP, "https://user:p%40ss@example.com:8443/", "--json")
    assert result.exit_code == 0, result.output
    record = json.loads(result.output)
    assert record["environ"]["HTTP_HOST"] == "example.com:8443"
    assert record["environ"]["HTTP_AUTHORIZATION"] == "[redacted]"
    assert "p%40ss" not in result.output
    assert "user:" not in result.output
    shown = json.loads(
        run("trace", APP, "https://user:p%40ss@h/", "--json", "--show-secrets").output
    )
    expected = "Basic " + base64.b64encode(b"user:p@ss").decode()
    assert shown["environ"]["HTTP_AUTHORIZATION"] == expected


fuzz = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
argv_bytes = st.binary(min_size=0, max_size=12).filter(lambda b: b"\x00" not in b)


@fuzz
@given(
    path=argv_bytes,
    items=st.lists(
        st.tuples(argv_bytes, st.sampled_from([b":", b"==", b"=", b":=", b";"]), argv_bytes),
        max_size=3,
    ),
)
def test_any_argv_bytes_end_in_a_clear_exit(path: bytes, items: list[tuple[bytes, ...]]) -> None:
    words = [argv(b"/" + path)] + [argv(b"".join(item)) for item in items]
    result = run("trace", APP, *words)
    assert result.exit_code in (0, 1, 2), result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(
        result.exception
    )
    assert "Traceback" not in result.output


@pytest.mark.parametrize("form", ["@{}", "up@{}"])
@pytest.mark.parametrize("target", ["/dev/zero", "fifo"])
def test_a_file_item_that_is_not_a_regular_file_is_refused(
    tmp_path: t.Any, form: str, target: str
) -> None:
    if target == "fifo":
        target = str(tmp_path / "fifo")
        os.mkfifo(target)  # nobody writes: reading it would block forever
    result = run("trace", APP, "POST", "/echo-length", form.format(target))
    assert result.exit_code == 2
    assert "is not a regular file" in result.output


def test_a_file_item_over_the_limit_is_refused(
    tmp_path: t.Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from wsgiscope import request

    big = tmp_path / "big.bin"
    with open(big, "wb") as f:
        f.truncate((1 << 20) + 1)
    monkeypatch.setattr(request, "MAX_FILE_BYTES", 1 << 20)
    result = run("trace", APP, "POST", "/echo-length", f"@{big}")
    assert result.exit_code == 2
    assert "is larger than 1 MiB" in result.output
    assert request.MAX_FILE_BYTES < 100 << 20


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["relative"], "expected a PATH starting with '/', got 'relative'"),
        (["GET"], "missing PATH after 'GET'"),
    ],
)
def test_match_parses_like_trace(args: list[str], message: str) -> None:
    result = run("match", APP, *args)
    assert result.exit_code == 2
    assert message in result.output


def test_lint_request_option_takes_quoted_items() -> None:
    result = run("lint", APP, "--no-routes", "-r", "GET /echo 'Authorization:Bearer x y'", "--json")
    assert result.exit_code in (0, 1), result.output
    result = run("lint", APP, "--no-routes", "-r", "GET /echo 'unbalanced")
    assert result.exit_code == 2
    assert "cannot parse --request" in result.output
