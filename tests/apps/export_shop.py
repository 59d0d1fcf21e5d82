"""A Flask app with hooks that logs every request it receives (for export tests).

Set ``EXPORT_LOG`` to a file: each request appends one JSON line with what
the app received (method, raw PATH_INFO bytes, query, the X-/Content-Type
headers and the body, base64), so two ways of sending the same requests can
be compared byte for byte.
"""

import base64
import json
import os

from flask import Flask, abort, g, jsonify, request

app = Flask(__name__)
app.config["SECRET_KEY"] = "export-tests"


@app.before_request
def remember():
    g.seen = request.path
    log = os.environ.get("EXPORT_LOG")
    if not log:
        return
    received = {
        "method": request.method,
        "path": base64.b64encode(request.environ["PATH_INFO"].encode("latin-1")).decode(),
        "query": request.environ.get("QUERY_STRING", ""),
        "headers": sorted(
            [k, v] for k, v in request.headers if k.lower().startswith("x-") or k == "Content-Type"
        ),
        "body": base64.b64encode(request.get_data()).decode(),
    }
    with open(log, "a", encoding="utf-8") as stream:
        stream.write(json.dumps(received, sort_keys=True) + "\n")


@app.after_request
def stamp(response):
    response.headers["X-Seen"] = g.get("seen", "?").encode("utf-8").decode("latin-1")
    return response


@app.teardown_request
def release(exc):
    g.pop("seen", None)


@app.get("/items/<name>")
def item(name):
    return jsonify(name=name, q=request.args.get("q"))


@app.post("/items")
def create():
    payload = request.get_json(silent=True) or request.form.to_dict()
    return jsonify(created=payload), 201


@app.put("/blob")
def blob():
    return jsonify(size=len(request.get_data()))


@app.delete("/items/<name>")
def delete(name):
    return "", 204


@app.get("/private")
def private():
    if request.cookies.get("session_id") != "s3cret":
        abort(403)
    return "ok"


@app.get("/boom")
def boom():
    raise RuntimeError("boom")
