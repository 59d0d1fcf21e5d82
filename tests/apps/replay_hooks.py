"""A Flask app with one function for every kind of hook, in a blueprint too.

The context check must run in each: ``url_value_preprocessor``,
``before_request``, the view, a template context processor,
``after_request``, ``teardown_request``, ``teardown_appcontext``, and an
error handler (for a 404).
"""

from flask import Blueprint, Flask, g, render_template_string

app = Flask(__name__)
shop = Blueprint("shop", __name__, url_prefix="/shop")


@shop.url_value_preprocessor
def pull_lang(endpoint, values):
    g.lang = values.pop("lang", "en") if values else "en"


@shop.before_request
def load_cart():
    g.cart = "cart"


@shop.get("/<lang>/page")
def page():
    return render_template_string("{{ lang }} {{ cart }} {{ brand }}", lang=g.lang, cart=g.cart)


@shop.context_processor
def brand():
    return {"brand": "acme"}


@app.after_request
def stamp(response):
    response.headers["X-Stamp"] = "1"
    return response


@app.teardown_request
def close_request(exc):
    g.pop("cart", None)


@app.teardown_appcontext
def close_app(exc):
    pass


@app.errorhandler(404)
def not_found(error):
    return "nothing here", 404


app.register_blueprint(shop)
