"""Django instrumentation: the middleware chain, the view and request signals.

While instrumentation is held (see :mod:`wsgiscope.tracing.instrument`)
this replaces, on the classes only:

- ``MiddlewareMixin.__call__`` (every middleware built on it, which includes
  all of Django's own) and the ``__call__`` of each class-based middleware
  in ``settings.MIDDLEWARE`` that defines its own: a ``hook`` event with
  ``hook="middleware"`` and the class's ``module.qualname``, opened when the
  request enters that middleware and closed when the response leaves it, so
  the chain appears nested in order, outermost first. Function-based
  middleware (closures made by a factory) cannot be reached at class level
  and are not shown.
- ``BaseHandler.make_view_atomic``: a ``hook`` event with ``hook="view"``,
  the view function, the URL pattern's ``view_name`` as ``endpoint`` and the
  view's arguments.
- ``send`` of ``request_started``, ``request_finished`` and
  ``got_request_exception`` (instance attributes, deleted afterwards): a
  ``signal`` event each. ``request_finished`` is sent when the server closes
  the response, which is inside the trace (it ends at ``close()``).

``depth`` of a Django event is the number of middleware it runs inside.
"""

from __future__ import annotations

import sys
import typing as t

from wsgiscope.tracing.events import HookCall, SignalSent, hide_own_frames, own_frames_hidden
from wsgiscope.tracing.instrument import Patches
from wsgiscope.tracing.recorder import Recorder, _current


def _middleware_depth(rec: Recorder) -> int:
    return sum(1 for row in rec.spans if row[0] is HookCall and row[4][0] == "middleware")


def _call_hook(
    rec: Recorder,
    hook: str,
    func: t.Any,
    call: t.Callable[..., t.Any],
    args: tuple[t.Any, ...],
    kwargs: dict[str, t.Any],
    endpoint: str | None = None,
    view_args: dict[str, t.Any] | None = None,
) -> t.Any:
    values = [hook, func, "django", endpoint, view_args, None, None, None]
    row = rec.open(HookCall, _middleware_depth(rec) + (hook == "middleware"), values)
    clock = rec.clock
    start = clock()
    try:
        return call(*args, **kwargs)
    except BaseException as raised:
        values[6] = raised
        hide_own_frames(raised)  # out of the tracebacks Django logs
        raise
    finally:
        values[7] = clock() - start
        rec.close_span(row)


def _wrap_middleware_call(orig: t.Callable[..., t.Any]) -> t.Callable[..., t.Any]:
    def __call__(self: t.Any, request: t.Any) -> t.Any:
        rec = _current.get()
        if rec is None:
            return orig(self, request)
        spans = rec.spans
        if spans:
            top = spans[-1][4]
            if top[0] == "middleware" and top[1] is type(self):
                # A subclass's __call__ calling MiddlewareMixin.__call__: one event.
                return orig(self, request)
        return _call_hook(rec, "middleware", type(self), orig, (self, request), {})

    return own_frames_hidden(__call__)


def _middleware_classes() -> list[type]:
    from django.conf import settings
    from django.utils.module_loading import import_string

    classes = []
    for path in getattr(settings, "MIDDLEWARE", None) or ():
        try:
            obj = import_string(path)
        except ImportError:
            continue
        if isinstance(obj, type) and "__call__" in vars(obj):
            classes.append(obj)
    return classes


def install(patches: Patches) -> None:
    """Instrument Django's handler, middleware classes and signals."""
    from django.core import signals
    from django.core.handlers.base import BaseHandler
    from django.utils.deprecation import MiddlewareMixin

    patches.set(MiddlewareMixin, "__call__", _wrap_middleware_call(MiddlewareMixin.__call__))
    if "django.conf" in sys.modules and sys.modules["django.conf"].settings.configured:
        for cls in _middleware_classes():
            if cls is not MiddlewareMixin:
                patches.set(cls, "__call__", _wrap_middleware_call(vars(cls)["__call__"]))

    orig_atomic = BaseHandler.make_view_atomic

    def make_view_atomic(self: t.Any, view: t.Callable[..., t.Any]) -> t.Callable[..., t.Any]:
        wrapped = orig_atomic(self, view)
        rec = _current.get()
        if rec is None:
            return t.cast("t.Callable[..., t.Any]", wrapped)

        @own_frames_hidden
        def traced_view(request: t.Any, *args: t.Any, **kwargs: t.Any) -> t.Any:
            match = getattr(request, "resolver_match", None)
            endpoint = getattr(match, "view_name", None)
            view_args = dict(kwargs)
            for i, value in enumerate(args):
                view_args[str(i)] = value
            return _call_hook(
                rec, "view", view, wrapped, (request, *args), kwargs, endpoint, view_args
            )

        return traced_view

    patches.set(BaseHandler, "make_view_atomic", make_view_atomic)

    for name in ("request_started", "request_finished", "got_request_exception"):
        signal = getattr(signals, name)
        patches.set(signal, "send", _signal_send(signal.send, name))


def _signal_send(orig_send: t.Callable[..., t.Any], name: str) -> t.Callable[..., t.Any]:
    def send(sender: t.Any, **named: t.Any) -> t.Any:
        rec = _current.get()
        if rec is not None:
            exc = sys.exc_info()[1] if name == "got_request_exception" else None
            if exc is not None and rec.app_error is None:
                rec.app_error = exc
            rec.add(SignalSent, _middleware_depth(rec), [name, "django", exc])
        return orig_send(sender, **named)

    return send
