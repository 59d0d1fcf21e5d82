"""Route adapter for Falcon apps: ``falcon.inspect``, URI templates, the router.

Falcon routes a URI template (``/items/{item_id:int}``) to a resource whose
``on_<method>[_<suffix>]`` responders answer. Falcon has no names for routes
and no reverse URL builder, so wsgiscope names each route after its resource
class (``ItemResource``, ``ItemResource:list`` for a suffixed route) and
builds URLs by filling the URI template with the values, converted with
Falcon's own field converters to check them; the route's note says so.

Falcon's dispatcher asks its router first, then its sinks (``add_sink``,
a regex matched from the start of the path, any method) and static routes
(``add_static_route``, a path prefix), the last added first: both are
listed after the routes in that order (endpoints ``sink:<function>`` and
``static:<prefix>``), and :func:`match` answers with them as Falcon would.
"""

from __future__ import annotations

import inspect
import re
import typing as t
from urllib.parse import quote, urlencode

from wsgiscope.errors import UsageError
from wsgiscope.frameworks.base import (
    Argument,
    Match,
    Route,
    View,
    check_method,
    finish_url,
    missing_arguments,
    unknown_endpoint,
)
from wsgiscope.frameworks.samples import NotBuildable, sample_values

#: ``{name}`` or ``{name:converter(arguments)}`` in a URI template.
_FIELD = re.compile(r"{([^}:]+)(?::([a-zA-Z_]+)(?:\((.*?)\))?)?}")
_NOTE = "Falcon has no URL builder: wsgiscope fills the URI template"


def _endpoint(resource: t.Any, suffix: str | None) -> str:
    name = type(resource).__name__
    return f"{name}:{suffix}" if suffix else name


def _resource_view(resource: t.Any) -> View:
    cls = type(resource)
    try:
        location = f"{inspect.getsourcefile(cls)}:{inspect.getsourcelines(cls)[1]}"
    except (OSError, TypeError):
        location = None
    return View(f"{cls.__module__}:{cls.__qualname__}", location)


def _arguments(template: str) -> list[Argument]:
    return [Argument(name, converter or "str") for name, converter, _ in _FIELD.findall(template)]


def _table(app: t.Any) -> list[tuple[str, t.Any, str | None, list[str]]]:
    """``(template, resource, suffix, methods)`` for each route, in order."""
    from falcon import inspect as falcon_inspect

    found = []
    for node in falcon_inspect.inspect_routes(app):
        methods = sorted({m.method for m in node.methods if not m.internal})
        suffixes = {m.suffix for m in node.methods if not m.internal}
        suffix = next(iter(suffixes)) if len(suffixes) == 1 else None
        resource = _resource_of(app, node.path)
        found.append((node.path, resource, suffix or None, methods))
    return found


def _resource_of(app: t.Any, template: str) -> t.Any:
    for root in app._router._roots:  # the compiled router keeps the resources here
        stack = [root]
        while stack:
            node = stack.pop()
            if node.uri_template == template and node.resource is not None:
                return node.resource
            stack.extend(node.children)
    return None


def _route(
    app: t.Any, template: str, resource: t.Any, suffix: str | None, methods: list[str]
) -> Route:
    return Route(
        rule=template,
        path=template,
        endpoint=_endpoint(resource, suffix),
        methods=methods,
        view=_resource_view(resource),
        framework="falcon",
        app=f"Falcon {type(app).__name__}",
        arguments=_arguments(template),
        note=_NOTE,
    )


def _fill(app: t.Any, template: str, values: dict[str, t.Any]) -> str:
    """The template with each field's value, checked by Falcon's converter."""
    converters = app.router_options.converters

    def field(match: re.Match[str]) -> str:
        name, converter, arguments = match.groups()
        text = str(values[name])
        if converter:
            from falcon.routing.converters import BaseConverter

            factory = converters[converter]
            instance: BaseConverter = eval_converter(factory, arguments)
            if instance.convert(text) is None:
                raise UsageError(
                    f"{text!r} is not a valid {{{name}:{converter}}} for {template}",
                    hint=f"Falcon's {converter!r} converter refused it",
                )
        return quote(text, safe="/" if converter == "path" else "")

    return _FIELD.sub(field, template)


def eval_converter(factory: t.Any, arguments: str | None) -> t.Any:
    """A converter instance from its template arguments (literals only)."""
    if not arguments:
        return factory()
    import ast

    call = ast.parse(f"f({arguments})", mode="eval").body
    assert isinstance(call, ast.Call)
    args = [ast.literal_eval(a) for a in call.args]
    kwargs = {k.arg: ast.literal_eval(k.value) for k in call.keywords if k.arg}
    return factory(*args, **kwargs)


def routes(app: t.Any) -> list[Route]:
    """Every route of ``app`` with a URL filled from sample values, then the
    sinks and static routes in the order Falcon tries them."""
    table = []
    first: dict[str, str] = {}  # endpoint -> the URL `wsgiscope url` builds
    for template, resource, suffix, methods in _table(app):
        route = _route(app, template, resource, suffix, methods)
        try:
            route.sample_values = sample_values(route.arguments)
            route.url = _fill(app, template, route.sample_values)
            route.endpoint_url = first.setdefault(str(route.endpoint), route.url)
        except NotBuildable as exc:
            route.url_error = str(exc)
        except UsageError as exc:
            route.url_error = exc.message
        table.append(route)
    table.extend(route for _, route in _fallbacks(app))
    return table


