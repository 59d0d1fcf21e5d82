"""Route adapter for werkzeug ``Map``-based apps, and the rule helpers Flask shares.

A Map-based app is a callable whose routing is a ``werkzeug.routing.Map``
found by :func:`wsgiscope.frameworks.werkzeug_map_of` (a ``url_map``
attribute, or a module-level Map next to an ``@Request.application``
function). Its views are not registered anywhere werkzeug knows, so the view
of an endpoint is looked up the two usual ways: an ``on_<endpoint>`` method of
the app (the werkzeug tutorial) or a function named like the endpoint in the
module that defines the Map's app.

The ``rule_*`` helpers turn werkzeug ``Rule`` objects into
:class:`~wsgiscope.frameworks.base.Route` data and router exceptions into
:class:`~wsgiscope.frameworks.base.Match`; the Flask adapter uses them too.
werkzeug is imported only inside functions.
"""

from __future__ import annotations

import inspect
import re
import sys
import typing as t

from wsgiscope.errors import AdapterError, RouteNotFound, UsageError
from wsgiscope.frameworks import werkzeug_map_of
from wsgiscope.frameworks.base import (
    ANCHOR_SAFE,
    Argument,
    Match,
    Route,
    View,
    add_note,
    first_line,
    nearest,
    shadowed_note,
    url_path,
)
from wsgiscope.frameworks.samples import (
    BY_NAME,
    NotBuildable,
    building_url,
    sample_from_regex,
)

if t.TYPE_CHECKING:
    from werkzeug.routing import Map, MapAdapter, Rule
    from werkzeug.routing.converters import BaseConverter


# -- shared helpers (werkzeug and Flask) ---------------------------------------


def converter_names(url_map: Map) -> dict[type, str]:
    """Converter class -> the name rules use for it (``int``, ``sku`` ...)."""
    names: dict[type, str] = {}
    for name, cls in url_map.converters.items():
        names.setdefault(cls, name)
    return names


def rule_arguments(rule: Rule, names: dict[type, str]) -> list[Argument]:
    """The rule's arguments in the order they appear, with converter names."""
    converters: dict[str, BaseConverter] = rule._converters  # no public accessor
    found = []
    for name, converter in converters.items():
        converter_name = names.get(type(converter), type(converter).__name__)
        found.append(Argument(name, converter_name, getattr(converter, "regex", None)))
    # host/subdomain arguments are in rule.arguments but have converters too;
    # arguments without a converter (none in practice) are listed as default.
    for name in sorted(rule.arguments - converters.keys()):
        found.append(Argument(name, "default", "[^/]+"))
    return found


def sibling_defaults(rule: Rule, url_map: Map) -> dict[str, list[t.Any]]:
    """The defaults the endpoint's other rules give, by argument name.

    werkzeug redirects a URL whose values equal another rule's defaults to
    that rule (``redirect_defaults``): ``/posts/page/1`` goes to ``/posts/``
    when that rule has ``defaults={"page": 1}``. A sample must avoid them.
    """
    found: dict[str, list[t.Any]] = {}
    for other in url_map._rules_by_endpoint.get(rule.endpoint, ()):  # no public accessor
        if other is not rule:
            for name, value in (other.defaults or {}).items():
                found.setdefault(name, []).append(value)
    return found


def _avoiding(value: t.Any, avoid: t.Sequence[t.Any]) -> t.Any:
    """``value``, moved off the values in ``avoid`` (numbers counted up)."""
    while value in avoid and isinstance(value, (int, float)) and not isinstance(value, bool):
        value += 1
    return value


