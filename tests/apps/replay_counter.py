"""A plain WSGI app whose every answer differs (a counter): nothing is stable."""

import itertools

COUNTER = itertools.count()


def application(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [str(next(COUNTER)).encode()]
