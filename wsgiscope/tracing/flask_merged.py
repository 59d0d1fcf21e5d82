"""Flask 3.2 contexts: one ``AppContext`` that carries the request.

The context adapter :mod:`wsgiscope.tracing.flask` chooses when Flask's
``RequestContext`` is gone (merged into ``AppContext``; see
:func:`~wsgiscope.tracing.flask.detect`). What Flask 3.2 does, from its
``flask/ctx.py`` and ``flask/app.py``:

- ``wsgi_app`` creates one context per request (``request_context``) and
  pushes it whatever context is current: an app context already pushed is
  not reused, so an internal dispatch inside a view pushes a second context
  on top of the first (depth 2), with its own ``g``;
- ``AppContext.push`` counts pushes (``_push_count``); only the first makes
  the context current (``_cv_token``), sends ``appcontext_pushed``, then
  opens the session and matches the URL. Later pushes (``stream_with_context``
  keeps the context pushed this way while the body is read) change nothing;
- ``AppContext.pop`` ends the context when the count drops to 0: it runs
  ``teardown_request`` functions (request contexts), closes the request,
  runs ``teardown_appcontext`` functions, every one of them even when one
  raised, *then* stops being current and sends ``appcontext_popped``; the
  errors collected are raised together (an ``ExceptionGroup``) at the end.

So the trace has one ``push``/``pop`` pair per context: ``context`` is
``"app+request"`` for a context with a request (``push context (app +
request)`` in the tree) and ``"app"`` for one without (``app.app_context()``);
``depth`` counts every context the request pushed (they share one stack).
The pop is recorded when the context stopped being current (its
``_cv_token`` is gone), before ``appcontext_popped``; each teardown is a
``hook`` event with the exception it received and the one it raised.
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
    """Instrument ``AppContext.push/pop`` (undone by ``patches.undo()``)."""
    import flask.ctx
    import flask.globals

    ctx_cls = flask.ctx.AppContext
    cv_app: t.Any = flask.globals._cv_app

    def flush(rec: Recorder) -> None:
        """Record the pops of contexts that stopped being current, innermost first."""
        pending = rec.pending
        while pending:
            item = pending[-1]
            if item[0]._cv_token is not None:
                return  # still current: its teardowns are running
            pending.pop()
            record_pop(rec, item)

    orig_push = ctx_cls.push
    orig_pop = ctx_cls.pop

    def push(self: t.Any) -> None:
        rec = _current.get() or _recorder()
        if rec is None or self._cv_token is not None:
            # (a second push of a pushed context only counts)
            return orig_push(self)
        if rec.pending:
            flush(rec)
        request = self._request
        if request is None:
            kind, path = "app", None
        else:
            kind, path = "app+request", request.environ.get("PATH_INFO")
        # Recorded before the push: appcontext_pushed, opening the session
        # and matching the URL happen inside it.
        row = push_context(rec, self, kind, path, len(rec.contexts) + 1)
        try:
            orig_push(self)
        except BaseException:
            # Flask sets the context current first: one that failed later
            # (opening the session, say) is current and will be popped.
            if self._cv_token is None:
                forget_push(rec, self, row)
            raise
        _notify(rec, row)
        return None

    def pop(self: t.Any, *args: t.Any, **kwargs: t.Any) -> None:
        rec = _current.get() or _recorder()
        if rec is None:
            return orig_pop(self, *args, **kwargs)
        if rec.pending:
            flush(rec)
        if self._push_count != 1 or self._cv_token is None or cv_app.get(None) is not self:
            # Pushed more than once (it stays current), or not current
            # (Flask raises): no pop.
            return orig_pop(self, *args, **kwargs)
        contexts = rec.contexts
        entry = contexts[-1] if contexts and contexts[-1][0] is self else entry_of(rec, self)
        if entry is None:  # pushed before this request was traced
            return orig_pop(self, *args, **kwargs)
        rec.pending.append(pending_pop(self, None, entry, self.g))
        try:
            orig_pop(self, *args, **kwargs)
        finally:
            if rec.pending:
                flush(rec)
        return None

    patches.set(ctx_cls, "push", push)
    patches.set(ctx_cls, "pop", pop)

    def request_ctx() -> t.Any:
        ctx = cv_app.get(None)
        return ctx if ctx is not None and ctx._request is not None else None

    def app_ctx() -> t.Any:
        return cv_app.get(None)

    return ContextOps(flush, request_ctx, app_ctx)
