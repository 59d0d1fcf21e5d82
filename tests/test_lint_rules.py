"""The rule table, the pure header checks and the trace hook."""

from __future__ import annotations

import dataclasses
import re
import typing as t

import pytest

from wsgiscope.lint import RULES, get_rule
from wsgiscope.lint.headers import check_header, check_header_list, check_status, content_length
from wsgiscope.lint.trace import trace_checks


def test_rule_ids_and_names_are_unique_and_well_formed() -> None:
    ids = [rule.id for rule in RULES]
    names = [rule.name for rule in RULES]
    assert len(set(ids)) == len(ids)
    assert len(set(names)) == len(names)
    for rule in RULES:
        assert re.fullmatch(r"WSGI[1-7][0-9]{2}", rule.id)
        assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", rule.name)
        assert rule.severity in ("error", "warning")
        assert "\n" not in rule.summary
        assert "PEP 3333" in rule.section or "RFC" in rule.section
        assert len(rule.explanation) > len(rule.summary)


def test_get_rule_by_id_or_slug() -> None:
    assert get_rule("wsgi209") is get_rule("hop-by-hop-header") is get_rule(" WSGI209 ")
    with pytest.raises(KeyError):
        get_rule("WSGI999")


class _Str(str):
    """A str subclass: PEP 3333 asks for native strings (type(x) is str)."""


@pytest.mark.parametrize(
    ("status", "rules"),
    [
        ("200 OK", []),
        ("404 Not Found", []),
        ("599 Custom Thing", []),
        ("200", ["WSGI203"]),
        ("200 ", ["WSGI203"]),
        ("2000 OK", ["WSGI203"]),
        ("099 Low", ["WSGI203"]),
        ("200 OK\n", ["WSGI203"]),
        ("200\tOK", ["WSGI203"]),
        ("200 Ok\u20ac", ["WSGI208"]),
        (b"200 OK", ["WSGI203"]),
        (_Str("200 OK"), ["WSGI203"]),
        (_Str("200"), ["WSGI203", "WSGI203"]),
    ],
)
def test_status(status: t.Any, rules: list[str]) -> None:
    assert [rule for rule, _ in check_status(status)] == rules


@pytest.mark.parametrize(
    ("name", "value", "rules"),
    [
        ("X-Bad", "tab\tinside", ["WSGI207"]),
        ("X-Ok", "caf\xe9", []),
        ("Set-Cookie", "a=1; Path=/", []),
        ("X-Bad", "a\nb", ["WSGI207"]),
        ("X-Bad", "a\x00b", ["WSGI207"]),
        ("X-Bad", "a\x7f", ["WSGI207"]),
        ("X-Bad", "\u2603", ["WSGI208"]),
        ("X-Bad:", "v", ["WSGI206"]),
        ("Status", "200 OK", ["WSGI206"]),
        ("X-Trailing-", "v", ["WSGI206"]),
        ("Caf\xe9", "v", ["WSGI206"]),
        ("\u2603", "v", ["WSGI208"]),
        (b"X-Bytes", "v", ["WSGI205"]),
        ("X-Bytes", b"v", ["WSGI205"]),
        (_Str("X-Sub"), "v", ["WSGI205"]),
        ("X-Sub", _Str("v"), ["WSGI205"]),
        (_Str("X-Bad:"), _Str("a\nb"), ["WSGI205", "WSGI205", "WSGI206", "WSGI207"]),
        ("Keep-Alive", "timeout=5", ["WSGI209"]),
        ("TE", "trailers", ["WSGI209"]),
        ("Trailer", "Expires", ["WSGI209"]),
        ("Upgrade", "websocket", ["WSGI209"]),
        ("Proxy-Authenticate", "Basic", ["WSGI209"]),
    ],
)
def test_header(name: t.Any, value: t.Any, rules: list[str]) -> None:
    assert [rule for rule, _ in check_header(name, value)] == rules


