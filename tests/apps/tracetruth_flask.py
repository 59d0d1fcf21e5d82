"""A Flask notes app for the tracetruth tests (#15 points 5, 6 and 8).

An application factory, two blueprints, a real SQLite database opened per
request on ``g`` and closed by ``teardown_appcontext``, a form that answers
400 through ``abort`` and a raised ``BadRequest``, pages with non-ASCII
paths, and a report that fails with an unhandled error, which Flask logs
with ``app.logger.exception`` (to ``wsgi.errors``).

    wsgiscope trace tests/apps/tracetruth_flask.py '/tags/café'
"""

from __future__ import annotations

import os
import sqlite3
import tempfile

from flask import Blueprint, Flask, abort, current_app, g, jsonify, request
from werkzeug.exceptions import BadRequest

notes = Blueprint("notes", __name__, url_prefix="/notes")
tags = Blueprint("tags", __name__, url_prefix="/tags")


def get_db() -> sqlite3.Connection:
    if "db" not in g:
        g.db = sqlite3.connect(current_app.config["DATABASE"])
        g.db.execute(
            "CREATE TABLE IF NOT EXISTS note (id INTEGER PRIMARY KEY, title TEXT, tag TEXT)"
        )
    return g.db


def close_db(exc: BaseException | None = None) -> None:
    db = g.pop("db", None)
    if db is not None:
        db.close()


@notes.before_request
def load_owner() -> None:
    # A bug: a malformed header is not handled (500, logged by Flask).
    g.owner = int(request.headers.get("X-Owner-Id", "0"))


@notes.post("/")
def create():
    title = request.form.get("title", "").strip()
    if not title:
        abort(400, description="a note needs a title")
    tag = request.form.get("tag", "")
    if len(tag) > 20:
        raise BadRequest("tag too long")
    db = get_db()
    with db:
        cur = db.execute("INSERT INTO note (title, tag) VALUES (?, ?)", (title, tag))
    return jsonify(id=cur.lastrowid, title=title, tag=tag), 201


@notes.get("/<int:note_id>")
def show(note_id: int):
    row = get_db().execute("SELECT title, tag FROM note WHERE id = ?", (note_id,)).fetchone()
    if row is None:
        abort(404)
    return jsonify(title=row[0], tag=row[1])


@notes.get("/report")
def report():
    count = get_db().execute("SELECT COUNT(*) FROM note").fetchone()[0]
    # A bug: the average of nothing.
    return jsonify(average=100 / count)


@tags.get("/<name>")
def by_tag(name: str):
    rows = get_db().execute("SELECT title FROM note WHERE tag = ?", (name,)).fetchall()
    return jsonify(tag=name, path=request.path, q=request.args.get("q"), notes=[r[0] for r in rows])


def create_app(database: str | None = None) -> Flask:
    app = Flask(__name__)
    app.config["DATABASE"] = database or os.environ.get(
        "TRACETRUTH_DB", os.path.join(tempfile.gettempdir(), "tracetruth_notes.sqlite3")
    )
    app.register_blueprint(notes)
    app.register_blueprint(tags)
    app.teardown_appcontext(close_db)
    return app


app = create_app()
