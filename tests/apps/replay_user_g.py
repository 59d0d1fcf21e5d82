"""The same app written with ``flask.g``: isolated in every mode."""

import gevent
from flask import Flask, g, request, session

app = Flask(__name__)
app.secret_key = "replay-tests"


@app.before_request
def load_user():
    g.user = request.args.get("user", "anonymous")


@app.get("/whoami")
def whoami():
    gevent.sleep(0.001)
    session["seen"] = g.user
    return f"user={g.user}"


@app.teardown_request
def forget_user(exc):
    g.pop("user", None)
