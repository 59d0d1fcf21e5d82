"""A Flask app that keeps the current user in a module global: it leaks.

The view yields (``gevent.sleep``: a real sleep in a thread, a switch to the
other greenlets under gevent, patched or not) between storing the user and
reading it back, as a view waiting on a database would.
"""

import gevent
from flask import Flask, request

app = Flask(__name__)
CURRENT_USER = None


@app.before_request
def load_user():
    global CURRENT_USER
    CURRENT_USER = request.args.get("user", "anonymous")


@app.get("/whoami")
def whoami():
    gevent.sleep(0.001)
    return f"user={CURRENT_USER}"
