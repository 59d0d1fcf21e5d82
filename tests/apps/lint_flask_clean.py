"""A conforming Flask app: JSON, forms, streaming, redirects, files, errors."""

import io

from flask import Flask, Response, redirect, request, send_file, stream_with_context, url_for

app = Flask(__name__)


@app.route("/")
def index():
    return {"hello": "world"}


@app.route("/form", methods=["GET", "POST"])
def form():
    if request.method == "POST":
        return f"got {request.form.get('name', '')}"
    return "<form method=post><input name=name></form>"


@app.route("/echo", methods=["POST", "PUT"])
def echo():
    return request.get_data()


@app.route("/stream")
def stream():
    def body():
        for number in range(3):
            yield f"{number}\n"

    return Response(stream_with_context(body()), mimetype="text/plain")


@app.route("/go")
def go():
    return redirect(url_for("index"))


@app.route("/empty")
def empty():
    return "", 204


@app.route("/file")
def file():
    return send_file(io.BytesIO(b"file contents"), mimetype="application/octet-stream")


@app.route("/items/<int:item_id>")
def item(item_id):
    if item_id > 100:
        return {"error": "not found"}, 404
    return {"id": item_id}
