"""The events a trace is made of, as frozen dataclasses.

Every event has the fields every record event has (``seq``, ``t_ms``,
``depth``, ``parent``) plus its kind's own. While a request runs the
:class:`~wsgiscope.tracing.recorder.Recorder` keeps each event as a cheap raw
row ``(cls, t, depth, parent, values, seq)`` (``values`` in field order, holding
the live Python objects: exceptions, functions, header lists), or, for an
event that opens no span, the flatter leaf row ``(cls, t, (depth, parent),
*values)`` (see :func:`~wsgiscope.tracing.recorder.full_row`); the frozen
dataclasses are built from those rows only when someone asks for them
(:meth:`Recorder.events`, listeners, lint checks), and :meth:`Event.to_record`
turns a row straight into the JSON-ready, redacted form of the
``wsgiscope.trace/1`` record. That split keeps the per-request cost low (a
frozen dataclass costs about 0.4 us to build, a list 0.03 us).

Kinds and their fields (see ``docs/changes/trace-core.md`` for the record):

======================  ======================================================
``push`` / ``pop``      ``context`` ("app", "request", or "app+request" for
                        Flask 3.2's merged context), ``app``, ``path``
                        (request contexts), ``g``, ``g_after`` and
                        ``session`` (pops: names and capped values at
                        teardown start, and ``g`` after the teardowns)
``hook``                ``hook``, ``function``, ``app``, ``endpoint``,
                        ``view_args``, ``exception`` (what it received),
                        ``raised`` (what it raised), ``duration_ms``
``signal``              ``name``, ``app``, ``exception``
``dispatch``            ``mount``, ``app``, ``script_name``, ``path_info``,
                        ``changed``/``removed`` (environ keys that differ
                        from the environ the middleware received)
``start_response``      ``status``, ``headers``, ``exc_info``
``body``                ``size``, ``source`` ("iter" or "write")
``close``               ``has_close`` (whether the app's iterable had one)
``exception``           ``type``, ``message``, ``traceback``, ``where``
======================  ======================================================
"""

from __future__ import annotations

import dataclasses
import os
import traceback
import types
import typing as t

from wsgiscope.redact import REDACTED, VALUE_CAP, Redactor, as_text, is_secret_field, repr_text

#: A raw event row as the recorder stores it:
#: ``(cls, t, depth, parent seq or None, values, seq)``.
RawEvent = tuple


def exception_message(exc: BaseException) -> str:
    """``str(exc)``, or a placeholder when the exception's ``__str__`` raises."""
    try:
        return as_text(str(exc))
    except Exception:
        return "<str() failed>"


def describe_exception(exc: BaseException | None) -> str | None:
    """``"Type: message"`` for an exception, ``None`` for none."""
    if exc is None:
        return None
    message = exception_message(exc)
    name = type(exc).__qualname__
    return f"{name}: {message}" if message else name


#: Frames from wsgiscope's own modules (the tracing and lint wrappers) are
#: left out of tracebacks; the demo app is an app like any other.
_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep
_DEMO = os.path.join(_PACKAGE_DIR, "demo.py")


def _is_ours(filename: str) -> bool:
    return filename.startswith(_PACKAGE_DIR) and filename != _DEMO


def format_traceback(exc: BaseException) -> str:
    """The exception's traceback as Python prints it, minus wsgiscope's frames.

    The tracing (and lint) wrappers sit between the server, the framework and
    the app's functions; their frames say nothing about the app, so they
    are dropped (chained exceptions included).
    """
    te = traceback.TracebackException(type(exc), exc, exc.__traceback__)
    seen: set[int] = set()
    todo = [te]
    while todo:
        current = todo.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        current.stack = traceback.StackSummary.from_list(
            [f for f in current.stack if not _is_ours(f.filename)]
        )
        todo.extend(c for c in (current.__cause__, current.__context__) if c is not None)
    return "".join(te.format())


