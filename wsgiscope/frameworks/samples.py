"""Sample argument values, so a rule's URL can be built without a user.

``routes`` shows the URL each rule builds to. For that every rule argument
needs a value its converter accepts: :func:`sample_for` gives one per
converter (``int`` -> ``1``, ``float`` -> ``1.0``, ``string``/``path``/
``default`` -> ``"example"``, ``uuid`` -> a fixed valid UUID, ``any`` -> its
first choice) and, for a custom converter, a string generated from its
regular expression by :func:`sample_from_regex`. When no value can be found
:class:`NotBuildable` says why, and ``routes`` shows the rule as not
buildable with that reason.

Adapters call :func:`sample_values` with the rule's arguments, inside
:func:`building_url`, which turns a failure into the route's ``url_error``::

    with building_url(route):
        route.sample_values = sample_values(route.arguments)
        route.url = build(route.sample_values)

This module imports no framework.
"""

from __future__ import annotations

import contextlib
import re
import typing as t

try:  # the regular-expression parser of the standard library (3.11+)
    import re._constants as _const  # type: ignore[import-not-found]
    import re._parser as _sre  # type: ignore[import-not-found]
except ImportError:  # pragma: no cover - Python 3.10
    import sre_constants as _const  # type: ignore[no-redef, unused-ignore]
    import sre_parse as _sre  # type: ignore[no-redef, unused-ignore]

from wsgiscope.frameworks.base import first_line

if t.TYPE_CHECKING:
    from wsgiscope.frameworks.base import Argument, Route

#: The UUID used for ``uuid`` arguments (valid, version 4, easy to spot).
SAMPLE_UUID = "12345678-1234-4678-9234-567812345678"
#: The text used for string-like arguments.
SAMPLE_TEXT = "example"

#: Converter name -> sample value, across frameworks (werkzeug, Django,
#: Bottle, Falcon). Converters not listed here are sampled from their regex.
BY_NAME: dict[str, t.Any] = {
    "int": 1,
    "float": 1.0,
    "string": SAMPLE_TEXT,
    "default": SAMPLE_TEXT,
    "str": SAMPLE_TEXT,
    "slug": SAMPLE_TEXT,
    "path": SAMPLE_TEXT,
    "uuid": SAMPLE_UUID,
    "dt": "2024-01-01T00:00:00Z",
}

#: How many repetitions ``+``/``*``/``{n,}`` produce (the minimum, at least 1).
_MAX_REPEAT_SAMPLE = 1
#: Regexes longer than this are not sampled (a guard against pathological input).
_MAX_REGEX = 2000


class NotBuildable(Exception):
    """No sample value can be found; ``str()`` is the reason, one line."""


def sample_for(converter: str, regex: str | None = None, choices: t.Sequence[str] = ()) -> t.Any:
    """A value that ``converter`` accepts.

    :param converter: the converter's name as the rule spells it
        (``int``, ``uuid``, ``sku`` ...).
    :param regex: the converter's regular expression, used for converters
        whose name is not known and for ``any``.
    :param choices: the choices of an ``any`` converter, if known.
    :raises NotBuildable: when no value can be found.
    """
    if choices:
        return choices[0]
    if converter in BY_NAME:
        return BY_NAME[converter]
    if regex is None:
        raise NotBuildable(f"no sample value for converter {converter!r} (it has no regex)")
    return sample_from_regex(regex)


@contextlib.contextmanager
def building_url(route: Route) -> t.Iterator[Route]:
    """A block that gives ``route`` its sample values and URL: when it raises,
    the reason goes to ``route.url_error`` instead and the rule stays listed."""
    try:
        yield route
    except NotBuildable as exc:
        route.url_error = str(exc)
    except Exception as exc:  # the framework's builder refused the sample: say why
        route.url_error = first_line(exc)


def sample_values(arguments: t.Iterable[Argument]) -> dict[str, t.Any]:
    """Sample values for every argument, keyed by argument name.

    :raises NotBuildable: naming the first argument without a sample.
    """
    values: dict[str, t.Any] = {}
    for argument in arguments:
        try:
            values[argument.name] = sample_for(argument.converter, argument.regex)
        except NotBuildable as exc:
            raise NotBuildable(f"<{argument.converter}:{argument.name}>: {exc}") from None
    return values