def _fallbacks(app: t.Any) -> list[tuple[t.Any, Route]]:
    """``(matcher, route)`` for each sink and static route, in Falcon's order."""
    found = []
    name = f"Falcon {type(app).__name__}"
    for matcher, target, is_sink in getattr(app, "_sink_and_static_routes", ()):
        if is_sink:
            route = _sink_route(target, matcher.pattern, name)
        else:
            route = _static_route(target, name)
        found.append((matcher, route))
    return found


def _sink_route(sink: t.Any, pattern: str, app_name: str) -> Route:
    from wsgiscope.frameworks.samples import sample_from_regex
    from wsgiscope.frameworks.werkzeug import view_of

    view = view_of(sink) if inspect.isroutine(sink) else _resource_view(sink)
    label = getattr(sink, "__name__", None) or type(sink).__name__
    arguments = [Argument(group, "regex") for group in re.compile(pattern).groupindex]
    route = Route(
        rule=pattern,
        path=pattern,
        endpoint=f"sink:{label}",
        methods=["*"],
        view=view,
        framework="falcon",
        app=app_name,
        arguments=arguments,
        note="sink: any method on a path no route takes, the regex matched from its start",
    )
    try:
        url = sample_from_regex(pattern)
    except NotBuildable as exc:
        route.url_error = str(exc)
        return route
    if not url.startswith("/"):
        route.url_error = f"the sample {url!r} of the sink's regex is not a path"
        return route
    found = re.match(pattern, url)
    route.sample_values = {k: v for k, v in (found.groupdict() if found else {}).items() if v}
    route.url = route.endpoint_url = url
    return route


def _static_route(static: t.Any, app_name: str) -> Route:
    import os

    prefix = str(getattr(static, "_prefix", "/"))
    directory = str(getattr(static, "_directory", "?"))
    route = Route(
        rule=prefix,
        path=prefix,
        endpoint=f"static:{prefix}",
        methods=["*"],
        view=View(f"{type(static).__module__}:{type(static).__qualname__}", None),
        framework="falcon",
        app=app_name,
        note=f"static files from {directory}",
    )
    sample = None
    try:  # a file that exists, so the sample request gets the file
        for root, dirs, files in os.walk(directory):
            dirs.sort()
            if files:
                relative = os.path.relpath(os.path.join(root, sorted(files)[0]), directory)
                sample = relative.replace(os.sep, "/")
                break
    except OSError:
        sample = None
    route.url = route.endpoint_url = prefix + quote(sample or "example", safe="/")
    return route


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
    """The URI template of ``endpoint`` filled with ``values``; extras as query."""
    table = _table(app)
    found = [(tpl, methods) for tpl, resource, suffix, methods in table
             if _endpoint(resource, suffix) == endpoint]  # fmt: skip
    fallbacks = [route for _, route in _fallbacks(app)]
    if not found:
        fallback = next((r for r in fallbacks if r.endpoint == endpoint), None)
        if fallback is not None:
            raise UsageError(
                f"{endpoint} has no URL template: Falcon calls it for paths matching "
                f"{fallback.rule!r}",
                hint=f"e.g. {fallback.url}" if fallback.url else "any path below its prefix",
            )
        known = [_endpoint(r, s) for _, r, s, _ in table] + [str(r.endpoint) for r in fallbacks]
        raise unknown_endpoint("Falcon app", endpoint, known)
    template, methods = found[0]
    check_method(endpoint, methods, method)
    arguments = _arguments(template)
    missing = [a.name for a in arguments if a.name not in values]
    if missing:
        needs = [f"{{{a.name}:{a.converter}}}" for a in arguments]
        raise missing_arguments(endpoint, template, needs, missing)
    url = _fill(app, template, values)
    query = {k: v for k, v in values.items() if k not in {a.name for a in arguments}}
    if query:
        url = f"{url}?{urlencode(query)}"
    return finish_url(url, external=external, scheme=scheme, anchor=anchor)


def match(app: t.Any, method: str, path: str, host: str | None = None) -> Match:
    """What Falcon's compiled router finds for ``path``, then the responder."""
    found = app._router.find(path)
    if found is None:
        # then the sinks and static routes, as App._get_responder tries them
        for matcher, route in _fallbacks(app):
            hit = matcher.match(path)
            if hit:
                groups = hit.groupdict() if str(route.endpoint).startswith("sink:") else {}
                return Match(200, route=route, arguments=dict(groups))
        return Match(404)
    resource, method_map, params, template = found
    methods = sorted(
        m for m, responder in method_map.items() if _is_user_responder(resource, responder)
    )
    suffix = next((s for t_, r, s, _ in _table(app) if r is resource and t_ == template), None)
    route = _route(app, template or path, resource, suffix, methods)
    if method.upper() not in methods and method.upper() != "OPTIONS":
        return Match(405, allowed=methods)
    return Match(200, route=route, arguments=dict(params))


def _is_user_responder(resource: t.Any, responder: t.Any) -> bool:
    return getattr(responder, "__self__", None) is resource
