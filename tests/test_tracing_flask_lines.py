"""What differs between Flask lines, traced as each line really behaves.

Every test runs under whichever Flask is installed (3.0, 3.1, or the 3.2
build in CI's second environment) and asserts that line's own behaviour,
read from its source: Flask 3.0/3.1 ``flask/ctx.py`` (``RequestContext.pop``
stops at the first teardown that raises, then pops the app context), Flask
3.2 ``flask/ctx.py``/``flask/app.py`` (``AppContext.pop`` and
``do_teardown_*`` run every callback and raise the errors together; a
request never reuses an app context already pushed).
"""

from __future__ import annotations

import importlib.metadata
import json
import logging
import subprocess
import sys
import warnings

import pytest

pytest.importorskip("flask")

import flask
import flask.app
from click.testing import CliRunner

from tests.apps import flask32_teardowns as teardowns
from tests.apps import trace_flask_lifecycle as lifecycle
from tests.tracing_fixtures import merged_flask, steps, trace
from wsgiscope.cli import cli
from wsgiscope.render.lifecycle import event_details
from wsgiscope.tracing.flask import NOT_PREVIEWED, detect, instrumented

pytestmark = pytest.mark.flask

MERGED = merged_flask()
REQUEST = "app+request" if MERGED else "request"
VERSION = tuple(
    int(part) for part in importlib.metadata.version("flask").split(".")[:2] if part.isdigit()
)


@pytest.fixture(autouse=True)
def _quiet_flask_errors() -> None:
    logging.getLogger("teardowns").disabled = True


def hooks(record: dict) -> list[tuple[str, str, str | None, str | None]]:
    """(hook, function, exception received, exception raised) of each hook event."""
    return [
        (e["hook"], e["function"].rsplit(".", 1)[-1], e["exception"], e["raised"])
        for e in record["events"]
        if e["kind"] == "hook"
    ]


def test_the_adapter_follows_the_installed_flask() -> None:
    # Chosen by what Flask's classes have; it agrees with the version here.
    assert detect() == ("merged" if VERSION >= (3, 2) else "classic")


def test_every_teardown_runs_after_one_raised() -> None:
    app = teardowns.create_app()
    result = trace(app, "/boom")
    record = result.record
    view = ("view", "boom", None, "KeyError: 'boom'")
    if MERGED:
        # do_teardown_request/do_teardown_appcontext collect errors and run
        # every callback; each teardown shows its own exception.
        assert hooks(record)[1:] == [
            view,
            (
                "teardown_request",
                "flush_cache",
                "KeyError: 'boom'",
                "RuntimeError: the cache is gone",
            ),
            ("teardown_request", "close_db", "KeyError: 'boom'", None),
            ("teardown_appcontext", "release", "KeyError: 'boom'", "ValueError: the pool is gone"),
        ]
        assert steps(record, ("push", "pop")) == [
            "push app+request teardowns 1",
            "pop app+request teardowns 1",
        ]
        signals = [e["name"] for e in record["events"] if e["kind"] == "signal"]
        assert signals[-3:] == [
            "request_tearing_down",
            "appcontext_tearing_down",
            "appcontext_popped",
        ]
        # The errors leave the app together (Python 3.10: the first alone).
        assert record["error"]["type"] == (
            "ExceptionGroup" if sys.version_info >= (3, 11) else "RuntimeError"
        )
    else:
        # The first teardown_request that raises ends do_teardown_request
        # (close_db never runs); RequestContext.pop still pops the app
        # context, whose teardown raises in turn and replaces the error.
        assert hooks(record)[1:] == [
            view,
            (
                "teardown_request",
                "flush_cache",
                "KeyError: 'boom'",
                "RuntimeError: the cache is gone",
            ),
            ("teardown_appcontext", "release", "KeyError: 'boom'", "ValueError: the pool is gone"),
        ]
        assert steps(record, ("push", "pop")) == [
            "push app teardowns 1",
            "push request teardowns 1",
            "pop request teardowns 1",
            "pop app teardowns 1",
        ]
        assert record["error"]["type"] == "ValueError"
    assert record["error"]["propagated"] is True
    assert result.exc_info is not None


def pops(record: dict) -> dict[str, dict]:
    return {e["context"]: e for e in record["events"] if e["kind"] == "pop"}


