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


#: The secret every leak test looks for in outputs.
SECRET = "S3CR3T-v4lu3"


@app.get("/reset/<token>")
def reset(token: str) -> str:
    return "reset form"


@app.get("/leaky-headers")
def leaky_headers() -> Response:
    response = Response("ok")
    response.headers["X-Auth-Key"] = SECRET
    response.headers["Ocp-Apim-Subscription-Key"] = SECRET
    return response


@app.get("/leaky/<kind>")
def leaky_body(kind: str) -> Response:
    import gzip

    bodies = {
        "html": (
            f'<form><input type="hidden" name="csrf_token" value="{SECRET}">'
            f'<meta name="csrf-token" content="{SECRET}"></form>',
            "text/html",
        ),
        "bearer": (f"use Authorization: Bearer {SECRET} to log in", "text/plain"),
        "bigjson": (
            f'{{"password": "{SECRET}", "items": "' + "x" * 2000 + '"}',
            "application/json",
        ),
        "bomjson": (f'\ufeff{{"api_token": "{SECRET}"}}', "application/json"),
        "textjson": (f'{{"nested": [{{"secret": "{SECRET}"}}]}}', "text/plain"),
        "jsonp": (f'callback({{"access_token": "{SECRET}"}});', "application/javascript"),
        "xml": (f"<user><name>bob</name><password>{SECRET}</password></user>", "application/xml"),
    }
    if kind == "gzip":
        response = Response(gzip.compress(f'{{"password": "{SECRET}"}}'.encode()))
        response.headers["Content-Type"] = "application/json"
        response.headers["Content-Encoding"] = "gzip"
        return response
    text, mimetype = bodies[kind]
    return Response(text, mimetype=mimetype)


@app.get("/log")
def log_evil() -> str:
    import sys

    evil = request.args.get("evil", "")
    app.logger.warning("logger saw %s", evil)
    print(f"print saw {evil}", file=sys.stderr)
    request.environ["wsgi.errors"].write(f"wsgi.errors saw {evil}\n")
    if request.args.get("raise"):
        raise RuntimeError(f"exception saw {evil}")
    return "logged"


@app.get("/echo")
def echo() -> Response:
    return Response(request.args.get("v", ""), mimetype="text/plain")
