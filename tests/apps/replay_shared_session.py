"""A Flask app whose session interface hands every request one session object.

A cache gone wrong: ``open_session`` keeps the first session it made and
returns it to every later request, so one user's session is another's. The
responses stay right (the view sets the user before reading it back), so
only the context check can tell: every request after the first sees a
session that another replayed request started with.
"""

from flask import Flask, request, session
from flask.sessions import SecureCookieSessionInterface


class CachingSessionInterface(SecureCookieSessionInterface):
    cached = None

    def open_session(self, app, request):
        if self.cached is None:
            self.cached = super().open_session(app, request)
        return self.cached


app = Flask(__name__)
app.secret_key = "replay-tests"
app.session_interface = CachingSessionInterface()


@app.get("/visit")
def visit():
    session["user"] = request.args.get("user", "anonymous")
    return f"user={session['user']}"
