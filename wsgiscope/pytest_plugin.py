"""The pytest plugin (entry point ``pytest11``): lifecycle and isolation in tests.

Installed with wsgiscope and inactive until used: importing it costs nothing
beyond pytest itself, and nothing happens in a test that asks for nothing.

- fixture ``wsgiscope_trace``: :func:`wsgiscope.testing.trace_request`, e.g.
  ``wsgiscope_trace(app, "POST", "/login", {"name": "ada"})`` returns a
  :class:`~wsgiscope.testing.TracedRequest` (``.status``, ``.hooks()``,
  ``.teardowns()``, ``.contexts()``, ``.queries()``, ``.assert_order()``);
- fixture ``wsgiscope_isolated``: :func:`wsgiscope.testing.assert_isolated`;
- option ``--wsgiscope-leaks`` (every test) or marker
  ``@pytest.mark.wsgiscope_leaks`` (one test): fail a test that leaves a
  Flask application or request context pushed (and with it its ``g``) after
  its fixtures are torn down, naming where each context was pushed. The
  leaked contexts are popped so the next test starts clean.
"""

from __future__ import annotations

import sys
import traceback
import typing as t
import weakref

import pytest

if t.TYPE_CHECKING:
    from collections.abc import Iterator

    from wsgiscope.testing import TracedRequest


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("wsgiscope")
    group.addoption(
        "--wsgiscope-leaks",
        action="store_true",
        default=False,
        help="fail tests that leave a Flask app/request context (or its g) pushed",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "wsgiscope_leaks: fail this test if it leaves a Flask app/request context pushed",
    )


@pytest.fixture
def wsgiscope_trace() -> t.Callable[..., TracedRequest]:
    """Run one request under the tracer: ``wsgiscope_trace(app, "GET", "/")``."""
    from wsgiscope.testing import trace_request

    return trace_request


@pytest.fixture
def wsgiscope_isolated() -> t.Callable[..., dict[str, t.Any]]:
    """``wsgiscope_isolated(app, ["GET /a", "GET /b"], threads=8)``: replay's checks."""
    from wsgiscope.testing import assert_isolated

    return assert_isolated


@pytest.fixture(autouse=True)
def _wsgiscope_leak_check(request: pytest.FixtureRequest) -> Iterator[None]:
    active = request.config.getoption("wsgiscope_leaks") or (
        request.node.get_closest_marker("wsgiscope_leaks") is not None
    )
    if not active:
        yield
        return
    watch = _ContextWatch()
    watch.start()
    try:
        yield
    finally:
        leaks = watch.stop()
    if leaks:
        pytest.fail(
            f"{request.node.nodeid} left {len(leaks)} Flask context"
            + ("s" if len(leaks) > 1 else "")
            + " pushed (popped now):\n"
            + "\n".join(f"  {leak}" for leak in leaks),
            pytrace=False,
        )


#: Frames of these packages are not "where it was pushed".
_SKIPPED = ("flask", "werkzeug", "wsgiscope", "_pytest", "pluggy", "pytest", "contextlib")


class _ContextWatch:
    """Remembers where each Flask context was pushed during one test, and
    which of them are still current after it."""

    def __init__(self) -> None:
        self.sites: weakref.WeakKeyDictionary[t.Any, str] = weakref.WeakKeyDictionary()
        self.patched: list[tuple[type, t.Any]] = []
        self.before: tuple[t.Any, t.Any] = (None, None)

    def start(self) -> None:
        flask_ctx = sys.modules.get("flask.ctx")
        if flask_ctx is None:  # no Flask yet: contexts pushed now have no site
            return
        self.before = _current()
        classes = {flask_ctx.AppContext, getattr(flask_ctx, "RequestContext", None)} - {None}
        for cls in classes:
            original = cls.__dict__["push"]
            self.patched.append((cls, original))
            cls.push = self._recording(original)  # type: ignore[union-attr]

    def _recording(self, push: t.Callable[..., t.Any]) -> t.Callable[..., t.Any]:
        sites = self.sites

        def recording_push(ctx: t.Any, *args: t.Any, **kwargs: t.Any) -> t.Any:
            sites[ctx] = _push_site()
            return push(ctx, *args, **kwargs)

        return recording_push

    def stop(self) -> list[str]:
        for cls, original in reversed(self.patched):
            cls.push = original
        if "flask.globals" not in sys.modules:
            return []
        return [self._describe(ctx) for ctx in _pop_leaked(self.before)]

    def _describe(self, ctx: t.Any) -> str:
        state = vars(ctx)
        name = getattr(state.get("app"), "name", "?")
        # Flask 3.2 keeps the request in the (merged) app context's _request;
        # 3.0/3.1 have a RequestContext with .request and no g of its own.
        request = state.get("_request", state.get("request"))
        kind = "request context" if request is not None else "app context"
        what = f"{kind} of app {name!r}"
        if request is not None:
            what += f" ({getattr(request, 'method', '?')} {getattr(request, 'path', '?')})"
        g = state.get("g")
        names = sorted(vars(g)) if g is not None and hasattr(g, "__dict__") else []
        if names:
            what += f", g still holding: {', '.join(names)}"
        return f"{what}, pushed at {self.sites.get(ctx, 'an unknown place (not seen pushed)')}"


def _push_site() -> str:
    """The innermost frame outside Flask, pytest and wsgiscope."""
    for frame in reversed(traceback.extract_stack()[:-2]):
        module = frame.filename.replace("\\", "/")
        parts = module.split("/")
        if any(f"/{name}/" in module for name in _SKIPPED) or parts[-1] in ("contextlib.py",):
            continue
        return f"{frame.filename}:{frame.lineno} in {frame.name}"
    return "an unknown place"


def _current() -> tuple[t.Any, t.Any]:
    """The current Flask (request context, app context), either may be None."""
    globals_ = sys.modules.get("flask.globals")
    if globals_ is None:
        return None, None
    cv_request = getattr(globals_, "_cv_request", None)
    request_ctx = cv_request.get(None) if cv_request is not None else None
    return request_ctx, globals_._cv_app.get(None)


def _pop_leaked(before: tuple[t.Any, t.Any]) -> list[t.Any]:
    """Pop every context pushed above ``before``; return them, innermost first."""
    leaked: list[t.Any] = []
    for index in (0, 1):  # request contexts first: each pops its app context too
        for _ in range(1000):
            ctx = _current()[index]
            if ctx is None or ctx is before[index]:
                break
            leaked.append(ctx)
            try:
                ctx.pop()
            except Exception:  # a context popped out of order: stop, reported already
                break
    return leaked
