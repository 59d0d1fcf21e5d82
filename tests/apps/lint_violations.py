"""One tiny WSGI app per lint rule, each breaking exactly that rule.

``CASES`` maps an app name to the rule it must trigger and the phase the
finding must be reported in.
"""

import contextlib
import io
import sys

OK = "200 OK"
TEXT = [("Content-Type", "text/plain")]


def _ok(start_response, headers=None):
    start_response(OK, list(TEXT if headers is None else headers))


def returns_none(environ, start_response):
    _ok(start_response)


def returns_int(environ, start_response):
    _ok(start_response)
    return 3


class _IterRaises:
    def __iter__(self):
        raise RuntimeError("iter boom")


def iter_raises(environ, start_response):
    _ok(start_response)
    return _IterRaises()


def returns_bytes(environ, start_response):
    _ok(start_response, [*TEXT, ("Content-Length", "2")])
    return b"hi"


def returns_str(environ, start_response):
    _ok(start_response)
    return "hi"


def app_raises(environ, start_response):
    raise ValueError("view failed")


def body_raises_after_headers(environ, start_response):
    _ok(start_response)

    def body():
        yield b"partial"
        raise OSError("disk gone")

    return body()


def body_before_start_response(environ, start_response):
    def body():
        yield b"early"
        _ok(start_response)

    return body()


def never_starts(environ, start_response):
    return []


def starts_twice(environ, start_response):
    _ok(start_response)
    start_response("500 Internal Server Error", list(TEXT))
    return [b"x"]


def status_int(environ, start_response):
    start_response(200, list(TEXT))
    return [b"x"]


def status_no_reason(environ, start_response):
    start_response("200", list(TEXT))
    return [b"x"]


def status_crlf(environ, start_response):
    start_response("200 OK\r\n", list(TEXT))
    return [b"x"]


def headers_dict(environ, start_response):
    start_response(OK, {"Content-Type": "text/plain"})
    return [b"x"]


def header_value_int(environ, start_response):
    start_response(OK, [*TEXT, ("Content-Length", 1)])
    return [b"x"]


def header_name_space(environ, start_response):
    start_response(OK, [*TEXT, ("X Bad", "v")])
    return [b"x"]


def header_injection(environ, start_response):
    start_response(OK, [*TEXT, ("X-Next", "a\r\nSet-Cookie: evil=1")])
    return [b"x"]


def header_not_latin1(environ, start_response):
    start_response(OK, [*TEXT, ("X-Name", "caf\u20ac")])
    return [b"x"]


def hop_by_hop(environ, start_response):
    start_response(OK, [*TEXT, ("Connection", "close")])
    return [b"x"]


def transfer_encoding(environ, start_response):
    start_response(OK, [*TEXT, ("Transfer-Encoding", "chunked")])
    return [b"x"]


def exc_info_string(environ, start_response):
    start_response(OK, list(TEXT), "oops")
    return [b"x"]


def swallows_reraise(environ, start_response):
    _ok(start_response)

    def body():
        yield b"first"
        try:
            raise KeyError("late")
        except KeyError:
            with contextlib.suppress(KeyError):  # must not be caught
                start_response("500 Internal Server Error", list(TEXT), sys.exc_info())
        yield b"more"

    return body()


def start_response_kwargs(environ, start_response):
    start_response(status=OK, response_headers=list(TEXT))
    return [b"x"]


def no_content_type(environ, start_response):
    start_response(OK, [])
    return [b"x"]


def content_length_bad(environ, start_response):
    start_response(OK, [*TEXT, ("Content-Length", "-1")])
    return [b""]


def chunk_str(environ, start_response):
    _ok(start_response)
    return ["text"]


def content_length_mismatch(environ, start_response):
    start_response(OK, [*TEXT, ("Content-Length", "10")])
    return [b"short"]


def head_with_body(environ, start_response):
    _ok(start_response)
    return [b"body for everyone"]


def no_content_with_body(environ, start_response):
    start_response("204 No Content", [])
    return [b"surprise"]


def not_modified_with_body(environ, start_response):
    start_response("304 Not Modified", [])
    return [b"stale"]


def endless(environ, start_response):
    _ok(start_response)

    def body():
        while True:
            yield b"x" * 1024

    return body()


def endless_empty(environ, start_response):
    _ok(start_response)

    def body():
        while True:
            yield b""

    return body()


class _FileBody:
    """Holds an open file but has no close()."""

    def __init__(self):
        self.file = io.BytesIO(b"data")

    def __iter__(self):
        return iter([self.file.read()])


def file_without_close(environ, start_response):
    _ok(start_response)
    return _FileBody()


class _GeneratorIter:
    """__iter__ is a generator: its finally only runs at exhaustion or GC."""

    def __iter__(self):
        try:
            yield b"data"
        finally:
            pass


def generator_iter_without_close(environ, start_response):
    _ok(start_response)
    return _GeneratorIter()


class _CloseRaises:
    def __iter__(self):
        return iter([b"x"])

    def close(self):
        raise RuntimeError("close boom")


def close_raises(environ, start_response):
    _ok(start_response)
    return _CloseRaises()


def write_after_return(environ, start_response):
    write = start_response(OK, list(TEXT))

    def body():
        write(b"late")
        yield b""

    return body()


def write_str(environ, start_response):
    write = start_response(OK, list(TEXT))
    write("text")
    return []


def reads_past_length(environ, start_response):
    stream = environ["wsgi.input"]
    while stream.read(8192):
        pass
    _ok(start_response)
    return [b"x"]


def closes_input(environ, start_response):
    environ["wsgi.input"].close()
    _ok(start_response)
    return [b"x"]


def errors_bytes(environ, start_response):
    environ["wsgi.errors"].write(b"bytes")
    _ok(start_response)
    return [b"x"]


