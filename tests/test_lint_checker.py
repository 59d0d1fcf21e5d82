"""The checker and strict server: one violation per app, bad apps survived."""

from __future__ import annotations

import importlib
import io
import sys
import threading
import typing as t

import pytest

from tests.conftest import APPS
from tests.lint_fixtures import environ_factory, lint, rules_of
from wsgiscope.lint import LintSession, lint_middleware, run_strict
from wsgiscope.lint.environ import strictify


@pytest.fixture
def violations(monkeypatch: pytest.MonkeyPatch) -> t.Any:
    monkeypatch.syspath_prepend(str(APPS))
    return importlib.import_module("lint_violations")


def _cases() -> list[tuple[str, str, str, str]]:
    sys.path.insert(0, str(APPS))
    try:
        module = importlib.import_module("lint_violations")
        return [(name, *case) for name, case in module.CASES.items()]
    finally:
        sys.path.remove(str(APPS))
        sys.modules.pop("lint_violations", None)


@pytest.mark.parametrize(("name", "rule", "phase", "method"), _cases())
def test_each_violation_is_found(
    violations: t.Any, name: str, rule: str, phase: str, method: str
) -> None:
    """Each tiny app's violation is found, located in the WSGI conversation
    (phase) and in the app (the request and endpoint that triggered it)."""
    from wsgiscope.lint.runner import Target, run_lint
    from wsgiscope.request import RequestSpec

    path = f"/violations/{name}"
    spec = RequestSpec(path=path, method=method, body=b"abc" if method == "POST" else None)
    report = run_lint(
        getattr(violations, name),
        [Target(method, path, f"violations.{name}", spec)],
        max_body=64 * 1024,
        max_chunks=2000,
    )
    located = [(f.rule, f.phase, f.method, f.path, f.endpoint) for f in report.findings]
    assert (rule, phase, method, path, f"violations.{name}") in located, report.findings


def test_finding_fields(violations: t.Any) -> None:
    (finding,) = lint(violations.hop_by_hop).findings
    assert finding.to_json() == {
        "rule": "WSGI209",
        "severity": "error",
        "message": "hop-by-hop header 'Connection' set by the application",
        "phase": "start_response",
        "count": 1,
    }
    assert finding.to_record() == {"rule": "WSGI209", "message": finding.message}


def test_repeats_are_counted(violations: t.Any) -> None:
    result = lint(violations.chunk_str)
    assert [(f.rule, f.count) for f in result.findings] == [("WSGI301", 1)]

    def many_str(environ: t.Any, start_response: t.Any) -> list[str]:
        start_response("200 OK", [("Content-Type", "text/plain")])
        return ["a", "b", "c"]

    (finding,) = lint(many_str).findings
    assert finding.count == 3


def test_head_only_on_head(violations: t.Any) -> None:
    assert rules_of(lint(violations.head_with_body, "GET")) == []
    assert rules_of(lint(violations.head_with_body, "HEAD")) == ["WSGI303"]


def test_exc_info_before_headers_sent_is_fine() -> None:
    def recovers(environ: t.Any, start_response: t.Any) -> list[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])
        try:
            raise ValueError("x")
        except ValueError:
            start_response(
                "500 Internal Server Error", [("Content-Type", "text/plain")], sys.exc_info()
            )
        return [b"error"]

    result = lint(recovers)
    assert result.findings == []
    assert result.status == "500 Internal Server Error"


def test_exc_info_reraise_propagated_is_fine() -> None:
    def propagates(environ: t.Any, start_response: t.Any) -> t.Iterator[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])
        yield b"first"
        try:
            raise ValueError("late")
        except ValueError:
            start_response("500 Internal Server Error", [], sys.exc_info())

    result = lint(propagates)
    assert rules_of(result) == []
    assert result.error == "ValueError: late"


@pytest.mark.parametrize(
    ("exc_info", "message"),
    [
        (
            (None, None, None),
            "exc_info is (None, None, None): sys.exc_info() was called outside an except "
            "block, so there is no exception to re-raise",
        ),
        (
            (ValueError, "x", None),
            "exc_info is (type <class 'ValueError'>, str 'x', ...), "
            "not (type, exception, traceback)",
        ),
        ((ValueError, ValueError("x"), "tb"), "exc_info's traceback is str 'tb'"),
        (5, "exc_info is int 5"),
    ],
)
def test_exc_info_that_is_not_a_caught_exception(exc_info: t.Any, message: str) -> None:
    def app(environ: t.Any, start_response: t.Any) -> list[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])
        start_response("500 Internal Server Error", [("Content-Type", "text/plain")], exc_info)
        return [b"error"]

    result = lint(app)
    assert [(f.rule, f.message) for f in result.findings] == [("WSGI210", message)]