def hide_own_frames(exc: BaseException) -> None:
    """Drop wsgiscope's frames from the head of ``exc.__traceback__``.

    Called by the tracing wrappers (hooks, middleware, views) from the
    ``except`` block of an exception passing through them, just before a
    bare ``raise``: the traceback the app's logger prints (Flask's
    ``app.logger.exception`` on an unhandled error, Django's request
    logger), the server's error log and error trackers then hold the app's
    frames and the framework's only. A bare ``raise`` adds no frame on
    Python 3.11+; on 3.10 it restores the traceback as caught, so the
    wrapper's frames stay there. An exception raised by wsgiscope's own
    code (nothing but its frames) keeps them.
    """
    head = tb = exc.__traceback__
    while tb is not None and _is_ours(tb.tb_frame.f_code.co_filename):
        tb = tb.tb_next
    if tb is not head and tb is not None:
        exc.__traceback__ = tb


_F = t.TypeVar("_F", bound=t.Callable[..., t.Any])


def own_frames_hidden(func: _F) -> _F:
    """``func`` (a replacement wsgiscope installs in a framework) with its
    frames hidden from the exceptions passing through it (see
    :func:`hide_own_frames`)."""

    def call(*args: t.Any, **kwargs: t.Any) -> t.Any:
        try:
            return func(*args, **kwargs)
        except BaseException as exc:
            hide_own_frames(exc)
            raise

    call.__name__ = getattr(func, "__name__", "call")
    call.__qualname__ = getattr(func, "__qualname__", "call")
    call.__doc__ = func.__doc__
    return t.cast("_F", call)


def app_traceback(tb: types.TracebackType | None) -> types.TracebackType | None:
    """A copy of a traceback chain without wsgiscope's own frames."""
    frames = []
    while tb is not None:
        if not _is_ours(tb.tb_frame.f_code.co_filename):
            frames.append(tb)
        tb = tb.tb_next
    result: types.TracebackType | None = None
    for frame_tb in reversed(frames):
        result = types.TracebackType(
            result, frame_tb.tb_frame, frame_tb.tb_lasti, frame_tb.tb_lineno
        )
    return result


#: The last object :func:`object_name` named, and its name (one tuple, so a
#: thread sees the old pair or the new one): a request's signals all come
#: from the same app.
_last_named: tuple[t.Any, str] = (None, "")


def object_name(app: t.Any) -> str:
    """An app's ``name`` (a Flask app's), or its ``repr``."""
    global _last_named
    last = _last_named
    if last[0] is app:
        return last[1]
    # Flask.name is a werkzeug cached_property: once computed it sits in the
    # instance dict, where reading it runs no Python code.
    try:
        name = app.__dict__["name"]
    except (AttributeError, KeyError):
        name = getattr(app, "name", None)
    if not isinstance(name, str):
        return repr(app)
    _last_named = (app, name)
    return name


_names: dict[t.Any, str] = {}


def function_name(func: t.Any) -> str:
    """``module.qualname`` of a hook function (or its ``repr`` when it has none)."""
    try:
        return _names[func]
    except (KeyError, TypeError):
        pass
    target = getattr(func, "__func__", func)
    qualname = getattr(target, "__qualname__", None)
    if qualname is None:
        return repr(func)
    name = f"{getattr(target, '__module__', None) or '?'}.{qualname}"
    if len(_names) < 4096:  # hook functions are few; closures made per call are not
        _names[func] = name
    return name


def _cap(value: t.Any, limit: int = 200) -> str:
    text = as_text(value)
    if len(text) > limit:
        return text[:limit] + f"... [{len(text)} chars]"
    return text


def _view_args(view_args: t.Mapping[t.Any, t.Any], redactor: Redactor) -> dict[str, str]:
    """``{str(name): _cap(repr(value))}``, with cap's call saved for short reprs;
    a route argument named like a secret (``<token>``) redacted."""
    out = {}
    show = redactor.show_secrets
    for key, value in view_args.items():
        name = as_text(key)
        if not show and is_secret_field(name):
            out[name] = REDACTED
            continue
        text = repr_text(value)
        out[name] = text if len(text) <= 200 else _cap(text)
    return out


