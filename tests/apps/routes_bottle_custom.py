"""A Bottle app with a custom filter: hexadecimal numbers, int in the view."""

import bottle

app = bottle.Bottle()
app.router.add_filter(
    "hex", lambda config: (r"[0-9a-f]+", lambda text: int(text, 16), lambda number: f"{number:x}")
)


@app.get("/colours/<value:hex>", name="colour")
def colour(value):
    return {"value": value, "type": type(value).__name__}


@app.post("/colours", name="add_colour")
def add_colour():
    return {"created": True}
