"""Whether a decoded ``wsgiscope.trace/1`` record has the shape readers rely on.

Record files are other people's files: a line may parse as JSON, carry the
right ``format`` and still hold ``"request": "x"``, ``"events": 5``,
``"duration_ms": ""``, a lone surrogate or an integer too large for a float.
:func:`record_problem` says what is wrong with such a record (in words a
user can act on), so that ``tail`` and ``serve`` skip it with a warning
naming its line instead of crashing on it. It checks every field a renderer
reads, by type, without recursion (a record nests at most a few levels);
fields it does not know are allowed when they hold plain JSON scalars.

    >>> record_problem({"format": "wsgiscope.trace/1", "request": "x"})
    "'request' is a str, not an object"
"""

from __future__ import annotations

import re
import typing as t

#: Integers a renderer may turn into a float (sizes, pids, idents).
_INT_LIMIT = 1 << 63
_Scalar = (str, int, float, bool, type(None))


def _describe(value: t.Any) -> str:
    name = type(value).__name__
    return {"dict": "an object", "list": "an array", "NoneType": "null"}.get(name, f"a {name}")


class _Problem(Exception):
    pass


def _fail(where: str, value: t.Any, wanted: str) -> t.NoReturn:
    raise _Problem(f"{where!r} is {_describe(value)}, not {wanted}")


def _text(where: str, value: t.Any, optional: bool = True) -> None:
    if type(value) is str or (optional and value is None):
        return
    _fail(where, value, "a string")


def _number(where: str, value: t.Any, optional: bool = True) -> None:
    if value is None and optional:
        return
    if type(value) is float or (type(value) is int and -_INT_LIMIT < value < _INT_LIMIT):
        return
    _fail(where, value, "a number")


def _integer(where: str, value: t.Any, optional: bool = True) -> None:
    if value is None and optional:
        return
    if type(value) is int and -_INT_LIMIT < value < _INT_LIMIT:
        return
    _fail(where, value, "an integer")


def _scalar(where: str, value: t.Any) -> None:
    if type(value) in _Scalar:
        if type(value) is int and not -_INT_LIMIT < value < _INT_LIMIT:
            _fail(where, value, "an integer of at most 64 bits")
        return
    _fail(where, value, "a string, number, boolean or null")


def _object(where: str, value: t.Any, optional: bool = True) -> dict[str, t.Any]:
    if type(value) is dict:
        return value
    if value is None and optional:
        return {}
    _fail(where, value, "an object")


def _array(where: str, value: t.Any, optional: bool = True) -> list[t.Any]:
    if type(value) is list:
        return value
    if value is None and optional:
        return []
    _fail(where, value, "an array")


def _text_map(where: str, value: t.Any) -> None:
    for key, item in _object(where, value).items():
        _text(f"{where}.{key}", item, optional=False)


def _pairs(where: str, value: t.Any) -> None:
    for index, pair in enumerate(_array(where, value)):
        if not (type(pair) is list and len(pair) == 2):
            _fail(f"{where}[{index}]", pair, "a [name, value] pair")
        _text(f"{where}[{index}][0]", pair[0], optional=False)
        _text(f"{where}[{index}][1]", pair[1], optional=False)


def _texts(where: str, value: t.Any) -> None:
    for index, item in enumerate(_array(where, value)):
        _text(f"{where}[{index}]", item, optional=False)


def _json(where: str, value: t.Any) -> None:
    """Any JSON value: read only by renderers that check each part they show
    (SQL parameters, a hook's profile tree)."""


#: Event fields that are not scalars, and how to check them.
_EVENT_FIELDS: dict[str, t.Callable[[str, t.Any], None]] = {
    "g": _text_map,
    "g_after": _text_map,
    "session": _text_map,
    "parameters": _json,
    "profile": _json,
    "view_args": _text_map,
    "changed": _text_map,
    "headers": _pairs,
    "removed": lambda where, value: _texts(where, value),
}
_EVENT_TEXT = ("kind", "context", "app", "hook", "function", "name", "status", "where")
_EVENT_NUMBERS = ("t_ms", "duration_ms", "t_end_ms")
_EVENT_INTEGERS = ("seq", "depth", "parent", "size")


def _event(where: str, event: t.Any) -> None:
    event = _object(where, event, optional=False)
    for key, value in event.items():
        check = _EVENT_FIELDS.get(key)
        if check is not None:
            check(f"{where}.{key}", value)
        elif key in _EVENT_NUMBERS:
            _number(f"{where}.{key}", value)
        elif key in _EVENT_INTEGERS:
            _integer(f"{where}.{key}", value)
        elif key in _EVENT_TEXT:
            _text(f"{where}.{key}", value)
        else:
            _scalar(f"{where}.{key}", value)


