"""What "the app raised" means: one definition for every command.

A request *raised* when an exception left the application (the record's
``error``: it escaped the WSGI call, the body or ``close()``, or the
framework caught it and answered 500), or left one of the app's functions
that the framework called (a ``hook`` event's ``raised``: a view, a
``before_request`` function, a Django middleware), whatever the framework
then made of it: Flask's ``abort(400)`` raises ``BadRequest`` from the view
and Flask answers 400, Django's ``CommonMiddleware`` raises
``DisallowedHost`` and Django answers 400. The tree shows those as
"raised" under the function; ``tail --errors``, serve's ``RAISED`` marker,
serve's error count, ``trace``'s heading and ``TraceMiddleware(only_errors=
True)`` count them through :func:`judge`, so they can never disagree.

A request whose only exception was one a teardown *received* (it raised
nowhere the record saw) is a ``"teardown"`` outcome. An exception the
framework raised outside the app's functions (Flask's ``NotFound`` for an
unknown URL, handled by an error handler) is neither: nothing of the app's
raised.

This module imports nothing heavy: ``tail`` and ``serve`` use it on records
read from files, the middleware on a request's live rows.
"""

from __future__ import annotations

import dataclasses
import typing as t

#: Hooks that receive the exception of the request (not ones they raised).
TEARDOWNS = frozenset({"teardown_request", "teardown_appcontext"})


@dataclasses.dataclass(frozen=True)
class Raised:
    """The exception a request is known by.

    :param kind: ``"raised"`` (the app or one of its functions raised) or
        ``"teardown"`` (only a teardown received one).
    :param message: ``"Type: message"``.
    :param function: the function it left (``module.qualname``), when a
        hook event names it; ``None`` when it left the application itself.
    :param propagated: it escaped the application (a server answers 500);
        ``False`` when the framework turned it into a response.
    """

    kind: t.Literal["raised", "teardown"]
    message: str
    function: str | None = None
    propagated: bool = False


def judge(
    error: t.Any,
    events: t.Iterable[t.Any],
    describe: t.Callable[[t.Any], str | None] = str,
) -> Raised | None:
    """The outcome of a request from its error and its events.

    :param error: the record's ``error`` (a dict with ``type``, ``message``,
        ``propagated``), a live exception, or ``None``.
    :param events: ``(kind, hook, function, received, raised)`` tuples, or
        record event dicts (read through :func:`event_fields`).
    :param describe: turns a live exception into ``"Type: message"``.
    """
    if error:
        if isinstance(error, dict):
            message = error.get("message")
            name = error.get("type") or "Exception"
            text = f"{name}: {message}" if message else str(name)
            return Raised("raised", text, None, error.get("propagated") is not False)
        if isinstance(error, BaseException):
            return Raised("raised", describe(error) or type(error).__name__, None, True)
        return Raised("raised", str(error), None, True)
    last_raised: Raised | None = None
    teardown: Raised | None = None
    escaped: Raised | None = None
    for event in events:
        kind, hook, function, received, raised = (
            event if isinstance(event, tuple) else event_fields(event)
        )
        if kind == "hook":
            if raised:
                # The innermost function an exception left, or the last
                # exception raised (an error handler's own): the last one.
                last_raised = Raised("raised", _text(raised, describe), function or None)
            elif received and hook in TEARDOWNS and teardown is None:
                teardown = Raised("teardown", _text(received, describe), function or None)
        elif kind == "exception" and escaped is None:
            escaped = Raised("raised", _text(received, describe), None, True)
    return last_raised or escaped or teardown


def _text(value: t.Any, describe: t.Callable[[t.Any], str | None]) -> str:
    return (describe(value) or "") if isinstance(value, BaseException) else str(value)


def event_fields(event: t.Any) -> tuple[t.Any, t.Any, t.Any, t.Any, t.Any]:
    """``(kind, hook, function, received, raised)`` of a record event dict."""
    if not isinstance(event, dict):
        return (None, None, None, None, None)
    kind = event.get("kind")
    if kind == "exception":
        received = event.get("exception")
        if not received:
            name, message = event.get("type") or "exception", event.get("message")
            received = f"{name}: {message}" if message else str(name)
        return (kind, None, None, received, None)
    return (
        kind,
        event.get("hook"),
        event.get("function"),
        event.get("exception"),
        event.get("raised"),
    )


def record_raised(record: t.Mapping[str, t.Any]) -> Raised | None:
    """:func:`judge` of a ``wsgiscope.trace/1`` record."""
    events: t.Any = record.get("events")
    error = record.get("error")
    if not isinstance(events, list):
        events = ()
    elif not error:
        # only hooks and exceptions count; most events are neither (a
        # record read by serve or tail: their fields are not looked at)
        events = [e for e in events if isinstance(e, dict) and e.get("kind") in _COUNTED]
    return judge(error, events)


#: The event kinds :func:`judge` reads (a tuple: a hostile record's kind may
#: be a list, which a set could not look up).
_COUNTED = ("hook", "exception")
