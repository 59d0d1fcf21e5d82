"""Route adapter for Pyramid apps: the routes mapper, view predicates, route_path.

A Pyramid route is a name and a pattern (``/items/{item_id}``,
``/items/{item_id:\\d+}``, ``/files/*subpath``). Its methods come from the
``request_method`` predicates of the route and of the views attached to it,
both read from the app's introspector; a route without any is shown as
accepting every method. URLs are built with ``request.route_path`` on a
request bound to the app's registry, exactly as a view would build them.

Routes come from the routes mapper, so those added by ``config.include()``
(an add-on's, under its ``route_prefix``) are there like the app's own; the
external routes (``add_route(..., static=True)``) that ``proutes`` lists are
listed too, without a URL to request (they are never matched).
"""

from __future__ import annotations

import re
import typing as t

from wsgiscope.errors import UsageError
from wsgiscope.frameworks.base import (
    Argument,
    Match,
    Route,
    add_note,
    check_method,
    finish_url,
    missing_arguments,
    shadowed_note,
    unknown_endpoint,
    url_path,
)
from wsgiscope.frameworks.samples import building_url, sample_values
from wsgiscope.frameworks.werkzeug import view_of

#: ``{name}``, ``{name:regex}`` and a trailing ``*star`` in a route pattern.
_FIELD = re.compile(r"{([A-Za-z_][A-Za-z_0-9]*)(?::((?:[^{}]|{[^{}]*})*))?}|\*([A-Za-z_]\w*)$")


def _arguments(pattern: str) -> list[Argument]:
    arguments = []
    for name, regex, star in _FIELD.findall(pattern):
        if star:
            arguments.append(Argument(star, "path", ".+"))
        else:
            arguments.append(Argument(name, "regex" if regex else "str", regex or "[^/]+"))
    return arguments


def _spec(argument: Argument) -> str:
    """An argument as the pattern writes it: ``{id}``, ``{code:SKU-\\d{4}}``, ``*rest``."""
    if argument.converter == "path":
        return f"*{argument.name}"
    if argument.converter == "regex":
        return f"{{{argument.name}:{argument.regex}}}"
    return f"{{{argument.name}}}"


def _methods(value: t.Any) -> set[str]:
    if not value:
        return set()
    return {value} if isinstance(value, str) else set(value)


def _info(app: t.Any) -> list[tuple[t.Any, list[str], t.Any]]:
    """``(route, methods, view callable)`` in the mapper's matching order."""
    from pyramid.interfaces import IRoutesMapper

    introspector = app.registry.introspector
    route_methods = {
        entry["introspectable"]["name"]: _methods(entry["introspectable"]["request_methods"])
        for entry in introspector.get_category("routes")
    }
    views: dict[str, list[t.Any]] = {}
    for entry in introspector.get_category("views"):
        view = entry["introspectable"]
        if view["route_name"]:
            views.setdefault(view["route_name"], []).append(view)
    table = []
    # external routes (static=True) too, as proutes lists them: they build
    # URLs (route_url) and are never matched
    for route in app.registry.getUtility(IRoutesMapper).get_routes(include_static=True):
        attached = views.get(route.name, [])
        methods = route_methods.get(route.name, set())
        view_methods = [_methods(v["request_methods"]) for v in attached]
        if view_methods and all(view_methods):
            allowed = set().union(*view_methods)
            methods = methods & allowed if methods else allowed
        callable_ = attached[0]["callable"] if attached else None
        table.append((route, sorted(methods) or ["*"], callable_))
    return table


def _external(app: t.Any, route: t.Any) -> bool:
    """A ``static=True`` route: it builds URLs only, requests never match it."""
    from pyramid.interfaces import IRoutesMapper

    mapper = app.registry.getUtility(IRoutesMapper)
    return route in getattr(mapper, "static_routes", ())


def _pattern(app: t.Any, route: t.Any) -> str:
    """The pattern as ``proutes`` shows it: with its leading ``/`` (an
    include's ``route_prefix`` gives ``_toolbar/api/...``), an external
    route's URL pattern whole."""
    if _external(app, route):
        found = app.registry.introspector.get("routes", route.name)
        if found is not None and found.get("external_url"):
            return str(found["external_url"])
    pattern = str(route.pattern)
    return pattern if pattern.startswith("/") else "/" + pattern


def _route(app: t.Any, route: t.Any, methods: list[str], view: t.Any) -> Route:
    pattern = _pattern(app, route)
    return Route(
        rule=pattern,
        path=pattern,
        endpoint=route.name,
        methods=methods,
        view=view_of(view),
        framework="pyramid",
        app="Pyramid Router",
        arguments=_arguments(route.pattern),
    )


