"""What a trace record says about its request, read the same way by every format.

A record keeps the request as WSGI saw it: ``PATH_INFO`` is the decoded path
as latin-1 text (PEP 3333), the headers are ``HTTP_*`` environ keys and the
body the app read is ``request.body``. These helpers turn that back into
what a client sends: a percent-encoded URL, header names, body bytes.
Secrets stay as the record holds them (``"[redacted]"`` unless it was
recorded with them); each format decides what to do with a redacted value.
"""

from __future__ import annotations

import base64
import typing as t
from urllib.parse import quote

from wsgiscope.redact import REDACTED

__all__ = ["REDACTED", "origin", "request_body", "request_headers", "target", "url"]

#: Characters left as they are in a path: RFC 3986 ``pchar`` and ``/``.
_PATH_SAFE = "/:@!$&'()*+,;=~%"

#: Headers a client computes itself; not copied into commands and tests.
HOP_HEADERS = frozenset({"content-length", "transfer-encoding", "connection", "host"})


def _dict(value: t.Any) -> dict[str, t.Any]:
    return value if isinstance(value, dict) else {}


def request_of(record: t.Mapping[str, t.Any]) -> dict[str, t.Any]:
    """The record's ``request`` object (empty when missing)."""
    return _dict(record.get("request"))


def method(record: t.Mapping[str, t.Any]) -> str:
    """The request method, ``GET`` when the record has none."""
    value = request_of(record).get("method")
    return value.upper() if isinstance(value, str) and value else "GET"


def _wsgi_to_url(path: str) -> str:
    """A WSGI path (bytes as latin-1 text) percent-encoded for a URL."""
    try:
        raw = path.encode("latin-1")
    except UnicodeEncodeError:  # not a real WSGI string: take its text
        raw = path.encode("utf-8", "surrogateescape")
    return quote(raw, safe=_PATH_SAFE.replace("%", ""))


def target(record: t.Mapping[str, t.Any]) -> str:
    """``/script/path?query`` percent-encoded, as on the request line."""
    request = request_of(record)
    script = request.get("script_name") or ""
    path = request.get("path") or ""
    full = f"{script if isinstance(script, str) else ''}{path if isinstance(path, str) else ''}"
    query = request.get("query_string") or ""
    encoded = _wsgi_to_url(full or "/")
    return f"{encoded}?{query}" if isinstance(query, str) and query else encoded


def origin(record: t.Mapping[str, t.Any]) -> str:
    """``scheme://host`` the request was sent to (``http://localhost`` when unknown)."""
    request = request_of(record)
    scheme = request.get("scheme") or "http"
    host = request.get("host") or "localhost"
    return f"{scheme}://{host}"


def url(record: t.Mapping[str, t.Any], base_url: str | None = None) -> str:
    """The absolute URL of the request, on ``base_url`` (may hold a path prefix)."""
    base = (base_url or origin(record)).rstrip("/")
    return base + target(record)


def header_name(key: str) -> str:
    """``HTTP_X_API_KEY`` -> ``X-Api-Key``."""
    return "-".join(part.capitalize() for part in key[5:].split("_"))


def request_headers(record: t.Mapping[str, t.Any]) -> list[tuple[str, str]]:
    """The request headers, from the environ's ``HTTP_*``, ``CONTENT_TYPE``
    and ``CONTENT_LENGTH`` keys, in environ order."""
    headers: list[tuple[str, str]] = []
    for key, value in _dict(record.get("environ")).items():
        if not isinstance(key, str) or not isinstance(value, str):
            continue
        if key.startswith("HTTP_"):
            headers.append((header_name(key), value))
        elif key == "CONTENT_TYPE" and value:
            headers.append(("Content-Type", value))
        elif key == "CONTENT_LENGTH" and value:
            headers.append(("Content-Length", value))
    return headers


def headers_to_send(record: t.Mapping[str, t.Any]) -> tuple[list[tuple[str, str]], list[str]]:
    """The request headers to send again (hop-by-hop ones left to the client),
    and the names of those left out because the record holds them redacted."""
    send: list[tuple[str, str]] = []
    redacted: list[str] = []
    for name, value in request_headers(record):
        if name.lower() in HOP_HEADERS:
            continue
        if value == REDACTED:
            redacted.append(name)
        else:
            send.append((name, value))
    return send, redacted


def header(record: t.Mapping[str, t.Any], name: str) -> str | None:
    """A request header's value (the first one), or ``None``."""
    lower = name.lower()
    for key, value in request_headers(record):
        if key.lower() == lower:
            return value
    return None


def request_body(record: t.Mapping[str, t.Any]) -> tuple[bytes, bool] | None:
    """``(body, truncated)`` the app read, or ``None`` for a request without one.

    ``truncated`` is true when the record kept only the first bytes.
    """
    request = request_of(record)
    body = request.get("body")
    if not isinstance(body, str):
        return None
    if request.get("body_encoding") == "base64":
        try:
            data = base64.b64decode(body, validate=True)
        except ValueError:
            data = b""
    else:
        data = body.encode("utf-8")
    return data, bool(request.get("body_truncated"))


def response_of(record: t.Mapping[str, t.Any]) -> dict[str, t.Any]:
    """The record's ``response`` object (empty when missing)."""
    return _dict(record.get("response"))


def response_headers(record: t.Mapping[str, t.Any]) -> list[tuple[str, str]]:
    """The response headers as ``(name, value)`` pairs."""
    pairs = []
    for item in response_of(record).get("headers") or ():
        if isinstance(item, (list, tuple)) and len(item) == 2:
            pairs.append((str(item[0]), str(item[1])))
    return pairs


def status_code(record: t.Mapping[str, t.Any]) -> int | None:
    """The response status code, ``None`` when no response started."""
    from wsgiscope.tailing import record_status

    return record_status(record)


def started_us(record: t.Mapping[str, t.Any]) -> int | None:
    """The ``started`` timestamp in microseconds since the epoch."""
    import datetime

    started = record.get("started")
    if not isinstance(started, str):
        return None
    try:
        moment = datetime.datetime.fromisoformat(started.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.timezone.utc)
    delta = moment - datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)
    return (delta.days * 86400 + delta.seconds) * 1_000_000 + delta.microseconds


def events(record: t.Mapping[str, t.Any]) -> list[dict[str, t.Any]]:
    """The record's events that are objects."""
    found = record.get("events")
    if not isinstance(found, list):
        return []
    return [event for event in found if isinstance(event, dict)]


def number(value: t.Any, default: float = 0.0) -> float:
    """``value`` when it is a finite number (not a bool), else ``default``."""
    import math

    if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    return default
