"""A plain WSGI app (no framework) that counts nothing and echoes the path."""

STATE = {}


def application(environ, start_response):
    if environ["PATH_INFO"] == "/boom":
        raise RuntimeError("boom")
    if environ["PATH_INFO"] == "/fail":
        start_response("503 Service Unavailable", [("Content-Type", "text/plain")])
        return [b"down"]
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [environ["PATH_INFO"].encode(), b"?", environ["QUERY_STRING"].encode()]
