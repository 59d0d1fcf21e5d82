"""Flask apps routing on the Host: subdomain matching and host matching."""

from __future__ import annotations

import typing as t

from flask import Blueprint, Flask, jsonify, request


def echo() -> t.Any:
    args = {k: [type(v).__name__, v] for k, v in (request.view_args or {}).items()}
    return jsonify(endpoint=request.endpoint, args=args, host=request.host)


def create_subdomains() -> Flask:
    """SERVER_NAME shop.test; an ``api`` blueprint on api.shop.test; user sites."""
    app = Flask(__name__, subdomain_matching=True, static_folder=None)
    app.config["SERVER_NAME"] = "shop.test"
    api = Blueprint("api", __name__, subdomain="api")

    @api.get("/ping")
    def ping() -> t.Any:
        return echo()

    app.register_blueprint(api)

    @app.get("/")
    def home() -> t.Any:
        return echo()

    @app.get("/profile", subdomain="<user>")
    def profile(user: str) -> t.Any:
        return echo()

    return app


def create_hosts() -> Flask:
    """host_matching: rules for shop.test and for any <tenant>.example.test."""
    app = Flask(__name__, host_matching=True, static_host="static.test", static_folder=None)

    @app.get("/", host="shop.test")
    def shop_home() -> t.Any:
        return echo()

    @app.get("/dashboard/<int:page>", host="<tenant>.example.test")
    def dashboard(tenant: str, page: int) -> t.Any:
        return echo()

    return app


subdomains = create_subdomains()
hosts = create_hosts()


def create_configured() -> Flask:
    """SERVER_NAME, APPLICATION_ROOT and PREFERRED_URL_SCHEME all set."""
    app = Flask(__name__, static_folder=None)
    app.config.update(
        SERVER_NAME="shop.test", APPLICATION_ROOT="/root", PREFERRED_URL_SCHEME="https"
    )

    @app.get("/items/<int:n>")
    def item(n: int) -> t.Any:
        return echo()

    return app


configured = create_configured()