def _request(app: t.Any, path: str = "/", method: str = "GET", host: str | None = None) -> t.Any:
    from pyramid.request import Request

    request = Request.blank(url_path(path), method=method, host=host or "localhost")
    request.registry = app.registry
    return request


def _path(app: t.Any, name: str, values: dict[str, t.Any], arguments: list[Argument]) -> str:
    names = {a.name for a in arguments}
    query = {k: v for k, v in values.items() if k not in names}
    params = {k: v for k, v in values.items() if k in names}
    request = _request(app)
    if query:
        return str(request.route_path(name, _query=query, **params))
    return str(request.route_path(name, **params))


def routes(app: t.Any) -> list[Route]:
    """Every route with the path ``route_path`` builds from sample values."""
    table = []
    for pyramid_route, methods, view in _info(app):
        route = _route(app, pyramid_route, methods, view)
        if _external(app, pyramid_route):
            route.url_error = "external route (static=True): requests never match it"
            with building_url(route):
                values = route.sample_values = sample_values(route.arguments)
                route.endpoint_url = str(_request(app).route_url(pyramid_route.name, **values))
                route.note = f"external (static=True): route_url builds {route.endpoint_url}"
            table.append(route)
            continue
        with building_url(route):
            route.sample_values = sample_values(route.arguments)
            route.url = _path(app, pyramid_route.name, route.sample_values, route.arguments)
            route.endpoint_url = route.url  # route names are unique in Pyramid
            _check_reached(app, pyramid_route, route)
        table.append(route)
    return table


def _check_reached(app: t.Any, pyramid_route: t.Any, route: Route) -> None:
    """Pyramid matches routes in the order they were added: note a route
    whose own URL an earlier one (``/{pagename}`` before ``/about``) takes."""
    from urllib.parse import unquote, urlsplit

    from pyramid.interfaces import IRoutesMapper

    if not route.url or not route.url.startswith("/"):
        return
    mapper = app.registry.getUtility(IRoutesMapper)
    found = mapper(_request(app, unquote(urlsplit(route.url).path)))["route"]
    if found is not None and found is not pyramid_route:
        add_note(route, shadowed_note(route.url, found.name, _pattern(app, found)))


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
    """``request.route_path`` (``route_url`` with --external); extras as query."""
    table = {route.name: (route, methods) for route, methods, _ in _info(app)}
    if endpoint not in table:
        raise unknown_endpoint("Pyramid app", endpoint, table)
    route, methods = table[endpoint]
    check_method(endpoint, methods, method)
    arguments = _arguments(route.pattern)
    missing = [a.name for a in arguments if a.name not in values]
    if missing:
        needs = [_spec(a) for a in arguments]
        raise missing_arguments(endpoint, route.pattern, needs, missing)
    for argument in arguments:
        if argument.regex and not re.fullmatch(argument.regex, str(values[argument.name])):
            raise UsageError(
                f"{values[argument.name]!r} is not a valid {_spec(argument)} for "
                f"{route.pattern} (the pattern accepts {argument.regex})"
            )
    if _external(app, route):  # route_path refuses it: its URL is absolute
        url = str(_request(app).route_url(endpoint, **values))
        return finish_url(url, external=False, scheme=None, anchor=anchor)
    url = _path(app, endpoint, values, arguments)
    return finish_url(url, external=external, scheme=scheme, anchor=anchor)


def match(app: t.Any, method: str, path: str, host: str | None = None) -> Match:
    """What Pyramid's routes mapper and view lookup answer for ``method path``.

    A path whose pattern matches but whose ``request_method`` predicates do
    not is a 404 in Pyramid (``PredicateMismatch``); ``allowed`` then lists
    the methods the route's views accept.
    """
    from pyramid.interfaces import IRoutesMapper

    mapper = app.registry.getUtility(IRoutesMapper)
    request = _request(app, path, method.upper(), host)
    info = mapper(request)
    table = [entry for entry in _info(app) if not _external(app, entry[0])]
    allowed = sorted(
        {m for route, methods, _ in table if route.match(path) is not None for m in methods}
    )
    for route, methods, view in table:
        if route is info["route"] and (method.upper() in methods or "*" in methods):
            return Match(
                200, route=_route(app, route, methods, view), arguments=dict(info["match"])
            )
    # Pyramid answers a request_method predicate mismatch with 404, not 405
    return Match(404, allowed=allowed)
