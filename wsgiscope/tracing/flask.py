"""Flask instrumentation: contexts, hooks and signals of every Flask app.

This is the only module of the tracing core that knows Flask. Flask's
context model changed in 3.2, so the context part comes in two adapters,
chosen by what the installed Flask has (feature detection, never its
version string, see :func:`detect`):

- :mod:`~wsgiscope.tracing.flask_classic` (Flask 3.0 and 3.1): an app
  context and a request context, two classes on two context variables;
- :mod:`~wsgiscope.tracing.flask_merged` (Flask 3.2): one ``AppContext``
  that carries the request, pushed anew for every request.

A Flask that matches neither is traced at the WSGI level only, said once in
one line (``wsgiscope: Flask X.Y is not supported by the context tracer yet;
tracing at the WSGI level``); ``wsgiscope info`` names the adapter in use
(:func:`describe`).

Both record a ``push`` event when a context becomes the current one and a
``pop`` event when it stops being current (a push of a context that is
already current records nothing). A pop carries ``g`` as it was when the
context's teardown began and as the teardown functions left it (``g_after``),
and the session's names: names and value previews captured at those moments,
while the context is still current (never later, so a value whose ``repr``
needs the request previews as it would in the view).

Common to both, in this module, while instrumentation is held (see
:mod:`wsgiscope.tracing.instrument`):

- ``Flask.ensure_sync`` (plus ``preprocess_request``, see Limits, and
  ``handle_exception``, which notes the exception Flask turned into a 500):
  a ``hook`` event for every ``url_value_preprocessor``,
  ``before_request``, view (endpoint and view arguments), ``after_request``,
  ``errorhandler``, ``context_processor``, ``teardown_request`` and
  ``teardown_appcontext`` call, with ``module.qualname``, duration, the
  exception a teardown or error handler received and the one it raised.
  Which kind of hook a function is follows from the Flask method that asks
  ``ensure_sync`` for it (``dispatch_request``: the view, ``process_response``:
  an ``after_request`` function, ...), read from the caller's frame: one
  lookup instead of a wrapper around each of those methods. Flask 3.2 passes
  the current context as the first argument of these methods; the wrappers
  take either signature.
- ``send`` of each signal in ``flask.signals`` (an instance attribute on the
  signal object, deleted again afterwards): a ``signal`` event per send.
  ``request_tearing_down`` and ``appcontext_tearing_down`` are what
  ``do_teardown_request``/``do_teardown_appcontext`` send once the teardown
  functions ran: once their receivers ran too, ``g`` is taken then (the
  pop's ``g_after``). A teardown function that raises takes it too (Flask
  3.0/3.1 run no more teardowns and send no signal then; 3.2 runs the rest,
  and the signal takes it again).

``depth`` of a push/pop is the depth of that kind of context on the stack
after the push (an internal redirect's request context is at depth 2, a
chained second app's contexts too; Flask 3.2 has one kind, so every context
counts); any other event has the depth of the innermost current context.

Limits
------

Methods are replaced on Flask's own classes: an app class that overrides one
of them without calling ``super()`` (a custom ``ensure_sync``, say) hides what
that method does from the trace. (An override that calls ``super()`` is fine,
and so is an overridden ``dispatch_request`` or other hook-calling method: it
is recognised by its name.) ``url_value_preprocessors`` are called by
Flask directly rather than through ``ensure_sync``, so while tracing,
``preprocess_request`` runs this module's copy of Flask's loop (the same
calls in the same order, identical in 3.0 to 3.2) to observe them. Under
Flask 3.2, an app class with an old-signature override *defined while a
trace runs* makes Flask rewrap the patched base method; that wrapper is not
kept after the trace.

Listeners (for isolation checks)
--------------------------------

:func:`instrumented` keeps the instrumentation installed for a block and
calls ``listener(event)`` for every Flask event (a frozen
:mod:`~wsgiscope.tracing.events` dataclass) in any thread or greenlet, traced
or not. For a ``hook`` event the call happens right after the function
returned, inside the framework's call, so ``flask.request``, ``flask.g`` and
``flask.session`` are still those of the request that ran it (for
``teardown_appcontext`` under Flask 3.0/3.1 only the app context is left)::

    from wsgiscope.tracing.flask import instrumented

    def check(event):
        if event.kind == "hook" and flask.has_request_context():
            assert flask.request.headers["X-Replay-Id"] == flask.g.replay_id

    with instrumented(check):
        run_requests()

A listener that raises is reported once through logging and otherwise
ignored: it never breaks the request.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import sys
import typing as t

from wsgiscope.frameworks.flask_contexts import session_of
from wsgiscope.redact import as_text, cap, repr_text
from wsgiscope.tracing import instrument
from wsgiscope.tracing.events import (
    ContextPop,
    ContextPush,
    Event,
    HookCall,
    RawEvent,
    SignalSent,
    hide_own_frames,
    previews,
)
from wsgiscope.tracing.instrument import Patches
from wsgiscope.tracing.recorder import Recorder, _current, object_name

Listener = t.Callable[[Event], None]

#: Listeners called for every Flask event (copy-on-write: replaced, never mutated).
_listeners: tuple[Listener, ...] = ()
_listener_failed = False
_ambient: contextvars.ContextVar[Recorder | None] = contextvars.ContextVar(
    "wsgiscope_flask_ambient", default=None
)
_logger = logging.getLogger("wsgiscope")

_TEARDOWN_LIKE = frozenset(("teardown_request", "teardown_appcontext", "errorhandler"))
_TEARDOWNS = frozenset(("teardown_request", "teardown_appcontext"))
#: The signals do_teardown_request/do_teardown_appcontext send after the teardowns.
_TEARING_DOWN = frozenset(("request_tearing_down", "appcontext_tearing_down"))

#: The Flask method that calls ``ensure_sync(func)`` for each kind of hook
#: (an override of one in an app class counts too, by its name). Anything
#: else asking for ``ensure_sync`` (a signal's async receiver, an app's own
#: code) is not a hook.
_HOOK_OF_CALLER = {
    "preprocess_request": "before_request",
    "dispatch_request": "view",
    "process_response": "after_request",
    "handle_http_exception": "errorhandler",
    "handle_user_exception": "errorhandler",
    "handle_exception": "errorhandler",
    "update_template_context": "context_processor",
    "do_teardown_request": "teardown_request",
    "do_teardown_appcontext": "teardown_appcontext",
}

#: The keyword argument of a Flask signal that carries an exception.
_SIGNAL_EXCEPTION = {
    "got_request_exception": "exception",
    "request_tearing_down": "exc",
    "appcontext_tearing_down": "exc",
}


def _recorder() -> Recorder | None:
    """The ambient recorder of an untraced request, when listeners want events.

    Wrappers call ``_current.get() or _recorder()``: a traced request uses
    its own recorder; an untraced one gets a recorder that keeps no rows,
    only the bookkeeping events need, and only while listeners exist.
    """
    if not _listeners:
        return None
    rec = _ambient.get()
    if rec is None:
        rec = Recorder(keep=False)
        _ambient.set(rec)
    return rec


def _notify(rec: Recorder, row: RawEvent) -> None:
    global _listener_failed
    listeners = _listeners
    if not listeners:
        return
    event = rec.event(row)
    for listener in listeners:
        try:
            listener(event)
        except Exception:
            if not _listener_failed:
                _listener_failed = True
                _logger.exception("wsgiscope: a Flask event listener failed (reported once)")


@contextlib.contextmanager
def instrumented(listener: Listener | None = None) -> t.Iterator[None]:
    """Keep Flask (and all other) instrumentation installed for the block.

    :param listener: called with every Flask event while the block runs,
        from whichever thread or greenlet produced it.
    """
    global _listeners
    if listener is not None:
        _listeners = (*_listeners, listener)
    instrument.acquire()
    try:
        yield
    finally:
        instrument.release()
        if listener is not None:
            remaining = list(_listeners)
            remaining.remove(listener)
            _listeners = tuple(remaining)


class Unsupported(Exception):
    """The installed Flask matches neither context adapter (one line, said once)."""

    one_line = True


#: The context adapters, by the name :func:`detect` returns.
ADAPTERS = {
    "classic": "app and request contexts (Flask 3.0/3.1 adapter)",
    "merged": "merged app + request context (Flask 3.2 adapter)",
}


def flask_version() -> str:
    """The installed Flask's version, from its distribution metadata."""
    import importlib.metadata

    try:
        return importlib.metadata.version("flask")
    except importlib.metadata.PackageNotFoundError:
        return "?"


