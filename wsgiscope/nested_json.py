"""HTTPie's nested JSON field names: ``a[b]=c``, ``a[]=1``, ``a[0][k]:=2``.

A field name is a root (a name, ``[N]`` or ``[]``) followed by any number of
``[key]`` (an object member), ``[N]`` (an array index) and ``[]`` (append)
steps, as HTTPie 3 documents its "nested JSON" syntax:

- ``\\[``, ``\\]`` and ``\\\\`` stand for the characters themselves (so
  ``a\\[b]`` is the plain name ``a[b]``); a backslash before anything else is
  kept; ``[\\1]`` is the object key ``"1"``, not the index 1;
- indexes fill the gap with ``null``; ``[]`` appends; a name used first as an
  object and then as an array (or the reverse) is an error naming both;
- a top-level ``[]``/``[N]`` makes the whole body a JSON array.

:func:`build_json` applies ``(name, value)`` pairs in order and returns the
body; every malformed name is a :class:`~wsgiscope.errors.UsageError`.
"""

from __future__ import annotations

import typing as t

from wsgiscope.errors import UsageError

#: A step: ("key", str), ("index", int) or ("append", None).
Step = tuple[str, t.Any]

_ESCAPABLE = "[]\\"


def _tokens(name: str) -> list[tuple[str, t.Any]]:
    """``("[" | "]" | "text" | "number", value)`` tokens of ``name``."""
    tokens: list[tuple[str, t.Any]] = []
    buffer: list[str] = []
    escaped = False

    def flush() -> None:
        nonlocal escaped
        if not buffer:
            return
        text = "".join(buffer)
        buffer.clear()
        if escaped:
            tokens.append(("text", text))
        elif _is_int(text):
            tokens.append(("number", int(text)))
        elif text.startswith("\\") and _is_int(text[1:]):
            tokens.append(("text", text[1:]))  # [\1]: the key "1"
        else:
            tokens.append(("text", text))
        escaped = False

    position = 0
    while position < len(name):
        char = name[position]
        if char in "[]":
            flush()
            tokens.append((char, char))
        elif char == "\\" and position + 1 < len(name):
            following = name[position + 1]
            if following in _ESCAPABLE:
                escaped = True
            else:
                buffer.append(char)
            buffer.append(following)
            position += 1
        else:
            buffer.append(char)
        position += 1
    flush()
    return tokens


def _is_int(text: str) -> bool:
    return text.lstrip("-").isdigit() and text.count("-") <= 1 and not text.endswith("-")


def parse_name(name: str) -> list[Step]:
    """The steps of a field name.

    :raises UsageError: for unbalanced or misplaced brackets.
    """
    tokens = _tokens(name)
    steps: list[Step] = []
    position = 0

    def expect(*kinds: str) -> tuple[str, t.Any]:
        nonlocal position
        if position < len(tokens) and tokens[position][0] in kinds:
            position += 1
            return tokens[position - 1]
        wanted = " or ".join(_KIND_NAMES[k] for k in kinds)
        found = _KIND_NAMES[tokens[position][0]] if position < len(tokens) else "the end"
        raise UsageError(
            f"invalid nested JSON field name {name!r}: expected {wanted}, found {found}",
            hint=r"escape literal brackets with a backslash: 'a\[b\]=c' is the field 'a[b]'",
        )

    kind, value = expect("text", "number", "[")
    if kind in ("text", "number"):
        steps.append(("key", str(value)))
    else:
        kind, value = expect("number", "]")
        if kind == "number":
            expect("]")
            steps.append(("index", value))
        else:
            steps.append(("append", None))
    while position < len(tokens):
        expect("[")
        kind, value = expect("text", "number", "]")
        if kind == "]":
            steps.append(("append", None))
            continue
        expect("]")
        steps.append(("key", value) if kind == "text" else ("index", value))
    return steps


_KIND_NAMES = {"[": "'['", "]": "']'", "text": "a name", "number": "a number"}
_TYPE_NAMES: dict[type, str] = {dict: "an object", list: "an array"}


def _describe(value: t.Any) -> str:
    if isinstance(value, bool) or value is None:
        return "a JSON literal"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    return _TYPE_NAMES.get(type(value), type(value).__name__)


def _has_shape(value: t.Any, wanted: type) -> bool:
    return type(value) is wanted


def _container(step: Step) -> t.Any:
    return {} if step[0] == "key" else []


def build_json(pairs: t.Iterable[tuple[str, t.Any]]) -> t.Any:
    """The JSON body the ``(field name, value)`` pairs describe, in order.

    :returns: a dict, or a list when the names start with ``[]``/``[N]``.
    :raises UsageError: malformed names, negative indexes, or a path that
        treats an object as an array or the reverse.
    """
    root: t.Any = None
    for name, value in pairs:
        steps = parse_name(name)
        if root is None:
            root = _container(steps[0])
        cursor: t.Any = root
        for number, step in enumerate(steps):
            last = number == len(steps) - 1
            kind, key = step
            wanted: type = dict if kind == "key" else list
            if not _has_shape(cursor, wanted):
                where = _render(steps[:number]) or "the body"
                raise UsageError(
                    f"field {name!r}: {where} is {_describe(cursor)}, not {_TYPE_NAMES[wanted]}",
                    hint="use one shape per name: a[key]=... for objects, a[]=... for arrays",
                )
            nested = None if last else _container(steps[number + 1])
            if kind == "key":
                if last:
                    cursor[key] = value
                else:
                    cursor = cursor.setdefault(key, nested)
            elif kind == "index":
                if key < 0:
                    raise UsageError(f"field {name!r}: negative array indexes are not supported")
                if key > 100_000:
                    raise UsageError(f"field {name!r}: array index {key} is too large")
                cursor.extend([None] * (key - len(cursor) + 1))
                if last:
                    cursor[key] = value
                else:
                    if cursor[key] is None:
                        cursor[key] = nested
                    cursor = cursor[key]
            else:
                cursor.append(value if last else nested)
                cursor = cursor[-1]
    return {} if root is None else root


def _render(steps: list[Step]) -> str:
    text = ""
    for number, (kind, key) in enumerate(steps):
        if kind == "key":
            text += str(key) if number == 0 else f"[{key}]"
        elif kind == "index":
            text += f"[{key}]"
        else:
            text += "[]"
    return text
