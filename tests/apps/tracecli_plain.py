"""A plain WSGI app (no framework) that answers with its environ."""


def application(environ, start_response):
    body = f"{environ['REQUEST_METHOD']} {environ['wsgi.url_scheme']}://{environ['HTTP_HOST']}{environ['SCRIPT_NAME']}{environ['PATH_INFO']}".encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