def detect() -> str | None:
    """Which context adapter fits the imported Flask: ``"classic"``, ``"merged"`` or ``None``.

    Decided by what Flask's classes have, not by its version: the classic
    adapter needs a ``RequestContext`` class of its own and the ``_cv_request``
    variable, contexts keeping a ``_cv_tokens`` list, and dispatch methods
    without a context parameter; the merged one an ``AppContext`` that carries
    the request (``has_request``), counts its pushes (``_push_count``) behind
    one ``_cv_token``, and dispatch methods that take the context first.
    """
    import inspect

    import flask.app
    import flask.ctx
    import flask.globals

    def params(func: t.Any) -> list[str]:
        try:
            return list(inspect.signature(func).parameters)[1:]
        except (TypeError, ValueError):
            return ["?"]

    app_ctx = getattr(flask.ctx, "AppContext", None)
    flask_cls = getattr(flask.app, "Flask", None)
    if app_ctx is None or flask_cls is None or "_cv_app" not in vars(flask.globals):
        return None
    app_names = _init_names(app_ctx)
    dispatch = [
        params(getattr(flask_cls, name, None))
        for name in ("preprocess_request", "full_dispatch_request", "handle_exception")
    ]
    req_ctx = vars(flask.ctx).get("RequestContext")
    if (
        isinstance(req_ctx, type)
        and "_cv_request" in vars(flask.globals)
        and "_cv_tokens" in app_names
        and "_cv_tokens" in _init_names(req_ctx)
        and dispatch == [[], [], ["e"]]
    ):
        return "classic"
    if (
        req_ctx is None
        and isinstance(getattr(app_ctx, "has_request", None), property)
        and "_cv_token" in app_names
        and "_push_count" in app_names
        and "_request" in app_names
        and dispatch == [["ctx"], ["ctx"], ["ctx", "e"]]
        and params(getattr(flask_cls, "do_teardown_request", None))[:1] == ["ctx"]
    ):
        return "merged"
    return None


