"""The same app with the user in a ``threading.local``.

Isolated per thread, and per greenlet once gevent has patched ``threading``;
unpatched greenlets share their one thread's local, so it leaks only under
``--greenlets --no-patch`` (the view yields to gevent explicitly, as an app
using a gevent-aware client library without monkey-patching does).
"""

import threading

import gevent
from flask import Flask, request

app = Flask(__name__)
local = threading.local()


@app.before_request
def load_user():
    local.user = request.args.get("user", "anonymous")


@app.get("/whoami")
def whoami():
    gevent.sleep(0.001)
    return f"user={local.user}"
