"""Route adapter for Django projects: URLconf walking, ``reverse``, ``resolve``.

The app is Django's ``WSGIHandler`` (settings already configured by the
project's ``wsgi.py``); routes come from the root URLconf, walked through
every ``include()``. A route's endpoint is its namespaced name
(``catalog:product``) as ``reverse`` takes it; an unnamed pattern is listed
under its view's dotted path and built by reversing the view itself.

Django declares no methods per URL pattern. wsgiscope reads them from the
view: a class-based view answers the ``http_method_names`` it implements, a
view decorated with ``require_http_methods`` (``require_GET``...) the methods
it allows; any other view is shown with ``*`` (every method).

A ``re_path`` whose groups are unnamed passes them to the view as positional
arguments; wsgiscope names them by position (``0``, ``1`` ...), so they are
given as ``0=2024`` on the command line and reversed with ``args``.
"""

from __future__ import annotations

import re
import typing as t
from urllib.parse import urlencode

from wsgiscope.errors import UsageError
from wsgiscope.frameworks.base import (
    Argument,
    Match,
    Route,
    check_method,
    finish_url,
    unknown_endpoint,
)
from wsgiscope.frameworks.samples import (
    NotBuildable,
    building_url,
    sample_for,
    sample_from_regex,
)
from wsgiscope.frameworks.werkzeug import view_of