def _init_names(cls: type) -> tuple[str, ...]:
    """The attribute and global names ``cls.__init__`` uses (what it sets on ``self``)."""
    code = getattr(vars(cls).get("__init__"), "__code__", None)
    return code.co_names if code is not None else ()


def describe() -> dict[str, t.Any]:
    """Which adapter traces the installed Flask: for ``wsgiscope info``."""
    version = flask_version()
    try:
        adapter = detect()
    except Exception:  # (as install() does: no adapter, no traceback)
        adapter = None
    return {
        "version": version,
        "adapter": adapter,
        "description": ADAPTERS[adapter]
        if adapter is not None
        else "none: traced at the WSGI level (this Flask's contexts are not supported yet)",
    }


def unsupported_message(version: str) -> str:
    """The one line said when no adapter fits."""
    short = ".".join(version.split(".")[:2])
    return (
        f"wsgiscope: Flask {short} is not supported by the context tracer yet; "
        "tracing at the WSGI level"
    )


# -- context bookkeeping shared by both adapters -------------------------


def push_context(rec: Recorder, ctx: t.Any, kind: str, path: str | None, depth: int) -> RawEvent:
    """Record the push of ``ctx`` and make it the innermost current context.

    Its entry in ``rec.contexts`` is ``(ctx, kind, app, depth, push row,
    path, app name, pop state, state before)``: the last two, made now,
    are the pop's leaf state (the push's depth, the push as parent) and
    the recorder state the pop goes back to.
    """
    contexts = rec.contexts
    app = ctx.app
    name = app.__dict__.get("name")  # object_name's fast path, inline
    if not isinstance(name, str):
        name = object_name(app)
    rows = rec.rows
    seq = len(rows)
    before = rec.state
    row = (ContextPush, rec.clock(), depth, before[1], [kind, name, path], seq)
    if seq < rec.limit:
        rows.append(row)
    elif rec.keep:
        rec.dropped += 1
    rec.spans.append(row)
    state = (depth, seq)
    contexts.append((ctx, kind, app, depth, row, path, name, state, before))
    rec.depth = depth
    rec.state = state
    return row


