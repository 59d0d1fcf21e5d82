"""A plain WSGI app keeping the request's name in a module global (leaks)."""

import time

CURRENT = {"name": None}


def application(environ, start_response):
    CURRENT["name"] = environ["QUERY_STRING"]
    time.sleep(0.001)
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [CURRENT["name"].encode()]