def rule_samples(
    rule: Rule, arguments: list[Argument], avoid: dict[str, list[t.Any]] | None = None
) -> dict[str, t.Any]:
    """Python values for every argument not given by the rule's defaults.

    Known converters get their sample (``1``, ``"example"`` ...); a custom
    converter gets a string generated from its regex, passed through its own
    ``to_python`` so ``to_url`` receives what it expects. A number that
    equals a value in ``avoid`` (see :func:`sibling_defaults`) is counted up.

    :raises NotBuildable: naming the argument that has no sample.
    """
    converters = rule._converters
    values: dict[str, t.Any] = {}
    defaults = rule.defaults or {}
    avoid = avoid or {}
    for argument in arguments:
        if argument.name in defaults:
            continue
        converter = converters.get(argument.name)
        try:
            if argument.converter in BY_NAME and type(converter).__module__.startswith("werkzeug."):
                values[argument.name] = _avoiding(
                    BY_NAME[argument.converter], avoid.get(argument.name, ())
                )
                continue
            if argument.regex is None:
                raise NotBuildable("its converter has no regex")
            text = sample_from_regex(argument.regex)
            values[argument.name] = converter.to_python(text) if converter else text
        except NotBuildable as exc:
            raise NotBuildable(f"<{argument.converter}:{argument.name}>: {exc}") from None
        except Exception as exc:  # the converter's to_python refused the sample
            raise NotBuildable(
                f"<{argument.converter}:{argument.name}>: its converter rejected "
                f"the sample value ({type(exc).__name__}: {exc})"
            ) from None
    return values


def view_of(function: t.Any) -> View | None:
    """``module:qualname`` and ``file:line`` of a view function (decorators unwrapped)."""
    if function is None:
        return None
    try:
        inner = inspect.unwrap(function)
    except ValueError:  # a __wrapped__ cycle
        inner = function
    view_class = getattr(inner, "view_class", None)  # Flask class-based views
    target = view_class if view_class is not None else inner
    module = getattr(target, "__module__", None) or "?"
    qualname = getattr(target, "__qualname__", None) or type(target).__qualname__
    location = None
    code = getattr(inner, "__code__", None)
    if view_class is not None:
        try:
            location = (
                f"{inspect.getsourcefile(view_class)}:{inspect.getsourcelines(view_class)[1]}"
            )
        except (OSError, TypeError):
            location = None
    elif code is not None:
        location = f"{code.co_filename}:{code.co_firstlineno}"
    return View(f"{module}:{qualname}", location)


def rule_url(adapter: MapAdapter, rule: Rule, values: dict[str, t.Any]) -> str:
    """The URL ``adapter.build`` makes for ``rule`` itself with ``values``.

    ``MapAdapter.build`` takes an endpoint and builds its first suitable
    rule, so for an endpoint with several rules (``/`` and ``/index``) it
    never builds the others; this builds the given rule, then makes the URL
    the way ``build`` does (script name, host or subdomain, scheme).

    :raises NotBuildable: the values do not fit the rule.
    """
    built = rule.build(values, append_unknown=True)
    if built is None:
        raise NotBuildable(f"{rule.rule} does not accept the sample values")
    domain_part, path = built
    host = adapter.get_host(domain_part)
    url_map = adapter.map
    if not rule.websocket and (
        (url_map.host_matching and host == adapter.server_name)
        or (not url_map.host_matching and domain_part == adapter.subdomain)
    ):
        return f"{adapter.script_name.rstrip('/')}/{path.lstrip('/')}"
    secure = adapter.url_scheme in {"https", "wss"}
    scheme = ("wss" if secure else "ws") if rule.websocket else ("https" if secure else "http")
    return f"{scheme}://{host}{adapter.script_name[:-1]}/{path.lstrip('/')}"


class Shadows:
    """Which rule answers first for a rule's own path, computed once per map.

    werkzeug's matcher orders rules by how specific they are, not by when
    they were added, so a rule's own URL reaches it unless another rule has
    the same path (same host and subdomain) and accepts the method: then the
    one added first answers, always. That is checked here in one pass over
    the map (matching every URL took a third of ``routes`` on 5,000 rules).
    """

    def __init__(self, url_map: Map) -> None:
        self.first: dict[tuple[str, str | None, str | None], list[Rule]] = {}
        for rule in url_map.iter_rules():
            key = (rule.rule, rule.subdomain, rule.host)
            self.first.setdefault(key, []).append(rule)
        self.url_map = url_map

    def alone(self, rule: Rule) -> bool:
        """The rule is its endpoint's only one: the builder can only build it."""
        return len(self.url_map._rules_by_endpoint.get(rule.endpoint, ())) == 1

    def check(self, rule: Rule, route: Route) -> None:
        """Note on ``route`` the earlier rule that answers its URL, if any."""
        method = route_method(rule)
        for other in self.first.get((rule.rule, rule.subdomain, rule.host), ()):
            if other is rule:
                return
            if method is None or not other.methods or method in other.methods:
                add_note(
                    route, shadowed_note(route.url or rule.rule, str(other.endpoint), other.rule)
                )
                return


