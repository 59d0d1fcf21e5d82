"""Apps wrapped and mounted in the ways ``wsgiscope info`` must see through."""

from flask import Flask
from werkzeug.middleware.dispatcher import DispatcherMiddleware
from werkzeug.middleware.proxy_fix import ProxyFix


class Timing:
    """A user's own middleware, holding the wrapped app as ``.app``."""

    def __init__(self, app):
        self.app = app

    def __call__(self, environ, start_response):
        return self.app(environ, start_response)


def plain(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"plain"]


shop = Flask("shop")
proxied = ProxyFix(Timing(shop))

inplace = Flask("inplace")
inplace.wsgi_app = ProxyFix(inplace.wsgi_app)

api = Flask("api")
front = Flask("front")
front.wsgi_app = DispatcherMiddleware(front.wsgi_app, {"/api": api})

inner = DispatcherMiddleware(Flask("one"), {"/b": Flask("two")})
nested = DispatcherMiddleware(plain, {"/a": inner, "/z": Timing(plain)})
