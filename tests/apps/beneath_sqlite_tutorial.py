"""The Flask tutorial's way with plain sqlite3: ``get_db()`` opens a connection
per request into ``g``, a ``teardown_appcontext`` closes it."""

from __future__ import annotations

import os
import sqlite3
import tempfile

from flask import Flask, g

DATABASE = os.path.join(tempfile.mkdtemp(prefix="wsgiscope-tutorial-"), "flaskr.sqlite")

SCHEMA = """
CREATE TABLE user (id INTEGER PRIMARY KEY, username TEXT, password TEXT);
CREATE TABLE post (id INTEGER PRIMARY KEY, author_id INTEGER, title TEXT);
"""

app = Flask("flaskr")


def init_db() -> None:
    db = sqlite3.connect(DATABASE)
    db.executescript(SCHEMA)
    db.executemany(
        "INSERT INTO user (username, password) VALUES (?, ?)",
        [("ada", "pbkdf2:one"), ("bob", "pbkdf2:two")],
    )
    db.executemany(
        "INSERT INTO post (author_id, title) VALUES (?, ?)", [(1, "hello"), (2, "again"), (1, "3")]
    )
    db.commit()
    db.close()


def get_db() -> sqlite3.Connection:
    if "db" not in g:
        g.db = sqlite3.connect(DATABASE)
        g.db.row_factory = sqlite3.Row
    return g.db


@app.teardown_appcontext
def close_db(exc: BaseException | None) -> None:
    db = g.pop("db", None)
    if db is not None:
        db.close()


@app.get("/")
def index() -> str:
    posts = get_db().execute("SELECT id, author_id, title FROM post ORDER BY id").fetchall()
    names = []
    for post in posts:  # one query per post: an N+1
        user = get_db().execute("SELECT username FROM user WHERE id = ?", (post["author_id"],))
        names.append(user.fetchone()["username"])
    return ", ".join(names)


@app.get("/user/<int:user_id>/posts")
def user_posts(user_id: int) -> str:
    db = get_db()
    posts = db.execute("SELECT id, title FROM post WHERE author_id = ?", (user_id,)).fetchall()
    titles = []
    for post in posts:  # one more query per post: how many depends on the data
        author = db.execute("SELECT username FROM user WHERE id = ?", (user_id,)).fetchone()
        titles.append(f"{post['title']} by {author['username']}")
    return ", ".join(titles)


@app.post("/login")
def login() -> str:
    row = (
        get_db()
        .execute("SELECT id FROM user WHERE username = ? AND password = ?", ("ada", "pbkdf2:one"))
        .fetchone()
    )
    return "ok" if row else "no"


init_db()