def redirect_text(rule: Rule) -> str | None:
    """A rule's ``redirect_to`` as text (a callable as its qualified name)."""
    target = rule.redirect_to
    if target is None:
        return None
    if isinstance(target, str):
        return target
    return f"{getattr(target, '__module__', '?')}:{getattr(target, '__qualname__', repr(target))}"


def route_of(
    rule: Rule,
    url_map: Map,
    names: dict[type, str],
    *,
    framework: str,
    app: str,
    view: View | None,
    group: str | None,
) -> Route:
    """A :class:`Route` for one werkzeug rule (no URL yet)."""
    subdomain = None if url_map.host_matching else (rule.subdomain or None)
    strict = rule.strict_slashes if rule.strict_slashes is not None else url_map.strict_slashes
    return Route(
        rule=rule.rule,
        endpoint=str(rule.endpoint),
        methods=sorted(rule.methods) if rule.methods else ["*"],
        view=view,
        framework=framework,
        app=app,
        path=rule.rule,
        group=group,
        arguments=rule_arguments(rule, names),
        defaults=dict(rule.defaults or {}),
        host=rule.host if url_map.host_matching else None,
        subdomain=subdomain,
        strict_slashes=strict,
        redirect_to=redirect_text(rule),
    )


def route_method(rule: Rule) -> str | None:
    """The method to build a rule's URL with, so the builder picks this rule."""
    if not rule.methods:
        return None
    for method in ("GET", "POST", "PUT", "PATCH", "DELETE"):
        if method in rule.methods:
            return method
    return sorted(rule.methods)[0]


def match_with(adapter: MapAdapter, method: str, route_for: t.Callable[[Rule], Route]) -> Match:
    """Run ``adapter.match`` and turn its answer or exception into a :class:`Match`."""
    from werkzeug.exceptions import MethodNotAllowed, NotFound
    from werkzeug.routing import RequestRedirect

    try:
        rule, arguments = adapter.match(method=method, return_rule=True)
    except RequestRedirect as exc:
        return Match(exc.code, location=exc.new_url)
    except MethodNotAllowed as exc:
        return Match(405, allowed=sorted(exc.valid_methods or []))
    except NotFound:
        return Match(404)
    return Match(200, route=route_for(rule), arguments=dict(arguments))


def unknown_endpoint(endpoint: str, url_map: Map, app: str) -> RouteNotFound:
    """The error for an endpoint no rule has, with the closest names."""
    endpoints = sorted({str(r.endpoint) for r in url_map.iter_rules()})
    close = nearest(endpoint, endpoints)
    hint = f"did you mean: {', '.join(close)}" if close else "wsgiscope routes lists the endpoints"
    return RouteNotFound(f"{app} has no endpoint {endpoint!r}", hint=hint)


def check_values(
    endpoint: str, url_map: Map, values: dict[str, t.Any], method: str | None
) -> dict[str, t.Any]:
    """Validate CLI string values against the endpoint's rules and convert them.

    Each value for a rule argument must match its converter's regex and pass
    its ``to_python`` (so ``to_url`` gets the type it expects); missing
    arguments are named with their converters.

    :raises UsageError: a missing or invalid value.
    """
    names = converter_names(url_map)
    rules = [
        r
        for r in url_map.iter_rules(endpoint)
        if method is None or not r.methods or method.upper() in r.methods
    ]
    if not rules:
        raise UsageError(f"no rule of endpoint {endpoint!r} accepts method {method}")
    converted = dict(values)
    for rule in rules:
        for name, converter in rule._converters.items():
            if name not in values or not isinstance(values[name], str):
                continue
            value = values[name]
            spec = f"<{names.get(type(converter), type(converter).__name__)}:{name}>"
            regex = getattr(converter, "regex", None)
            if regex and re.fullmatch(regex, value) is None:
                raise UsageError(
                    f"{value!r} is not a valid {spec} for {rule.rule} "
                    f"(the converter accepts {regex})"
                )
            try:
                converted[name] = converter.to_python(value)
            except Exception as exc:
                raise UsageError(f"{value!r} is not a valid {spec}: {first_line(exc)}") from None
        break
    return converted


