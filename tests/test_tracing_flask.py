"""The Flask lifecycle as the tracer records it (real Flask apps).

Each Flask line is held to its own behaviour, read from its source: Flask
3.0/3.1 push an app context and a request context (``flask/ctx.py``:
``RequestContext.push/pop``); Flask 3.2 pushes one ``AppContext`` carrying
the request for every request, never reusing one already pushed, runs every
teardown even after one raised, and passes the context to the dispatch
methods (``flask/ctx.py``: ``AppContext.push/pop``; ``flask/app.py``:
``wsgi_app``, ``do_teardown_request``, ``do_teardown_appcontext``).
"""

from __future__ import annotations

import importlib.metadata
import logging
import types

import pytest

pytest.importorskip("flask")

import flask
import flask.app
import flask.ctx
import flask.signals

from tests.apps import trace_flask_lifecycle as lifecycle
from tests.tracing_fixtures import merged_flask, steps, trace
from wsgiscope.tracing import instrument
from wsgiscope.tracing.flask import instrumented

pytestmark = pytest.mark.flask

APP = lifecycle.app
#: Flask 3.2: one context (app + request) per request.
MERGED = merged_flask()
assert MERGED == lifecycle.MERGED
#: The ``context`` of the context that carries a request.
REQUEST = "app+request" if MERGED else "request"


@pytest.fixture(autouse=True)
def _quiet_flask_errors() -> None:
    # Flask logs the failing view's traceback; that is the app's own output.
    logging.getLogger("lifecycle").disabled = True


def test_exact_event_order() -> None:
    record = trace(APP, "/").record
    if MERGED:
        # AppContext.pop: teardown_request functions, teardown_appcontext
        # functions, and only then the context stops being current.
        assert steps(record) == [
            "push app+request lifecycle 1",
            "before_request load_user",
            "view index",
            "after_request add_header",
            "teardown_request close_db",
            "teardown_appcontext release",
            "pop app+request lifecycle 1",
        ]
    else:
        assert steps(record) == [
            "push app lifecycle 1",
            "push request lifecycle 1",
            "before_request load_user",
            "view index",
            "after_request add_header",
            "teardown_request close_db",
            "pop request lifecycle 1",
            "teardown_appcontext release",
            "pop app lifecycle 1",
        ]


def test_signals_and_wsgi_events_in_order() -> None:
    record = trace(APP, "/").record
    kinds = ("push", "pop", "signal", "start_response", "body", "close")
    if MERGED:
        # push: the context is current, then appcontext_pushed (session and
        # routing after it); pop: both tearing_down signals while current,
        # appcontext_popped once it is not.
        assert steps(record, kinds) == [
            "push app+request lifecycle 1",
            "signal appcontext_pushed",
            "signal request_started",
            "signal request_finished",
            "start_response",
            "signal request_tearing_down",
            "signal appcontext_tearing_down",
            "pop app+request lifecycle 1",
            "signal appcontext_popped",
            "body",
            "close",
        ]
    else:
        assert steps(record, kinds) == [
            "push app lifecycle 1",
            "signal appcontext_pushed",
            "push request lifecycle 1",
            "signal request_started",
            "signal request_finished",
            "start_response",
            "signal request_tearing_down",
            "pop request lifecycle 1",
            "signal appcontext_tearing_down",
            "pop app lifecycle 1",
            "signal appcontext_popped",
            "body",
            "close",
        ]


def test_event_fields_and_nesting() -> None:
    record = trace(APP, "/").record
    events = record["events"]
    assert [e["seq"] for e in events] == list(range(len(events)))
    assert all(e["t_ms"] >= 0 for e in events)
    times = [e["t_ms"] for e in events]
    assert times == sorted(times)
    by_kind = {(e["kind"], e.get("context") or e.get("hook")): e for e in events}
    req_push = by_kind["push", REQUEST]
    app_push = req_push if MERGED else by_kind["push", "app"]
    view = by_kind["hook", "view"]
    if not MERGED:
        assert req_push["parent"] == app_push["seq"]
    assert view["parent"] == req_push["seq"]
    assert view["function"] == "tests.apps.trace_flask_lifecycle.create_app.<locals>.index"
    assert view["endpoint"] == "index"
    assert view["view_args"] == {}
    assert view["duration_ms"] >= 0
    assert by_kind["pop", REQUEST]["parent"] == req_push["seq"]
    if not MERGED:
        assert by_kind["pop", "app"]["parent"] == app_push["seq"]
    assert record["response"]["status"] == "200 OK"
    assert record["response"]["body_preview"] == "hello"
    assert ["X-Traced", "yes"] in record["response"]["headers"]


