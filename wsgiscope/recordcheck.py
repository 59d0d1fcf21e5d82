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


def _check(record: dict[str, t.Any]) -> None:
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


def record_problem(record: dict[str, t.Any], raw: bytes = b"", strict: bool = False) -> str | None:
    """Why ``record`` cannot be shown (a field of the wrong type, a lone
    surrogate), or ``None`` when readers can rely on it.

    :param raw: the JSON text it was decoded from, when known: a line with
        no escaped surrogate is not searched for lone ones.
    :param strict: the record was decoded by a strict decoder (orjson) from
        text with no run of 19 digits: it holds no lone surrogate and no
        integer beyond 64 bits, so a record whose fields have the types
        readers rely on is accepted after one quick pass (:func:`_fine`).
    """
    if strict and _fine(record):
        return None
    try:
        _check(record)
    except _Problem as exc:
        return f"field {exc.args[0]}"
    if not raw or _SURROGATE.search(raw):
        where = _lone_surrogate(record)
        if where is not None:
            return f"field {where!r} holds a lone surrogate (not text)"
    return None


# -- the quick pass ------------------------------------------------------------
#
# ``_check`` calls a function per field and builds the path of each for its
# message: a record of 14 events costs tens of microseconds, and ``serve``
# reads thousands per second. ``_fine`` answers only "every field has a type
# readers rely on" for a record that ``strict`` decoding guarantees holds
# small integers (at most 18 digits) and no lone surrogate: it looks up the
# shape of each object (its keys and the types of their values) among the
# shapes already found fine by the same rules as ``_check``, so that a record
# shaped like the previous ones costs a lookup per object. Whatever it does
# not accept goes through ``_check``, which says what is wrong: ``_fine``
# never accepts what ``_check`` refuses (``tests/test_recordcheck_fast.py``).

_NONE = type(None)
_SCALAR_TYPES = frozenset(_Scalar)
_STR_TYPES = frozenset({str})
_TEXT_TYPES = frozenset({str, _NONE})
_NUMBER_TYPES = frozenset({float, int, _NONE})
_INTEGER_TYPES = frozenset({int, _NONE})
#: At most this many shapes are learnt per kind of object (keys are the
#: file's to choose).
_LEARNT = 1024


def _strs(value: t.Any) -> bool:
    return set(map(type, value)) <= _STR_TYPES


def _str_values(value: t.Any) -> bool:
    return type(value) is dict and set(map(type, value.values())) <= _STR_TYPES


def _str_pairs(value: t.Any) -> bool:
    return all(
        [
            type(pair) is list and len(pair) == 2 and type(pair[0]) is str and type(pair[1]) is str
            for pair in value
        ]
    )


class _Shape:
    """The shapes of one kind of object known to need no further look.

    A shape is the object's keys and the types of their values, in order:
    objects written by one program repeat a few shapes. Each known shape maps
    to the keys whose values are arrays or objects checked item by item.

    :param rule: whether a value of this type under this key is fine by its
        type alone.
    :param containers: (key, type) pairs whose value is checked by a function.
    """

    def __init__(
        self,
        rule: t.Callable[[str, type], bool],
        containers: dict[tuple[str, type], t.Callable[[t.Any], bool]],
    ) -> None:
        self.rule = rule
        self.containers = containers
        self.known: dict[tuple[t.Any, ...], tuple[tuple[str, t.Callable[[t.Any], bool]], ...]] = {}

    def fine(self, mapping: dict[str, t.Any]) -> bool:
        shape = (*mapping, *map(type, mapping.values()))
        checks = self.known.get(shape)
        if checks is None:
            checks = self.learn(mapping, shape)
            if checks is None:
                return False
        return all([check(mapping[key]) for key, check in checks])

    def learn(
        self, mapping: dict[str, t.Any], shape: tuple[t.Any, ...]
    ) -> tuple[tuple[str, t.Callable[[t.Any], bool]], ...] | None:
        checks = []
        for key, value in mapping.items():
            check = self.containers.get((key, type(value)))
            if check is not None:
                checks.append((key, check))
            elif not self.rule(key, type(value)):
                return None
        if len(self.known) < _LEARNT:
            self.known[shape] = tuple(checks)
        return tuple(checks)