def test_g_is_captured_at_teardown_start_and_after_while_the_request_is_alive() -> None:
    teardowns.REPRS.clear()
    app = teardowns.create_app()
    record = trace(app, "/").record
    request_pop = pops(record)[REQUEST]
    # Teardown start: what the view left; the connection still open.
    assert request_pop["g"] == {"user": "<User ada via />", "db": "<Connection open>"}
    # After teardown: close_db removed db and added audit.
    expected_after = {"user": "<User ada via />", "audit": "'closed'"}
    assert request_pop["g_after"] == expected_after
    if not MERGED:
        # Flask 3.0/3.1 pop the app context after the request context:
        # its g is shown with the previews the request made (no repr
        # without the request, which User's needs).
        app_pop = pops(record)["app"]
        assert app_pop["g"] == expected_after
        assert app_pop["g_after"] == expected_after
    # Every repr ran while the request was current, none when the record was built.
    assert teardowns.REPRS
    assert all(teardowns.REPRS)


def test_a_connection_closed_and_removed_by_teardown_appcontext() -> None:
    app = flask.Flask("pool")

    @app.before_request
    def connect() -> None:
        flask.g.db = teardowns.Connection()

    @app.get("/")
    def index() -> str:
        return "ok"

    @app.teardown_appcontext
    def close(exc: BaseException | None) -> None:
        flask.g.pop("db").closed = True

    record = trace(app, "/").record
    # The pop that ran teardown_appcontext: g before it (the connection
    # open) and after it (gone), not a list made before the teardowns.
    last = pops(record)["app+request" if MERGED else "app"]
    assert last["g"] == {"db": "<Connection open>"}
    assert last["g_after"] == {}
    lines = [str(line) for line in event_details(last)]
    assert lines == ["g at teardown start  db=<Connection open>", "g after teardown  removed: db"]


def test_g_values_first_seen_after_the_request_are_not_previewed() -> None:
    app = teardowns.create_app()

    @app.teardown_appcontext
    def remember(exc: BaseException | None) -> None:
        flask.g.late = teardowns.User("late")

    record = trace(app, "/").record
    last = [e for e in record["events"] if e["kind"] == "pop"][-1]
    if MERGED:
        # One context: the request is alive during teardown_appcontext.
        assert last["g_after"]["late"] == "<User late via />"
    else:
        assert last["g_after"]["late"] == NOT_PREVIEWED
        assert last["g_after"]["user"] == "<User ada via />"


