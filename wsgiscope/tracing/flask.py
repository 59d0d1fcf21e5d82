"""Flask instrumentation: contexts, hooks and signals of every Flask app.

This is the only module of the tracing core that knows Flask (3.1
semantics; Flask 3.2 merges the two contexts and will need its own
version of this adapter). While instrumentation is held (see
:mod:`wsgiscope.tracing.instrument`) it replaces, on the *classes*:

- ``AppContext.push/pop`` and ``RequestContext.push/pop``: a ``push`` event
  when a context becomes the current one and a ``pop`` event when it stops
  being current. ``RequestContext.push`` pushes the app context first, and
  ``RequestContext.pop`` runs ``teardown_request``, removes the request
  context and only then pops the app context (``teardown_appcontext``), so
  the events come in that order. Pushing the context that is already
  current (nothing changes) records nothing. From Flask 3.1.2 on,
  ``stream_with_context`` pushes both again while the body is iterated:
  those pushes, the second round of teardowns and the pops are recorded too
  (before 3.1.2 the contexts stay pushed until the body is closed, and the
  trace shows one round). The pop of a request context
  carries the names in ``g`` and in the session when its teardown began.
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
  lookup instead of a wrapper around each of those methods.
- ``send`` of each signal in ``flask.signals`` (an instance attribute on the
  signal object, deleted again afterwards): a ``signal`` event per send.

``depth`` of a push/pop is the depth of that kind of context on the stack
after the push (an internal redirect's request context is at depth 2, a
chained second app's contexts too); any other event has the depth of the
innermost current context.

Limits
------

Methods are replaced on Flask's own classes: an app class that overrides one
of them without calling ``super()`` (a custom ``ensure_sync``, say) hides what
that method does from the trace. (An override that calls ``super()`` is fine,
and so is an overridden ``dispatch_request`` or other hook-calling method: it
is recognised by its name.) ``url_value_preprocessors`` are called by
Flask directly rather than through ``ensure_sync``, so while tracing,
``preprocess_request`` runs this module's copy of Flask 3.1's loop (the same
calls in the same order) to observe them.

Listeners (for isolation checks)
--------------------------------

:func:`instrumented` keeps the instrumentation installed for a block and
calls ``listener(event)`` for every Flask event (a frozen
:mod:`~wsgiscope.tracing.events` dataclass) in any thread or greenlet, traced
or not. For a ``hook`` event the call happens right after the function
returned, inside the framework's call, so ``flask.request``, ``flask.g`` and
``flask.session`` are still those of the request that ran it (for
``teardown_appcontext`` only the app context is left)::

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

from wsgiscope.frameworks.flask import session_of
from wsgiscope.tracing import instrument
from wsgiscope.tracing.events import (
    ContextPop,
    ContextPush,
    Event,
    HookCall,
    RawEvent,
    SignalSent,
    hide_own_frames,
    own_frames_hidden,
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


def install(patches: Patches) -> None:  # noqa: C901 - one closure per patched method
    """Instrument Flask's classes and signals (undone by ``patches.undo()``)."""
    import blinker
    import flask.app
    import flask.ctx
    import flask.globals
    import flask.signals

    flask_cls = flask.app.Flask
    app_ctx_cls = flask.ctx.AppContext
    req_ctx_cls = flask.ctx.RequestContext
    # The default of AppContext.pop/RequestContext.pop's ``exc`` ("not given").
    sentinel = flask.ctx._sentinel
    cv_app: t.Any = flask.globals._cv_app
    cv_req: t.Any = flask.globals._cv_request

    # -- contexts --------------------------------------------------------

    def push_context(rec: Recorder, ctx: t.Any, kind: str, path: str | None) -> RawEvent:
        """Record the push of ``ctx`` and make it the innermost current context.

        Its entry in ``rec.contexts`` is ``(ctx, kind, app, depth, push row,
        path, app name, pop state, state before)``: the last two, made now,
        are the pop's leaf state (the push's depth, the push as parent) and
        the recorder state the pop goes back to.
        """
        contexts = rec.contexts
        depth = 1
        for entry in contexts:
            if entry[1] == kind:
                depth += 1
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

    def flush(rec: Recorder) -> None:
        """Record the pops of contexts that stopped being current.

        Pops nest: while a pop is pending, the ones pending before it are
        still current (their teardowns are what is running), so only the
        last ones can be due, innermost first.
        """
        pending = rec.pending
        contexts = rec.contexts
        spans = rec.spans
        while pending:
            ctx, tokens, entry, g, session = pending[-1]
            if len(ctx._cv_tokens) >= tokens:
                return  # still current: its teardowns are running
            pending.pop()
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
            row = (ContextPop, rec.clock(), entry[7], entry[1], entry[6], entry[5], g, session)
            rows = rec.rows
            if len(rows) < rec.limit:
                rows.append(row)
            elif rec.keep:
                rec.dropped += 1
            if _listeners:
                _notify(rec, row)

    def entry_of(rec: Recorder, ctx: t.Any) -> tuple[t.Any, ...] | None:
        for entry in reversed(rec.contexts):
            if entry[0] is ctx:
                return entry
        return None

    orig_app_push = app_ctx_cls.push
    orig_app_pop = app_ctx_cls.pop
    orig_req_push = req_ctx_cls.push
    orig_req_pop = req_ctx_cls.pop

    def app_push(self: t.Any) -> None:
        rec = _current.get() or _recorder()
        if rec is None:
            return orig_app_push(self)
        if cv_app.get(None) is self:
            return orig_app_push(self)
        if rec.pending:
            flush(rec)
        # Recorded before the push so the appcontext_pushed signal it sends
        # comes after it, as a child.
        row = push_context(rec, self, "app", None)
        try:
            orig_app_push(self)
        except BaseException:
            entry = entry_of(rec, self)
            if entry is not None:
                rec.contexts.remove(entry)
            rec.depth = rec.contexts[-1][3] if rec.contexts else 0
            rec.close_span(row)
            raise
        if _listeners:
            _notify(rec, row)
        return None

    def req_push(self: t.Any) -> None:
        rec = _current.get() or _recorder()
        if rec is None:
            return orig_req_push(self)
        if cv_req.get(None) is self:
            return orig_req_push(self)
        if rec.pending:
            flush(rec)
        # After the push: it pushes the app context first, and that must
        # come first in the trace.
        orig_req_push(self)
        row = push_context(rec, self, "request", self.request.environ.get("PATH_INFO"))
        if _listeners:
            _notify(rec, row)
        return None

    def make_pop(orig: t.Callable[..., None], is_request: bool) -> t.Callable[..., None]:
        def pop(self: t.Any, exc: t.Any = sentinel) -> None:
            rec = _current.get() or _recorder()
            if rec is None:
                return orig(self, exc)
            if rec.pending:
                flush(rec)
            tokens = self._cv_tokens
            contexts = rec.contexts
            # The context being popped is nearly always the innermost one.
            entry = contexts[-1] if contexts else None
            if entry is not None and entry[0] is not self:
                entry = entry_of(rec, self)
            if (
                entry is None
                or not tokens
                # A second push of the same context stays current: no pop.
                or (tokens[-1][0] if is_request else tokens[-1]).old_value is self
            ):
                # Teardown functions run inside pop(), through ensure_sync.
                return orig(self, exc)
            # The state the teardowns are about to see.
            app_ctx = cv_app.get(None)
            g = None if app_ctx is None else app_ctx.g.__dict__.copy()
            session = None
            if is_request:
                # not .session: Flask 3.1.3's property marks the session
                # accessed (adds "Vary: Cookie"); a trace must not.
                own = session_of(self)
                if isinstance(own, dict):
                    session = dict.copy(own)
            rec.pending.append((self, len(tokens), entry, g, session))
            try:
                orig(self, exc)
            finally:
                if rec.pending:
                    flush(rec)
            return None

        return pop

    patches.set(app_ctx_cls, "push", app_push)
    patches.set(app_ctx_cls, "pop", make_pop(orig_app_pop, False))
    patches.set(req_ctx_cls, "push", req_push)
    patches.set(req_ctx_cls, "pop", make_pop(orig_req_pop, True))

    # -- hooks -------------------------------------------------------------

    def hooked(
        hook: str, app: t.Any, func: t.Any, call: t.Callable[..., t.Any]
    ) -> t.Callable[..., t.Any]:
        """``call`` recording a ``hook`` event in the recorder of the request running it."""

        is_view = hook == "view"
        gets_exception = hook in _TEARDOWN_LIKE
        app_name = object_name(app)

        def traced(*args: t.Any, **kwargs: t.Any) -> t.Any:
            rec = _current.get() or _recorder()
            if rec is None:
                return call(*args, **kwargs)
            endpoint = view_args = exc = None
            if is_view:
                req_ctx = cv_req.get(None)
                rule = None if req_ctx is None else req_ctx.request.url_rule
                endpoint = None if rule is None else rule.endpoint
                view_args = kwargs
            elif gets_exception and args:
                exc = args[0]
            pending = rec.pending
            # flush()'s first test, inline: teardowns run while pops are pending.
            if pending and len(pending[-1][0]._cv_tokens) < pending[-1][1]:
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

    def handle_exception(self: t.Any, e: Exception) -> t.Any:
        rec = _current.get() or _recorder()
        if rec is not None and rec.app_error is None:
            rec.app_error = e
        return orig_handle_exception(self, e)

    patches.set(flask_cls, "handle_exception", handle_exception)

    orig_preprocess = flask_cls.preprocess_request

    @own_frames_hidden
    def preprocess_request(self: t.Any) -> t.Any:
        # Flask 3.1's preprocess_request, with the url_value_preprocessors
        # (which Flask calls directly, not through ensure_sync) observed. Its
        # name makes ensure_sync classify the before_request functions.
        rec = _current.get() or _recorder()
        if rec is None:
            return orig_preprocess(self)
        req = cv_req.get().request
        names = (None, *reversed(req.blueprints))
        preprocessors = self.url_value_preprocessors
        for name in names:
            if name in preprocessors:
                for url_func in preprocessors[name]:
                    hooked("url_value_preprocessor", self, url_func, url_func)(
                        req.endpoint, req.view_args
                    )
        before = self.before_request_funcs
        for name in names:
            if name in before:
                for before_func in before[name]:
                    rv = self.ensure_sync(before_func)()
                    if rv is not None:
                        return rv
        return None

    patches.set(flask_cls, "preprocess_request", preprocess_request)

    # -- signals -----------------------------------------------------------

    for signal_name, signal in sorted(vars(flask.signals).items()):
        if isinstance(signal, blinker.base.Signal):
            patches.set(signal, "send", _signal_send(signal, signal_name, flush))


def _signal_send(
    signal: t.Any, name: str, flush: t.Callable[[Recorder], None]
) -> t.Callable[..., t.Any]:
    orig_send = signal.send
    # The keyword argument that carries the exception, for the signals that have one.
    exc_key = _SIGNAL_EXCEPTION.get(name)

    def send(sender: t.Any = None, /, **kwargs: t.Any) -> t.Any:
        rec = _current.get() or _recorder()
        if rec is None:
            return orig_send(sender, **kwargs)
        pending = rec.pending
        # flush()'s first test, inline: signals sent during teardowns are many.
        if pending and len(pending[-1][0]._cv_tokens) < pending[-1][1]:
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
        if not signal.receivers:
            # What blinker's send() returns without receivers, minus the cost
            # of its receivers_for() generator.
            return []
        return orig_send(sender, **kwargs)

    return send
