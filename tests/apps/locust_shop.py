"""A small Flask shop for the Locust tests: a blueprint, a per-request user
on ``g``, a session cart, JSON and HTML answers; isolated in every mode."""

import gevent
from flask import Blueprint, Flask, abort, g, request, session

catalog = Blueprint("catalog", __name__, url_prefix="/catalog")
PRODUCTS = {"SKU-1": "Teapot", "SKU-2": "Kettle", "SKU-3": "Mug"}


@catalog.get("/")
def index():
    return {"products": sorted(PRODUCTS)}


@catalog.get("/<sku>")
def product(sku):
    if sku not in PRODUCTS:
        abort(404)
    gevent.sleep(0.001)  # a database round trip: other requests run meanwhile
    return {"sku": sku, "name": PRODUCTS[sku], "viewer": g.user}


app = Flask(__name__)
app.secret_key = "locust-tests"
app.register_blueprint(catalog)


@app.before_request
def load_user():
    g.user = request.args.get("user", "anonymous")


@app.get("/")
def home():
    return f"<h1>Shop</h1><p>hello {g.user}</p>"


@app.post("/cart")
def add_to_cart():
    session["cart"] = session.get("cart", 0) + 1
    return {"items": session["cart"]}