def missing_values(endpoint: str, url_map: Map, values: dict[str, t.Any]) -> UsageError:
    """The error for values that fit no rule of ``endpoint``: what each rule needs."""
    names = converter_names(url_map)
    needs = []
    for rule in url_map.iter_rules(endpoint):
        required = [a for a in rule_arguments(rule, names) if a.name not in (rule.defaults or {})]
        missing = [a.name for a in required if a.name not in values]
        spec = " ".join(f"<{a.converter}:{a.name}>" for a in required) or "no arguments"
        needs.append(
            f"{rule.rule} needs {spec}" + (f" (missing: {', '.join(missing)})" if missing else "")
        )
    return UsageError(
        f"cannot build a URL for {endpoint!r}: " + "; ".join(needs),
        hint="pass them as NAME=VALUE",
    )


# -- the Map-based app adapter -------------------------------------------------


def _map(app: t.Any) -> Map:
    url_map = werkzeug_map_of(app)
    if url_map is None:
        raise AdapterError(f"no werkzeug Map found for {app!r}")
    return t.cast("Map", url_map)


def _app_name(app: t.Any) -> str:
    target = app if inspect.isroutine(app) else type(app)
    return f"{getattr(target, '__module__', '?')}.{getattr(target, '__qualname__', '?')}"


def _view(app: t.Any, endpoint: str) -> View | None:
    method = getattr(app, f"on_{endpoint}", None)
    if callable(method):
        return view_of(method)
    module = sys.modules.get(getattr(app, "__module__", "") or "")
    function = getattr(module, endpoint, None) if module else None
    if inspect.isfunction(function):
        return view_of(function)
    return None


def routes(app: t.Any) -> list[Route]:
    """The Map's rules, each with the URL ``MapAdapter.build`` makes for it."""
    url_map = _map(app)
    names = converter_names(url_map)
    name = _app_name(app)
    adapter = url_map.bind("localhost", script_name="/")
    shadows = Shadows(url_map)
    table = []
    for rule in url_map.iter_rules():
        route = route_of(
            rule,
            url_map,
            names,
            framework="werkzeug",
            app=name,
            view=_view(app, str(rule.endpoint)),
            group=None,
        )
        with building_url(route):
            values = rule_samples(rule, route.arguments, sibling_defaults(rule, url_map))
            route.sample_values = values
            route.endpoint_url = adapter.build(rule.endpoint, values, method=route_method(rule))
            alone = shadows.alone(rule)
            route.url = route.endpoint_url if alone else rule_url(adapter, rule, values)
            shadows.check(rule, route)
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
    script_name: str = "",
) -> str:
    """``MapAdapter.build`` bound to ``localhost`` under ``script_name``."""
    from urllib.parse import quote

    from werkzeug.routing import BuildError

    url_map = _map(app)
    if endpoint not in {str(r.endpoint) for r in url_map.iter_rules()}:
        raise unknown_endpoint(endpoint, url_map, _app_name(app))
    converted = check_values(endpoint, url_map, values, method)
    adapter = url_map.bind("localhost", script_name=script_name or "/", url_scheme=scheme or "http")
    try:
        url = adapter.build(
            endpoint, converted, method=method, force_external=external or scheme is not None
        )
    except BuildError:
        raise missing_values(endpoint, url_map, converted) from None
    if anchor is not None:
        url = f"{url}#{quote(anchor, safe=ANCHOR_SAFE)}"
    return url


def match(
    app: t.Any, method: str, path: str, host: str | None = None, script_name: str = ""
) -> Match:
    """What the Map answers for ``method path`` on ``host`` (default localhost)."""
    from werkzeug.test import EnvironBuilder

    url_map = _map(app)
    environ = EnvironBuilder(
        path=url_path(path),
        base_url=f"http://{host or 'localhost'}{script_name}/",
        method=method,
    ).get_environ()
    names = converter_names(url_map)
    name = _app_name(app)

    def route_for(rule: Rule) -> Route:
        return route_of(
            rule,
            url_map,
            names,
            framework="werkzeug",
            app=name,
            view=_view(app, str(rule.endpoint)),
            group=None,
        )

    return match_with(url_map.bind_to_environ(environ), method, route_for)