def test_exc_info_whose_truth_raises_is_reported_not_raised() -> None:
    class NoTruth:
        def __bool__(self) -> bool:
            raise RuntimeError("bool boom")

    def app(environ: t.Any, start_response: t.Any) -> list[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")], NoTruth())
        return [b"x"]

    result = lint(app)
    assert rules_of(result) == ["WSGI210"]
    assert result.error is None


def test_a_body_len_that_raises_is_the_body_raising() -> None:
    class Body(list):  # type: ignore[type-arg]
        def __len__(self) -> int:
            raise ValueError("len boom")

    class Unsized(list):  # type: ignore[type-arg]
        def __len__(self) -> int:
            raise TypeError("no length")  # servers take this for "no length"

    def app(body: t.Any) -> t.Any:
        def answer(environ: t.Any, start_response: t.Any) -> t.Any:
            start_response("200 OK", [("Content-Type", "text/plain")])
            return body

        return answer

    result = lint(app(Body([b"x"])))
    assert [(f.rule, f.message) for f in result.findings] == [
        (
            "WSGI104",
            "len() of the Body raised ValueError: len boom (servers call it to set Content-Length)",
        )
    ]
    assert result.error == "ValueError: len boom"
    assert lint(app(Unsized([b"x"]))).findings == []


def test_str_subclasses_in_errors_and_environ() -> None:
    class Text(str):
        pass

    def app(environ: t.Any, start_response: t.Any) -> list[bytes]:
        environ["wsgi.errors"].write(Text("logged\n"))
        environ["PATH_INFO"] = Text("/elsewhere")
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"x"]

    result = lint(app)
    assert [(f.rule, f.message) for f in result.findings] == [
        ("WSGI603", "wsgi.errors.write() got Text (a str subclass), not str"),
        ("WSGI701", "set CGI key 'PATH_INFO' to '/elsewhere', a Text (a str subclass)"),
    ]


def test_input_reads_within_length_are_fine() -> None:
    def reader(environ: t.Any, start_response: t.Any) -> list[bytes]:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        stream = environ["wsgi.input"]
        data = stream.read(2) + stream.readline() + stream.read(length - 3) + stream.read(0)
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [data]

    result = lint(reader, "POST", "/", b"he\nllo\n")
    assert result.findings == []
    assert result.body_bytes == 7


def _input_app(use: t.Callable[[t.Any], object]) -> t.Any:
    def app(environ: t.Any, start_response: t.Any) -> list[bytes]:
        use(environ["wsgi.input"])
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]

    return app


@pytest.mark.parametrize(
    ("use", "found"),
    [
        # a size a server need not support / no size where one is expected
        (lambda s: s.read(), [("WSGI604", "wsgi.input.read() without a size")]),
        (lambda s: s.readline(3), [("WSGI604", "wsgi.input.readline(3) with a size")]),
        # readline() that stops at the body's end: on a raw socket it reads on
        (lambda s: s.readline(), [("WSGI601", "wsgi.input.readline() reached the body's end")]),
        (lambda s: list(s), [("WSGI601", "iterated wsgi.input after all CONTENT_LENGTH")]),
        # readinto (werkzeug uses it when present) is counted and checked
        (
            lambda s: s.readinto(bytearray(100)),
            [("WSGI601", "wsgi.input.readinto(<100-byte buffer>) past the body's end")],
        ),
        (
            lambda s: (s.readinto(bytearray(5)), s.read(1)),
            [("WSGI601", "wsgi.input.read(1) after the body was read")],
        ),
        (lambda s: (s.readinto(bytearray(2)), s.read(3)), []),
    ],
)
def test_input_misuse(use: t.Callable[[t.Any], object], found: list[tuple[str, str]]) -> None:
    result = lint(_input_app(use), "POST", "/", b"hello")
    got = [(f.rule, f.message) for f in result.findings]
    assert len(got) == len(found), got
    for (rule, message), (want_rule, want_start) in zip(got, found, strict=True):
        assert rule == want_rule
        assert message.startswith(want_start), message


def test_input_read_to_eof_is_fine_when_terminated() -> None:
    def make() -> dict[str, t.Any]:
        environ = environ_factory("POST", "/", b"hello")()
        environ["wsgi.input_terminated"] = True
        return environ

    result = run_strict(_input_app(lambda s: s.read()), make())
    assert result.findings == []