def _required(record: dict[str, t.Any]) -> None:
    """What the published schema (``wsgiscope/schemas/wsgiscope.trace-1.json``)
    requires of every record: a record ``tail --json`` passes on meets it."""
    for key in ("id", "started", "duration_ms", "response", "error"):
        if key not in record:
            raise _Problem(f"{key!r} is missing")
    _text("id", record["id"], optional=False)
    _text("started", record["started"], optional=False)
    request = _object("request", record.get("request"), optional=False)
    for key in ("method", "path"):
        _text(f"request.{key}", request.get(key), optional=False)
    for key in ("query_string", "script_name", "scheme"):
        if key in request:
            _text(f"request.{key}", request[key], optional=False)
    _object("environ", record.get("environ"), optional=False)
    for index, event in enumerate(_array("events", record.get("events"), optional=False)):
        event = _object(f"events[{index}]", event, optional=False)
        _integer(f"events[{index}].seq", event.get("seq"), optional=False)
        if event["seq"] < 0:
            _fail(f"events[{index}].seq", event["seq"], "a count from 0")
        _number(f"events[{index}].t_ms", event.get("t_ms"), optional=False)
        _text(f"events[{index}].kind", event.get("kind"), optional=False)
    _required_response(record["response"])
    error = record["error"]
    if error is not None:
        error = _object("error", error, optional=False)
        for key in ("type", "message"):
            _text(f"error.{key}", error.get(key), optional=False)
    for index, finding in enumerate(_array("lint", record.get("lint"), optional=False)):
        finding = _object(f"lint[{index}]", finding, optional=False)
        for key in ("rule", "message"):
            _text(f"lint[{index}].{key}", finding.get(key), optional=False)
    worker = _object("worker", record.get("worker"), optional=False)
    _integer("worker.pid", worker.get("pid"), optional=False)


def _required_response(response: t.Any) -> None:
    if response is None:
        return
    response = _object("response", response, optional=False)
    if "body_bytes" in response:
        _integer("response.body_bytes", response["body_bytes"], optional=False)
        if response["body_bytes"] < 0:
            _fail("response.body_bytes", response["body_bytes"], "a size")
    if "truncated" in response and type(response["truncated"]) is not bool:
        _fail("response.truncated", response["truncated"], "true or false")


def _check(record: dict[str, t.Any]) -> None:
    _required(record)
    for key in ("id", "started", "app"):
        _text(key, record.get(key))
    _number("duration_ms", record.get("duration_ms"))
    request = _object("request", record.get("request"))
    for key, value in request.items():
        if key in ("body_bytes",):
            _integer(f"request.{key}", value)
        elif key == "body_truncated":
            _scalar(f"request.{key}", value)
        elif key == "decoded":  # the path and query as the framework decodes them
            _text_map(f"request.{key}", value)
        else:
            _text(f"request.{key}", value)
    _text_map("environ", record.get("environ"))
    for index, event in enumerate(_array("events", record.get("events"))):
        _event(f"events[{index}]", event)
    _response(_object("response", record.get("response")))
    _rest(record)


def _response(response: dict[str, t.Any]) -> None:
    for key, value in response.items():
        if key == "headers":
            _pairs("response.headers", value)
        elif key in ("status_code", "body_bytes", "chunks"):
            _integer(f"response.{key}", value)
        elif key in ("status", "body_preview", "body_encoding"):
            _text(f"response.{key}", value)
        else:
            _scalar(f"response.{key}", value)


def _rest(record: dict[str, t.Any]) -> None:
    error = record.get("error")
    if error is not None and type(error) is not str:
        for key, value in _object("error", error).items():
            _scalar(f"error.{key}", value)
    for index, finding in enumerate(_array("lint", record.get("lint"))):
        for key, value in _object(f"lint[{index}]", finding, optional=False).items():
            _text(f"lint[{index}].{key}", value)
    worker = _object("worker", record.get("worker"))
    for key, value in worker.items():
        _scalar(f"worker.{key}", value)
    for key in ("dropped_events",):
        _integer(key, record.get(key))
    for index, failure in enumerate(_array("capture_errors", record.get("capture_errors"))):
        _text_map(f"capture_errors[{index}]", failure)


#: An escaped UTF-16 surrogate in JSON text (``\\ud800``): most lines have none.
_SURROGATE = re.compile(rb"\\u[dD][89a-fA-F]")


def _lone_surrogate(record: dict[str, t.Any]) -> str | None:
    """The first place a string holds a lone surrogate (unprintable, unencodable)."""
    stack: list[tuple[str, t.Any]] = [("", record)]
    while stack:
        where, value = stack.pop()
        if type(value) is str:
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                return where or "the record"
        elif type(value) is dict:
            for key, item in value.items():
                if type(key) is str and not key.isascii():
                    try:
                        key.encode("utf-8")
                    except UnicodeEncodeError:
                        return f"a key of {where or 'the record'}"
                stack.append((f"{where}.{key}" if where else str(key), item))
        elif type(value) is list:
            stack.extend((f"{where}[{i}]", item) for i, item in enumerate(value))
    return None


def record_problem(record: dict[str, t.Any], raw: bytes = b"") -> str | None:
    """Why ``record`` cannot be shown (a field of the wrong type, a lone
    surrogate), or ``None`` when readers can rely on it.

    :param raw: the JSON text it was decoded from, when known: a line with
        no escaped surrogate is not searched for lone ones.
    """
    try:
        _check(record)
    except _Problem as exc:
        return f"field {exc.args[0]}"
    if not raw or _SURROGATE.search(raw):
        where = _lone_surrogate(record)
        if where is not None:
            return f"field {where!r} holds a lone surrogate (not text)"
    return None