def test_the_tree_labels_g_at_teardown_start_and_after() -> None:
    result = CliRunner().invoke(
        cli,
        ["trace", "tests/apps/flask32_teardowns.py", "/", "-p", "c", "--width", "200"],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "g at teardown start  user=<User ada via />, db=<Connection open>" in out
    assert "g after teardown  user=<User ada via />  +audit='closed' (added)  removed: db" in out
    pushed = "context (app + request)" if MERGED else "request context"
    assert f"▶ push {pushed} teardowns" in out
    assert f"◀ pop {pushed} teardowns" in out


def test_an_app_context_already_pushed() -> None:
    app = lifecycle.create_app()
    with app.app_context():
        flask.g.preset = "outside"
        record = trace(app, "/").record
    if MERGED:
        # Flask 3.2 pushes a context of its own for the request, with a
        # fresh g, and tears it down whole (teardown_appcontext included).
        assert steps(record) == [
            "push app+request lifecycle 1",
            "before_request load_user",
            "view index",
            "after_request add_header",
            "teardown_request close_db",
            "teardown_appcontext release",
            "pop app+request lifecycle 1",
        ]
        assert "preset" not in pops(record)[REQUEST]["g"]
    else:
        # Flask 3.0/3.1 reuse the app context of the same app: only the
        # request context is pushed and popped, g is the one outside.
        assert steps(record) == [
            "push request lifecycle 1",
            "before_request load_user",
            "view index",
            "after_request add_header",
            "teardown_request close_db",
            "pop request lifecycle 1",
        ]
        assert pops(record)["request"]["g"]["preset"] == "'outside'"


def make_subclassed_app(cls: type[flask.Flask]) -> flask.Flask:
    app = cls("subclassed")
    app.before_request(lambda: None)

    @app.get("/")
    def index() -> str:
        return "ok"

    @app.get("/fail")
    def fail() -> str:
        raise RuntimeError("no")

    @app.teardown_request
    def done(exc: BaseException | None) -> None:
        pass

    return app


if MERGED:

    class NewSignatures(flask.Flask):
        """Flask 3.2's dispatch signatures: the current context first."""

        def preprocess_request(self, ctx):  # type: ignore[no-untyped-def]
            return super().preprocess_request(ctx)

        def dispatch_request(self, ctx):  # type: ignore[no-untyped-def]
            return super().dispatch_request(ctx)

        def handle_exception(self, ctx, e):  # type: ignore[no-untyped-def]
            return super().handle_exception(ctx, e)

        def do_teardown_request(self, ctx, exc=None):  # type: ignore[no-untyped-def]
            return super().do_teardown_request(ctx, exc)

else:

    class NewSignatures(flask.Flask):  # type: ignore[no-redef]
        """The same overrides with Flask 3.0/3.1's signatures."""

        def preprocess_request(self):  # type: ignore[no-untyped-def]
            return super().preprocess_request()

        def dispatch_request(self):  # type: ignore[no-untyped-def]
            return super().dispatch_request()

        def handle_exception(self, e):  # type: ignore[no-untyped-def]
            return super().handle_exception(e)

        def do_teardown_request(self, exc=None):  # type: ignore[no-untyped-def]
            return super().do_teardown_request(exc)


def check_subclassed(app: flask.Flask) -> None:
    assert steps(trace(app, "/").record, ("hook",)) == [
        "before_request <lambda>",
        "view index",
        "teardown_request done",
    ]
    failed = trace(app, "/fail").record
    assert failed["response"]["status_code"] == 500
    assert failed["error"]["type"] == "RuntimeError"  # noted by handle_exception
    assert [e["exception"] for e in failed["events"] if e.get("hook") == "teardown_request"] == [
        "RuntimeError: no"
    ]


def test_dispatch_method_overrides_with_this_flasks_signatures() -> None:
    check_subclassed(make_subclassed_app(NewSignatures))


@pytest.mark.skipif(not MERGED, reason="Flask 3.2 deprecates the old dispatch signatures")
def test_old_signature_overrides_still_traced_under_flask_32() -> None:
    # Flask wraps old-signature overrides (with a DeprecationWarning) and
    # calls the base methods with the context: the tracer takes both.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)

        class OldSignatures(flask.Flask):
            def dispatch_request(self):  # type: ignore[no-untyped-def]
                return super().dispatch_request()

            def handle_exception(self, e):  # type: ignore[no-untyped-def]
                return super().handle_exception(e)

    try:
        check_subclassed(make_subclassed_app(OldSignatures))
    finally:
        # Flask replaced its own base methods with wrappers for this class.
        for name in ("dispatch_request", "handle_exception"):
            wrapped = vars(flask.app.Flask)[name]
            setattr(flask.app.Flask, name, getattr(wrapped, "__wrapped__", wrapped))


class IgnoringFlask(flask.Flask):
    """An app that tells Flask to hide KeyErrors from its teardowns."""

    def should_ignore_error(self, error):  # type: ignore[no-untyped-def,override]
        return isinstance(error, KeyError)


def test_should_ignore_error_is_honoured_and_the_teardowns_show_it() -> None:
    ignoring = IgnoringFlask("ignoring")

    @ignoring.get("/")
    def missing() -> str:
        raise KeyError("gone")

    @ignoring.teardown_request
    def close(exc: BaseException | None) -> None:
        pass

    @ignoring.teardown_appcontext
    def release(exc: BaseException | None) -> None:
        pass

    logging.getLogger("ignoring").disabled = True
    if MERGED:
        # Deprecated in Flask 3.2 (said once, at the first request), still honoured.
        with pytest.warns(DeprecationWarning, match="should_ignore_error"):
            record = trace(ignoring, "/").record
    else:
        record = trace(ignoring, "/").record
    assert record["response"]["status_code"] == 500
    assert record["error"]["type"] == "KeyError"
    assert [(e["hook"], e["exception"]) for e in record["events"] if e["kind"] == "hook"] == [
        ("view", None),
        ("teardown_request", None),
        ("teardown_appcontext", None),
    ]


class BrokenSessions(flask.sessions.SecureCookieSessionInterface):
    def open_session(self, app, request):  # type: ignore[no-untyped-def,override]
        raise ConnectionError("the session store is down")


def test_a_push_that_fails_after_the_context_became_current() -> None:
    # Both lines make the context current before opening the session: the
    # push is in the trace, and so is its pop with the teardowns.
    app = flask.Flask("sessions")
    app.session_interface = BrokenSessions()

    @app.get("/")
    def index() -> str:
        return "ok"

    @app.teardown_request
    def close(exc: BaseException | None) -> None:
        pass

    logging.getLogger("sessions").disabled = True
    record = trace(app, "/").record
    assert record["response"]["status_code"] == 500
    assert record["error"]["type"] == "ConnectionError"
    if MERGED:
        assert steps(record) == [
            "push app+request sessions 1",
            "teardown_request close",
            "pop app+request sessions 1",
        ]
    else:
        assert steps(record) == [
            "push app sessions 1",
            "push request sessions 1",
            "teardown_request close",
            "pop request sessions 1",
            "pop app sessions 1",
        ]
    teardown = next(e for e in record["events"] if e.get("hook") == "teardown_request")
    assert teardown["exception"] == "ConnectionError: the session store is down"


def test_info_names_the_adapter() -> None:
    result = CliRunner().invoke(cli, ["info", "wsgiscope.demo", "--json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["flask_tracer"]["adapter"] == detect()
    assert report["flask_tracer"]["version"] == importlib.metadata.version("flask")
    text = CliRunner().invoke(cli, ["info", "wsgiscope.demo", "--width", "200"]).stdout
    expected = "Flask 3.2 adapter" if MERGED else "Flask 3.0/3.1 adapter"
    assert expected in text


#: A Flask whose internals match neither adapter: the 3.x contexts with the
#: context variable the adapters need taken away (what a future release
#: that renames it would look like).
UNKNOWN_FLASK = """
import sys
import flask.globals
del flask.globals._cv_app
from wsgiscope.cli import main
sys.argv = ["wsgiscope", *sys.argv[1:]]
main()
"""


@pytest.mark.slow
def test_unknown_flask_is_said_in_one_line_and_traced_at_the_wsgi_level() -> None:
    run = subprocess.run(
        [
            sys.executable,
            "-c",
            UNKNOWN_FLASK,
            "trace",
            "wsgiscope.demo",
            "/catalog/",
            "--width",
            "120",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    short = ".".join(importlib.metadata.version("flask").split(".")[:2])
    assert run.stderr == (
        f"wsgiscope: Flask {short} is not supported by the context tracer yet; "
        "tracing at the WSGI level\n"
    )
    assert run.returncode == 0  # the request itself went fine
    assert "GET /catalog/ → 200 OK" in run.stdout
    assert "dispatch / (default) → shop" in run.stdout  # WSGI-level events still there
    assert "push" not in run.stdout
    info = subprocess.run(
        [sys.executable, "-c", UNKNOWN_FLASK, "info", "wsgiscope.demo", "--json"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert info.returncode == 0, info.stderr
    assert json.loads(info.stdout)["flask_tracer"]["adapter"] is None


def test_the_adapter_is_still_recognised_while_instrumented() -> None:
    # The replaced methods keep Flask's signatures for inspect (detect() and
    # Flask 3.2's own check of app classes read them).
    expected = detect()
    with instrumented():
        assert detect() == expected


def test_g_after_teardown_when_a_teardown_raises_and_when_a_receiver_changes_g() -> None:
    """g after the teardowns is g when they are over, whichever way they end:
    after a teardown raised (Flask 3.0/3.1 stop there; 3.2 runs the rest),
    and after the tearing-down signals' receivers ran."""
    app = flask.Flask("failing_teardowns")

    @app.get("/")
    def index() -> str:
        flask.g.db = "open"
        return "ok"

    @app.teardown_request
    def last(exc: BaseException | None) -> None:  # registered first, runs last
        flask.g.last = "ran"

    @app.teardown_request
    def failing(exc: BaseException | None) -> None:
        flask.g.db = "closing"
        raise RuntimeError("teardown failed")

    def audit(sender: flask.Flask, **extra: object) -> None:
        flask.g.audit = "done"

    with flask.appcontext_tearing_down.connected_to(audit, app):
        record = trace(app, "/").record
    popped = pops(record)
    if MERGED:
        # 3.2: every teardown runs, errors are raised together afterwards
        assert popped["app+request"]["g_after"] == {
            "db": "'closing'",
            "last": "'ran'",
            "audit": "'done'",
        }
    else:
        assert popped["request"]["g_after"] == {"db": "'closing'"}
        assert popped["app"]["g"] == {"db": "'closing'"}
        # (a value first seen once the request is gone is named, not repr'd)
        assert popped["app"]["g_after"] == {"db": "'closing'", "audit": NOT_PREVIEWED}


def test_g_after_teardown_includes_what_request_tearing_down_receivers_did() -> None:
    app = flask.Flask("receivers")

    @app.get("/")
    def index() -> str:
        return "ok"

    @app.teardown_request
    def close(exc: BaseException | None) -> None:
        flask.g.closed = True

    def note(sender: flask.Flask, **extra: object) -> None:
        flask.g.noted = "yes"

    with flask.request_tearing_down.connected_to(note, app):
        record = trace(app, "/").record
    pop = pops(record)[REQUEST]
    assert pop["g"] == {}
    assert pop["g_after"] == {"closed": "True", "noted": "'yes'"}