def test_readinto_exists_only_when_the_server_stream_has_it() -> None:
    class Minimal:
        """A server's input with only what PEP 3333 requires."""

        def read(self, size: int = -1) -> bytes:
            return b""

        def readline(self, size: int = -1) -> bytes:
            return b""

        def readlines(self, hint: int = -1) -> list[bytes]:
            return []

        def __iter__(self) -> t.Iterator[bytes]:
            return iter(())

    environ = environ_factory()()
    environ["wsgi.input"] = Minimal()
    LintSession(environ)
    assert not hasattr(environ["wsgi.input"], "readinto")
    environ = environ_factory("POST", "/", b"abc")()
    LintSession(environ)
    buffer = bytearray(3)
    assert environ["wsgi.input"].readinto(buffer) == 3
    assert buffer == b"abc"


def test_strict_environ_drops_optional_keys() -> None:
    environ = environ_factory("GET", "/x")()
    removed = strictify(environ)
    assert {"QUERY_STRING", "REQUEST_URI", "RAW_URI"} <= set(removed)
    assert "QUERY_STRING" not in environ
    environ = environ_factory("GET", "/x?a=1")()
    strictify(environ)
    assert environ["QUERY_STRING"] == "a=1"


def test_nasty_apps_never_crash(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(APPS))
    nasty = importlib.import_module("lint_nasty")
    expected = {
        "close_property_raises": ["WSGI402"],
        "iter_returns_list": ["WSGI101"],
        "exits": ["WSGI103"],
        "yields_none": ["WSGI301", "WSGI301"],
        "status_none_headers_none": ["WSGI203", "WSGI204"],
        "header_triples": ["WSGI204", "WSGI204", "WSGI213"],
        "no_arguments": ["WSGI212", "WSGI203"],
        "everything_raises": ["WSGI101", "WSGI402"],
        "bad_repr_return": ["WSGI101"],
        "huge_header": ["WSGI207"],
        "generator_exit_body": ["WSGI104"],
    }
    for app in nasty.NASTY:
        result = lint(app)
        assert rules_of(result) == expected[app.__name__], app.__name__
        assert all(len(f.message) < 300 for f in result.findings)


def test_endless_body_is_capped(violations: t.Any) -> None:
    result = run_strict(violations.endless, environ_factory()(), max_body=10_000, max_chunks=50)
    assert rules_of(result) == ["WSGI305"]
    assert 10_000 < result.body_bytes < 12_000


def test_app_stderr_is_captured() -> None:
    def logs(environ: t.Any, start_response: t.Any) -> list[bytes]:
        environ["wsgi.errors"].write("warning from app\n")
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"x"]

    result = lint(logs)
    assert result.stderr == "warning from app\n"
    assert result.findings == []


@pytest.mark.flask
@pytest.mark.parametrize(
    ("method", "path", "data"),
    [
        ("GET", "/", None),
        ("HEAD", "/", None),
        ("OPTIONS", "/", None),
        ("POST", "/form", {"name": "x"}),
        ("GET", "/form", None),
        ("GET", "/stream", None),
        ("HEAD", "/stream", None),
        ("GET", "/go", None),
        ("GET", "/empty", None),
        ("GET", "/file", None),
        ("HEAD", "/file", None),
        ("PUT", "/echo", b"raw body"),
        ("GET", "/items/3", None),
        ("GET", "/items/300", None),
        ("GET", "/missing", None),
        ("DELETE", "/", None),
    ],
)
def test_clean_flask_app(
    monkeypatch: pytest.MonkeyPatch, method: str, path: str, data: t.Any
) -> None:
    monkeypatch.syspath_prepend(str(APPS))
    app = importlib.import_module("lint_flask_clean").app
    result = lint(app, method, path, data)
    assert result.findings == []
    assert result.error is None


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/"),
        ("HEAD", "/"),
        ("POST", "/form"),
        ("GET", "/stream"),
        ("GET", "/go"),
        ("GET", "/hello/bob"),
        ("GET", "/missing"),
        ("DELETE", "/"),
    ],
)
def test_clean_bottle_app(monkeypatch: pytest.MonkeyPatch, method: str, path: str) -> None:
    monkeypatch.syspath_prepend(str(APPS))
    app = importlib.import_module("lint_bottle_clean").app
    data = {"name": "x"} if method == "POST" else None
    assert lint(app, method, path, data).findings == []


