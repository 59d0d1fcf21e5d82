"""A small real Bottle app: named and unnamed routes, filters, methods."""

import bottle

app = bottle.Bottle()


@app.get("/", name="home")
def home():
    return "home"


@app.get("/hello/<name>", name="hello")
def hello(name):
    return f"hello {name}"


@app.route("/items/<item_id:int>", method=["GET", "POST"], name="item")
def item(item_id):
    return {"id": item_id}


@app.get("/files/<filepath:path>", name="files")
def files(filepath):
    return filepath


@app.get("/sku/<code:re:SKU-[0-9]{4}>", name="sku")
def sku(code):
    return code


@app.route("/anything")
def anything():
    return "any method"
