"""A Flask app with a request it takes half a second over (`/stall`, a lock
or a slow query), one it never finishes in time (`/hang`, 30 s: only a
second Ctrl-C gets out) and a quick one (`/fast`).

With ``$REPLAY_MARKER`` set, ``/hang`` creates that file when it begins.
"""

import os
import time

from flask import Flask

app = Flask(__name__)
MARKER = os.environ.get("REPLAY_MARKER")


@app.get("/fast")
def fast():
    return "fast"


@app.get("/stall")
def stall():
    time.sleep(0.5)
    return "late"


@app.get("/hang")
def hang():
    if MARKER:
        open(MARKER, "a").close()
    time.sleep(30)
    return "never"
