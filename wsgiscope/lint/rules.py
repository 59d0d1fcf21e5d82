"""The lint rules: stable ids, severities, one-line summaries and explanations.

Every finding names a rule from :data:`RULES` by its id (``WSGI203``); the
slug (``status-format``) is an alias accepted wherever an id is. Ids never
change meaning once released: a retired rule keeps its number unused.

Ids are grouped by the part of the WSGI conversation they check:

* ``WSGI1xx`` the application call and the object it returns
* ``WSGI2xx`` ``start_response``: status, headers, ``exc_info``
* ``WSGI3xx`` the response body
* ``WSGI4xx`` ``close()``
* ``WSGI5xx`` the legacy ``write()`` callable
* ``WSGI6xx`` ``wsgi.input`` and ``wsgi.errors``
* ``WSGI7xx`` the environ

``error`` marks a violation of a PEP 3333 MUST (a conforming server may fail
the request or the connection); ``warning`` a SHOULD, an HTTP rule, or a
robustness problem. Sections name PEP 3333 headings
(https://peps.python.org/pep-3333/).

.. versionadded:: 0.1
"""

from __future__ import annotations

import dataclasses
import typing as t

Severity = t.Literal["error", "warning"]


@dataclasses.dataclass(frozen=True)
class Rule:
    """One lint rule.

    :param id: the stable id, e.g. ``"WSGI203"``.
    :param name: the slug alias, e.g. ``"status-format"``.
    :param severity: ``"error"`` or ``"warning"``.
    :param summary: one line: what is wrong.
    :param section: where the rule comes from (PEP 3333 section or RFC).
    :param explanation: the longer text ``lint --explain`` prints.
    """

    id: str
    name: str
    severity: Severity
    summary: str
    section: str
    explanation: str

    def to_json(self) -> dict[str, str]:
        """The rule as a JSON object."""
        return dataclasses.asdict(self)


_PEP = "PEP 3333"

