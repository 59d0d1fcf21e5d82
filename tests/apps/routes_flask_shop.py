"""A Flask app with most url_map features: nested blueprints, converters, defaults.

Every view answers JSON naming its endpoint and the converted view arguments
with their Python types, so tests can compare wsgiscope's answers with
Flask's own.
"""

from __future__ import annotations

import typing as t

from flask import Blueprint, Flask, jsonify, request
from flask.views import MethodView
from werkzeug.routing import BaseConverter


class SkuConverter(BaseConverter):
    """``SKU-1234``."""

    regex = r"SKU-\d{4}"


class ListConverter(BaseConverter):
    """``a+b+c`` <-> ``["a", "b", "c"]``."""

    regex = r"\w+(?:\+\w+)*"

    def to_python(self, value: str) -> list[str]:
        return value.split("+")

    def to_url(self, value: t.Any) -> str:
        return "+".join(value)


class LookbehindConverter(BaseConverter):
    """A regex wsgiscope cannot sample from (lookbehind)."""

    regex = r"(?<=/)x\d+"


def echo() -> t.Any:
    args = {k: [type(v).__name__, v] for k, v in (request.view_args or {}).items()}
    return jsonify(endpoint=request.endpoint, args=args)


api = Blueprint("api", __name__, url_prefix="/api")
v1 = Blueprint("v1", __name__, url_prefix="/v1")
shop = Blueprint("shop", __name__, url_prefix="/shop")


@v1.get("/items/<int:item_id>")
def item(item_id: int) -> t.Any:
    return echo()


@v1.route("/items/", methods=["POST"])
def create_item() -> t.Any:
    return echo()


@v1.get("/prices/<float:price>")
def price(price: float) -> t.Any:
    return echo()


@api.get("/status")
def status() -> t.Any:
    return echo()


api.register_blueprint(v1)


@shop.get("/<sku:sku>")
def product(sku: str) -> t.Any:
    return echo()


@shop.get("/tags/<list:tags>")
def tags(tags: list[str]) -> t.Any:
    return echo()


@shop.get("/odd/<odd:code>")
def odd(code: str) -> t.Any:
    return echo()


class Widgets(MethodView):
    """A class-based view."""

    def get(self) -> t.Any:
        return echo()

    def post(self) -> t.Any:
        return echo()


def create_app() -> Flask:
    app = Flask(__name__, static_folder="routes_static")
    app.url_map.converters.update(sku=SkuConverter, list=ListConverter, odd=LookbehindConverter)
    app.register_blueprint(api)
    app.register_blueprint(shop)

    @app.get("/")
    def home() -> t.Any:
        return echo()

    @app.get("/users/", defaults={"page": 1})
    @app.get("/users/page/<int:page>")
    def users(page: int) -> t.Any:
        return echo()

    @app.get("/orders/<uuid:order>")
    def order(order: t.Any) -> t.Any:
        return echo()

    @app.get("/files/<path:name>")
    def files(name: str) -> t.Any:
        return echo()

    @app.get("/colour/<any(red, green):colour>")
    def colour(colour: str) -> t.Any:
        return echo()

    @app.get("/loose", strict_slashes=False)
    def loose() -> t.Any:
        return echo()

    app.add_url_rule("/old-home", endpoint="old_home", redirect_to="/")
    app.add_url_rule("/widgets", view_func=Widgets.as_view("widgets"))
    return app


app = create_app()
