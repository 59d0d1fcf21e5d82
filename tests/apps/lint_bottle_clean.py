"""A conforming Bottle app."""

import bottle

app = bottle.Bottle()


@app.get("/")
def index():
    return {"hello": "world"}


@app.route("/form", method=["GET", "POST"])
def form():
    if bottle.request.method == "POST":
        return "got " + bottle.request.forms.get("name", "")
    return "<form method=post><input name=name></form>"


@app.get("/hello/<name>")
def hello(name):
    return "hello " + name


@app.get("/go")
def go():
    bottle.redirect("/")


@app.get("/stream")
def stream():
    bottle.response.content_type = "text/plain"
    for number in range(3):
        yield f"{number}\n"
