"""Isolation checks: does a request ever see another request's data?

Two checks, both on by default:

* **Context check** (Flask, every Flask app found in the structure, mounted
  ones included): each replayed request carries a unique id in its environ
  (:data:`REQUEST_ID`). The worker running it knows which request that is,
  keyed by the greenlet it runs in (``greenlet.getcurrent()`` is distinct
  for every thread and every greenlet, patched or not). At every
  ``url_value_preprocessor``, ``before_request``, ``after_request``,
  ``teardown_request`` and ``teardown_appcontext`` function, error handler
  and template context processor of the app and its blueprints and at
  every view (wherever the app's own code runs: wsgiscope adds no hooks of
  its own, which would cost Flask's hook dispatch on every request),
  :class:`ContextChecker` checks that ``flask.request`` carries that
  id, that ``g`` is the one this request started with and so is
  ``session``. A mismatch is a *leak*, reported with both requests.
* **Divergence check** (any WSGI app): every answer given under
  concurrency is judged against the answers the same request gives
  sequentially, its status, headers and body, with what varies between
  sequential runs masked (:mod:`wsgiscope.replay.expect`). Any other answer
  is *divergent* (request, expected and got, the first differing region,
  and the worker that served it). This catches apps that keep request data
  in module globals, or in ``threading.local`` under unpatched greenlets.

:class:`Findings` collects counts and the first few examples; it is merged
across worker processes like :class:`~wsgiscope.replay.stats.Stats`.
"""

from __future__ import annotations

import functools
import threading
import typing as t

from wsgiscope.frameworks.flask import request_context_getter
from wsgiscope.redact import redact_query, redact_text

if t.TYPE_CHECKING:
    from wsgiscope.replay.engine import Entry

#: The environ key carrying each replayed request's unique id.
REQUEST_ID = "wsgiscope.replay.id"
#: Examples kept per run (counts are always complete).
MAX_EXAMPLES = 10
#: Characters of a body kept for a divergence example.
PREVIEW = 120

_G_ATTRIBUTE = "_wsgiscope_replay_id"
#: Flask's per-blueprint hook registries ``{scope: [function, ...]}`` and
#: the hook each one's functions are.
_HOOK_REGISTRIES = (
    ("url_value_preprocessors", "url_value_preprocessor"),
    ("before_request_funcs", "before_request"),
    ("after_request_funcs", "after_request"),
    ("teardown_request_funcs", "teardown_request"),
    ("template_context_processors", "context_processor"),
)
_MISSING = object()