@pytest.mark.flask
def test_middleware_is_transparent_under_a_real_server(monkeypatch: pytest.MonkeyPatch) -> None:
    httpx = pytest.importorskip("httpx")
    from werkzeug.serving import make_server

    monkeypatch.syspath_prepend(str(APPS))
    app = importlib.import_module("lint_flask_clean").app
    violations = importlib.import_module("lint_violations")
    reports: list[tuple[str, list[str]]] = []

    def dispatch(environ: t.Any, start_response: t.Any) -> t.Any:
        target = violations.hop_by_hop if environ["PATH_INFO"] == "/bad" else app
        return target(environ, start_response)

    linted = lint_middleware(
        dispatch,
        lambda environ, found: reports.append((environ["PATH_INFO"], rules_of_list(found))),
    )
    server = make_server("127.0.0.1", 0, linted)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        base = f"http://127.0.0.1:{server.server_port}"
        with httpx.Client(base_url=base) as client:
            assert client.get("/stream").text == "0\n1\n2\n"
            assert client.post("/form", data={"name": "ada"}).text == "got ada"
            assert client.get("/").json() == {"hello": "world"}
            client.get("/bad")
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
    assert reports == [("/stream", []), ("/form", []), ("/", []), ("/bad", ["WSGI209"])]


def rules_of_list(findings: t.Any) -> list[str]:
    return [finding.rule for finding in findings]


def test_session_passes_exceptions_through() -> None:
    def app(environ: t.Any, start_response: t.Any) -> t.Any:
        raise LookupError("nope")

    environ = environ_factory()()
    session = LintSession(environ)
    with pytest.raises(LookupError):
        session.call(app, environ, lambda *a: None)
    assert session.done
    assert [f.rule for f in session.findings] == ["WSGI103"]


def test_stream_wrappers_delegate() -> None:
    environ = environ_factory("POST", "/", b"line1\nline2\n")()
    environ["wsgi.errors"] = io.StringIO()
    session = LintSession(environ)
    stream = environ["wsgi.input"]
    assert stream.getvalue() == b"line1\nline2\n"  # a BytesIO method, delegated
    assert list(stream) == [b"line1\n", b"line2\n"]
    errors = environ["wsgi.errors"]
    errors.writelines(["a", "b"])
    errors.flush()
    assert errors.getvalue() == "ab"
    # The loop's last readline() asks past CONTENT_LENGTH: on a keep-alive
    # socket that would block.
    assert [f.rule for f in session.findings] == ["WSGI601"]


DJANGO_SCRIPT = """
import json, sys
sys.path.insert(0, sys.argv[1])
sys.path.insert(0, sys.argv[2])
import lint_django_clean
from tests.lint_fixtures import lint
out = {}
for method, path in [("GET", "/"), ("HEAD", "/"), ("POST", "/form/"), ("GET", "/form/"),
                     ("GET", "/stream/"), ("HEAD", "/stream/"), ("GET", "/go/"),
                     ("GET", "/missing"), ("GET", "/form")]:
    data = {"name": "x"} if method == "POST" else None
    result = lint(lint_django_clean.application, method, path, data)
    out[f"{method} {path}"] = [f.rule for f in result.findings]
print(json.dumps(out))
"""


def test_clean_django_app() -> None:
    """Django settings are process-global: lint it in a fresh interpreter."""
    import json
    import subprocess
    from pathlib import Path

    pytest.importorskip("django")
    root = Path(__file__).parent.parent
    result = subprocess.run(
        [sys.executable, "-W", "error", "-c", DJANGO_SCRIPT, str(APPS), str(root)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    found = json.loads(result.stdout)
    # Django leaves HEAD bodies to the server (runserver and gunicorn strip
    # them, wsgiref does not): the checker sees them; the lint report leaves
    # them out for Django routes (test_lint_cli.test_entry_point_django).
    for request, rules in found.items():
        assert rules == (["WSGI303"] if request.startswith("HEAD") else []), request


def _mutating(change: t.Callable[[dict[str, t.Any]], object]) -> t.Any:
    def app(environ: dict[str, t.Any], start_response: t.Any) -> list[bytes]:
        change(environ)
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"x"]

    return app


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda e: e.update(SCRIPT_NAME="/", PATH_INFO="/"),
            "set SCRIPT_NAME to '/' (the root is SCRIPT_NAME '' with PATH_INFO '/')",
        ),
        (
            lambda e: e.update(CONTENT_LENGTH="-1"),
            "set CONTENT_LENGTH to '-1', not a non-negative integer",
        ),
        (
            lambda e: e.update(HTTP_CONTENT_TYPE="text/plain"),
            "set HTTP_CONTENT_TYPE; the header's key is CONTENT_TYPE",
        ),
        (
            lambda e: e.update({"wsgi.url_scheme": "ftp"}),
            "set wsgi.url_scheme to 'ftp', not 'http' or 'https'",
        ),
        (
            lambda e: e.update({"wsgi.input": b"body"}),
            "replaced wsgi.input by bytes, which has no read, readline, readlines",
        ),
        (lambda e: e.update(SERVER_PORT=80), "set CGI key 'SERVER_PORT' to int 80"),
    ],
)
def test_environ_left_invalid(change: t.Callable[[dict[str, t.Any]], object], message: str) -> None:
    assert [(f.rule, f.message) for f in lint(_mutating(change)).findings] == [("WSGI701", message)]


