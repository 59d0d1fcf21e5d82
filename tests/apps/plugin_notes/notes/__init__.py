"""A small notes app shaped like the Flask tutorial: a factory, a blueprint,
a real SQLite database opened per request on ``g`` and closed in
``teardown_appcontext``, a session login."""

import os
import sqlite3

from flask import Blueprint, Flask, current_app, g, redirect, request, session, url_for

bp = Blueprint("notes", __name__)


def get_db():
    if "db" not in g:
        g.db = sqlite3.connect(current_app.config["DATABASE"])
        g.db.execute(
            "CREATE TABLE IF NOT EXISTS note (id INTEGER PRIMARY KEY, owner TEXT, body TEXT)"
        )
    return g.db


def close_db(exc=None):
    db = g.pop("db", None)
    if db is not None:
        db.close()


@bp.before_app_request
def load_user():
    g.user = session.get("user")


@bp.post("/login")
def login():
    session["user"] = request.form["name"]
    return redirect(url_for("notes.index"), 303)  # See Other (Flask 3.2 defaults to it)


@bp.get("/")
def index():
    rows = get_db().execute("SELECT body FROM note WHERE owner = ?", (g.user,)).fetchall()
    greeting = os.environ.get("NOTES_GREETING", "hello")
    return {"greeting": greeting, "user": g.user, "notes": [body for (body,) in rows]}


@bp.post("/notes")
def add():
    db = get_db()
    db.execute("INSERT INTO note (owner, body) VALUES (?, ?)", (g.user, request.form["body"]))
    db.commit()
    return redirect(url_for("notes.index"), 303)  # See Other (Flask 3.2 defaults to it)


@bp.get("/boom")
def boom():
    raise RuntimeError("the database is on fire")


@bp.after_app_request
def no_store(response):
    response.headers["Cache-Control"] = "no-store"
    return response


def create_app(database=None):
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY="dev",
        DATABASE=database or os.environ.get("NOTES_DATABASE", ":memory:"),
    )
    app.register_blueprint(bp)
    app.teardown_appcontext(close_db)
    return app