def sample_from_regex(regex: str) -> str:
    """A short string that ``re.fullmatch(regex, ...)`` accepts.

    Literals, ``.``, ``\\d``/``\\w``/``\\s`` and their negations, ``[...]``
    classes (negated too), groups, alternation (the first branch that works)
    and quantifiers (the minimum count, at least one) are handled; anchors are
    skipped. Backreferences and lookarounds are not, and give
    :class:`NotBuildable`.

    :raises NotBuildable: when the regex is not understood or the generated
        string does not match it.
    """
    if len(regex) > _MAX_REGEX:
        raise NotBuildable("its regex is too long to sample")
    try:
        parsed = _sre.parse(regex)
    except re.error as exc:
        raise NotBuildable(f"its regex '{regex}' is invalid: {exc}") from None
    try:
        value = _generate(parsed)
    except _Unsupported as exc:
        raise NotBuildable(f"cannot generate a value matching '{regex}' ({exc})") from None
    if re.fullmatch(regex, value) is None:
        raise NotBuildable(f"cannot generate a value matching '{regex}'")
    return value


class _Unsupported(Exception):
    pass


_CATEGORY_SAMPLES: dict[t.Any, str] = {
    _const.CATEGORY_DIGIT: "1",
    _const.CATEGORY_NOT_DIGIT: "a",
    _const.CATEGORY_WORD: "a",
    _const.CATEGORY_NOT_WORD: "-",
    _const.CATEGORY_SPACE: " ",
    _const.CATEGORY_NOT_SPACE: "a",
}

#: Characters tried, in order, for negated classes and ``.``.
_CANDIDATES = "a1-_.xA~"


def _generate(pattern: t.Any) -> str:
    return "".join(_generate_item(op, arg) for op, arg in pattern)


def _generate_item(op: t.Any, arg: t.Any) -> str:
    if op is _const.LITERAL:
        return chr(arg)
    if op is _const.NOT_LITERAL:
        return next(c for c in _CANDIDATES if ord(c) != arg)
    if op is _const.ANY:
        return "a"
    if op is _const.IN:
        return _generate_class(arg)
    if op is _const.AT:
        return ""
    if op is _const.SUBPATTERN:
        return _generate(arg[-1])
    if op is _const.BRANCH:
        for branch in arg[1]:
            try:
                return _generate(branch)
            except _Unsupported:
                continue
        raise _Unsupported("no alternative can be generated")
    if op in (_const.MAX_REPEAT, _const.MIN_REPEAT, getattr(_const, "POSSESSIVE_REPEAT", None)):
        low, _high, item = arg
        count = max(low, _MAX_REPEAT_SAMPLE) if low == 0 else low
        if count > 1000:
            raise _Unsupported("repeat count too large")
        return str(_generate(item) * count)
    if op is getattr(_const, "ATOMIC_GROUP", None):
        return _generate(arg)
    raise _Unsupported(f"{str(op).lower()} is not supported")


def _generate_class(items: t.Any) -> str:
    negate = bool(items) and items[0][0] is _const.NEGATE
    if negate:
        for candidate in _CANDIDATES:
            if re.fullmatch(_class_regex(items), candidate):
                return candidate
        raise _Unsupported("negated class has no simple member")
    for op, arg in items:
        if op is _const.LITERAL:
            return chr(arg)
        if op is _const.RANGE:
            return chr(arg[0])
        if op is _const.CATEGORY and arg in _CATEGORY_SAMPLES:
            return _CATEGORY_SAMPLES[arg]
    raise _Unsupported("character class not understood")


def _class_regex(items: t.Any) -> str:
    parts = []
    for op, arg in items:
        if op is _const.NEGATE:
            parts.append("^")
        elif op is _const.LITERAL:
            parts.append(re.escape(chr(arg)))
        elif op is _const.RANGE:
            parts.append(f"{re.escape(chr(arg[0]))}-{re.escape(chr(arg[1]))}")
        elif op is _const.CATEGORY:
            parts.append(_CATEGORY_CLASS.get(arg, ""))
    return "[" + "".join(parts) + "]"


_CATEGORY_CLASS: dict[t.Any, str] = {
    _const.CATEGORY_DIGIT: r"\d",
    _const.CATEGORY_NOT_DIGIT: r"\D",
    _const.CATEGORY_WORD: r"\w",
    _const.CATEGORY_NOT_WORD: r"\W",
    _const.CATEGORY_SPACE: r"\s",
    _const.CATEGORY_NOT_SPACE: r"\S",
}