class CustomFlask(flask.Flask):
    """An app class with its own ensure_sync and dispatch_request, both calling super()."""

    def ensure_sync(self, func):  # type: ignore[no-untyped-def]
        self.asked = getattr(self, "asked", 0) + 1
        return super().ensure_sync(func)

    if MERGED:
        # Flask 3.2's signature: the current context first.
        def dispatch_request(self, ctx):  # type: ignore[no-untyped-def]
            return super().dispatch_request(ctx)

    else:

        def dispatch_request(self):  # type: ignore[no-untyped-def]
            return super().dispatch_request()


def test_app_class_overrides_calling_super_keep_every_hook() -> None:
    app = CustomFlask("custom")
    app.before_request(lambda: None)

    @app.get("/")
    def index() -> str:
        return "ok"

    @app.teardown_request
    def done(exc: BaseException | None) -> None:
        pass

    record = trace(app, "/").record
    assert steps(record, ("hook",)) == [
        "before_request <lambda>",
        "view index",
        "teardown_request done",
    ]
    assert app.asked == 3  # the app's own ensure_sync ran for each


def test_blueprint_url_value_preprocessor_and_view_args() -> None:
    record = trace(APP, "/shop/en/item/7").record
    assert steps(record, ("hook",)) == [
        "url_value_preprocessor pull_lang",
        "before_request load_user",
        "view item",
        "after_request add_header",
        "teardown_request close_db",
        "teardown_appcontext release",
    ]
    view = next(e for e in record["events"] if e.get("hook") == "view")
    assert view["endpoint"] == "shop.item"
    assert view["view_args"] == {"item_id": "7"}
    assert record["response"]["body_preview"] == "en:7"


def test_failing_view_teardowns_receive_the_exception() -> None:
    result = trace(APP, "/fail")
    record = result.record
    hooks = [e for e in record["events"] if e["kind"] == "hook"]
    view = next(e for e in hooks if e["hook"] == "view")
    assert view["raised"] == "RuntimeError: the view failed"
    teardowns = [e for e in hooks if e["hook"].startswith("teardown")]
    assert [e["hook"] for e in teardowns] == ["teardown_request", "teardown_appcontext"]
    assert all(e["exception"] == "RuntimeError: the view failed" for e in teardowns)
    assert all(e["raised"] is None for e in teardowns)
    signals = [e["name"] for e in record["events"] if e["kind"] == "signal"]
    assert "got_request_exception" in signals
    assert record["response"]["status_code"] == 500
    assert record["error"]["type"] == "RuntimeError"
    assert record["error"]["propagated"] is False
    assert "raise RuntimeError" in record["error"]["traceback"]
    assert "wsgiscope/tracing" not in record["error"]["traceback"]
    assert result.exc_info is not None
    assert result.exc_info[0] is RuntimeError
    assert result.failed
    # g at teardown shows what the view left; the api token is a secret.
    pop = next(e for e in record["events"] if e["kind"] == "pop" and e["context"] == REQUEST)
    assert pop["g"] == {"user": "'ada'", "api_token": "[redacted]", "db": "'open'"}


def test_errorhandler_gets_the_exception() -> None:
    record = trace(APP, "/conflict").record
    handler = next(e for e in record["events"] if e.get("hook") == "errorhandler")
    assert handler["function"].endswith("conflict")
    assert handler["exception"] == "Conflict: taken"
    assert record["response"]["status_code"] == 409
    assert record["error"] is None


def test_context_processor() -> None:
    record = trace(APP, "/template").record
    processors = [e["function"] for e in record["events"] if e.get("hook") == "context_processor"]
    assert processors[-1].endswith("create_app.<locals>.inject")
    assert record["response"]["body_preview"] == "shop"


def test_internal_redirect_nests_at_depth_2() -> None:
    record = trace(APP, "/redirect").record
    if MERGED:
        # A new context for the inner request (not the outer one reused):
        # its pop runs teardown_appcontext too, with its own g.
        assert steps(record) == [
            "push app+request lifecycle 1",
            "before_request load_user",
            "view internal_redirect",
            "push app+request lifecycle 2",
            "before_request load_user",
            "view index",
            "after_request add_header",
            "teardown_request close_db",
            "teardown_appcontext release",
            "pop app+request lifecycle 2",
            "after_request add_header",
            "teardown_request close_db",
            "teardown_appcontext release",
            "pop app+request lifecycle 1",
        ]
    else:
        assert steps(record) == [
            "push app lifecycle 1",
            "push request lifecycle 1",
            "before_request load_user",
            "view internal_redirect",
            "push request lifecycle 2",
            "before_request load_user",
            "view index",
            "after_request add_header",
            "teardown_request close_db",
            "pop request lifecycle 2",
            "after_request add_header",
            "teardown_request close_db",
            "pop request lifecycle 1",
            "teardown_appcontext release",
            "pop app lifecycle 1",
        ]
    events = record["events"]
    outer_view = next(e for e in events if e.get("function", "").endswith("internal_redirect"))
    inner_push = next(e for e in events if e["kind"] == "push" and e["depth"] == 2)
    assert inner_push["parent"] == outer_view["seq"]
    assert inner_push["path"] == "/"
    inner_view = next(e for e in events if e.get("function", "").endswith(".index"))
    assert inner_view["depth"] == 2