@dataclasses.dataclass(frozen=True, slots=True)
class Event:
    """Fields every event has.

    :param seq: position in the request's event list, from 0.
    :param t_ms: milliseconds since the request started.
    :param depth: context stack depth (see the record documentation).
    :param parent: ``seq`` of the enclosing open push or hook, or ``None``.
    """

    seq: int
    t_ms: float
    depth: int
    parent: int | None

    kind: t.ClassVar[str] = ""
    #: The names of this kind's own fields, in the order rows store them.
    FIELDS: t.ClassVar[tuple[str, ...]] = ()

    @classmethod
    def to_record(
        cls,
        seq: int,
        t_ms: float,
        depth: int,
        parent: int | None,
        values: list[t.Any],
        redactor: Redactor,
    ) -> dict[str, t.Any]:
        """The record form of a raw row: JSON-ready, redacted.

        One dict literal per kind: this runs for every event of every record.
        """
        out: dict[str, t.Any] = {
            "seq": seq,
            "t_ms": t_ms,
            "kind": cls.kind,
            "depth": depth,
            "parent": parent,
        }
        out.update(zip(cls.FIELDS, values, strict=True))
        return out

    def to_json(self, redactor: Redactor | None = None) -> dict[str, t.Any]:
        """This event as it appears in a ``wsgiscope.trace/1`` record."""
        values = [getattr(self, name) for name in self.FIELDS]
        return self.to_record(
            self.seq, self.t_ms, self.depth, self.parent, values, redactor or Redactor()
        )


def _fields(cls: type[Event]) -> type[Event]:
    base = {f.name for f in dataclasses.fields(Event)}
    cls.FIELDS = tuple(f.name for f in dataclasses.fields(cls) if f.name not in base)
    return cls


@_fields
@dataclasses.dataclass(frozen=True, slots=True)
class ContextPush(Event):
    """A Flask application or request context became the current one."""

    context: str
    app: str
    path: str | None

    kind: t.ClassVar[str] = "push"

    @classmethod
    def to_record(
        cls,
        seq: int,
        t_ms: float,
        depth: int,
        parent: int | None,
        values: list[t.Any],
        redactor: Redactor,
    ) -> dict[str, t.Any]:
        context, app, path = values
        return {
            "seq": seq,
            "t_ms": t_ms,
            "kind": cls.kind,
            "depth": depth,
            "parent": parent,
            "context": context,
            "app": app,
            "path": path,
        }


@_fields
@dataclasses.dataclass(frozen=True, slots=True)
class ContextPop(Event):
    """A Flask context stopped being the current one.

    ``g`` holds the names in ``flask.g`` when the context's teardown began,
    ``g_after`` the names left when its teardown functions had run (the
    context still current), and ``session`` the session's names when the
    teardown began: each ``{name: capped repr}``, the previews made at that
    moment (never later: a value's ``repr`` may need the request alive).
    ``None`` when nothing was captured.
    """

    context: str
    app: str
    path: str | None
    g: dict[str, str] | None
    session: dict[str, str] | None
    g_after: dict[str, str] | None = None

    kind: t.ClassVar[str] = "pop"

    @classmethod
    def to_record(
        cls,
        seq: int,
        t_ms: float,
        depth: int,
        parent: int | None,
        values: list[t.Any],
        redactor: Redactor,
    ) -> dict[str, t.Any]:
        context, app, path, g, session, g_after = values
        show = redactor.show_secrets
        return {
            "seq": seq,
            "t_ms": t_ms,
            "kind": cls.kind,
            "depth": depth,
            "parent": parent,
            "context": context,
            "app": app,
            "path": path,
            # (an empty g or session, the usual case, needs no call)
            "g": None if g is None else _previews(g, show) if g else {},
            "session": None
            if session is None
            else {k: v if show else REDACTED for k, v in session.items()}
            if session
            else {},
            "g_after": None if g_after is None else _previews(g_after, show) if g_after else {},
        }


