"""Small apps for the trace command's edge cases.

- ``stream``: an endless streaming response that records its ``close()``;
- ``unavailable``: a Flask app answering 503 without raising;
- ``crash``: a plain WSGI app whose exception propagates out;
- ``interrupt``: a plain WSGI app interrupted by Ctrl-C (SIGINT) while it runs;
- ``own_keyboard_interrupt``: a plain WSGI app raising KeyboardInterrupt itself;
- ``sleepy``: a Flask app whose view announces itself in the file named by
  ``$TRACECLI_READY`` and then sleeps (for a real Ctrl-C), with a teardown;
- ``hop_by_hop``: a plain WSGI app breaking PEP 3333 (a hop-by-hop header);
- ``evil``: a Flask app that reflects the request into its response headers
  and body, sets a session and cookies, and logs.
"""

import itertools
import os
import signal
import time

from flask import Flask, g, jsonify, request, session

CLOSED = []


class Endless:
    """An endless body whose close() is recorded."""

    def __iter__(self):
        for n in itertools.count():
            yield b"chunk %08d\n" % n

    def close(self):
        CLOSED.append(True)


def stream(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return Endless()


unavailable = Flask("unavailable")


@unavailable.get("/")
def down():
    return "try later", 503


def crash(environ, start_response):
    raise LookupError("no such thing: \x1b]0;pwned\x07[bold]x[/bold]")


def interrupt(environ, start_response):
    """The user presses Ctrl-C (a real SIGINT) while the app runs."""
    os.kill(os.getpid(), signal.SIGINT)
    time.sleep(5)  # the signal's handler raises before this ends


def own_keyboard_interrupt(environ, start_response):
    """An app that raises KeyboardInterrupt itself: its error, not a Ctrl-C."""
    raise KeyboardInterrupt("raised by the app")


def hop_by_hop(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain"), ("Connection", "close")])
    return [b"ok"]


evil = Flask("evil")
evil.config["SECRET_KEY"] = "test-only"
# Answer every path itself: a redirect would echo the query (secrets included)
# back in its Location and body, which is the app's output, not wsgiscope's.
evil.url_map.merge_slashes = False
evil.url_map.strict_slashes = False


@evil.route("/<path:anything>", methods=["GET", "POST"])
@evil.route("/", methods=["GET", "POST"])
def reflect(anything=""):
    session["token"] = request.headers.get("X-Session-Token", "none")
    g.api_key = request.headers.get("X-Api-Key", "none")
    evil.logger.warning("reflecting %s", request.path)
    response = jsonify(path=request.path, evil=request.headers.get("X-Evil", ""))
    response.headers["X-Reflected"] = (
        request.headers.get("X-Evil", "").encode("latin-1").decode("latin-1")
    )
    response.set_cookie("auth", request.headers.get("X-Session-Token", "none"))
    return response


sleepy = Flask("sleepy")


@sleepy.get("/slow")
def slow():
    with open(os.environ["TRACECLI_READY"], "w") as ready:
        ready.write("in the view")
    time.sleep(30)
    return "too late"


@sleepy.teardown_request
def close_connection(exc):
    pass