def readline_two_args(environ, start_response):
    with contextlib.suppress(TypeError):
        environ["wsgi.input"].readline(10, 20)
    _ok(start_response)
    return [b"x"]


def mutates_environ(environ, start_response):
    environ["wsgi.multithread"] = not environ["wsgi.multithread"]
    del environ["SERVER_PROTOCOL"]
    _ok(start_response)
    return [b"x"]


def requires_query_string(environ, start_response):
    query = environ["QUERY_STRING"]
    _ok(start_response)
    return [query.encode()]


def requires_content_type(environ, start_response):
    """Catches its own KeyError and answers 500, as frameworks do."""
    try:
        kind = environ["CONTENT_TYPE"]
    except KeyError:
        start_response("500 Internal Server Error", list(TEXT))
        return [b"error"]
    _ok(start_response)
    return [kind.encode() or b"-"]


#: app name -> (rule, phase, method)
CASES = {
    "returns_none": ("WSGI101", "call", "GET"),
    "returns_int": ("WSGI101", "call", "GET"),
    "iter_raises": ("WSGI101", "body", "GET"),
    "returns_bytes": ("WSGI102", "call", "GET"),
    "returns_str": ("WSGI102", "call", "GET"),
    "app_raises": ("WSGI103", "call", "GET"),
    "body_raises_after_headers": ("WSGI104", "body", "GET"),
    "body_before_start_response": ("WSGI201", "body", "GET"),
    "never_starts": ("WSGI201", "body", "GET"),
    "starts_twice": ("WSGI202", "start_response", "GET"),
    "status_int": ("WSGI203", "start_response", "GET"),
    "status_no_reason": ("WSGI203", "start_response", "GET"),
    "status_crlf": ("WSGI203", "start_response", "GET"),
    "headers_dict": ("WSGI204", "start_response", "GET"),
    "header_value_int": ("WSGI205", "start_response", "GET"),
    "header_name_space": ("WSGI206", "start_response", "GET"),
    "header_injection": ("WSGI207", "start_response", "GET"),
    "header_not_latin1": ("WSGI208", "start_response", "GET"),
    "hop_by_hop": ("WSGI209", "start_response", "GET"),
    "transfer_encoding": ("WSGI209", "start_response", "GET"),
    "exc_info_string": ("WSGI210", "start_response", "GET"),
    "swallows_reraise": ("WSGI211", "start_response", "GET"),
    "start_response_kwargs": ("WSGI212", "start_response", "GET"),
    "no_content_type": ("WSGI213", "body", "GET"),
    "content_length_bad": ("WSGI214", "start_response", "GET"),
    "chunk_str": ("WSGI301", "body", "GET"),
    "content_length_mismatch": ("WSGI302", "body", "GET"),
    "head_with_body": ("WSGI303", "body", "HEAD"),
    "no_content_with_body": ("WSGI304", "body", "GET"),
    "not_modified_with_body": ("WSGI304", "body", "GET"),
    "endless": ("WSGI305", "body", "GET"),
    "endless_empty": ("WSGI305", "body", "GET"),
    "file_without_close": ("WSGI401", "body", "GET"),
    "generator_iter_without_close": ("WSGI401", "body", "GET"),
    "close_raises": ("WSGI402", "close", "GET"),
    "write_after_return": ("WSGI501", "write", "GET"),
    "write_str": ("WSGI502", "write", "GET"),
    "reads_past_length": ("WSGI601", "input", "POST"),
    "closes_input": ("WSGI602", "input", "GET"),
    "errors_bytes": ("WSGI603", "errors", "GET"),
    "readline_two_args": ("WSGI604", "input", "GET"),
    "mutates_environ": ("WSGI701", "environ", "GET"),
    "requires_query_string": ("WSGI702", "call", "GET"),
    "requires_content_type": ("WSGI702", "environ", "GET"),
}


def raises_escape(environ, start_response):
    """An exception message with terminal escapes and a newline."""
    raise ValueError("\x1b[2J\nforged line")


def etag_unquoted(environ, start_response):
    start_response("200 OK", [*TEXT, ("ETag", "v1")])
    return [b"x"]


def not_modified_with_content_type(environ, start_response):
    start_response("304 Not Modified", [("Content-Type", "text/html"), ("ETag", 'W/"v1"')])
    return []


CASES["etag_unquoted"] = ("WSGI215", "start_response", "GET")
CASES["not_modified_with_content_type"] = ("WSGI216", "start_response", "GET")


def header_value_tab(environ, start_response):
    """HTTP allows a tab in a value; PEP 3333 allows no control character."""
    start_response("200 OK", [*TEXT, ("X-Note", "a\tb")])
    return [b"x"]


def no_content_with_length(environ, start_response):
    start_response("204 No Content", [("Content-Length", "3")])
    return []


def informational_with_length(environ, start_response):
    start_response("103 Early Hints", [("Content-Length", "5")])
    return []


CASES["header_value_tab"] = ("WSGI207", "start_response", "GET")
CASES["no_content_with_length"] = ("WSGI304", "body", "GET")
CASES["informational_with_length"] = ("WSGI304", "body", "GET")


def breaks_path_info(environ, start_response):
    """Rewrites routing keys (allowed) to values no server could send."""
    environ["PATH_INFO"] = "index" + environ["PATH_INFO"]
    _ok(start_response)
    return [b"x"]


CASES["breaks_path_info"] = ("WSGI701", "environ", "GET")


def requires_remote_addr(environ, start_response):
    """REMOTE_ADDR is a CGI variable PEP 3333 does not require."""
    client = environ["REMOTE_ADDR"]
    _ok(start_response)
    return [client.encode()]


CASES["requires_remote_addr"] = ("WSGI702", "call", "GET")
