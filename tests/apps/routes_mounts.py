"""Nested DispatcherMiddleware, a plain WSGI callable and middleware around them.

ProxyFix -> Wrapper(.app) -> DispatcherMiddleware(front, {
    "/api": DispatcherMiddleware(api, {"/v2": werkzeug Map app}),
    "/legacy": plain WSGI callable,
})
and ``wrapped``: a Flask app whose ``wsgi_app`` was replaced in place.
"""

from __future__ import annotations

import typing as t

from flask import Flask, jsonify, request
from routes_werkzeug_map import application as wiki
from werkzeug.middleware.dispatcher import DispatcherMiddleware
from werkzeug.middleware.proxy_fix import ProxyFix


def echo() -> t.Any:
    return jsonify(
        endpoint=request.endpoint,
        args=request.view_args,
        script_root=request.script_root,
        path=request.path,
    )


def legacy(environ: dict[str, t.Any], start_response: t.Callable[..., t.Any]) -> list[bytes]:
    """A plain WSGI app: answers every path."""
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [f"legacy {environ['SCRIPT_NAME']} {environ['PATH_INFO']}".encode()]


class Wrapper:
    """A user's middleware holding the app as ``.app``."""

    def __init__(self, app: t.Any) -> None:
        self.app = app

    def __call__(self, environ: dict[str, t.Any], start_response: t.Any) -> t.Any:
        return self.app(environ, start_response)


front = Flask("front", static_folder=None)
front.add_url_rule("/", endpoint="index", view_func=echo)

api = Flask("api", static_folder=None)


@api.get("/users/<int:user_id>")
def user(user_id: int) -> t.Any:
    return echo()


@api.get("/")
def api_index() -> t.Any:
    return echo()


application = ProxyFix(
    Wrapper(
        DispatcherMiddleware(
            front,
            {"/api": DispatcherMiddleware(api, {"/v2": wiki}), "/legacy": legacy},
        )
    )
)

wrapped = Flask("wrapped", static_folder=None)


@wrapped.get("/hello/<name>")
def hello(name: str) -> t.Any:
    return echo()


wrapped.wsgi_app = Wrapper(wrapped.wsgi_app)  # type: ignore[method-assign]


class Holder:
    """A user's middleware holding the app as ``.wsgi_app``."""

    def __init__(self, app: t.Any) -> None:
        self.wsgi_app = app

    def __call__(self, environ: dict[str, t.Any], start_response: t.Any) -> t.Any:
        return self.wsgi_app(environ, start_response)


#: middleware around middleware around a Flask app
held = Holder(ProxyFix(api))

#: Flask's documented way: the app's own wsgi_app replaced by a dispatcher.
combined = Flask("combined", static_folder=None)
combined.add_url_rule("/", endpoint="index", view_func=echo)
combined.wsgi_app = DispatcherMiddleware(  # type: ignore[method-assign]
    combined.wsgi_app, {"/api": api}
)