_HTTP_METHODS = {"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "TRACE"}


class _Entry(t.NamedTuple):
    """One URL pattern with what its include() chain contributed."""

    rule: str
    endpoint: str
    name: str | None
    namespace: str | None
    pattern: t.Any
    arguments: list[Argument]
    #: regexes of the include() levels and the pattern, for sampling
    pieces: list[tuple[t.Any, str]]


def _piece(pattern: t.Any) -> tuple[str, list[Argument]]:
    """The rule text and arguments of one RoutePattern or RegexPattern."""
    from django.urls.converters import get_converters
    from django.urls.resolvers import RoutePattern

    if isinstance(pattern, RoutePattern):
        names = {type(c): n for n, c in get_converters().items()}
        arguments = [
            Argument(name, names.get(type(conv), type(conv).__name__), conv.regex)
            for name, conv in pattern.converters.items()
        ]
        return str(pattern._route), arguments
    regex = str(pattern._regex)
    text = regex.removeprefix("^").removesuffix("$").removesuffix(r"\Z")
    compiled = re.compile(regex)
    # as Django does: named groups are keyword arguments, else every group is positional
    groups = list(compiled.groupindex) or [str(i) for i in range(compiled.groups)]
    return text, [Argument(name, "regex") for name in groups]


def _positional(arguments: t.Iterable[Argument]) -> list[Argument]:
    return [a for a in arguments if a.name.isdigit()]


def _walk(
    patterns: t.Iterable[t.Any],
    prefix: str = "",
    namespace: str | None = None,
    arguments: list[Argument] | None = None,
    pieces: list[tuple[t.Any, str]] | None = None,
) -> t.Iterator[_Entry]:
    from django.urls import URLResolver

    for entry in patterns:
        text, own = _piece(entry.pattern)
        offset = len(_positional(arguments or []))  # positional groups of outer includes
        own = [Argument(str(int(a.name) + offset), a.converter) if a.name.isdigit() else a
               for a in own]  # fmt: skip
        args = [*(arguments or []), *own]
        chain = [*(pieces or []), (entry.pattern, text)]
        if isinstance(entry, URLResolver):
            inner = namespace
            if entry.namespace:
                inner = f"{namespace}:{entry.namespace}" if namespace else entry.namespace
            yield from _walk(entry.url_patterns, prefix + text, inner, args, chain)
            continue
        name = entry.name
        endpoint = str(entry.lookup_str)  # an unnamed pattern: its view's dotted path
        if name:
            endpoint = f"{namespace}:{name}" if namespace else name
        yield _Entry("/" + prefix + text, endpoint, name, namespace, entry, args, chain)


def _entries() -> list[_Entry]:
    from django.urls import get_resolver

    return list(_walk(get_resolver().url_patterns))


def _methods(callback: t.Any) -> list[str]:
    view_class = getattr(callback, "view_class", None)
    if view_class is not None:
        allowed = {m.upper() for m in view_class.http_method_names if hasattr(view_class, m)}
        if "GET" in allowed:
            allowed.add("HEAD")
        return sorted(allowed & _HTTP_METHODS)
    function = callback
    while function is not None:  # require_http_methods keeps its list in a closure cell
        for cell in getattr(function, "__closure__", None) or ():
            value = cell.cell_contents
            if (
                isinstance(value, (list, tuple))
                and value
                and all(isinstance(v, str) and v.upper() in _HTTP_METHODS for v in value)
            ):
                return sorted({v.upper() for v in value})
        function = getattr(function, "__wrapped__", None)
    return ["*"]


def _route(entry: _Entry) -> Route:
    callback = entry.pattern.callback
    return Route(
        rule=entry.rule,
        path=entry.rule,
        endpoint=entry.endpoint,
        methods=_methods(callback),
        view=view_of(callback),
        framework="django",
        app=_label(),
        group=entry.namespace,
        arguments=entry.arguments,
        defaults=dict(entry.pattern.default_args),
        note=None if entry.name else "unnamed pattern: reverse() builds it from the view",
    )


def _label() -> str:
    import os

    return f"Django WSGIHandler (settings {os.environ.get('DJANGO_SETTINGS_MODULE', '?')})"


def _samples(entry: _Entry) -> dict[str, t.Any]:
    """Sample values: converters by name/regex, regex groups from a generated match."""
    from django.urls.resolvers import RoutePattern

    values: dict[str, t.Any] = {}
    for pattern, _text in entry.pieces:
        if isinstance(pattern, RoutePattern):
            for name, converter in pattern.converters.items():
                argument = next(a for a in entry.arguments if a.name == name)
                values[name] = sample_for(argument.converter, converter.regex)
            continue
        regex = str(pattern._regex)
        match = re.match(regex, sample_from_regex(regex.removesuffix(r"\Z")))
        if match is None:
            raise NotBuildable(f"cannot generate a path matching {regex!r}")
        if match.re.groupindex:
            values.update({k: v for k, v in match.groupdict().items() if v is not None})
        else:
            offset = len([k for k in values if k.isdigit()])
            values.update({str(offset + i): v for i, v in enumerate(match.groups())})
    return values


def _reverse(entry: _Entry, values: dict[str, t.Any]) -> str:
    from django.urls import reverse

    target = entry.endpoint if entry.name else entry.pattern.callback
    positional = _positional(entry.arguments)
    if positional:
        return str(reverse(target, args=[values.get(a.name) for a in positional]))
    return str(reverse(target, kwargs=values))


def _own_url(entry: _Entry, values: dict[str, t.Any]) -> str:
    """The URL of this pattern itself, made from its include() chain as
    ``reverse`` makes one (converters' ``to_url``, script prefix, quoting).

    ``reverse`` looks a name (or a view) up and builds the *last* pattern
    registered under it, so the same URLconf included under ``api/v1/`` and
    ``api/v3/`` reverses to ``/api/v3/`` for both; this reaches ``api/v1/``.
    """
    from urllib.parse import quote

    from django.urls import get_script_prefix
    from django.utils.http import RFC3986_SUBDELIMS
    from django.utils.regex_helper import normalize

    text = ""
    offset = 0  # positional groups of the pieces before this one
    for pattern, _text in entry.pieces:
        converters = getattr(pattern, "converters", {})
        subs: dict[str, str] = {}
        for name, value in values.items():
            if name.isdigit():
                subs[f"_{int(name) - offset}"] = str(value)
            else:
                subs[name] = converters[name].to_url(value) if name in converters else str(value)
        options = [(form, params) for form, params in normalize(pattern.regex.pattern)
                   if all(p in subs for p in params)]  # fmt: skip
        if not options:
            raise NotBuildable(f"no values fit {pattern.regex.pattern!r}")
        form, params = max(options, key=lambda option: len(option[1]))
        text += form % {p: subs[p] for p in params}
        offset += len([p for p in params if p.startswith("_")])
    url = get_script_prefix() + quote(text, safe=RFC3986_SUBDELIMS + "/~:@")
    return "/%2F" + url[2:] if url.startswith("//") else url


def routes(app: t.Any) -> list[Route]:
    """Every URL pattern, each with the URL of the pattern itself (``url``) and
    the one ``reverse`` builds for its name (``endpoint_url``) from sample values."""
    table = []
    for entry in _entries():
        route = _route(entry)
        with building_url(route):
            route.sample_values = _samples(entry)
            route.endpoint_url = _reverse(entry, route.sample_values)
            route.url = _own_url(entry, route.sample_values)
        table.append(route)
    return table


def build_url(
    app: t.Any,
    endpoint: str,
    values: dict[str, t.Any],
    *,
    external: bool = False,
    method: str | None = None,
    anchor: str | None = None,
    scheme: str | None = None,
) -> str:
    """``reverse(endpoint, kwargs=...)``; values the pattern lacks become the query."""
    from django.urls import NoReverseMatch

    entries = [e for e in _entries() if e.endpoint == endpoint]
    if not entries:
        raise unknown_endpoint("the Django URLconf", endpoint, [e.endpoint for e in _entries()])
    entry = entries[0]
    check_method(endpoint, _methods(entry.pattern.callback), method)
    names = {a.name for a in entry.arguments}
    kwargs = {k: v for k, v in values.items() if k in names}
    query = {k: v for k, v in values.items() if k not in names}
    try:
        url = _reverse(entry, kwargs)
    except NoReverseMatch:
        needs = ", ".join(f"<{a.converter}:{a.name}>" for a in entry.arguments) or "no arguments"
        missing = sorted(names - set(kwargs))
        detail = f"missing: {', '.join(missing)}" if missing else "a value does not match"
        raise UsageError(
            f"cannot build a URL for {endpoint!r}: {entry.rule} needs {needs} ({detail})",
            hint="pass them as NAME=VALUE",
        ) from None
    if query:
        url = f"{url}?{urlencode(query)}"
    return finish_url(url, external=external, scheme=scheme, anchor=anchor)


def match(app: t.Any, method: str, path: str, host: str | None = None) -> Match:
    """What ``resolve`` answers; APPEND_SLASH and view method checks included."""
    from django.conf import settings
    from django.urls import Resolver404, resolve

    try:
        found = resolve(path)
    except Resolver404:
        if settings.APPEND_SLASH and not path.endswith("/"):
            try:
                resolve(path + "/")
            except Resolver404:
                return Match(404)
            return Match(301, location=path + "/")
        return Match(404)
    entry = next(
        (e for e in _entries() if e.pattern.callback is found.func and e.rule == "/" + found.route)
        if found.route
        else iter(()),
        None,
    )
    if entry is None:
        entry = next(e for e in _entries() if e.pattern.callback is found.func)
    route = _route(entry)
    if "*" not in route.methods and method.upper() not in route.methods:
        return Match(405, allowed=route.methods)
    # Groups without a name are positional: named by their position, as `url` takes them.
    positional = {str(index): value for index, value in enumerate(found.args)}
    return Match(200, route=route, arguments={**positional, **found.kwargs})
