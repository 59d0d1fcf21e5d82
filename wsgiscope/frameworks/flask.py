"""Route adapter for Flask: the ``url_map``, ``url_for`` and the router.

Each rule's ``url`` is built from that rule itself (so ``/`` and
``/index`` of one endpoint each get their own); ``endpoint_url`` is what
``url_for`` builds for the endpoint with the same values.

Rules come from ``app.url_map`` with their blueprint (nested blueprints
give dotted groups such as ``catalog.reviews``), view function, converters,
defaults, host or subdomain. URLs are built by Flask's own ``url_for`` inside
an app and request context made the way Flask's test client makes them
(``SERVER_NAME``, ``APPLICATION_ROOT``, ``PREFERRED_URL_SCHEME``), so
``url_defaults`` callbacks and build-error handlers take part; under a mount
the request's SCRIPT_NAME is the mount prefix, as DispatcherMiddleware sets
it. Matching binds ``url_map`` with ``app.create_url_adapter`` to a request
built the same way, so subdomain and host matching behave as in a request.
Flask is imported only inside these functions.
"""

from __future__ import annotations

import typing as t

from wsgiscope.frameworks.base import Match, Route, url_path
from wsgiscope.frameworks.samples import building_url
from wsgiscope.frameworks.werkzeug import (
    Shadows,
    check_values,
    converter_names,
    match_with,
    missing_values,
    route_method,
    route_of,
    rule_samples,
    rule_url,
    sibling_defaults,
    unknown_endpoint,
    view_of,
)

if t.TYPE_CHECKING:
    from flask import Flask
    from flask.ctx import RequestContext
    from werkzeug.routing import Rule


def _name(app: Flask) -> str:
    return f"Flask app {app.name!r}"


def _request_context(app: Flask, script_name: str = "", host: str | None = None) -> RequestContext:
    """A request context like the test client's; under a mount, SCRIPT_NAME is the mount."""
    if not script_name and host is None:
        return app.test_request_context()
    scheme = app.config["PREFERRED_URL_SCHEME"]
    server = host or app.config.get("SERVER_NAME") or "localhost"
    root = script_name or app.config["APPLICATION_ROOT"].rstrip("/")
    return app.test_request_context(base_url=f"{scheme}://{server}{root}/")


def _group(endpoint: str, blueprints: t.Container[str]) -> str | None:
    group = endpoint.rpartition(".")[0]
    return group if group and group in blueprints else None


def _is_static_view(view: t.Any) -> bool:
    return getattr(view, "__name__", None) == "<lambda>" and getattr(
        view, "__module__", ""
    ).startswith("flask.")


def _route_maker(app: Flask) -> t.Callable[[Rule], Route]:
    url_map = app.url_map
    names = converter_names(url_map)
    blueprints = set(app.blueprints)
    views = app.view_functions
    name = _name(app)

    def make(rule: Rule) -> Route:
        endpoint = str(rule.endpoint)
        view = views.get(endpoint)
        if _is_static_view(view):
            # Flask registers static files through a lambda around
            # send_static_file; name the method that answers instead.
            view = type(app).send_static_file
        return route_of(
            rule,
            url_map,
            names,
            framework="flask",
            app=name,
            view=view_of(view),
            group=_group(endpoint, blueprints),
        )

    return make


def routes(app: Flask) -> list[Route]:
    """Every rule of ``app.url_map``, each with the URL ``url_for`` builds for it."""
    make = _route_maker(app)
    table = []
    shadows = Shadows(app.url_map)
    with _request_context(app) as context:
        for rule in app.url_map.iter_rules():
            route = make(rule)
            endpoint = str(rule.endpoint)
            # a BuildError, or a url_defaults callback raising, becomes url_error
            with building_url(route):
                values = rule_samples(rule, route.arguments, sibling_defaults(rule, app.url_map))
                route.sample_values = values
                route.endpoint_url = app.url_for(endpoint, _method=route_method(rule), **values)
                if shadows.alone(rule):  # url_for has no other rule to build
                    route.url = route.endpoint_url
                else:  # the rule's own URL, with the values url_for would use
                    injected = dict(values)
                    app.inject_url_defaults(endpoint, injected)
                    adapter = context.url_adapter
                    assert adapter is not None  # a request context always has one
                    route.url = rule_url(adapter, rule, injected)
                shadows.check(rule, route)
            table.append(route)
    return table


def build_url(
    app: Flask,
    endpoint: str,
    values: dict[str, t.Any],
    *,
    external: bool = False,
    method: str | None = None,
    anchor: str | None = None,
    scheme: str | None = None,
    script_name: str = "",
) -> str:
    """``url_for(endpoint, **values)`` as a view of ``app`` would call it.

    ``--scheme`` implies ``--external``: ``url_for`` refuses a scheme for a
    path-only URL.
    """
    from werkzeug.routing import BuildError

    url_map = app.url_map
    if endpoint not in {str(rule.endpoint) for rule in url_map.iter_rules()}:
        raise unknown_endpoint(endpoint, url_map, _name(app))
    converted = check_values(endpoint, url_map, values, method)
    with _request_context(app, script_name):
        try:
            return app.url_for(
                endpoint,
                _external=external or scheme is not None,
                _method=method,
                _anchor=anchor,
                _scheme=scheme,
                **converted,
            )
        except BuildError:
            raise missing_values(endpoint, url_map, converted) from None


def match(
    app: Flask, method: str, path: str, host: str | None = None, script_name: str = ""
) -> Match:
    """What ``app``'s router answers for ``method path`` on ``host``.

    ``host`` defaults to ``SERVER_NAME``, else ``localhost``, as for the test
    client.
    """
    from werkzeug.test import EnvironBuilder

    scheme = app.config["PREFERRED_URL_SCHEME"]
    server = host or app.config.get("SERVER_NAME") or "localhost"
    environ = EnvironBuilder(
        path=url_path(path), base_url=f"{scheme}://{server}{script_name}/", method=method
    ).get_environ()
    request = app.request_class(environ)
    adapter = app.create_url_adapter(request)
    assert adapter is not None  # always bound when a request is given
    return match_with(adapter, method, _route_maker(app))


def request_context_getter() -> t.Callable[[], t.Any]:
    """A function returning the current context that carries a request (or ``None``).

    Flask 3.0/3.1 keep the request context in ``_cv_request``; Flask 3.2
    merged it into the app context (``_cv_app``, ``has_request``).
    """
    from flask import globals as flask_globals

    cv_request = vars(flask_globals).get("_cv_request")
    if cv_request is not None:
        return lambda: cv_request.get(None)
    cv_app = flask_globals._cv_app

    def merged() -> t.Any:
        ctx: t.Any = cv_app.get(None)
        return ctx if ctx is not None and ctx.has_request else None

    return merged


def session_of(ctx: t.Any) -> t.Any:
    """A Flask request context's session object (``None`` before it is opened),
    read without marking it accessed (which would add ``Vary: Cookie``).

    Flask 3.1.3 on keeps it in ``_session`` behind a property that sets
    ``accessed``; Flask 3.0 to 3.1.2 in the plain ``session`` attribute.
    """
    state = vars(ctx)
    return state["_session"] if "_session" in state else state.get("session")
