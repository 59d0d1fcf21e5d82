"""A small Flask app for the serve tests: plain, JSON, slow, failing, streaming."""

import os
import time

from flask import Flask, Response, abort, jsonify

app = Flask(__name__)
seen_teardowns = []


@app.teardown_request
def remember(exc):
    seen_teardowns.append(exc)


@app.get("/")
def index():
    return "hello"


@app.get("/items/<int:n>")
def item(n):
    return jsonify(n=n, pid=os.getpid())


@app.post("/items")
def create():
    return jsonify(created=True), 201


@app.get("/print")
def printing():
    print("debug output of the app", flush=True)
    return "printed"


@app.get("/slow")
def slow():
    time.sleep(0.2)
    return "slow"


@app.get("/fail")
def fail():
    return 1 // 0


@app.get("/gone")
def gone():
    abort(410)


@app.get("/stream")
def stream():
    def chunks():
        for i in range(5):
            yield f"chunk {i}\n" * 100

    return Response(chunks(), mimetype="text/plain")