RULES: tuple[Rule, ...] = (
    Rule(
        "WSGI101",
        "not-iterable",
        "error",
        "the application returned something that is not an iterable of bytes",
        f"{_PEP}, Specification Details",
        "The application callable must return an iterable yielding zero or more\n"
        "bytestrings. None (a forgotten return), an int, or an object whose\n"
        "__iter__ raises leaves the server with nothing to send; most servers\n"
        "answer 500 or drop the connection.\n\n"
        "Fix: return a list of bytes (e.g. [body]) or a generator.",
    ),
    Rule(
        "WSGI102",
        "body-is-string",
        "warning",
        "the application returned a str or bytes object itself as the body",
        f"{_PEP}, Buffering and Streaming",
        "Iterating a bytes object yields ints, and a str yields one character at\n"
        "a time; a server either fails or sends the body one byte per write,\n"
        "which kills performance.\n\n"
        "Fix: wrap it in a list: return [body].",
    ),
    Rule(
        "WSGI103",
        "app-raised",
        "error",
        "the application raised instead of returning a response",
        f"{_PEP}, Error Handling",
        "An exception escaped the application callable. The server can only\n"
        "answer with a generic 500 (if nothing was sent yet). Applications are\n"
        "expected to catch their own errors and report them with\n"
        "start_response(status, headers, sys.exc_info()).",
    ),
    Rule(
        "WSGI104",
        "iteration-raised",
        "error",
        "iterating the body raised an exception",
        f"{_PEP}, Error Handling",
        "The body iterable raised while the server consumed it. Once headers\n"
        "were sent, the server cannot send an error page any more: the client\n"
        "gets a truncated response and the connection is dropped. Before the\n"
        "headers were sent the server has to invent a 500.\n\n"
        "Fix: handle errors inside the generator, or produce the body before\n"
        "returning it.",
    ),
    Rule(
        "WSGI201",
        "start-response-missing",
        "error",
        "body data came before start_response was called (or it never was)",
        f"{_PEP}, The start_response() Callable",
        "The application must call start_response before the iterable yields\n"
        "its first body bytestring (it may call it inside the first iteration).\n"
        "Without a status and headers the server cannot send anything.",
    ),
    Rule(
        "WSGI202",
        "start-response-twice",
        "error",
        "start_response was called again without exc_info",
        f"{_PEP}, The start_response() Callable",
        "It is a fatal error to call start_response without the exc_info\n"
        "argument if start_response has already been called within the current\n"
        "invocation of the application. A second call is only allowed from an\n"
        "error handler, passing sys.exc_info(), so the server can replace the\n"
        "headers (or re-raise when they were already sent).",
    ),
    Rule(
        "WSGI203",
        "status-format",
        "error",
        "the status is not a str of three digits, a space and a reason phrase",
        f"{_PEP}, The start_response() Callable",
        "The status is a native string like '200 OK': a three-digit code from\n"
        "100 to 599, one space, a reason phrase, no control characters and no\n"
        "trailing CR/LF. An int (200), '200' without a reason or '200 OK\\r\\n'\n"
        "is rejected or mangled by servers.",
    ),
    Rule(
        "WSGI204",
        "headers-type",
        "error",
        "response headers are not a list of (name, value) tuples",
        f"{_PEP}, The start_response() Callable",
        "response_headers must be a Python list (type(headers) is list) of\n"
        "2-tuples (header_name, header_value). Servers may modify the list in\n"
        "place, so dicts, generators or werkzeug Headers objects are not allowed.",
    ),
    Rule(
        "WSGI205",
        "header-not-str",
        "error",
        "a header name or value is not a str",
        f"{_PEP}, Unicode Issues",
        "Header names and values are native strings (str), never bytes or\n"
        "ints. Content-Length must be given as '12', not 12.",
    ),
    Rule(
        "WSGI206",
        "header-name-invalid",
        "error",
        "a header name is not an HTTP token",
        f"{_PEP}, The start_response() Callable",
        "A header name is an HTTP token (RFC 9110 5.1): letters, digits and\n"
        "!#$%&'*+-.^_`|~ only. Spaces, colons, CR/LF or control characters let\n"
        "a response forge or break headers. 'Status' is not a header: the\n"
        "status goes in the first start_response argument.",
    ),
    Rule(
        "WSGI207",
        "header-injection",
        "error",
        "a header value contains CR, LF or another control character",
        f"{_PEP}, The start_response() Callable",
        "Each header_value must not include any control characters, including\n"
        "carriage returns or linefeeds, either embedded or at the end. A CR/LF\n"
        "taken from the request into a header (e.g. a redirect Location) is\n"
        "HTTP response splitting: the client sees headers the app never meant\n"
        "to send. A tab counts too: HTTP allows it inside a value, PEP 3333\n"
        "(and wsgiref.validate) does not.",
    ),
    Rule(
        "WSGI208",
        "header-not-latin1",
        "error",
        "a status or header contains characters outside ISO-8859-1",
        f"{_PEP}, Unicode Issues",
        "Native strings used for the status and headers must contain only\n"
        "code points that can be encoded as ISO-8859-1 (U+0000 to U+00FF).\n"
        "Servers fail with UnicodeEncodeError. Encode non-ASCII values first:\n"
        "RFC 8187 for Content-Disposition filenames, percent-encoding for URLs.",
    ),
    Rule(
        "WSGI209",
        "hop-by-hop-header",
        "error",
        "the application set a hop-by-hop header",
        f"{_PEP}, Other HTTP Features",
        "Applications and middleware are forbidden from using HTTP/1.1\n"
        "hop-by-hop features or headers: Connection, Keep-Alive,\n"
        "Transfer-Encoding, Upgrade, TE, Trailer(s), Proxy-Authenticate,\n"
        "Proxy-Authorization, Proxy-Connection. They describe the connection\n"
        "the server manages; an app-set Transfer-Encoding: chunked over an\n"
        "unchunked body corrupts the response.",
    ),
    Rule(
        "WSGI210",
        "exc-info-invalid",
        "error",
        "exc_info is not None or a (type, value, traceback) tuple",
        f"{_PEP}, The start_response() Callable",
        "The optional third start_response argument is the tuple returned by\n"
        "sys.exc_info(), or None. Servers index it to re-raise the exception;\n"
        "anything else fails inside the server's error handling.",
    ),
    Rule(
        "WSGI211",
        "exc-info-swallowed",
        "error",
        "the application caught the exception start_response re-raised",
        f"{_PEP}, Error Handling",
        "When start_response is called with exc_info after headers were sent,\n"
        "the server re-raises that exception so the request is aborted. The\n"
        "application must not catch it: it should let it propagate to the\n"
        "server, which then closes the connection.",
    ),
    Rule(
        "WSGI212",
        "start-response-arguments",
        "error",
        "start_response was called with the wrong arguments",
        f"{_PEP}, The start_response() Callable",
        "start_response takes two or three positional arguments:\n"
        "start_response(status, response_headers, exc_info=None). Keyword\n"
        "arguments are not part of the interface.",
    ),
    Rule(
        "WSGI213",
        "content-type-missing",
        "warning",
        "a response with a body has no Content-Type header",
        "RFC 9110 8.3 (checked by wsgiref.validate)",
        "A response that carries content should say what it is; without\n"
        "Content-Type clients sniff, which is a security risk.\n"
        "wsgiref.validate rejects such responses.",
    ),
    Rule(
        "WSGI214",
        "content-length-invalid",
        "error",
        "Content-Length is not a single non-negative integer",
        f"{_PEP}, Handling the Content-Length Header",
        "Content-Length must be one decimal number of octets. Several\n"
        "different values, a sign, or a non-number make the response unframeable.",
    ),
    Rule(
        "WSGI215",
        "etag-format",
        "warning",
        "an ETag is not a quoted string (with an optional W/ prefix)",
        "RFC 9110 8.8.3 (checked by werkzeug's LintMiddleware)",
        "An entity tag is a double-quoted string, optionally prefixed by W/\n"
        '(upper case) for a weak one: ETag: "v1" or ETag: W/"v1". Caches and\n'
        "clients compare the quoted form; an unquoted tag never matches\n"
        "If-None-Match, so conditional requests always miss.",
    ),
    Rule(
        "WSGI216",
        "not-modified-headers",
        "warning",
        "a 304 response carries representation headers",
        "RFC 9110 15.4.5 (checked by werkzeug's LintMiddleware)",
        "A 304 Not Modified tells the client to reuse its stored response; it\n"
        "should not carry representation metadata such as Content-Type,\n"
        "Content-Encoding, Content-Language, Content-Range, Content-MD5 or\n"
        "Allow, which a cache would wrongly merge into the stored response.\n"
        "(Content-Length equal to the full length, Last-Modified, ETag, Date,\n"
        "Vary, Cache-Control, Expires and Content-Location are allowed; the\n"
        "relative Location werkzeug also warns about is allowed since RFC 7231.)",
    ),
    Rule(
        "WSGI301",
        "body-not-bytes",
        "error",
        "the body iterable yielded something that is not bytes",
        f"{_PEP}, Unicode Issues",
        "Every chunk of the body must be a bytestring (type bytes). str chunks\n"
        "need an encoding the server cannot guess; bytearray, memoryview, ints\n"
        "or None fail in servers that check.",
    ),
    Rule(
        "WSGI302",
        "content-length-mismatch",
        "error",
        "the body length differs from Content-Length",
        f"{_PEP}, Handling the Content-Length Header",
        "If the application supplies Content-Length, the server should not\n"
        "transmit more bytes than that. A shorter body makes the client wait\n"
        "for the rest; a longer one is cut off or poisons the next response on\n"
        "a keep-alive connection.",
    ),
    Rule(
        "WSGI303",
        "body-on-head",
        "warning",
        "a HEAD response carried a body",
        f"RFC 9110 9.3.2; {_PEP}, Other HTTP Features",
        "A response to HEAD has no content. Some servers strip it, others send\n"
        "it and the client reads it as the start of the next response. Return\n"
        "the same headers as for GET, and an empty body.",
    ),
    Rule(
        "WSGI304",
        "body-forbidden",
        "error",
        "a 1xx, 204 or 304 response carried a body",
        f"RFC 9110 15.3.5, 15.4.5; {_PEP}, Other HTTP Features",
        "1xx, 204 No Content and 304 Not Modified responses never have content;\n"
        "body bytes after them are read by the client as the next response.\n"
        "A 1xx or 204 must not send Content-Length other than 0 either.",
    ),
    Rule(
        "WSGI305",
        "body-capped",
        "warning",
        "the body did not end within the lint cap",
        f"{_PEP}, Buffering and Streaming",
        "The body went on past the cap (bytes or chunks) and was not read to\n"
        "the end, so the length checks could not run. An endless body is legal\n"
        "for streaming, but a route linted with a plain request usually should\n"
        "end; raise the cap with --max-body if the body is just large.",
    ),
    Rule(
        "WSGI401",
        "close-missing",
        "warning",
        "the returned iterable holds resources but has no close()",
        f"{_PEP}, Specification Details",
        "The server calls close() on the object the application returned, and\n"
        "only on that object. wsgiscope reports this rule when that object has\n"
        "no close() but (a) iter() of it gives a different object that has one\n"
        "(a generator from __iter__, whose finally blocks then only run at\n"
        "exhaustion or garbage collection), or (b) one of its attributes is a\n"
        "generator, a file object or a socket. When the client disconnects\n"
        "early, those resources leak.\n\n"
        "Fix: give the iterable a close() that closes what it holds, or\n"
        "return the generator itself.",
    ),
    Rule(
        "WSGI402",
        "close-raised",
        "error",
        "the iterable's close() raised",
        f"{_PEP}, Specification Details",
        "The server must call close() when the request completes; an exception\n"
        "from it lands in the server's error log and can skip the server's own\n"
        "cleanup of the request.",
    ),
    Rule(
        "WSGI501",
        "write-after-return",
        "error",
        "write() was called after the application returned its iterable",
        f"{_PEP}, The write() Callable",
        "write() is the imperative API for data sent while the application\n"
        "callable runs. Once it returns, the server consumes the iterable;\n"
        "data written later (e.g. from inside the generator) arrives out of\n"
        "order or after the response was finished, depending on the server.",
    ),
    Rule(
        "WSGI502",
        "write-not-bytes",
        "error",
        "write() was given something that is not bytes",
        f"{_PEP}, The write() Callable",
        "write(body_data) takes a bytestring, exactly like the chunks of the\n"
        "body iterable; a str needs an encoding the server cannot guess.",
    ),
    Rule(
        "WSGI601",
        "input-overread",
        "warning",
        "the application read wsgi.input past CONTENT_LENGTH",
        f"{_PEP}, Input and Error Streams",
        "The application should not attempt to read more data than is\n"
        "specified by the CONTENT_LENGTH variable. On a keep-alive socket the\n"
        "bytes after the body belong to the next request, or the read blocks\n"
        "until the client gives up. wsgiscope reports read(n), readline(n) or\n"
        "readinto(buffer) asking for more than remains, readline() reaching\n"
        "the body's end without a newline (on a socket it would read on to\n"
        "find one), and readline(), readlines() or iteration once the body is\n"
        "exhausted. A missing CONTENT_LENGTH means 0 unless the server sets\n"
        "wsgi.input_terminated.",
    ),
    Rule(
        "WSGI602",
        "stream-closed",
        "error",
        "the application closed wsgi.input or wsgi.errors",
        f"{_PEP}, Input and Error Streams",
        "The input and error streams belong to the server; the application\n"
        "must not call their close() method.",
    ),
    Rule(
        "WSGI603",
        "errors-not-str",
        "error",
        "wsgi.errors was given something that is not a str",
        f"{_PEP}, Input and Error Streams",
        "wsgi.errors is a text stream: write() and writelines() take str.\n"
        "Bytes fail with TypeError on most servers (io.TextIOWrapper).",
    ),
    Rule(
        "WSGI604",
        "input-misuse",
        "warning",
        "wsgi.input was called in a way a server need not support",
        f"{_PEP}, Input and Error Streams",
        "A server must support read(size), readline(), readlines(hint) and\n"
        "iteration. It only 'should' allow read() without a size, and it may\n"
        "omit the size argument of readline(size) (PEP 3333 notes 1 and 2):\n"
        "use read(CONTENT_LENGTH) and readline() (read() is fine when the server\n"
        "sets wsgi.input_terminated). Other arguments (readline with two\n"
        "arguments, read with keywords) fail on most servers.",
    ),
    Rule(
        "WSGI701",
        "environ-mutated",
        "warning",
        "the application changed server-owned environ keys or left invalid values",
        f"{_PEP}, environ Variables",
        "Applications may add keys of their own to environ, holding anything\n"
        "(Django's CsrfViewMiddleware sets CSRF_COOKIE_NEEDS_UPDATE to a bool:\n"
        "no server or middleware reads it), rewrite routing keys (SCRIPT_NAME,\n"
        "PATH_INFO, as dispatchers do) and wrap wsgi.input and wsgi.errors.\n"
        "But keys that describe the server and the connection (wsgi.version,\n"
        "wsgi.multithread, wsgi.multiprocess, wsgi.run_once, SERVER_PROTOCOL)\n"
        "must stay as given, required keys must not be deleted, and what the\n"
        "app sets in the keys servers define must stay what a server could\n"
        "send: CGI variables (REQUEST_METHOD, SERVER_PORT, REMOTE_ADDR, HTTP_*,\n"
        "...) native strings, SCRIPT_NAME and PATH_INFO empty or starting with\n"
        "'/' (SCRIPT_NAME never '/'), CONTENT_LENGTH a number, no\n"
        "HTTP_CONTENT_TYPE/HTTP_CONTENT_LENGTH, wsgi.url_scheme http or https,\n"
        "streams with the methods PEP 3333 lists. Inner apps, middleware and\n"
        "the server's access log read them after the application changed them.",
    ),
    Rule(
        "WSGI702",
        "environ-key-required",
        "error",
        "the application requires an environ key a server need not provide",
        f"{_PEP}, environ Variables",
        "QUERY_STRING, CONTENT_TYPE and CONTENT_LENGTH 'may be empty or\n"
        "absent', HTTP_* keys exist only when the client sent the header, and\n"
        "REMOTE_ADDR, REMOTE_USER, AUTH_TYPE, wsgi.file_wrapper and\n"
        "wsgi.input_terminated are optional (PEP 3333 lists REMOTE_ADDR among\n"
        "the CGI variables a server 'should attempt to provide'). wsgiscope's\n"
        "strict server omits the first three when empty and REMOTE_ADDR\n"
        "always; an app that fails with KeyError (or answers 5xx without\n"
        "them and succeeds with them) should use environ.get(key, '').",
    ),
)

_BY_KEY: dict[str, Rule] = {}
for _rule in RULES:
    _BY_KEY[_rule.id.lower()] = _rule
    _BY_KEY[_rule.name.lower()] = _rule


def get_rule(key: str) -> Rule:
    """The rule with id or slug ``key`` (case-insensitive).

    :raises KeyError: no such rule.
    """
    return _BY_KEY[key.strip().lower()]
