"""The demo app the README's first command runs: a small real Flask shop.

It is built to show off what wsgiscope sees: two blueprints (one nested), a
custom URL converter, a ``before_request`` that loads ``g.user``, a teardown
that receives the exception of a failing view, an internal redirect (a second
request context pushed on top of the first; written for Flask 3.0 to 3.2, whose
``full_dispatch_request`` takes the context) and a second Flask app mounted
under ``/admin`` with werkzeug's DispatcherMiddleware, behind ProxyFix.

    wsgiscope info wsgiscope.demo
"""

from __future__ import annotations

import inspect
import typing as t

from wsgiscope.errors import MissingDependency

try:
    from flask import Blueprint, Flask, current_app, g, jsonify, request, session
except ImportError:  # pragma: no cover - exercised only without Flask
    raise MissingDependency("flask", "the demo app (wsgiscope.demo)") from None
from werkzeug.middleware.dispatcher import DispatcherMiddleware
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.routing import BaseConverter

#: Flask 3.2 passes the current context to ``full_dispatch_request``; 3.0/3.1 take none.
_DISPATCH_TAKES_CONTEXT = "ctx" in inspect.signature(Flask.full_dispatch_request).parameters

USERS = {"ada": "Ada Lovelace", "alan": "Alan Turing"}
PRODUCTS = {"SKU-1001": "teapot", "SKU-1002": "kettle"}


class SkuConverter(BaseConverter):
    """Stock-keeping units such as ``SKU-1001``."""

    regex = r"SKU-\d{4}"


catalog = Blueprint("catalog", __name__, url_prefix="/catalog")
reviews = Blueprint("reviews", __name__, url_prefix="/<sku:sku>/reviews")


@catalog.get("/")
def index() -> t.Any:
    return jsonify(products=sorted(PRODUCTS), user=g.user)


@catalog.get("/<sku:sku>")
def product(sku: str) -> t.Any:
    if sku not in PRODUCTS:
        return jsonify(error="no such product"), 404
    return jsonify(sku=sku, name=PRODUCTS[sku])


@reviews.get("/")
def list_reviews(sku: str) -> t.Any:
    return jsonify(sku=sku, reviews=[])


catalog.register_blueprint(reviews)


def create_shop() -> Flask:
    """The main app, 'shop'."""
    shop = Flask("shop")
    shop.config["SECRET_KEY"] = "demo-not-secret"
    shop.url_map.converters["sku"] = SkuConverter
    shop.register_blueprint(catalog)

    @shop.before_request
    def load_user() -> None:
        g.user = USERS.get(request.args.get("user", ""))
        session["visits"] = session.get("visits", 0) + 1

    @shop.teardown_request
    def close_db(exc: BaseException | None) -> None:
        g.pop("db", None)

    @shop.get("/")
    def home() -> t.Any:
        return jsonify(app=current_app.name, user=g.user)

    @shop.get("/fail")
    def fail() -> t.Any:
        g.db = "connection"
        raise RuntimeError("the database is on fire")

    @shop.get("/old/<sku:sku>")
    def old_product(sku: str) -> t.Any:
        """Answer an old URL by dispatching the new one internally."""
        environ = dict(request.environ, PATH_INFO=f"/catalog/{sku}")
        with shop.request_context(environ) as ctx:
            if _DISPATCH_TAKES_CONTEXT:
                return shop.full_dispatch_request(ctx)  # type: ignore[call-arg,arg-type,unused-ignore]
            return shop.full_dispatch_request()  # type: ignore[call-arg,unused-ignore]

    return shop


def create_admin() -> Flask:
    """The second app, 'admin', mounted under /admin."""
    admin = Flask("admin")

    @admin.get("/")
    def dashboard() -> t.Any:
        return jsonify(app=current_app.name, products=len(PRODUCTS))

    return admin


shop = create_shop()
admin = create_admin()
application = ProxyFix(DispatcherMiddleware(shop, {"/admin": admin}))
