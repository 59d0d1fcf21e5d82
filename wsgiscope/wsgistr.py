"""WSGI strings as a user reads them: paths and query strings decoded.

PEP 3333 passes ``PATH_INFO``, ``SCRIPT_NAME`` and ``QUERY_STRING`` as
"native strings" holding the request's *bytes* decoded as latin-1: a
request for ``/café`` arrives as ``PATH_INFO == "/cafÃ©"``. Frameworks turn
them back into text (werkzeug, Flask and Django: latin-1 bytes, then UTF-8
with replacement), so that is what ``match`` shows and what a view sees.
Every command shows paths and query strings that way (:func:`display_path`,
:func:`display_query`); the record keeps the WSGI strings as received
(``request.path``, ``environ``) next to the decoded ones
(``request.decoded``), and ``-v`` shows both where they differ.

Nothing here is heavy to import: ``tail`` and ``serve`` use it per line.
"""

from __future__ import annotations

import re
import typing as t

#: Percent escapes of non-ASCII bytes (a UTF-8 character sent escaped).
_HIGH_ESCAPES = re.compile(r"(?:%[89A-Fa-f][0-9A-Fa-f])+")


def display_path(value: t.Any) -> str:
    """A WSGI path (latin-1 decoded bytes) as text: ``"/cafÃ©"`` -> ``"/café"``.

    Bytes that are not UTF-8 become U+FFFD, as in werkzeug and Django. A
    string that holds characters latin-1 cannot encode is not a WSGI
    string (a record written by hand, a decoded value): it is returned as is.
    """
    if not isinstance(value, str):
        return "" if value is None else str(value)
    value = str.__str__(value)  # a str subclass's own methods are not called
    if value.isascii():
        return value
    try:
        raw = value.encode("latin-1")
    except UnicodeEncodeError:
        return value
    return raw.decode("utf-8", "replace")


def display_query(value: t.Any) -> str:
    """A query string as text: WSGI-decoded like a path, and percent escapes
    of UTF-8 characters shown as the characters (``q=na%C3%AFve`` ->
    ``q=naïve``), as a browser's address bar shows them. Escapes of ASCII
    characters (``%26``, ``%3D``, ``%20``) stay: they are the query's syntax.
    """
    text = display_path(value)
    if "%" not in text:
        return text
    return _HIGH_ESCAPES.sub(_unescape, text)


def display_url(value: str) -> str:
    """A URL or request target that is already text (``url_for``'s
    ``/caf%C3%A9/x``, a ``-r`` request) with its escaped UTF-8 characters
    shown as characters (``/café/x``); not a WSGI string, so no latin-1 step."""
    return _HIGH_ESCAPES.sub(_unescape, value) if "%" in value else value


def _unescape(found: re.Match[str]) -> str:
    escaped = found.group()
    try:
        return bytes.fromhex(escaped.replace("%", "")).decode("utf-8")
    except UnicodeDecodeError:
        return escaped


def decoded_request(request: t.Mapping[str, t.Any]) -> dict[str, str]:
    """``{script_name, path, query_string}`` of a record's ``request``, decoded."""
    return {
        "script_name": display_path(request.get("script_name") or ""),
        "path": display_path(request.get("path") or ""),
        "query_string": display_query(request.get("query_string") or ""),
    }


def decoded_if_different(request: t.Mapping[str, t.Any]) -> dict[str, str] | None:
    """:func:`decoded_request`, or ``None`` when it says nothing the WSGI
    strings do not (every ASCII request without escaped UTF-8)."""
    decoded = decoded_request(request)
    for key, text in decoded.items():
        value = request.get(key) or ""
        if not isinstance(value, str) or text != str.__str__(value):
            return decoded
    return None


def request_target(request: t.Mapping[str, t.Any]) -> str:
    """``/script/path?query`` of a record's ``request``, decoded for display."""
    path = display_path(request.get("script_name") or "") + display_path(request.get("path") or "")
    query = request.get("query_string")
    if query:
        path += f"?{display_query(query)}"
    return path


#: Environ keys shown decoded (their values are WSGI strings of the request line).
PATH_KEYS = frozenset({"SCRIPT_NAME", "PATH_INFO"})
QUERY_KEYS = frozenset({"QUERY_STRING", "REQUEST_URI", "RAW_URI"})


def display_environ_value(key: str, value: t.Any) -> t.Any:
    """An environ value as shown: the request line's WSGI strings decoded,
    anything else as it is."""
    if not isinstance(value, str):
        return value
    if key in PATH_KEYS:
        return display_path(value)
    if key in QUERY_KEYS:
        return display_query(value)
    return value
