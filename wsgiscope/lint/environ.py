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
#: HTTP_HOST by proxy fixers: those are allowed.)
SERVER_KEYS = (
    "SERVER_PROTOCOL",
    "wsgi.version",
    "wsgi.errors",
    "wsgi.multithread",
    "wsgi.multiprocess",
    "wsgi.run_once",
)

#: Keys a strict server leaves out when their value is empty.
_DROP_WHEN_EMPTY = ("QUERY_STRING", "CONTENT_TYPE", "REQUEST_URI", "RAW_URI")


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
    ``REQUEST_URI``/``RAW_URI`` always.
    """
    removed = []
    for key in _DROP_WHEN_EMPTY:
        if key in environ and (environ[key] == "" or key in ("REQUEST_URI", "RAW_URI")):
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


def mutations(before: t.Mapping[str, t.Any], after: t.Mapping[str, t.Any]) -> list[str]:
    """Messages for every change to a server-owned key between two environs."""
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
        if before.get(key, _MISSING) is value or isinstance(value, str):
            continue
        if isinstance(key, str) and key.isupper() and "." not in key:
            messages.append(f"set CGI key {key!r} to {type(value).__name__} {safe_repr(value)}")
    return messages