def entry_of(rec: Recorder, ctx: t.Any) -> tuple[t.Any, ...] | None:
    """``ctx``'s entry in ``rec.contexts`` (innermost first), if it was pushed under it."""
    for entry in reversed(rec.contexts):
        if entry[0] is ctx:
            return entry
    return None


def forget_push(rec: Recorder, ctx: t.Any, row: RawEvent) -> None:
    """Undo :func:`push_context` for a push that failed before ``ctx`` became current."""
    entry = entry_of(rec, ctx)
    if entry is not None:
        rec.contexts.remove(entry)
    rec.depth = rec.contexts[-1][3] if rec.contexts else 0
    rec.close_span(row)


#: A ``g`` value seen only after its request had ended (see :func:`g_now`).
NOT_PREVIEWED = "<not previewed: the request had ended>"

#: A capture of ``g``: ``{name: (value, preview)}``, kept while its pop is pending.
Seen = dict[str, tuple[t.Any, str]]


def pending_pop(
    ctx: t.Any,
    mark: t.Any,
    entry: tuple[t.Any, ...],
    g: t.Any,
    seen: Seen | None = None,
    may_repr: bool = True,
) -> list[t.Any]:
    """A pop in progress: ``[ctx, mark, entry, g at teardown start, g after, session, seen]``.

    ``mark`` is the adapter's own (what tells it the context stopped being
    current); ``g`` is the live ``flask.g`` (or ``None``), previewed now
    (see :func:`g_now` for ``seen`` and ``may_repr``).
    """
    session: dict[str, str] | None = None
    own = session_of(ctx) if entry[1] != "app" else None
    if isinstance(own, dict):
        # not .session: Flask 3.1.3's property marks the session accessed
        # (adds "Vary: Cookie"); a trace must not. An empty one (a null
        # session, one nobody wrote to) has nothing to preview.
        if dict.__len__(own) == 0 and type(own).items is dict.items:
            session = {}
        else:
            session = _safe_previews(own)
    names, seen = g_now(g, seen, may_repr)
    return [ctx, mark, entry, names, None, session, seen]


def g_now(
    g: t.Any, seen: Seen | None = None, may_repr: bool = True
) -> tuple[dict[str, str] | None, Seen | None]:
    """The names in ``g`` (an app context's ``flask.g``) and their previews, now.

    A value that is the very object previewed in ``seen`` (the last capture
    of this ``g``) keeps that preview. Otherwise its ``repr`` is taken now,
    unless ``may_repr`` is false: Flask 3.0/3.1 pop the app context after
    the request context, and a ``repr`` then (a lazy ORM object's, say)
    would run outside the request's lifetime; such a value is
    :data:`NOT_PREVIEWED`. Returns the previews and the new ``seen``.
    """
    if g is None:
        return None, None
    try:
        state = vars(g)
        if not state:  # most pops: nothing in g
            return {}, {}
        items = list(state.items())
    except Exception:  # an app_ctx_globals_class without a __dict__, say
        return None, None
    out: dict[str, str] = {}
    now: Seen = {}
    for key, value in items:
        name = as_text(key)
        known = seen.get(name) if seen else None
        if known is not None and known[0] is value:
            text = known[1]
        elif may_repr:
            text = cap(repr_text(value))
        else:
            text = NOT_PREVIEWED
        out[name] = text
        now[name] = (value, text)
    return out, now


