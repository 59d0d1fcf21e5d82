"""A CPU-bound Flask view: threads take turns on the GIL (replay's warning)."""

from flask import Flask

app = Flask(__name__)


@app.get("/digest")
def digest() -> str:
    total = 0
    for i in range(20_000):
        total = (total * 31 + i) % 1_000_003
    return str(total)