def test_environ_changes_a_server_allows() -> None:
    """Dispatchers rewrite routing keys, proxy fixers the scheme, Bottle
    replaces wsgi.input by a BytesIO, frameworks add their own keys."""

    def change(environ: dict[str, t.Any]) -> None:
        environ.update(SCRIPT_NAME="/api", PATH_INFO="", HTTP_HOST="example.com")
        environ.update({"wsgi.url_scheme": "https", "wsgi.input": io.BytesIO(), "my.key": 1})

    assert lint(_mutating(change)).findings == []


def test_required_optional_key_is_named(violations: t.Any) -> None:
    (finding,) = lint(violations.requires_content_type).findings
    assert finding.rule == "WSGI702"
    assert finding.message == (
        "fails (status 500 Internal Server Error) without CONTENT_TYPE, which a server "
        "may leave out; answers 200 OK with it"
    )
    (finding,) = lint(violations.requires_query_string).findings
    assert finding.message == "KeyError: 'QUERY_STRING' (a key the server need not provide)"


def test_failing_route_without_key_problem_is_not_702() -> None:
    calls: list[str] = []

    def always_500(environ: t.Any, start_response: t.Any) -> list[bytes]:
        calls.append(environ.get("QUERY_STRING", "<absent>"))
        start_response("500 Internal Server Error", [("Content-Type", "text/plain")])
        return [b"down"]

    result = lint(always_500)
    assert result.findings == []
    # The strict run, then one re-run with every optional key.
    assert calls == ["<absent>", ""]


def test_watched_body_keeps_len_only_when_the_result_has_it() -> None:
    def listed(environ: t.Any, start_response: t.Any) -> list[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"one chunk"]

    def generated(environ: t.Any, start_response: t.Any) -> t.Iterator[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])
        yield b"one chunk"

    for app, sized in ((listed, True), (generated, False)):
        environ = environ_factory()()
        body = LintSession(environ).call(app, environ, lambda *args: None)
        assert hasattr(body, "__len__") is sized
        if sized:
            assert len(body) == 1
        assert list(body) == [b"one chunk"]
        body.close()


def test_messages_are_one_line(violations: t.Any) -> None:
    (finding,) = lint(violations.raises_escape).findings
    assert finding.message == "ValueError: \\x1b[2J\\nforged line"


def test_sequence_protocol_body_is_iterable() -> None:
    class Chunks:
        def __getitem__(self, index: int) -> bytes:
            if index < 2:
                return b"ab"
            raise IndexError(index)

    def app(environ: t.Any, start_response: t.Any) -> Chunks:
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "4")])
        return Chunks()

    result = lint(app)
    assert result.findings == []
    assert result.body_bytes == 4


@pytest.mark.parametrize(
    ("method", "path", "data"), [("GET", "/", None), ("POST", "/form", {"name": "x"})]
)
def test_reference_checkers_accept_the_strict_server(
    monkeypatch: pytest.MonkeyPatch, method: str, path: str, data: t.Any
) -> None:
    """wsgiref.validate and werkzeug's LintMiddleware, run as the app under
    the strict server, find nothing wrong with its environ or its calls
    (only the QUERY_STRING it leaves out when empty, as PEP 3333 allows),
    and the checker finds nothing wrong with them but one thing: werkzeug's
    wsgi.input wrapper lacks readlines(), which PEP 3333 requires."""
    import warnings
    from wsgiref.validate import validator

    from werkzeug.middleware.lint import LintMiddleware

    monkeypatch.syspath_prepend(str(APPS))
    app = importlib.import_module("lint_flask_clean").app
    expected = {
        "wsgiref": (["QUERY_STRING is not in the WSGI environment"], []),
        "werkzeug": (
            [],
            [("WSGI701", "replaced wsgi.input by InputStream, which has no readlines")],
        ),
    }
    for name, checked in (("wsgiref", validator(app)), ("werkzeug", LintMiddleware(app))):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            result = lint(checked, method, path, data)
        assert (result.error, result.status) == (None, "200 OK")
        warned = [str(w.message).split(";")[0] for w in caught]
        assert (warned, [(f.rule, f.message) for f in result.findings]) == expected[name]