def _safe_previews(values: t.Any) -> dict[str, str] | None:
    try:
        return previews(values)
    except Exception:  # a mapping that fails while listed: the record says nothing
        return None


def record_pop(rec: Recorder, item: list[t.Any]) -> None:
    """Record the pop of a context that stopped being current.

    ``item`` is the pop's entry in ``rec.pending`` (see :func:`pending_pop`).
    """
    entry = item[2]
    contexts = rec.contexts
    spans = rec.spans
    push_row = entry[4]
    if contexts and contexts[-1] is entry and spans and spans[-1] is push_row:
        # Popped in the order pushed: back to the state before the push.
        contexts.pop()
        spans.pop()
        rec.state = state = entry[8]
        rec.depth = state[0]
    else:
        for i in range(len(contexts) - 1, -1, -1):
            if contexts[i] is entry:
                del contexts[i]
                break
        rec.depth = contexts[-1][3] if contexts else 0
        rec.close_span(push_row)  # (and the state with the new depth)
    # A leaf row (see full_row) with the push's depth, the push as parent.
    row = (
        ContextPop,
        rec.clock(),
        entry[7],
        entry[1],
        entry[6],
        entry[5],
        item[3],
        item[5],
        item[4],
    )
    item[6] = None  # the values themselves are not kept
    rows = rec.rows
    if len(rows) < rec.limit:
        rows.append(row)
    elif rec.keep:
        rec.dropped += 1
    if _listeners:
        _notify(rec, row)


class ContextOps(t.NamedTuple):
    """What the common instrumentation needs from a context adapter."""

    #: Record the pops of contexts that stopped being current.
    flush: t.Callable[[Recorder], None]
    #: The current context that carries the request (``.request``), or ``None``.
    request_ctx: t.Callable[[], t.Any]
    #: The current app context (``.g``), or ``None``.
    app_ctx: t.Callable[[], t.Any]


def install(patches: Patches) -> None:
    """Instrument Flask's classes and signals (undone by ``patches.undo()``).

    :raises Unsupported: the installed Flask matches neither adapter (or
        patching it failed); the caller traces at the WSGI level.
    """
    try:
        adapter = detect()
    except Exception as exc:  # a Flask too different to even inspect
        raise Unsupported(unsupported_message(flask_version())) from exc
    if adapter is None:
        raise Unsupported(unsupported_message(flask_version()))
    try:
        if adapter == "classic":
            from wsgiscope.tracing.flask_classic import install_contexts
        else:
            from wsgiscope.tracing.flask_merged import install_contexts
        ops = install_contexts(patches)
        _install_common(patches, ops)
    except Exception as exc:
        raise Unsupported(unsupported_message(flask_version())) from exc