def previews(values: t.Mapping[t.Any, t.Any]) -> dict[str, str]:
    """Names and capped ``repr`` previews of ``flask.g`` or a session, made now.

    Called while the request is alive (at teardown start, after the
    teardowns), so a value whose ``repr`` needs ``flask.request`` or the
    app context previews as it would in the view.
    """
    return {as_text(k): _cap(repr_text(v), VALUE_CAP) for k, v in list(values.items())}


def _previews(values: t.Mapping[str, str], show: bool) -> dict[str, str]:
    """Previews in a record: secret-named ones redacted unless ``show``."""
    if show:
        return dict(values)
    return {k: REDACTED if is_secret_field(k) else v for k, v in values.items()}


@_fields
@dataclasses.dataclass(frozen=True, slots=True)
class HookCall(Event):
    """A framework called one of the app's functions (hook, view, middleware).

    ``exception`` is the exception the function was given (teardowns and
    error handlers), ``raised`` the one it raised, if any.
    """

    hook: str
    function: t.Any
    app: str
    endpoint: str | None
    view_args: dict[str, t.Any] | None
    exception: BaseException | None
    raised: BaseException | None
    duration: float | None

    kind: t.ClassVar[str] = "hook"

    @property
    def function_name(self) -> str:
        """``module.qualname`` of the function called."""
        return function_name(self.function)

    @classmethod
    def to_record(
        cls,
        seq: int,
        t_ms: float,
        depth: int,
        parent: int | None,
        values: list[t.Any],
        redactor: Redactor,
    ) -> dict[str, t.Any]:
        hook, func, app, endpoint, view_args, exc, raised, duration = values
        try:
            name = _names[func]
        except (KeyError, TypeError):
            name = function_name(func)
        return {
            "seq": seq,
            "t_ms": t_ms,
            "kind": cls.kind,
            "depth": depth,
            "parent": parent,
            "hook": hook,
            "function": name,
            "app": app,
            "endpoint": endpoint,
            "view_args": None if view_args is None else _view_args(view_args, redactor),
            "exception": None if exc is None else describe_exception(exc),
            "raised": None if raised is None else describe_exception(raised),
            "duration_ms": None if duration is None else int(duration * 1e6 + 0.5) / 1000,
        }


@_fields
@dataclasses.dataclass(frozen=True, slots=True)
class SignalSent(Event):
    """A framework signal was sent (Flask's blinker signals, Django's)."""

    name: str
    app: str | None
    exception: BaseException | None

    kind: t.ClassVar[str] = "signal"

    @classmethod
    def to_record(
        cls,
        seq: int,
        t_ms: float,
        depth: int,
        parent: int | None,
        values: list[t.Any],
        redactor: Redactor,
    ) -> dict[str, t.Any]:
        name, app, exc = values
        if app is not None and not isinstance(app, str):
            app = object_name(app)  # a leaf row holds the sender itself
        return {
            "seq": seq,
            "t_ms": t_ms,
            "kind": "signal",
            "depth": depth,
            "parent": parent,
            "name": name,
            "app": app,
            "exception": None if exc is None else describe_exception(exc),
        }


