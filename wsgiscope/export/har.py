"""``export har``: the records as a HAR 1.2 log.

HAR 1.2 (http://www.softwareishard.com/blog/har-12-spec/) is what browsers'
network panels import and export, and what k6's and Locust's HAR converters
read. One entry per record, in record order:

- ``request.url`` is the absolute URL (``scheme://host`` + the
  percent-encoded ``SCRIPT_NAME`` + ``PATH_INFO`` + query), ``headers`` the
  environ's ``HTTP_*``/``CONTENT_*`` keys, ``postData`` the body the app read
  (``text``; a body that is not UTF-8 is base64 with ``"encoding":
  "base64"``, an extension ``replay`` and several HAR tools read);
- ``response.content.text`` is the recorded body preview (``size`` the full
  body size; ``_truncated`` when the preview is shorter);
- ``time`` and ``timings.wait`` are the record's ``duration_ms``: the
  request ran in-process, nothing was spent on the network;
- ``_wsgiscope`` (HAR's custom-field convention) holds the record's ``id``,
  ``app``, ``worker`` and ``error``.

Secrets stay as the record holds them: a redacted header keeps its
``"[redacted]"`` value (``replay`` leaves such headers out).
"""

from __future__ import annotations

import json
import typing as t
from urllib.parse import parse_qsl

from wsgiscope.export import fields

if t.TYPE_CHECKING:
    from wsgiscope.export import ExportOptions, Record

#: The version of the HAR specification written.
HAR_VERSION = "1.2"


def _pairs(items: t.Iterable[tuple[str, str]]) -> list[dict[str, str]]:
    return [{"name": name, "value": value} for name, value in items]


def _cookies(header: str | None) -> list[dict[str, str]]:
    if not header or header == fields.REDACTED:
        return []
    cookies = []
    for part in header.split(";"):
        name, sep, value = part.strip().partition("=")
        if sep and name:
            cookies.append({"name": name, "value": value})
    return cookies


def _http_version(record: t.Mapping[str, t.Any]) -> str:
    environ = record.get("environ")
    protocol = environ.get("SERVER_PROTOCOL") if isinstance(environ, dict) else None
    return protocol if isinstance(protocol, str) and protocol else "HTTP/1.1"


def _request(record: t.Mapping[str, t.Any]) -> dict[str, t.Any]:
    request = fields.request_of(record)
    headers = fields.request_headers(record)
    query = request.get("query_string")
    entry: dict[str, t.Any] = {
        "method": fields.method(record),
        "url": fields.url(record),
        "httpVersion": _http_version(record),
        "cookies": _cookies(fields.header(record, "Cookie")),
        "headers": _pairs(headers),
        "queryString": _pairs(parse_qsl(query, keep_blank_values=True))
        if isinstance(query, str)
        else [],
        "headersSize": -1,
        "bodySize": 0,
    }
    body = fields.request_body(record)
    if body is not None:
        data, truncated = body
        mime = fields.header(record, "Content-Type") or ""
        post: dict[str, t.Any] = {"mimeType": mime}
        if request.get("body_encoding") == "base64":
            post.update(text=request["body"], encoding="base64")
        else:
            post["text"] = request["body"]
        size = request.get("body_bytes")
        entry["bodySize"] = size if isinstance(size, int) else len(data)
        entry["postData"] = post
        if truncated:
            entry["_truncated"] = True
    return entry


def _response(record: t.Mapping[str, t.Any]) -> dict[str, t.Any]:
    response = fields.response_of(record)
    headers = fields.response_headers(record)
    status_line = response.get("status")
    code = fields.status_code(record)
    text = (
        status_line.split(" ", 1)[1] if isinstance(status_line, str) and " " in status_line else ""
    )
    mime = next((v for n, v in headers if n.lower() == "content-type"), "")
    location = next((v for n, v in headers if n.lower() == "location"), "")
    size = response.get("body_bytes")
    content: dict[str, t.Any] = {
        "size": size if isinstance(size, int) else 0,
        "mimeType": mime,
    }
    preview = response.get("body_preview")
    if isinstance(preview, str):
        content["text"] = preview
        if response.get("body_encoding") == "base64":
            content["encoding"] = "base64"
        if response.get("truncated"):
            content["_truncated"] = True
    return {
        "status": code or 0,
        "statusText": text,
        "httpVersion": _http_version(record),
        "cookies": [],
        "headers": _pairs(headers),
        "content": content,
        "redirectURL": location,
        "headersSize": -1,
        "bodySize": size if isinstance(size, int) else -1,
    }


def entry(record: t.Mapping[str, t.Any]) -> dict[str, t.Any]:
    """The HAR ``log.entries[]`` object of one record."""
    duration = fields.number(record.get("duration_ms"))
    started = record.get("started")
    return {
        "startedDateTime": started if isinstance(started, str) else "1970-01-01T00:00:00Z",
        "time": duration,
        "request": _request(record),
        "response": _response(record),
        "cache": {},
        "timings": {"send": 0, "wait": duration, "receive": 0},
        "_wsgiscope": {
            "id": record.get("id"),
            "app": record.get("app"),
            "worker": record.get("worker"),
            "error": record.get("error"),
        },
    }


def write(records: t.Iterable[Record], out: t.TextIO, options: ExportOptions) -> int:
    """Write ``records`` as one HAR 1.2 document, entry by entry."""
    from wsgiscope import __version__

    log_head = {
        "version": HAR_VERSION,
        "creator": {"name": "wsgiscope", "version": __version__},
    }
    head = json.dumps(log_head, ensure_ascii=True)[:-1]
    out.write('{"log": ' + head + ', "entries": [\n')
    count = 0
    for record in records:
        if count:
            out.write(",\n")
        out.write(json.dumps(entry(record), ensure_ascii=True))
        count += 1
    out.write("\n]}}\n")
    return count