def _install_common(patches: Patches, ops: ContextOps) -> None:  # noqa: C901 - one closure per patched method
    import blinker
    import flask.app
    import flask.signals

    flask_cls = flask.app.Flask
    flush = ops.flush
    request_ctx = ops.request_ctx
    app_ctx = ops.app_ctx

    # -- hooks -------------------------------------------------------------

    def hooked(
        hook: str, app: t.Any, func: t.Any, call: t.Callable[..., t.Any]
    ) -> t.Callable[..., t.Any]:
        """``call`` recording a ``hook`` event in the recorder of the request running it."""

        is_view = hook == "view"
        gets_exception = hook in _TEARDOWN_LIKE
        is_teardown = hook in _TEARDOWNS
        app_name = object_name(app)

        def traced(*args: t.Any, **kwargs: t.Any) -> t.Any:
            rec = _current.get() or _recorder()
            if rec is None:
                return call(*args, **kwargs)
            endpoint = view_args = exc = None
            if is_view:
                req_ctx = request_ctx()
                rule = None if req_ctx is None else req_ctx.request.url_rule
                endpoint = None if rule is None else rule.endpoint
                view_args = kwargs
            elif gets_exception and args:
                exc = args[0]
            if rec.pending:  # teardowns run while pops are pending
                flush(rec)
            values = [hook, func, app_name, endpoint, view_args, exc, None, None]
            spans = rec.spans
            clock = rec.clock
            rows = rec.rows
            seq = len(rows)
            start = clock()
            depth, parent = state = rec.state
            row = (HookCall, start, depth, parent, values, seq)
            if seq < rec.limit:
                rows.append(row)
            elif rec.keep:
                rec.dropped += 1
            spans.append(row)
            rec.state = (depth, seq)
            try:
                return call(*args, **kwargs)
            except BaseException as raised:
                values[6] = raised
                hide_own_frames(raised)  # out of the tracebacks the app logs
                if is_teardown and rec.pending:
                    capture_after(rec)  # (3.0/3.1: the last teardown to run)
                raise
            finally:
                values[7] = clock() - start
                if spans and spans[-1] is row:
                    spans.pop()
                    rec.state = state
                else:
                    rec.close_span(row)
                if _listeners:
                    _notify(rec, row)

        return traced

    orig_ensure_sync = flask_cls.ensure_sync
    caller = sys._getframe
    #: func -> (hook, app, wrapper): a plain function's wrapper serves every
    #: request (it finds the request's recorder when called). Dropped with
    #: the patches.
    wrappers: dict[t.Any, tuple[str, t.Any, t.Callable[..., t.Any]]] = {}

    def ensure_sync(self: t.Any, func: t.Callable[..., t.Any]) -> t.Callable[..., t.Any]:
        # Which hook this is follows from the Flask method asking for it.
        frame = caller(1)
        name = frame.f_code.co_name
        while name == "ensure_sync" and frame.f_back is not None:
            # An app class's own ensure_sync calling super(): ask its caller.
            frame = frame.f_back
            name = frame.f_code.co_name
        hook = _HOOK_OF_CALLER.get(name)
        if hook is None or (_current.get() is None and not _listeners):
            return orig_ensure_sync(self, func)
        try:
            known = wrappers.get(func)
        except TypeError:  # an unhashable callable object
            return hooked(hook, self, func, orig_ensure_sync(self, func))
        if known is not None and known[0] == hook and known[1] is self:
            # Flask's answer for this function was the function itself (it is
            # not a coroutine function): asking again would only repeat that.
            return known[2]
        call = orig_ensure_sync(self, func)
        wrapper = hooked(hook, self, func, call)
        if call is func and len(wrappers) < 4096:
            wrappers[func] = (hook, self, wrapper)
        return wrapper

    patches.set(flask_cls, "ensure_sync", ensure_sync)

    orig_handle_exception = flask_cls.handle_exception

    def handle_exception(self: t.Any, *args: t.Any, **kwargs: t.Any) -> t.Any:
        # (e) before Flask 3.2, (ctx, e) from 3.2 on
        rec = _current.get() or _recorder()
        if rec is not None and rec.app_error is None:
            e = kwargs.get("e", args[-1] if args else None)
            if isinstance(e, BaseException):
                rec.app_error = e
        return orig_handle_exception(self, *args, **kwargs)

    # (the signature stays Flask's for inspect, as detect() and Flask 3.2's
    # own subclass check read it)
    handle_exception.__wrapped__ = orig_handle_exception  # type: ignore[attr-defined]
    patches.set(flask_cls, "handle_exception", handle_exception)

    orig_preprocess = flask_cls.preprocess_request
    #: url_value_preprocessor -> (app, its hooked wrapper): made once, as
    #: ensure_sync's wrappers are (Flask calls these functions directly).
    url_wrappers: dict[t.Any, tuple[t.Any, t.Callable[..., t.Any]]] = {}

    def url_hooked(app: t.Any, func: t.Any) -> t.Callable[..., t.Any]:
        try:
            known = url_wrappers.get(func)
        except TypeError:  # an unhashable callable object
            return hooked("url_value_preprocessor", app, func, func)
        if known is not None and known[0] is app:
            return known[1]
        wrapper = hooked("url_value_preprocessor", app, func, func)
        if len(url_wrappers) < 4096:
            url_wrappers[func] = (app, wrapper)
        return wrapper

    def preprocess_request(self: t.Any, *args: t.Any, **kwargs: t.Any) -> t.Any:
        # Flask's preprocess_request (the same loop in 3.0 to 3.2), with the
        # url_value_preprocessors (which Flask calls directly, not through
        # ensure_sync) observed. Its name makes ensure_sync classify the
        # before_request functions. Flask 3.2 passes the context first.
        # (its frame is hidden from exceptions passing through, as
        # own_frames_hidden does, without the extra call)
        try:
            rec = _current.get() or _recorder()
            ctx = args[0] if args else kwargs.get("ctx") or request_ctx()
            if rec is None or ctx is None:
                return orig_preprocess(self, *args, **kwargs)
            req = ctx.request
            names = (None, *reversed(req.blueprints))
            preprocessors = self.url_value_preprocessors
            for name in names:
                if name in preprocessors:
                    for url_func in preprocessors[name]:
                        url_hooked(self, url_func)(req.endpoint, req.view_args)
            before = self.before_request_funcs
            for name in names:
                if name in before:
                    for before_func in before[name]:
                        rv = self.ensure_sync(before_func)()
                        if rv is not None:
                            return rv
            return None
        except BaseException as exc:
            hide_own_frames(exc)
            raise

    preprocess_request.__wrapped__ = orig_preprocess  # type: ignore[attr-defined]
    patches.set(flask_cls, "preprocess_request", preprocess_request)

    # -- g after the teardowns ---------------------------------------------

    def capture_after(rec: Recorder) -> None:
        """``g`` now, into the pop in progress of the context still current:
        sent by the tearing-down signals after their receivers, and by a
        teardown function that raised."""
        current = app_ctx()
        if current is None:
            return
        current_req = request_ctx()
        for item in reversed(rec.pending):
            if item[0] is current or item[0] is current_req:
                seen = item[6]
                item[4], item[6] = g_now(current.g, seen, current_req is not None or seen is None)
                return

    # -- signals -----------------------------------------------------------

    for signal_name, signal in sorted(vars(flask.signals).items()):
        if isinstance(signal, blinker.base.Signal):
            after = capture_after if signal_name in _TEARING_DOWN else None
            patches.set(signal, "send", _signal_send(signal, signal_name, flush, after))


