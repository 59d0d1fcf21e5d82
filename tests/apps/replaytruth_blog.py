"""A correct, stateful Flask blog on a real SQLite database.

Everything a real app does that makes two answers to the same request
differ for legitimate reasons: posts created by ``POST /api/posts`` appear
on the list pages, ``/metrics`` counts requests, pages carry the current
time and a request id (body and ``X-Request-Id`` header), the form page
carries a per-session CSRF token signed with a timestamp (as Flask-WTF's
``generate_csrf`` does) in a fresh session cookie, and ``/flaky`` fails on
one request in ten. No request ever sees another request's data:
replayed under threads or greenlets, wsgiscope must find nothing.

The database lives in ``$REPLAYTRUTH_DB`` or a fresh temporary directory.
"""

import datetime
import hashlib
import itertools
import os
import secrets
import sqlite3
import tempfile
import threading
import time
import uuid

from flask import Flask, g, jsonify, request, session, url_for
from itsdangerous import URLSafeTimedSerializer
from markupsafe import escape

app = Flask(__name__)
app.config["SECRET_KEY"] = "replaytruth-blog"
DATABASE = os.environ.get("REPLAYTRUTH_DB") or os.path.join(tempfile.mkdtemp(), "blog.db")
STARTED = time.time()
_metrics_lock = threading.Lock()
REQUESTS_TOTAL: dict[str, int] = {}


def get_db():
    if "db" not in g:
        time.sleep(0.0005)  # a networked database's connection latency: yields under gevent
        g.db = sqlite3.connect(DATABASE, timeout=30)
        g.db.row_factory = sqlite3.Row
    return g.db


@app.teardown_appcontext
def close_db(exc):
    db = g.pop("db", None)
    if db is not None:
        db.close()


def init_db():
    db = sqlite3.connect(DATABASE)
    db.executescript(
        """
        CREATE TABLE IF NOT EXISTS account (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            username TEXT UNIQUE NOT NULL,
            password_hash TEXT NOT NULL
        );
        CREATE TABLE IF NOT EXISTS post (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            title TEXT NOT NULL,
            body TEXT NOT NULL,
            created TEXT NOT NULL
        );
        """
    )
    db.execute(
        "INSERT OR IGNORE INTO account (username, password_hash) VALUES (?, ?)",
        ("ada", hashlib.sha256(b"correct horse").hexdigest()),
    )
    if db.execute("SELECT COUNT(*) FROM post").fetchone()[0] == 0:
        db.execute(
            "INSERT INTO post (title, body, created) VALUES (?, ?, ?)",
            ("Hello world", "The first post.", "2026-01-01T00:00:00"),
        )
    db.commit()
    db.close()


init_db()


@app.before_request
def start():
    g.request_id = uuid.uuid4().hex
    with _metrics_lock:
        REQUESTS_TOTAL[request.path] = REQUESTS_TOTAL.get(request.path, 0) + 1


@app.after_request
def stamp(response):
    response.headers["X-Request-Id"] = g.request_id
    return response


def generate_csrf():
    """Flask-WTF's scheme: a random value in the session, signed with a timestamp."""
    if "csrf_token" not in session:
        session["csrf_token"] = secrets.token_hex(20)
    serializer = URLSafeTimedSerializer(app.secret_key, salt="wtf-csrf-token")
    return serializer.dumps(session["csrf_token"])


def page(title, content):
    now = datetime.datetime.now().isoformat()
    return (
        f"<!doctype html><title>{escape(title)}</title>\n"
        f'<meta name="request-id" content="{g.request_id}">\n'
        f"<h1>{escape(title)}</h1>\n{content}\n"
        f"<footer>Generated at {now} in request {g.request_id}</footer>\n"
    )


@app.get("/")
def index():
    posts = get_db().execute("SELECT id, title, created FROM post ORDER BY id DESC").fetchall()
    items = "\n".join(
        f'<li><a href="{url_for("show", post_id=p["id"])}">{escape(p["title"])}</a> '
        f"<time>{p['created']}</time></li>"
        for p in posts
    )
    return page("Posts", f"<p>{len(posts)} posts</p>\n<ul>\n{items}\n</ul>")


@app.get("/posts/<int:post_id>")
def show(post_id):
    post = get_db().execute("SELECT * FROM post WHERE id = ?", (post_id,)).fetchone()
    if post is None:
        return page("Not found", "<p>No such post.</p>"), 404
    return page(post["title"], f"<article>{escape(post['body'])}</article>")


@app.get("/create")
def create_form():
    token = generate_csrf()
    return page(
        "New post",
        '<form method="post">\n'
        f'<input type="hidden" name="csrf_token" value="{token}">\n'
        '<input name="title"><textarea name="body"></textarea>\n'
        "<button>Create</button>\n</form>",
    )


@app.post("/api/posts")
def create_post():
    data = request.get_json()
    created = datetime.datetime.now().isoformat()
    db = get_db()
    cursor = db.execute(
        "INSERT INTO post (title, body, created) VALUES (?, ?, ?)",
        (data["title"], data["body"], created),
    )
    db.commit()
    response = jsonify(id=cursor.lastrowid, created=created)
    response.status_code = 201
    response.headers["Location"] = url_for("show", post_id=cursor.lastrowid)
    return response


@app.get("/api/posts")
def list_posts():
    posts = get_db().execute("SELECT id, title, created FROM post ORDER BY id").fetchall()
    return jsonify(count=len(posts), posts=[dict(p) for p in posts])


@app.get("/api/time")
def now():
    return jsonify(
        now=datetime.datetime.now(datetime.timezone.utc).isoformat(),
        epoch=time.time(),
        request_id=g.request_id,
        server="replaytruth",
    )


@app.get("/metrics")
def metrics():
    with _metrics_lock:
        counts = dict(REQUESTS_TOTAL)
    lines = ["# TYPE http_requests_total counter"]
    lines += [f'http_requests_total{{path="{p}"}} {n}' for p, n in sorted(counts.items())]
    lines.append(f"process_uptime_seconds {time.time() - STARTED:.6f}")
    return "\n".join(lines) + "\n", 200, {"Content-Type": "text/plain; version=0.0.4"}


FLAKY_CALLS = itertools.count(1)


@app.get("/flaky")
def flaky():
    # one call in ten fails, as a flaky upstream would (counted, not random:
    # the tests' figures must not depend on luck)
    if next(FLAKY_CALLS) % 10 == 0:
        raise RuntimeError("the upstream timed out")
    return "flaky but fine\n"


@app.post("/login")
def login():
    digest = hashlib.sha256(request.form.get("password", "").encode()).hexdigest()
    found = (
        get_db()
        .execute(
            "SELECT id FROM account WHERE username = ? AND password_hash = ?",
            (request.form.get("username"), digest),
        )
        .fetchone()
    )
    if found is None:
        app.logger.warning("failed login: user=%s", request.form.get("username"))
        return page("Log in", "<p>Wrong password.</p>"), 403
    session["user"] = request.form["username"]
    return page("Logged in", f"<p>Welcome {escape(session['user'])}</p>")


@app.get("/account")
def account():
    if "user" not in session:
        return "", 302, {"Location": url_for("login_form")}
    return page("Account", f"<p>Signed in as {escape(session['user'])}</p>")


@app.get("/login")
def login_form():
    return page("Log in", '<form method="post"><input name="username"></form>')