@_fields
@dataclasses.dataclass(frozen=True, slots=True)
class Dispatch(Event):
    """A ``DispatcherMiddleware`` level handed the request to a mounted app.

    ``changed`` holds the environ keys whose values differ from the environ
    the traced middleware received (``SCRIPT_NAME``/``PATH_INFO`` always, and
    whatever middleware above this level changed or added, e.g. ProxyFix);
    ``removed`` the keys that are gone. Together with the record's
    ``environ`` they give the whole environ this app received.
    """

    mount: str
    app: str
    script_name: str
    path_info: str
    changed: dict[str, t.Any]
    removed: list[str]

    kind: t.ClassVar[str] = "dispatch"

    @classmethod
    def to_record(
        cls,
        seq: int,
        t_ms: float,
        depth: int,
        parent: int | None,
        values: list[t.Any],
        redactor: Redactor,
    ) -> dict[str, t.Any]:
        mount, app, script_name, path_info, changed, removed = values
        return {
            "seq": seq,
            "t_ms": t_ms,
            "kind": cls.kind,
            "depth": depth,
            "parent": parent,
            "mount": mount,
            "app": app,
            "script_name": script_name,
            "path_info": path_info,
            "changed": redactor.environ(changed),
            "removed": [str(key) for key in removed],
        }


@_fields
@dataclasses.dataclass(frozen=True, slots=True)
class StartResponse(Event):
    """The app called ``start_response`` (headers exactly as it passed them)."""

    status: t.Any
    headers: t.Any
    exc_info: BaseException | None

    kind: t.ClassVar[str] = "start_response"

    @classmethod
    def to_record(
        cls,
        seq: int,
        t_ms: float,
        depth: int,
        parent: int | None,
        values: list[t.Any],
        redactor: Redactor,
    ) -> dict[str, t.Any]:
        status, headers, exc = values
        return {
            "seq": seq,
            "t_ms": t_ms,
            "kind": cls.kind,
            "depth": depth,
            "parent": parent,
            "status": as_text(status),
            "headers": redactor.headers(headers),
            "exc_info": describe_exception(exc),
        }


@_fields
@dataclasses.dataclass(frozen=True, slots=True)
class BodyChunk(Event):
    """A chunk of the response body reached the server."""

    size: int
    source: str

    kind: t.ClassVar[str] = "body"

    @classmethod
    def to_record(
        cls,
        seq: int,
        t_ms: float,
        depth: int,
        parent: int | None,
        values: list[t.Any],
        redactor: Redactor,
    ) -> dict[str, t.Any]:
        size, source = values
        return {
            "seq": seq,
            "t_ms": t_ms,
            "kind": cls.kind,
            "depth": depth,
            "parent": parent,
            "size": size,
            "source": source,
        }


@_fields
@dataclasses.dataclass(frozen=True, slots=True)
class Close(Event):
    """The server closed the response; the trace ends here."""

    has_close: bool

    kind: t.ClassVar[str] = "close"

    @classmethod
    def to_record(
        cls,
        seq: int,
        t_ms: float,
        depth: int,
        parent: int | None,
        values: list[t.Any],
        redactor: Redactor,
    ) -> dict[str, t.Any]:
        (has_close,) = values
        return {
            "seq": seq,
            "t_ms": t_ms,
            "kind": cls.kind,
            "depth": depth,
            "parent": parent,
            "has_close": has_close,
        }


@_fields
@dataclasses.dataclass(frozen=True, slots=True)
class ExceptionRaised(Event):
    """An exception left the app (``where``: call, iter, close, start_response)."""

    exception: BaseException
    where: str

    kind: t.ClassVar[str] = "exception"

    @classmethod
    def to_record(
        cls,
        seq: int,
        t_ms: float,
        depth: int,
        parent: int | None,
        values: list[t.Any],
        redactor: Redactor,
    ) -> dict[str, t.Any]:
        exc, where = values
        return {
            "seq": seq,
            "t_ms": t_ms,
            "kind": cls.kind,
            "depth": depth,
            "parent": parent,
            "type": type(exc).__qualname__,
            "message": exception_message(exc),
            "traceback": format_traceback(exc),
            "where": where,
        }


#: Every event class by kind.
KINDS: dict[str, type[Event]] = {
    cls.kind: cls
    for cls in (
        ContextPush,
        ContextPop,
        HookCall,
        SignalSent,
        Dispatch,
        StartResponse,
        BodyChunk,
        Close,
        ExceptionRaised,
    )
}