def _signal_send(
    signal: t.Any,
    name: str,
    flush: t.Callable[[Recorder], None],
    after: t.Callable[[Recorder], None] | None = None,
) -> t.Callable[..., t.Any]:
    """The ``send`` that records a ``signal`` event, then sends; ``after(rec)``,
    when given, runs once the receivers ran (or one of them raised)."""
    orig_send = signal.send
    # The keyword argument that carries the exception, for the signals that have one.
    exc_key = _SIGNAL_EXCEPTION.get(name)

    def send(sender: t.Any = None, /, **kwargs: t.Any) -> t.Any:
        rec = _current.get() or _recorder()
        if rec is None:
            return orig_send(sender, **kwargs)
        if rec.pending:  # signals sent during teardowns are many
            flush(rec)
        # A leaf row: the sender is named when the row is read (full_row).
        if exc_key is None:
            row = (SignalSent, rec.clock(), rec.state, name, sender, None)
        else:
            row = (SignalSent, rec.clock(), rec.state, name, sender, kwargs.get(exc_key))
        rows = rec.rows
        if len(rows) < rec.limit:
            rows.append(row)
        elif rec.keep:
            rec.dropped += 1
        if _listeners:
            _notify(rec, row)
        if after is not None and rec.pending:
            try:
                return orig_send(sender, **kwargs) if signal.receivers else []
            finally:
                if rec.pending:
                    after(rec)
        if not signal.receivers:
            # What blinker's send() returns without receivers, minus the cost
            # of its receivers_for() generator.
            return []
        return orig_send(sender, **kwargs)

    return send
