"""A Flask app whose endpoint, rule and view name carry terminal escapes."""

from __future__ import annotations

from flask import Flask

app = Flask(__name__, static_folder=None)


def view() -> str:
    return "ok"


app.add_url_rule("/red\x1b[31m/<int:n>", endpoint="evil\x1b]0;title\x07", view_func=view)
app.add_url_rule("/line\nbreak", endpoint="[bold]markup[/bold]", view_func=view)
