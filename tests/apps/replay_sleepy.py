"""A Flask view that sleeps 10 ms with ``time.sleep`` (a blocking call)."""

import time

from flask import Flask

app = Flask(__name__)


@app.get("/slow")
def slow():
    time.sleep(0.01)
    return "done"


@app.get("/fast")
def fast():
    return "fast"
