"""A Flask view that sleeps 10 ms with ``time.sleep`` (a blocking call).

With ``$REPLAY_MARKER`` set, ``/slow`` creates that file: a test knows the
replay has begun serving (not still starting) before it presses Ctrl-C.
"""

import os
import time

from flask import Flask

app = Flask(__name__)
MARKER = os.environ.get("REPLAY_MARKER")


@app.get("/slow")
def slow():
    if MARKER:
        open(MARKER, "a").close()
    time.sleep(0.01)
    return "done"


@app.get("/fast")
def fast():
    return "fast"
