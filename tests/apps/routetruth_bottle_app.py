"""A Bottle app whose named route ``archive`` has two rules (``/archive`` and
``/archive/<year:int>``): ``get_url("archive")`` builds the last one added."""

from __future__ import annotations

import bottle

app = bottle.Bottle()


@app.route("/archive", name="archive")
@app.route("/archive/<year:int>", name="archive")
def archive(year: int = 2024) -> dict[str, object]:
    return {"rule": bottle.request.route.rule, "year": year}


@app.route("/")
def home() -> dict[str, object]:
    return {"rule": bottle.request.route.rule}