def _event_rule(key: str, kind: type) -> bool:
    check = _EVENT_FIELDS.get(key)
    if check is not None:  # an object or array: None, or checked as a container
        return check is _json or kind is _NONE
    if key in _EVENT_NUMBERS:
        return kind in _NUMBER_TYPES
    if key in _EVENT_INTEGERS:
        return kind in _INTEGER_TYPES
    if key in _EVENT_TEXT:
        return kind in _TEXT_TYPES
    return kind in _SCALAR_TYPES


_EVENT_CONTAINERS: dict[tuple[str, type], t.Callable[[t.Any], bool]] = {}
for _key, _check_field in _EVENT_FIELDS.items():
    if _check_field is _text_map:
        _EVENT_CONTAINERS[(_key, dict)] = _str_values
    elif _check_field is _pairs:
        _EVENT_CONTAINERS[(_key, list)] = _str_pairs
    elif _check_field is not _json:
        _EVENT_CONTAINERS[(_key, list)] = _strs


def _request_rule(key: str, kind: type) -> bool:
    if key == "body_bytes":
        return kind in _INTEGER_TYPES
    if key == "body_truncated":
        return kind in _SCALAR_TYPES
    if key == "decoded":
        return kind is _NONE
    return kind in _TEXT_TYPES


def _response_rule(key: str, kind: type) -> bool:
    if key == "headers":
        return kind is _NONE
    if key in ("status_code", "body_bytes", "chunks"):
        return kind in _INTEGER_TYPES
    if key in ("status", "body_preview", "body_encoding"):
        return kind in _TEXT_TYPES
    return kind in _SCALAR_TYPES


_EVENT = _Shape(_event_rule, _EVENT_CONTAINERS)
_REQUEST = _Shape(_request_rule, {("decoded", dict): _str_values})
_RESPONSE = _Shape(_response_rule, {("headers", list): _str_pairs})


def _fine(record: dict[str, t.Any]) -> bool:
    """Whether ``record``, decoded strictly (see :func:`record_problem`),
    passes ``_check``; false when unsure."""
    get = record.get
    if not (
        type(get("id")) in _TEXT_TYPES
        and type(get("started")) in _TEXT_TYPES
        and type(get("app")) in _TEXT_TYPES
        and type(get("duration_ms")) in _NUMBER_TYPES
        and type(get("dropped_events")) in _INTEGER_TYPES
    ):
        return False
    request = get("request")
    if request is not None and not (type(request) is dict and _REQUEST.fine(request)):
        return False
    environ = get("environ")
    if environ is not None and not _str_values(environ):
        return False
    events = get("events")
    if events is not None:
        if type(events) is not list:
            return False
        known, learn = _EVENT.known, _EVENT.learn
        for event in events:  # _EVENT.fine(event), inlined: records hold many events
            if type(event) is not dict:
                return False
            shape = (*event, *map(type, event.values()))
            checks = known.get(shape)
            if checks is None:
                checks = learn(event, shape)
                if checks is None:
                    return False
            for key, check in checks:
                if not check(event[key]):
                    return False
    response = get("response")
    if response is not None and not (type(response) is dict and _RESPONSE.fine(response)):
        return False
    return _fine_rest(get)


def _fine_rest(get: t.Callable[[str], t.Any]) -> bool:
    error = get("error")
    if not (
        error is None
        or type(error) is str
        or (type(error) is dict and set(map(type, error.values())) <= _SCALAR_TYPES)
    ):
        return False
    worker = get("worker")
    if worker is not None and not (
        type(worker) is dict and set(map(type, worker.values())) <= _SCALAR_TYPES
    ):
        return False
    lint = get("lint")
    if lint is not None:
        if type(lint) is not list:
            return False
        for finding in lint:
            if not (type(finding) is dict and set(map(type, finding.values())) <= _TEXT_TYPES):
                return False
    failures = get("capture_errors")
    if failures is not None:
        if type(failures) is not list:
            return False
        for failure in failures:
            if failure is not None and not _str_values(failure):
                return False
    return True