class Findings:
    """Leaks and divergences found, with the first few examples.

    Examples are appended under a lock (they are rare); the hot counters
    live in each worker's :class:`Slot` and are added up at the end.
    """

    def __init__(self) -> None:
        self.checked = 0
        self.compared = 0
        self.leaks = 0
        self.divergent = 0
        self.stable = 0
        self.unstable = 0
        #: Answers that differed in sequential mode (run-to-run variation).
        self.varied = 0
        #: Mismatching answers not kept, so not judged after the run.
        self.unjudged = 0
        #: ``{reason: [count, [request, ...]]}``: distinct requests not compared.
        self.excluded: dict[str, list[t.Any]] = {}
        self.examples: list[dict[str, t.Any]] = []
        self._lock = threading.Lock()

    def add_leak(self, example: dict[str, t.Any]) -> None:
        with self._lock:
            self.leaks += 1
            if len(self.examples) < MAX_EXAMPLES:
                self.examples.append(example)

    def add_divergence(self, example: dict[str, t.Any]) -> None:
        with self._lock:
            self.divergent += 1
            if len(self.examples) < MAX_EXAMPLES:
                self.examples.append(example)

    def exclude(self, reason: str, request: str) -> None:
        """A distinct request is not compared, for ``reason``."""
        with self._lock:
            item = self.excluded.setdefault(reason, [0, []])
            item[0] += 1
            if len(item[1]) < MAX_EXAMPLES:
                item[1].append(request)

    def merge(self, other: Findings) -> None:
        for name in ("checked", "compared", "leaks", "divergent", "varied", "unjudged"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        # Every process baselines the same requests: keep one count.
        self.stable = max(self.stable, other.stable)
        self.unstable = max(self.unstable, other.unstable)
        for reason, (count, requests) in other.excluded.items():
            item = self.excluded.setdefault(reason, [0, []])
            item[0] = max(item[0], count)
            item[1] = item[1] or list(requests)
        room = MAX_EXAMPLES - len(self.examples)
        self.examples.extend(other.examples[: max(0, room)])

    def to_payload(self) -> dict[str, t.Any]:
        data = {
            name: getattr(self, name)
            for name in (
                "checked",
                "compared",
                "leaks",
                "divergent",
                "stable",
                "unstable",
                "varied",
                "unjudged",
            )
        }
        data["excluded"] = {reason: list(item) for reason, item in self.excluded.items()}
        data["examples"] = self.examples
        return data

    @classmethod
    def from_payload(cls, payload: dict[str, t.Any]) -> Findings:
        findings = cls()
        for name, value in payload.items():
            setattr(findings, name, value)
        return findings

    @property
    def problems(self) -> int:
        """Leaks plus divergences: non-zero fails the run."""
        return self.leaks + self.divergent


class Slot:
    """What one worker is serving right now; only that worker writes it."""

    __slots__ = ("checks", "entry", "g", "ident", "request_id")

    def __init__(self, ident: int) -> None:
        self.ident = ident
        self.request_id: int = -1
        self.entry: Entry | None = None
        self.checks = 0
        self.g: t.Any = None


def preview(body: bytes) -> str:
    """The start of a body, for reports, secret-named JSON members and
    parameters redacted (a member cut by the preview included)."""
    text = redact_text(body[:PREVIEW].decode("utf-8", "replace"))
    return text + ("…" if len(body) > PREVIEW else "")


class ContextChecker:
    """Checks Flask's context locals at every hook (see the module doc).

    :param apps: the Flask apps to instrument.
    :param findings: where leaks go.
    :param describe: ``METHOD path?query`` of a replayed request by its id,
        so a leaked ``g`` or session names the request it came from too.
    """

    def __init__(
        self,
        apps: list[t.Any],
        findings: Findings,
        describe: t.Callable[[int], str] | None = None,
    ) -> None:
        from flask import ctx as flask_ctx
        from flask import globals as flask_globals
        from greenlet import getcurrent  # type: ignore[import-untyped]

        self.apps = apps
        self.findings = findings
        self.describe = describe
        self.owners: dict[t.Any, Slot] = {}
        self._request_ctx = request_context_getter()
        self._app_var = flask_globals._cv_app
        self._current = getcurrent
        #: Flask's own ``g`` class keeps its attributes in its ``__dict__``,
        #: read and written there directly: ``getattr`` of a missing name goes
        #: through its ``__getattr__``, which raises (about 1 us per request),
        #: and ``setattr`` through its ``__setattr__``.
        self._plain_g = getattr(flask_ctx, "_AppCtxGlobals", None)
        #: Flask 3.0/3.1's request context variable, read directly (``None``
        #: on 3.2, where ``_request_ctx`` finds the request in the app context).
        self._request_var = vars(flask_globals).get("_cv_request")
        self._undo: list[t.Callable[[], None]] = []

    def slot(self, ident: int) -> Slot:
        """Register the calling worker (thread or greenlet); returns its slot."""
        slot = Slot(ident)
        self.owners[self._current()] = slot
        return slot

    def release(self) -> None:
        """Forget the calling worker."""
        self.owners.pop(self._current(), None)

    def install(self) -> None:
        """Wrap every hook and view of every app; :meth:`uninstall` undoes it."""
        for app in self.apps:
            self._install(app)

    def uninstall(self) -> None:
        while self._undo:
            self._undo.pop()()

    def _install(self, app: t.Any) -> None:
        saved = {
            name: {key: list(funcs) for key, funcs in getattr(app, name).items()}
            for name, _ in _HOOK_REGISTRIES
        }
        saved_appcontext = list(app.teardown_appcontext_funcs)
        saved_views = dict(app.view_functions)
        # {scope: {code: {exception class: handler}}}: the innermost dicts
        # are wrapped and restored in place.
        handler_maps = [
            handlers for codes in app.error_handler_spec.values() for handlers in codes.values()
        ]
        saved_handlers = [dict(handlers) for handlers in handler_maps]

        def undo() -> None:
            for name, value in saved.items():
                getattr(app, name).clear()
                getattr(app, name).update(value)
            app.teardown_appcontext_funcs[:] = saved_appcontext
            app.view_functions.clear()
            app.view_functions.update(saved_views)
            for handlers, saved_map in zip(handler_maps, saved_handlers, strict=True):
                handlers.clear()
                handlers.update(saved_map)

        self._undo.append(undo)
        for name, hook in _HOOK_REGISTRIES:
            registry = getattr(app, name)
            for key, funcs in registry.items():
                # Flask's own context processor (request, g, session into
                # templates) is not the app's code.
                registry[key] = [
                    f if f.__module__ == "flask.templating" else self._wrap(hook, f) for f in funcs
                ]
        for handlers in handler_maps:
            for exc_class, handler in list(handlers.items()):
                handlers[exc_class] = self._wrap("errorhandler", handler)
        app.teardown_appcontext_funcs[:] = [
            self._wrap("teardown_appcontext", f) for f in app.teardown_appcontext_funcs
        ]
        for endpoint, view in list(app.view_functions.items()):
            app.view_functions[endpoint] = self._wrap("view", view)

    def _wrap(self, hook: str, function: t.Callable[..., t.Any]) -> t.Callable[..., t.Any]:
        name = f"{getattr(function, '__module__', '?')}.{getattr(function, '__qualname__', '?')}"

        check = self.check

        @functools.wraps(function)
        def wrapper(*args: t.Any, **kwargs: t.Any) -> t.Any:
            check(hook, name)
            return function(*args, **kwargs)

        return wrapper

    def check(self, hook: str, function: str) -> None:
        """Check ``request``, ``g`` and ``session`` against the worker's request.

        Reads Flask's context variables directly: the proxies cost about a
        microsecond per attribute, and ``flask.session`` would mark the
        session as accessed (adding ``Vary: Cookie``), changing the response.
        """
        slot = self.owners.get(self._current())
        if slot is None:
            return
        slot.checks += 1
        # A context without our id (an internal redirect's nested request, a
        # test_request_context inside a view) is not a replayed request: it
        # is neither checked nor a leak.
        request_var = self._request_var
        ctx = request_var.get(None) if request_var is not None else self._request_ctx()
        if ctx is not None:
            environ = ctx.request.environ
            seen = environ.get(REQUEST_ID, _MISSING)
            if seen is not _MISSING:
                if seen != slot.request_id:
                    self._leak(slot, hook, function, "request", seen, environ)
                else:
                    # Tagged like g: a session object first seen by another
                    # replayed request is a leak (an internal redirect's
                    # nested context has its own session, tagged alike).
                    # frameworks.flask_contexts.session_of, inlined (a call
                    # and vars() per hook).
                    context = ctx.__dict__
                    session = (
                        context["_session"] if "_session" in context else context.get("session")
                    )
                    if session is not None:
                        owner = getattr(session, _G_ATTRIBUTE, _MISSING)
                        if owner is _MISSING:
                            # not contextlib.suppress: 0.4 us per request
                            try:  # noqa: SIM105
                                setattr(session, _G_ATTRIBUTE, seen)
                            except AttributeError:
                                pass
                        elif owner != seen:
                            self._leak(slot, hook, function, "session", owner, None)
        app_ctx = self._app_var.get(None)
        if app_ctx is not None:
            g = app_ctx.g
            # Flask's own g class: its attributes are its __dict__'s items.
            state = g.__dict__ if type(g) is self._plain_g else None
            owner = (
                getattr(g, _G_ATTRIBUTE, _MISSING)
                if state is None
                else state.get(_G_ATTRIBUTE, _MISSING)
            )
            if owner is _MISSING:
                if slot.g is None:
                    if state is None:
                        setattr(g, _G_ATTRIBUTE, slot.request_id)
                    else:
                        state[_G_ATTRIBUTE] = slot.request_id
                    slot.g = g
            elif owner != slot.request_id:
                self._leak(slot, hook, function, "g", owner, None)

    def _leak(
        self,
        slot: Slot,
        hook: str,
        function: str,
        what: str,
        seen: t.Any,
        environ: dict[str, t.Any] | None,
    ) -> None:
        other: dict[str, t.Any] = {"id": None if seen is _MISSING else seen}
        if environ is None:
            if self.describe is not None and isinstance(seen, int) and seen >= 0:
                other["request"] = self.describe(seen)
        else:
            query = redact_query(str(environ.get("QUERY_STRING") or ""))
            other["request"] = (
                f"{environ.get('REQUEST_METHOD')} "
                f"{environ.get('SCRIPT_NAME', '')}{environ.get('PATH_INFO', '')}"
                + (f"?{query}" if query else "")
            )
        self.findings.add_leak(
            {
                "kind": "leak",
                "what": what,
                "hook": hook,
                "function": function,
                "request": {
                    "id": slot.request_id,
                    "request": slot.entry.request.describe() if slot.entry else None,
                },
                "seen": other,
                "worker": slot.ident,
            }
        )


def flask_apps(app: t.Any) -> list[t.Any]:
    """Every Flask app in ``app``'s structure (middleware and mounts walked)."""
    from wsgiscope.structure import inspect_app

    found: list[t.Any] = []
    for _, node in inspect_app(app).walk():
        if node.framework == "flask" and all(node.obj is not a for a in found):
            found.append(node.obj)
    return found