def test_chained_second_app_nests_with_its_own_name() -> None:
    record = trace(APP, "/chain").record
    if MERGED:
        assert steps(record) == [
            "push app+request lifecycle 1",
            "before_request load_user",
            "view chain",
            "push app+request second 2",
            "before_request second_before",
            "view inner",
            "teardown_request second_teardown",
            "pop app+request second 2",
            "after_request add_header",
            "teardown_request close_db",
            "teardown_appcontext release",
            "pop app+request lifecycle 1",
        ]
    else:
        assert steps(record) == [
            "push app lifecycle 1",
            "push request lifecycle 1",
            "before_request load_user",
            "view chain",
            "push app second 2",
            "push request second 2",
            "before_request second_before",
            "view inner",
            "teardown_request second_teardown",
            "pop request second 2",
            "pop app second 2",
            "after_request add_header",
            "teardown_request close_db",
            "pop request lifecycle 1",
            "teardown_appcontext release",
            "pop app lifecycle 1",
        ]
    inner = next(e for e in record["events"] if e.get("hook") == "view" and e["app"] == "second")
    assert inner["depth"] == 2


def test_app_context_pushed_by_hand_in_a_view() -> None:
    record = trace(APP, "/appctx").record
    # (Flask 3.2: one context before the view instead of two)
    view = steps(record).index("view appctx")
    assert steps(record)[view : view + 5] == [
        "view appctx",
        "push app lifecycle 2",
        "teardown_appcontext release",
        "pop app lifecycle 2",
        "after_request add_header",
    ]
    pop = next(e for e in record["events"] if e["kind"] == "pop" and e["depth"] == 2)
    assert pop["g"] == {"inside": "1"}


#: Flask 3.1.2 pops the request's contexts when the view returns, and
#: ``stream_with_context`` pushes them again while the body is read; before,
#: the contexts stayed pushed until the body was closed.
REPUSHES_STREAMED_CONTEXT = tuple(
    int(part) for part in importlib.metadata.version("flask").split(".")[:3] if part.isdigit()
) >= (3, 1, 2)


def test_stream_with_context_pushes_again_while_the_body_is_read() -> None:
    lifecycle.CLOSED.clear()
    record = trace(APP, "/stream").record
    kinds = ("push", "pop", "hook", "body", "close")
    view = [
        "push app lifecycle 1",
        "push request lifecycle 1",
        "before_request load_user",
        "view stream",
        "after_request add_header",
    ]
    teardown = [
        "teardown_request close_db",
        "pop request lifecycle 1",
        "teardown_appcontext release",
        "pop app lifecycle 1",
    ]
    body = ["body", "body", "body"]
    if MERGED:
        # stream_with_context pushes the context once more in the view: the
        # pop after the view only counts down, and the context stays current
        # while the body is read; the generator's end pops it (teardowns).
        expected = [
            "push app+request lifecycle 1",
            "before_request load_user",
            "view stream",
            "after_request add_header",
            *body,
            "teardown_request close_db",
            "teardown_appcontext release",
            "pop app+request lifecycle 1",
            "close",
        ]
    elif REPUSHES_STREAMED_CONTEXT:
        expected = [*view, *teardown, *view[:2], *body, *teardown, "close"]
    else:
        expected = [*view, *body, *teardown, "close"]
    assert steps(record, kinds) == expected
    assert record["response"]["body_preview"] == "a/streamc"
    assert lifecycle.CLOSED == ["stream"]


def test_session_names_redacted_values() -> None:
    record = trace(APP, "/login").record
    pop = next(e for e in record["events"] if e["kind"] == "pop" and e["context"] == REQUEST)
    assert pop["session"] == {"user_id": "[redacted]"}
    set_cookie = [v for n, v in record["response"]["headers"] if n == "Set-Cookie"]
    assert set_cookie == ["[redacted]"]


def test_show_secrets_keeps_them() -> None:
    record = trace(APP, "/login", redact=False).record
    pop = next(e for e in record["events"] if e["kind"] == "pop" and e["context"] == REQUEST)
    assert pop["session"] == {"user_id": "42"}


