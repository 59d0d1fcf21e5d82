"""What the app may rely on in the environ, and what it may change.

:func:`strictify` turns an environ built like a test client's into the
minimum a conforming server must provide (optional keys dropped when empty),
:func:`is_missing_optional_key` recognises the ``KeyError`` of an app that
required one of them, and :func:`mutations` lists the changes to keys the
server owns (rule WSGI701).
"""

from __future__ import annotations

import typing as t

from wsgiscope.lint.findings import safe_repr

#: Keys PEP 3333 lets a server leave out ("may be empty or absent", or
#: optional), besides every ``HTTP_*`` key.
OPTIONAL_KEYS = frozenset(
    {
        "QUERY_STRING",
        "CONTENT_TYPE",
        "CONTENT_LENGTH",
        "REMOTE_USER",
        "REMOTE_ADDR",
        "REMOTE_HOST",
        "REMOTE_IDENT",
        "AUTH_TYPE",
        "PATH_TRANSLATED",
        "HTTPS",
        "REQUEST_URI",
        "RAW_URI",
        "wsgi.file_wrapper",
        "wsgi.input_terminated",
    }
)

#: Keys every server provides; deleting one breaks whoever reads it next.
REQUIRED_KEYS = (
    "REQUEST_METHOD",
    "SCRIPT_NAME",
    "PATH_INFO",
    "SERVER_NAME",
    "SERVER_PORT",
    "SERVER_PROTOCOL",
    "wsgi.version",
    "wsgi.url_scheme",
    "wsgi.input",
    "wsgi.errors",
    "wsgi.multithread",
    "wsgi.multiprocess",
    "wsgi.run_once",
)

#: Keys describing the server and connection: the app must not change them.
#: (SCRIPT_NAME/PATH_INFO are rewritten by dispatchers, wsgi.url_scheme and
#: HTTP_HOST by proxy fixers, and middleware wraps wsgi.input and
#: wsgi.errors, as wsgiref.validate does: allowed while the values stay valid.)
SERVER_KEYS = (
    "SERVER_PROTOCOL",
    "wsgi.version",
    "wsgi.multithread",
    "wsgi.multiprocess",
    "wsgi.run_once",
)

#: Keys a strict server leaves out when their value is empty.
_DROP_WHEN_EMPTY = ("QUERY_STRING", "CONTENT_TYPE")
#: Keys it always leaves out: not in PEP 3333's list of environ variables
#: (REMOTE_ADDR is a CGI variable a server "should attempt to provide").
_ALWAYS_DROP = ("REQUEST_URI", "RAW_URI", "REMOTE_ADDR")


_MISSING = object()


def is_optional_key(key: object) -> bool:
    """Whether a server may leave ``key`` out of the environ."""
    return isinstance(key, str) and (key.startswith("HTTP_") or key in OPTIONAL_KEYS)


def is_missing_optional_key(exc: BaseException, environ: t.Mapping[str, t.Any]) -> bool:
    """``exc`` is a ``KeyError`` for an optional key absent from ``environ``."""
    if type(exc) is not KeyError or len(exc.args) != 1:
        return False
    key = exc.args[0]
    return is_optional_key(key) and key not in environ


def strictify(environ: dict[str, t.Any]) -> list[str]:
    """Remove optional keys a server need not send; return their names.

    ``CONTENT_LENGTH`` goes when there is no body (``"0"`` or empty),
    ``QUERY_STRING`` and ``CONTENT_TYPE`` when empty, and the non-standard
    ``REQUEST_URI``/``RAW_URI`` and the optional ``REMOTE_ADDR`` always.
    """
    removed = []
    for key in (*_DROP_WHEN_EMPTY, *_ALWAYS_DROP):
        if key in environ and (key in _ALWAYS_DROP or environ[key] == ""):
            del environ[key]
            removed.append(key)
    if environ.get("CONTENT_LENGTH") in ("", "0"):
        del environ["CONTENT_LENGTH"]
        removed.append("CONTENT_LENGTH")
    return removed


def fill_optional(environ: dict[str, t.Any]) -> None:
    """Give the keys that "may be empty or absent" an empty value, as
    lenient servers do (the counterpart of :func:`strictify`)."""
    for key in ("QUERY_STRING", "CONTENT_TYPE", "CONTENT_LENGTH"):
        environ.setdefault(key, "")


def _changed(before: t.Any, after: t.Any) -> bool:
    if before is after:
        return False
    try:
        return bool(before != after)
    except Exception:
        return True


