"""A hostile Flask app: every name and value it shows wsgiscope is an attack.

Endpoint, blueprint and rule text, converter arguments, view docstrings and
qualnames, response headers, the status reason phrase, bodies, log output
to ``wsgi.errors``, exception messages, ``g`` values, cookies, the session
and redirects carry rich markup, terminal control characters (ESC
sequences, NUL, DEL, C1, U+202E, newlines), emoji codes, very long strings
and secrets. ``EVIL`` is the payload; ``SECRET`` is a value that must never
be shown without ``--show-secrets``.
"""

import time

from flask import Blueprint, Flask, g, jsonify, redirect, request, session
from werkzeug.routing import BaseConverter

#: markup, an emoji code, ESC/OSC sequences, NUL, DEL, C1 CSI and NEL, RLO
EVIL = (
    "[bold red]x[/] [link=http://evil]click[/link] :smile: "
    "\x1b[31mRED\x1b]0;pwned\x07 nul\x00 del\x7f c1\x9b31m nel\x85 rlo\u202e"
)
#: a newline that would forge a tree line
FORGE = "ok\n│   └── FORGED LINE"
#: a value far longer than any cap
LONG = "L" * 20000
SECRET = "s3cr3t-TOKEN-42"


class EvilConverter(BaseConverter):
    """A converter whose URLs carry the payload."""

    def __init__(self, url_map, *items):
        super().__init__(url_map)
        self.items = items

    def to_python(self, value):
        return value

    def to_url(self, value):
        return value


app = Flask("outsafe_flask")
app.secret_key = "dev-not-secret"
app.url_map.converters["evil"] = EvilConverter

bp = Blueprint("bp_smile_:smile:", __name__, url_prefix="/bp")


@bp.route("/[bold]b[/]", endpoint="[link=http://evil]ep[/link]:smile:")
def bp_view():
    """Docstring [bold red]x[/] \x1b[31mRED :smile:"""
    return "bp"


app.register_blueprint(bp)


def _hostile_view(arg):
    """View doc [bold red]x[/] \x1b]0;pwned\x07 :smile:"""
    g.note = EVIL
    g.api_token = SECRET
    g.big = LONG
    session["user"] = SECRET
    app.logger.warning("log %s", EVIL)
    request.environ["wsgi.errors"].write("errors " + EVIL + "\n" + FORGE + "\n")
    resp = jsonify(evil=EVIL, long=LONG, password=SECRET)
    # latin-1 only: a real server cannot send the rest (werkzeug's hangs up)
    resp.headers["X-Evil"] = EVIL.encode("latin-1", "ignore").decode("latin-1")
    resp.headers["X-Long"] = LONG
    resp.headers["X-Api-Key"] = SECRET
    resp.set_cookie("session_id", SECRET)
    resp.status = "299 [bold red]Reason[/] \x1b[2J :smile:"
    return resp


_hostile_view.__qualname__ = "Evil[bold red]Qual[/]\x1b[31m:smile:"
app.add_url_rule(
    "/evil/[bold red]x[/]:smile:/<evil('[b]a[/b]','\x1b[31m'):arg>",
    endpoint="[bold red]evil[/]:smile:\x1b[31m",
    view_func=_hostile_view,
    methods=["GET", "POST"],
)


@app.route("/login", methods=["POST"])
def login():
    """Echo the form or JSON fields it got (a password among them)."""
    data = request.get_json(silent=True) or request.form.to_dict()
    return jsonify(got=data, auth=request.headers.get("Authorization"))


@app.route("/go")
def go():
    """Redirect to a URL whose query carries a token."""
    return redirect(f"/x?token={SECRET}&next=%1b[31m")


@app.route("/boom")
def boom():
    """Raise an exception whose message is hostile."""
    raise RuntimeError("boom " + EVIL + "\n" + FORGE + LONG)


@app.route("/plain")
def plain():
    """A plain text body with the payload (no NUL: that makes it binary) and a huge tail."""
    return EVIL.replace("\x00", "") + FORGE + LONG, 200, {"Content-Type": "text/plain"}


@app.teardown_request
def _teardown(exc):
    """A teardown that sees the exception."""
    g.torn = EVIL


CURRENT = {"user": None}


@app.route("/whoami")
def whoami():
    """Keep the user in a global (it leaks under concurrency), answer with the payload."""
    CURRENT["user"] = request.args.get("user", "anonymous")
    time.sleep(0.002)
    return f"user={CURRENT['user']} {EVIL} {FORGE}"


@app.route("/me")
def me():
    """Answer with the current user's token: it diverges under concurrency."""
    user = request.args.get("user", "anonymous")
    CURRENT["user"] = user
    time.sleep(0.002)
    return jsonify(user=CURRENT["user"], token=f"{SECRET}-{CURRENT['user']}")
