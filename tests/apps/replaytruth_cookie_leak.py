"""A Flask app that leaks one user's cookie to another through a module global.

``/login?user=NAME`` answers the same body to everyone; only the
``Set-Cookie`` header names the user, and it is read from a module global
after a yield (a database call, in a real app): under threads or patched
greenlets another user's cookie is sent.
"""

import gevent
from flask import Flask, make_response, request

app = Flask(__name__)
LAST_USER = None


@app.get("/login")
def login():
    global LAST_USER
    LAST_USER = request.args["user"]
    gevent.sleep(0.001)
    response = make_response("<p>Welcome back!</p>\n")
    response.set_cookie("user", LAST_USER, httponly=True)
    return response
