"""Flask 3.0/3.1 contexts: an app context and a request context.

The context adapter :mod:`wsgiscope.tracing.flask` chooses when Flask has a
``RequestContext`` class of its own (see :func:`~wsgiscope.tracing.flask.detect`).
It replaces, on the *classes*, ``AppContext.push/pop`` and
``RequestContext.push/pop``: a ``push`` event when a context becomes the
current one and a ``pop`` event when it stops being current.
``RequestContext.push`` pushes the app context first (unless one of the same
app is current already: an internal redirect reuses it), and
``RequestContext.pop`` runs ``teardown_request``, removes the request context
and only then pops the app context (``teardown_appcontext``), so the events
come in that order. Pushing the context that is already current (nothing
changes) records nothing. From Flask 3.1.2 on, ``stream_with_context`` pushes
both again while the body is iterated: those pushes, the second round of
teardowns and the pops are recorded too (before 3.1.2 the contexts stay
pushed until the body is closed, and the trace shows one round).

A context being popped stays current while its teardowns run: its pop is
recorded once its ``_cv_tokens`` list got shorter than it was when ``pop()``
began (checked at the next event, and when ``pop()`` returns).
"""

from __future__ import annotations

import typing as t

from wsgiscope.tracing.flask import (
    ContextOps,
    _current,
    _notify,
    _recorder,
    entry_of,
    forget_push,
    pending_pop,
    push_context,
    record_pop,
)
from wsgiscope.tracing.instrument import Patches
from wsgiscope.tracing.recorder import Recorder


def install_contexts(patches: Patches) -> ContextOps:  # noqa: C901 - one closure per method
    """Instrument ``AppContext`` and ``RequestContext`` (undone by ``patches.undo()``)."""
    import flask.ctx
    import flask.globals

    app_ctx_cls = flask.ctx.AppContext
    req_ctx_cls = flask.ctx.RequestContext
    cv_app: t.Any = flask.globals._cv_app
    cv_req: t.Any = flask.globals._cv_request

    def flush(rec: Recorder) -> None:
        """Record the pops of contexts that stopped being current.

        Pops nest: while a pop is pending, the ones pending before it are
        still current (their teardowns are what is running), so only the
        last ones can be due, innermost first.
        """
        pending = rec.pending
        while pending:
            item = pending[-1]
            if len(item[0]._cv_tokens) >= item[1]:
                return  # still current: its teardowns are running
            pending.pop()
            record_pop(rec, item)

    def depth_of(rec: Recorder, kind: str) -> int:
        depth = 1
        for entry in rec.contexts:
            if entry[1] == kind:
                depth += 1
        return depth

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
        row = push_context(rec, self, "app", None, depth_of(rec, "app"))
        try:
            orig_app_push(self)
        except BaseException:
            forget_push(rec, self, row)
            raise
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
        # come first in the trace. Recorded even when push() raised once the
        # context was current (opening the session, say): Flask pops it.
        try:
            orig_req_push(self)
        finally:
            if cv_req.get(None) is self:
                row = push_context(
                    rec,
                    self,
                    "request",
                    self.request.environ.get("PATH_INFO"),
                    depth_of(rec, "request"),
                )
                _notify(rec, row)
        return None

    def make_pop(orig: t.Callable[..., None], is_request: bool) -> t.Callable[..., None]:
        def pop(self: t.Any, *args: t.Any, **kwargs: t.Any) -> None:
            rec = _current.get() or _recorder()
            if rec is None:
                return orig(self, *args, **kwargs)
            seen = None
            if rec.pending:
                # The request context popped just before this app context:
                # what it saw of g (the request is gone now).
                seen = rec.pending[-1][6]
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
                return orig(self, *args, **kwargs)
            # The state the teardowns are about to see. After its request
            # ended, an app context's g is previewed from what the request
            # saw (no repr outside the request's lifetime).
            app_ctx = cv_app.get(None)
            g = None if app_ctx is None else app_ctx.g
            may_repr = is_request or seen is None or cv_req.get(None) is not None
            rec.pending.append(pending_pop(self, len(tokens), entry, g, seen, may_repr))
            try:
                orig(self, *args, **kwargs)
            finally:
                if rec.pending:
                    flush(rec)
            return None

        return pop

    patches.set(app_ctx_cls, "push", app_push)
    patches.set(app_ctx_cls, "pop", make_pop(orig_app_pop, False))
    patches.set(req_ctx_cls, "push", req_push)
    patches.set(req_ctx_cls, "pop", make_pop(orig_req_pop, True))

    def request_ctx() -> t.Any:
        return cv_req.get(None)

    def app_ctx() -> t.Any:
        return cv_app.get(None)

    return ContextOps(flush, request_ctx, app_ctx)
