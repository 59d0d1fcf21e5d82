"""A Flask app made to break a tracer: deep JSON both ways, an exception
whose ``__str__`` raises, a file served with ``send_file`` (a
``wsgi.file_wrapper`` response), secrets in odd places."""

from __future__ import annotations

import io
import os

from flask import Flask, Response, g, jsonify, request, send_file

app = Flask(__name__)

DEPTH = 600


def deep_json(depth: int = DEPTH) -> str:
    """``{"password": {"password": ... 1 ...}}`` nested ``depth`` deep (~13 bytes a level)."""
    return '{"password": ' * depth + "1" + "}" * depth


class BadStr(Exception):
    """An app exception whose ``__str__`` raises."""

    def __str__(self) -> str:
        raise ValueError("__str__ of the app's exception raised")


@app.get("/deep")
def deep() -> Response:
    return Response(deep_json(int(request.args.get("depth", DEPTH))), mimetype="application/json")


@app.post("/echo-length")
def echo_length() -> Response:
    data = request.get_data()
    return Response(str(len(data)), mimetype="text/plain")


@app.get("/badstr")
def badstr() -> Response:
    raise BadStr()


FILE = os.path.join(os.path.dirname(__file__), "hostile_flask.py")


@app.get("/file")
def file() -> Response:
    return send_file(FILE, mimetype="text/plain")


@app.get("/bytesfile")
def bytesfile() -> Response:
    return send_file(io.BytesIO(b"x" * 5000), mimetype="application/octet-stream")


@app.get("/g")
def nested_g() -> Response:
    g.user = {"name": "bob", "api_token": "tok-nested-g"}
    g.password_hash = "pbkdf2:sha256:hash-in-g"
    return jsonify(ok=True)


@app.get("/")
def index() -> str:
    return "ok"
