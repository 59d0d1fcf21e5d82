"""A hand-written WSGI export service whose responses real servers refuse
(#15 point 7): each route makes one mistake a framework would have
prevented. ``wsgiscope trace`` must exit 1 on them and say what werkzeug's
and gunicorn's servers do (the tests run this app under both to know).

    wsgiscope trace tests/apps/tracetruth_refusals.py /export/report.csv
"""

from __future__ import annotations

import typing as t
from urllib.parse import parse_qs

ROWS = [("sku", "name", "stock"), ("A-1", "kettle", "3"), ("B-2", "teapot", "0")]
TEXT = [("Content-Type", "text/plain; charset=utf-8")]

StartResponse = t.Callable[..., t.Any]


def report_csv(environ: dict[str, t.Any], start_response: StartResponse) -> t.Iterable[t.Any]:
    # str rows instead of bytes (WSGI301)
    start_response("200 OK", [("Content-Type", "text/csv")])
    return [",".join(row) + "\n" for row in ROWS]


def stream(environ: dict[str, t.Any], start_response: StartResponse) -> t.Iterable[bytes]:
    # an error page started after the body began, without exc_info (WSGI202)
    start_response("200 OK", list(TEXT))
    for index, row in enumerate(ROWS):
        if index == 2:
            start_response("500 Internal Server Error", list(TEXT))
            yield b"export failed\n"
            return
        yield (",".join(row) + "\n").encode()


def legacy(environ: dict[str, t.Any], start_response: StartResponse) -> t.Iterable[bytes]:
    # the write() callable given a str (WSGI502)
    write = start_response("200 OK", list(TEXT))
    write("exported 2 rows\n")
    return []


def raw(environ: dict[str, t.Any], start_response: StartResponse) -> t.Any:
    # the body returned as one bytes object: iterating it gives ints (WSGI102)
    start_response("200 OK", list(TEXT))
    return b"A-1,kettle,3\n"


def greet(environ: dict[str, t.Any], start_response: StartResponse) -> t.Iterable[bytes]:
    # a header value that latin-1 cannot encode (WSGI208)
    city = parse_qs(environ.get("QUERY_STRING", "")).get("city", ["Łódź"])[0]
    start_response("200 OK", [*TEXT, ("X-City", city)])
    return [f"hello from {city}\n".encode()]


def status(environ: dict[str, t.Any], start_response: StartResponse) -> t.Iterable[bytes]:
    # an int status (WSGI203)
    start_response(200, list(TEXT))
    return [b"ok\n"]


def count(environ: dict[str, t.Any], start_response: StartResponse) -> t.Iterable[bytes]:
    # an int header value (WSGI205)
    start_response("200 OK", [*TEXT, ("X-Row-Count", len(ROWS))])
    return [b"3 rows\n"]


def meta(environ: dict[str, t.Any], start_response: StartResponse) -> t.Iterable[bytes]:
    # headers as a dict (WSGI204)
    start_response("200 OK", dict(TEXT))
    return [b"{}\n"]


def label(environ: dict[str, t.Any], start_response: StartResponse) -> t.Iterable[bytes]:
    # a header name that is not an HTTP token (WSGI206)
    start_response("200 OK", [*TEXT, ("X Export Label", "spring")])
    return [b"spring\n"]


def back(environ: dict[str, t.Any], start_response: StartResponse) -> t.Iterable[bytes]:
    # a redirect target taken from the query, CR LF and all (WSGI207)
    target = parse_qs(environ.get("QUERY_STRING", "")).get("next", ["/ok"])[0]
    start_response("302 Found", [*TEXT, ("Location", target)])
    return [b"see other\n"]


def forgot(environ: dict[str, t.Any], start_response: StartResponse) -> t.Iterable[bytes]:
    # no start_response at all (WSGI201)
    return [b"forgot the headers\n"]


def nothing(environ: dict[str, t.Any], start_response: StartResponse) -> t.Any:
    # a forgotten return (WSGI101)
    start_response("200 OK", list(TEXT))


def ok(environ: dict[str, t.Any], start_response: StartResponse) -> t.Iterable[bytes]:
    start_response("200 OK", list(TEXT))
    return [b"fine\n"]


ROUTES = {
    "/export/report.csv": report_csv,
    "/export/stream": stream,
    "/export/legacy": legacy,
    "/export/raw": raw,
    "/greet": greet,
    "/status": status,
    "/count": count,
    "/export/meta": meta,
    "/export/label": label,
    "/back": back,
    "/forgot": forgot,
    "/nothing": nothing,
    "/ok": ok,
}


def app(environ: dict[str, t.Any], start_response: StartResponse) -> t.Any:
    handler = ROUTES.get(environ.get("PATH_INFO", ""))
    if handler is None:
        start_response("404 Not Found", list(TEXT))
        return [b"not found\n"]
    return handler(environ, start_response)
