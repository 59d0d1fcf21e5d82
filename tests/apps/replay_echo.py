"""A Flask app that answers with what it received (method, URL, cookies, body)."""

import base64

from flask import Flask, jsonify, request

app = Flask(__name__)


@app.route("/<path:anything>", methods=["GET", "POST", "PUT", "DELETE", "PATCH"])
@app.route("/", methods=["GET", "POST"])
def echo(anything=""):
    return jsonify(
        method=request.method,
        scheme=request.scheme,
        host=request.host,
        path=request.path,
        query=request.query_string.decode(),
        cookies=request.cookies,
        form=request.form.to_dict(),
        json=request.get_json(silent=True),
        content_type=request.content_type,
        headers={k: v for k, v in request.headers if k.lower().startswith("x-")},
        pseudo=[k for k in request.environ if k.startswith("HTTP_:")],
        raw=base64.b64encode(request.get_data()).decode()
        if request.mimetype == "application/octet-stream"
        else None,
    )
