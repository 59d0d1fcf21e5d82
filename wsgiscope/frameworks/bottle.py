"""Route adapter for Bottle apps: ``app.routes``, ``get_url``, ``router.match``.

A Bottle rule such as ``/hello/<name>`` or ``/item/<id:int>`` names its
arguments with filters (``int``, ``float``, ``path``, ``re:...``; no filter
is ``default``); the route's ``name`` is its endpoint, and routes without a
name are addressed as ``METHOD /rule``, which is how wsgiscope lists them.
Each rule's ``url`` is built by Bottle's router from the rule itself
(``router.build(rule)``); ``endpoint_url`` is what ``app.get_url`` builds
for a named route (the last rule added under that name). A custom filter
(``router.add_filter``) gives its own regex for sampling and its own
``to_python``, so its ``to_url`` receives what it expects.
"""

from __future__ import annotations

import re
import typing as t

from wsgiscope.errors import UsageError
from wsgiscope.frameworks.base import (
    Argument,
    Match,
    Route,
    check_method,
    finish_url,
    missing_arguments,
    unknown_endpoint,
)
from wsgiscope.frameworks.samples import NotBuildable, building_url, sample_values
from wsgiscope.frameworks.werkzeug import view_of

#: ``<name>``, ``<name:filter>`` or ``<name:filter:config>`` in a Bottle rule.
_WILDCARD = re.compile(r"<([a-zA-Z_][a-zA-Z_0-9]*)?(?::([a-zA-Z_]*)(?::((?:\\.|[^\\>])+)?)?)?>")
_FILTER_REGEX = {"int": r"-?\d+", "float": r"-?[\d.]+", "path": r".+?", "default": r"[^/]+"}


def _endpoint(route: t.Any) -> str:
    return str(route.name) if route.name else f"{route.method} {route.rule}"


def _arguments(rule: str, router: t.Any = None) -> list[Argument]:
    arguments = []
    for name, filter_name, config in _WILDCARD.findall(rule):
        converter = filter_name or "default"
        regex = config if converter == "re" and config else _FILTER_REGEX.get(converter)
        if regex is None and router is not None and converter in router.filters:
            regex = router.filters[converter](config or None)[0]  # a custom filter's mask
        if converter == "default":
            converter = "string"
        arguments.append(Argument(name, converter, regex))
    return arguments


def _parsers(app: t.Any, rule: str) -> dict[str, t.Callable[[str], t.Any]]:
    """Each argument's ``to_python`` (the filter's input function), where it has one."""
    router = app.router
    parsers = {}
    for name, filter_name, config in _WILDCARD.findall(rule):
        mode = router.default_filter if filter_name in ("", "default") else filter_name
        if mode in router.filters:
            to_python = router.filters[mode](config or None)[1]
            if to_python is not None:
                parsers[name] = to_python
    return parsers


def _route(app: t.Any, route: t.Any) -> Route:
    arguments = _arguments(route.rule, app.router)
    methods = ["*"] if route.method == "ANY" else [route.method]
    return Route(
        rule=route.rule,
        path=route.rule,
        endpoint=_endpoint(route),
        methods=methods,
        view=view_of(getattr(route.callback, "__wrapped__", route.callback)),
        framework="bottle",
        app="Bottle app",
        arguments=arguments,
        defaults=dict(getattr(route, "config", {}).get("defaults", {}) or {}),
    )


def _build(app: t.Any, route: t.Any, values: dict[str, t.Any]) -> str:
    if route.name:
        return str(app.get_url(route.name, **values))
    # Bottle keeps builders for named routes only: fill the rule the same way
    from urllib.parse import quote, urlencode

    used = {name for name, _, _ in _WILDCARD.findall(route.rule)}
    url = _WILDCARD.sub(lambda m: quote(str(values[m.group(1)]), safe="/"), route.rule)
    query = {k: v for k, v in values.items() if k not in used}
    return f"{url}?{urlencode(query)}" if query else url