def test_trace_does_not_change_the_response() -> None:
    plain = APP.test_client().get("/login")
    traced = trace(APP, "/login", redact=False).record["response"]
    assert traced["status"] == plain.status
    assert [h[0] for h in traced["headers"]] == [name for name, _ in plain.headers]
    assert "Vary" in dict(plain.headers)


def _flask_attributes() -> dict[str, object]:
    # (Flask 3.2 has no RequestContext of its own: a deprecated alias)
    owners = [flask.app.Flask, flask.ctx.AppContext, vars(flask.ctx).get("RequestContext", object)]
    state: dict[str, object] = {}
    for owner in owners:
        for name, value in vars(owner).items():
            state[f"{owner.__name__}.{name}"] = value
    for name, signal in vars(flask.signals).items():
        if hasattr(signal, "send"):
            state[f"signal.{name}"] = dict(vars(signal))
    return state


def test_instrumentation_is_removed_afterwards() -> None:
    before = _flask_attributes()
    result = trace(APP, "/fail")
    assert result.record["events"]
    assert not instrument.active()
    assert _flask_attributes() == before
    assert "ensure_sync" in vars(flask.app.Flask)
    assert vars(flask.app.Flask)["ensure_sync"].__module__ == "flask.app"
    assert "send" not in vars(flask.signals.request_started)


def test_listener_sees_each_hook_while_the_request_is_current() -> None:
    seen: list[tuple[str, str | None]] = []

    def listener(event: object) -> None:
        if getattr(event, "kind", None) == "hook":
            path = flask.request.path if flask.has_request_context() else None
            seen.append((event.hook, path))  # type: ignore[attr-defined]

    with instrumented(listener):
        response = APP.test_client().get("/shop/en/item/3")
    assert response.status_code == 200
    assert seen == [
        ("url_value_preprocessor", "/shop/en/item/3"),
        ("before_request", "/shop/en/item/3"),
        ("view", "/shop/en/item/3"),
        ("after_request", "/shop/en/item/3"),
        ("teardown_request", "/shop/en/item/3"),
        # Flask 3.2's teardown_appcontext runs in the request's own context
        ("teardown_appcontext", "/shop/en/item/3" if MERGED else None),
    ]
    assert not instrument.active()


def test_events_past_the_limit_are_all_counted_as_dropped(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from wsgiscope.tracing import recorder

    app = flask.Flask("busy")

    @app.get("/")
    def busy() -> str:
        for _ in range(50):  # pushes, pops, signals and teardowns past any limit
            with app.app_context():
                pass
        return "ok"

    monkeypatch.setattr(recorder, "MAX_EVENTS", 100_000)
    everything = trace(app, "/").record
    assert "dropped_events" not in everything
    total = len(everything["events"])
    monkeypatch.setattr(recorder, "MAX_EVENTS", 40)
    capped = trace(app, "/").record
    assert len(capped["events"]) == 40
    assert capped["dropped_events"] == total - 40


def test_the_session_is_read_without_marking_it_accessed() -> None:
    from wsgiscope.frameworks.flask import session_of

    with APP.test_request_context("/") as ctx:
        session = session_of(ctx)
        assert isinstance(session, flask.sessions.SecureCookieSession)
        assert not session.accessed
    # Flask before 3.1.3 kept it in a plain attribute
    older = types.SimpleNamespace(session={"user_id": 1})
    assert session_of(older) == {"user_id": 1}
    assert session_of(types.SimpleNamespace()) is None


def test_session_and_g_previews_taken_at_pop_whatever_their_shape() -> None:
    """The previews a pop keeps: an empty session or g is ``{}`` (no call made),
    a dict subclass whose ``items`` is its own is asked, not judged empty by
    its storage, and a non-empty g is previewed by ``repr`` now."""
    from wsgiscope.tracing.flask import pending_pop

    class Lazy(dict):  # a session keeping its values elsewhere
        def items(self):  # type: ignore[override]
            return [("user", "ada")]

    def pop_of(session: object, g: object) -> list[object]:
        ctx = types.SimpleNamespace(session=session)
        return pending_pop(ctx, 1, (ctx, "request"), g)

    assert pop_of({}, types.SimpleNamespace())[3:6] == [{}, None, {}]
    assert pop_of(Lazy(), None)[5] == {"user": "'ada'"}
    names = pop_of({"cart": [1, 2]}, types.SimpleNamespace(user="ada"))
    assert (names[3], names[5]) == ({"user": "'ada'"}, {"cart": "[1, 2]"})
    assert pop_of(None, None)[3:6] == [None, None, None]