#: Methods PEP 3333 requires of the two streams (wsgiref.validate checks them).
_STREAM_METHODS = {
    "wsgi.input": ("read", "readline", "readlines", "__iter__"),
    "wsgi.errors": ("flush", "write", "writelines"),
}


#: The CGI variables a server provides (PEP 3333's list, the CGI spec's and
#: the common extensions): their values are native strings that access logs,
#: proxy fixers, routers and inner apps read as ``str``. Any other key
#: without a dot is an application's or framework's own (Django's
#: ``CSRF_COOKIE_NEEDS_UPDATE``, a bool): PEP 3333 lets an application add
#: keys to the environ it was given, and no server or middleware reads them.
CGI_KEYS = frozenset(
    {
        "REQUEST_METHOD",
        "SCRIPT_NAME",
        "PATH_INFO",
        "QUERY_STRING",
        "CONTENT_TYPE",
        "CONTENT_LENGTH",
        "SERVER_NAME",
        "SERVER_PORT",
        "SERVER_PROTOCOL",
        "SERVER_SOFTWARE",
        "GATEWAY_INTERFACE",
        "REMOTE_ADDR",
        "REMOTE_HOST",
        "REMOTE_PORT",
        "REMOTE_USER",
        "REMOTE_IDENT",
        "AUTH_TYPE",
        "PATH_TRANSLATED",
        "HTTPS",
        "REQUEST_URI",
        "RAW_URI",
    }
)


def is_cgi_key(key: str) -> bool:
    """Whether ``key`` is a CGI variable a server provides (``HTTP_*`` included)."""
    return key in CGI_KEYS or (key.startswith("HTTP_") and key.isupper())


def invalid_value(key: str, value: t.Any) -> str | None:
    """Why ``value`` is not a valid ``environ[key]`` set by the app (the
    rules wsgiref.validate and werkzeug's LintMiddleware apply to a
    server's environ), or ``None``.

    Only what a server, a middleware or an inner app reads is checked: the
    CGI variables (:data:`CGI_KEYS`, ``HTTP_*``) and ``wsgi.*`` keys. Keys
    of the application's own hold whatever it puts there."""
    if is_cgi_key(key) and type(value) is not str:
        if isinstance(value, str):
            shown = safe_repr(str.__str__(value))
            return f"set CGI key {key!r} to {shown}, a {type(value).__name__} (a str subclass)"
        return f"set CGI key {key!r} to {type(value).__name__} {safe_repr(value)}"
    if key in ("SCRIPT_NAME", "PATH_INFO") and value and not value.startswith("/"):
        return f"set {key} to {safe_repr(value)}, which must be empty or start with '/'"
    if key == "SCRIPT_NAME" and value == "/":
        return "set SCRIPT_NAME to '/' (the root is SCRIPT_NAME '' with PATH_INFO '/')"
    if key == "CONTENT_LENGTH" and value and not (value.isascii() and value.isdigit()):
        return f"set CONTENT_LENGTH to {safe_repr(value)}, not a non-negative integer"
    if key in ("HTTP_CONTENT_TYPE", "HTTP_CONTENT_LENGTH"):
        return f"set {key}; the header's key is {key[5:]}"
    if key == "wsgi.url_scheme" and value not in ("http", "https"):
        return f"set wsgi.url_scheme to {safe_repr(value)}, not 'http' or 'https'"
    missing = [name for name in _STREAM_METHODS.get(key, ()) if not hasattr(value, name)]
    if missing:
        return f"replaced {key} by {type(value).__name__}, which has no {', '.join(missing)}"
    return None


def mutations(before: t.Mapping[str, t.Any], after: t.Mapping[str, t.Any]) -> list[str]:
    """Messages for every change to a server-owned key between two environs,
    and for every key the app set to a value a server could not have given."""
    messages = []
    for key in REQUIRED_KEYS:
        if key in before and key not in after:
            messages.append(f"deleted required key {key!r}")
    for key in SERVER_KEYS:
        if key in before and key in after and _changed(before[key], after[key]):
            messages.append(
                f"changed {key!r} from {safe_repr(before[key])} to {safe_repr(after[key])}"
            )
    for key, value in list(after.items()):
        # Most values are untouched: the identity test keeps this loop cheap.
        if before.get(key, _MISSING) is value or not isinstance(key, str) or key in SERVER_KEYS:
            continue
        try:
            message = invalid_value(key, value)
        except Exception:  # a value whose comparison or hasattr raises
            message = f"set {key!r} to {safe_repr(value)}"
        if message is not None:
            messages.append(message)
    return messages