def _own_url(app: t.Any, route: t.Any, values: dict[str, t.Any]) -> str:
    """The URL of this rule itself: Bottle's router keeps a builder per rule
    text too (``get_url(name)`` builds the *last* rule added under a name)."""
    return "/" + str(app.router.build(route.rule, **values)).lstrip("/")


def routes(app: t.Any) -> list[Route]:
    """Every route of ``app``, with the URL Bottle builds from sample values."""
    table: list[Route] = []
    seen: dict[tuple[str, str, t.Any], Route] = {}
    for bottle_route in app.routes:
        key = (bottle_route.rule, _endpoint(bottle_route), bottle_route.callback)
        if key in seen:  # Bottle keeps one Route per method: show one rule
            seen[key].methods = sorted({*seen[key].methods, bottle_route.method})
            continue
        route = seen[key] = _route(app, bottle_route)
        with building_url(route):
            route.sample_values = _samples(app, bottle_route.rule, route.arguments)
            route.endpoint_url = _build(app, bottle_route, route.sample_values)
            route.url = _own_url(app, bottle_route, route.sample_values)
        table.append(route)
    return table


def _samples(app: t.Any, rule: str, arguments: list[Argument]) -> dict[str, t.Any]:
    """Sample values, passed through each filter's ``to_python`` as a request would."""
    values = sample_values(arguments)
    for name, to_python in _parsers(app, rule).items():
        try:
            values[name] = to_python(values[name])
        except Exception as exc:
            raise NotBuildable(
                f"<{name}>: its filter rejected the sample value ({type(exc).__name__}: {exc})"
            ) from None
    return values


def _find(app: t.Any, endpoint: str, method: str | None = None) -> t.Any:
    found = [r for r in app.routes if _endpoint(r) == endpoint]
    if not found:
        raise unknown_endpoint("Bottle app", endpoint, [_endpoint(r) for r in app.routes])
    check_method(endpoint, sorted({"*" if r.method == "ANY" else r.method for r in found}), method)
    return found[0]


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
    """``app.get_url(name, **values)``; extra values become the query string."""
    bottle_route = _find(app, endpoint, method)
    arguments = _arguments(bottle_route.rule, app.router)
    missing = [a.name for a in arguments if a.name not in values]
    if missing:
        needs = [f"<{a.name}:{a.converter}>" for a in arguments]
        raise missing_arguments(endpoint, bottle_route.rule, needs, missing)
    for argument in arguments:
        if argument.regex and not re.fullmatch(argument.regex, str(values[argument.name])):
            raise UsageError(
                f"{values[argument.name]!r} is not a valid <{argument.name}:{argument.converter}>"
                f" for {bottle_route.rule} (the filter accepts {argument.regex})"
            )
    values = dict(values)
    for name, to_python in _parsers(app, bottle_route.rule).items():
        try:  # what a request would hand the view, so the filter's to_url gets its type
            values[name] = to_python(values[name])
        except Exception as exc:
            raise UsageError(
                f"{values[name]!r} is not a valid <{name}> for {bottle_route.rule}: "
                f"{type(exc).__name__}: {exc}"
            ) from None
    url = _build(app, bottle_route, values)
    return finish_url(url, external=external, scheme=scheme, anchor=anchor)


def match(app: t.Any, method: str, path: str, host: str | None = None) -> Match:
    """What Bottle's router answers for ``method path``."""
    import bottle

    environ = {"PATH_INFO": path, "REQUEST_METHOD": method.upper()}
    try:
        (bottle_route, arguments) = app.router.match(environ)
    except bottle.HTTPError as exc:
        if exc.status_code == 405:
            allowed = exc.headers.get("Allow", "")
            return Match(405, allowed=[m.strip() for m in allowed.split(",") if m.strip()])
        return Match(exc.status_code)
    except bottle.HTTPResponse as exc:  # a redirect raised by the router
        return Match(exc.status_code, location=exc.headers.get("Location"))
    return Match(200, route=_route(app, bottle_route), arguments=dict(arguments))
