"""A Flask shop with blueprints for the replay load report (#19).

Endpoints of different speeds and outcomes: a fast catalogue, an item page
with a converter, a slow checkout (sleeps), a view that raises (500) and
a missing page (404), so each per-endpoint row, status code and threshold
has something to show.
"""

import time

from flask import Blueprint, Flask, abort

catalog = Blueprint("catalog", __name__, url_prefix="/shop")
orders = Blueprint("orders", __name__, url_prefix="/orders")


@catalog.get("/items")
def items() -> dict[str, list[int]]:
    return {"items": [1, 2, 3]}


@catalog.get("/items/<int:item_id>")
def item(item_id: int) -> dict[str, int]:
    if item_id > 100:
        abort(404)
    return {"id": item_id}


@orders.post("/checkout")
def checkout() -> dict[str, bool]:
    time.sleep(0.02)
    return {"ok": True}


@orders.get("/broken")
def broken() -> str:
    raise RuntimeError("the payment gateway is down")


app = Flask(__name__)
app.register_blueprint(catalog)
app.register_blueprint(orders)


@app.get("/")
def index() -> str:
    return "shop"