def test_a_str_subclass_is_named_and_checked_as_plain_text() -> None:
    # Its own __str__, __repr__ and methods are the app's code: never run.
    class Hostile(str):
        def __str__(self) -> str:
            raise RuntimeError("str boom")

        __repr__ = __str__

        def lower(self) -> str:  # type: ignore[override]
            raise RuntimeError("lower boom")

    assert check_status(Hostile("200 OK")) == [
        ("WSGI203", "status '200 OK' is a Hostile (a str subclass), not str")
    ]
    assert check_header("Set-Cookie", Hostile("sid=1")) == [
        (
            "WSGI205",
            "value '[redacted]' of header 'Set-Cookie' is a Hostile (a str subclass), not str",
        )
    ]


def test_header_list_and_content_length() -> None:
    problems, pairs = check_header_list([("Content-Length", "3"), ("content-length", "4")])
    assert [rule for rule, _ in problems] == ["WSGI214"]
    assert content_length(pairs) is None
    problems, pairs = check_header_list((("Content-Length", " 3 "),))
    assert [rule for rule, _ in problems] == ["WSGI204"]
    assert content_length(pairs) == 3
    assert check_header_list([("Content-Length", "+3")])[0][0][0] == "WSGI214"
    assert check_header_list(iter([]))[0][0][0] == "WSGI204"


@dataclasses.dataclass
class _Event:
    """An event as the trace recorder hands it to checks (kind + fields)."""

    kind: str
    status: t.Any = None
    headers: t.Any = None
    exc_info: t.Any = None
    size: int = 0
    source: str = "iter"
    exception: t.Any = None
    where: str = ""


@dataclasses.dataclass
class _Recorder:
    environ: dict[str, t.Any]
    recorded: list[_Event]

    def events(self) -> list[_Event]:
        return self.recorded


def test_trace_checks_from_events() -> None:
    head = _Recorder(
        {"REQUEST_METHOD": "HEAD"},
        [
            _Event("body", size=3),
            _Event("start_response", status="200 OK", headers=[("Connection", "close")]),
            _Event("start_response", status="200 OK\r\n", headers=[]),
            _Event("body", size=5),
            _Event("exception", exception=KeyError("HTTP_X_TOKEN"), where="iter"),
            _Event("exception", exception=RuntimeError("boom"), where="close"),
        ],
    )
    found = trace_checks(head)
    assert [f["rule"] for f in found] == [
        "WSGI201",
        "WSGI209",
        "WSGI202",
        "WSGI203",
        "WSGI702",
        "WSGI402",
        "WSGI303",
    ]
    assert found[-2] == {"rule": "WSGI402", "message": "close() raised RuntimeError: boom"}


def test_trace_checks_clean_and_length() -> None:
    ok = [("Content-Type", "text/plain"), ("Content-Length", "2")]
    clean = _Recorder(
        {"REQUEST_METHOD": "GET"},
        [_Event("start_response", status="200 OK", headers=ok), _Event("body", size=2)],
    )
    assert trace_checks(clean) == []
    long = _Recorder(
        {"REQUEST_METHOD": "GET"},
        [_Event("start_response", status="200 OK", headers=ok), _Event("body", size=9)],
    )
    assert [f["rule"] for f in trace_checks(long)] == ["WSGI302"]


@pytest.mark.parametrize(
    ("code", "headers", "rules"),
    [
        (200, [("ETag", '"abc"'), ("ETag", 'W/"abc"'), ("ETag", '""')], []),
        (200, [("ETag", "abc")], ["WSGI215"]),
        (200, [("ETag", 'w/"abc"')], ["WSGI215"]),
        (200, [("ETag", '"a"b"')], ["WSGI215"]),
        (304, [("ETag", '"a"'), ("Content-Length", "3"), ("Last-Modified", "x")], []),
        (304, [("Content-Type", "text/html"), ("Allow", "GET")], ["WSGI216", "WSGI216"]),
        (200, [("Content-Type", "text/html"), ("Allow", "GET")], []),
    ],
)
def test_semantics(code: int, headers: list[tuple[str, str]], rules: list[str]) -> None:
    from wsgiscope.lint.headers import check_semantics

    assert [rule for rule, _ in check_semantics(code, headers)] == rules
