"""Request sources for ``replay``: JSON Lines traces, HAR files, request lines.

Every source becomes a list of :class:`ReplayRequest` (plain data, picklable,
so worker processes can receive it). :func:`load_sources` picks the reader
by extension and content:

* JSON Lines (``.jsonl``, ``.ndjson``, or lines starting with ``{``): trace
  records written by ``trace --save``, ``serve --record`` and
  ``TraceMiddleware`` (``request`` object plus ``environ`` headers), or flat
  objects ``{"method", "path", "query", "headers", "body"}``;
* HAR 1.2 (``.har``, or a JSON object with ``log``) as exported by Chrome,
  Firefox and other tools: the absolute URL gives the ``Host`` header and
  ``wsgi.url_scheme``; HTTP/2 pseudo-headers (``:authority``...) are
  dropped; cookies become a ``Cookie`` header when the entry has none;
  ``postData`` gives the body (``text``, or ``params`` encoded per its
  ``mimeType``). Entries for other hosts are skipped per the host filter;
* request lines (anything else): ``GET /path?q=1`` lines, each optionally
  followed by ``Name: value`` header lines; ``#`` starts a comment.

A malformed source raises :class:`~wsgiscope.errors.SourceError` naming the
file and the line or entry, unless ``skip_invalid`` is set: then the bad
line or entry is counted in :attr:`SourceResult.invalid` and the rest read.
"""

from __future__ import annotations

import base64
import dataclasses
import fnmatch
import json
import re
import typing as t
import uuid
from pathlib import Path
from urllib.parse import urlencode, urlsplit

from wsgiscope.errors import SourceError
from wsgiscope.redact import redact_query, redact_uri

#: Methods a request source may use; anything else is a malformed source.
METHODS = frozenset(
    {"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "CONNECT"}
    | {"PROPFIND", "PROPPATCH", "MKCOL", "COPY", "MOVE", "LOCK", "UNLOCK", "REPORT", "SEARCH"}
    | {"PURGE"}
)

#: Headers a replay recomputes rather than copies (the body may differ in size).
_DROPPED_HEADERS = frozenset({"content-length", "transfer-encoding", "connection"})

#: What trace records hold in place of a secret (see ``wsgiscope.redact``).
REDACTED = "[redacted]"

_HINT = "fix the source, or pass --skip-invalid to replay the valid requests only"


@dataclasses.dataclass(frozen=True)
class ReplayRequest:
    """One request to replay.

    :param method: upper-case HTTP method.
    :param path: the URL path as a client sends it (percent-encoded).
    :param query_string: without the ``?``.
    :param headers: ``(name, value)`` pairs, ``Host`` and ``Content-Type``
        included when the source gave them.
    :param body: the request body.
    :param scheme: ``"http"``/``"https"`` when the source says (HAR), else
        ``None`` (the app's default).
    :param host: the host (and port) when the source says, else ``None``.
    :param origin: where it came from, e.g. ``"session.har: log.entries[3]"``.
    :param redacted: what the source held redacted (``[redacted]``): the
        names of headers not replayed, and ``"body"`` when the body holds
        redacted fields. Such a request is not the one that was recorded.
    """

    method: str
    path: str
    query_string: str = ""
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""
    scheme: str | None = None
    host: str | None = None
    origin: str = ""
    redacted: tuple[str, ...] = ()

    @property
    def target(self) -> str:
        """``path?query`` as on the request line."""
        return f"{self.path}?{self.query_string}" if self.query_string else self.path

    def describe(self) -> str:
        """``METHOD path?query`` for reports, secret query parameters redacted."""
        return f"{self.method} {redact_uri(self.target)}"


@dataclasses.dataclass
class SourceResult:
    """What :func:`load_sources` read.

    :param requests: the requests, in source order.
    :param invalid: lines or entries skipped as malformed (``--skip-invalid``).
    :param other_hosts: HAR entries skipped by the host filter.
    :param skipped_hosts: the hosts those entries were for.
    :param invalid_examples: the first few problems found while skipping.
    """

    requests: list[ReplayRequest] = dataclasses.field(default_factory=list)
    invalid: int = 0
    other_hosts: int = 0
    skipped_hosts: list[str] = dataclasses.field(default_factory=list)
    invalid_examples: list[str] = dataclasses.field(default_factory=list)

    def skip(self, problem: str) -> None:
        self.invalid += 1
        if len(self.invalid_examples) < 5:
            self.invalid_examples.append(problem)


class InvalidRequest(ValueError):
    """One malformed line or entry (the message says what, not where)."""


_TOKEN = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_HOST_CONTROL = re.compile(r"[\x00-\x20\x7f]")


def _is_text(value: str) -> bool:
    """No lone surrogate (which no request can carry)."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def validate_request(request: ReplayRequest) -> ReplayRequest:
    """``request`` checked for what no HTTP request can carry, so that
    building it never fails later: header names that are not tokens, header
    values with a line break or NUL, a path or query with control characters,
    spaces or lone surrogates, a host with a bad port or IPv6 address, a
    scheme other than http(s). A header value that is not Latin-1 is sent
    as its UTF-8 bytes (what a server hands the app).

    :raises InvalidRequest: naming the first problem.
    """
    headers = []
    for name, value in request.headers:
        if not _TOKEN.match(name):
            raise InvalidRequest(f"invalid header name {name!r}")
        if "\r" in value or "\n" in value or "\x00" in value or not _is_text(value):
            raise InvalidRequest(
                f"the value of header {name!r} has a line break, NUL or lone surrogate"
            )
        try:
            value.encode("latin-1")
        except UnicodeEncodeError:
            value = value.encode("utf-8").decode("latin-1")
        headers.append((name, value))
    for what, text in (("path", request.path), ("query string", request.query_string)):
        if _CONTROL.search(text) or not _is_text(text):
            shown = redact_query(text) if what == "query string" else text
            raise InvalidRequest(
                f"the {what} has a control character or lone surrogate: {shown[:80]!r}"
            )
    if request.scheme is not None and request.scheme not in ("http", "https"):
        raise InvalidRequest(f"the scheme must be http or https, got {request.scheme!r}")
    if request.host is not None:
        if _HOST_CONTROL.search(request.host) or not _is_text(request.host):
            raise InvalidRequest(f"invalid host {request.host[:80]!r}")
        try:
            parts = urlsplit(f"//{request.host}")
            parts.port  # noqa: B018  (raises for a port out of range)
        except ValueError as exc:
            raise InvalidRequest(f"invalid host {request.host[:80]!r}: {exc}") from None
        if not parts.hostname:
            raise InvalidRequest(f"invalid host {request.host[:80]!r}: no host name")
    if tuple(headers) != request.headers:
        request = dataclasses.replace(request, headers=tuple(headers))
    return request


def _shown_url(url: str) -> str:
    """A URL for an error message: userinfo and secret query values redacted."""
    if "@" in url.partition("?")[0]:
        scheme, sep, rest = url.partition("://")
        url = f"{scheme}{sep}{REDACTED}@{rest.partition('@')[2]}" if sep else url
    return redact_uri(url)[:200]


def _malformed(exc: Exception) -> InvalidRequest:
    """Any other failure while reading one entry: it is malformed (skippable)."""
    if isinstance(exc, InvalidRequest):
        return exc
    return InvalidRequest(f"malformed entry ({type(exc).__name__}: {str(exc)[:120]})")


def load_sources(
    paths: t.Sequence[str | Path],
    *,
    skip_invalid: bool = False,
    host_filter: t.Sequence[str] | None = None,
) -> SourceResult:
    """Read every source in ``paths`` into one :class:`SourceResult`.

    :param skip_invalid: skip malformed lines and entries (counted) instead
        of raising.
    :param host_filter: host patterns (``fnmatch``, ``*`` for all) whose HAR
        entries are replayed; ``None`` keeps the host of each file's first
        entry (the page itself) and skips the rest.
    :raises SourceError: for an unreadable or malformed source.
    """
    result = SourceResult()
    for path in paths:
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise SourceError(f"request source not found: {path}") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise SourceError(f"cannot read request source {path}: {exc}") from None
        kind = detect_kind(path, text)
        if kind == "har":
            _read_har(path, text, result, skip_invalid, host_filter)
        elif kind == "jsonl":
            _read_jsonl(path, text, result, skip_invalid)
        else:
            _read_lines(path, text, result, skip_invalid)
    return result


def detect_kind(path: Path, text: str) -> t.Literal["har", "jsonl", "lines"]:
    """Which reader a source needs: by extension, then by its first character."""
    suffix = path.suffix.lower()
    if suffix == ".har":
        return "har"
    if suffix in (".jsonl", ".ndjson"):
        return "jsonl"
    stripped = text.lstrip()
    if not stripped.startswith("{"):
        return "jsonl" if suffix == ".json" else "lines"
    first_line = stripped.split("\n", 1)[0].strip()
    try:
        json.loads(first_line)
    except ValueError:
        return "har"  # a pretty-printed JSON document: HAR is the one we know
    return "jsonl" if "\n" in stripped.strip() or '"log"' not in first_line else "har"


# -- JSON Lines --------------------------------------------------------------


def _read_jsonl(path: Path, text: str, result: SourceResult, skip_invalid: bool) -> None:
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        where = f"{path}:{number}"
        try:
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise InvalidRequest(f"invalid JSON: {exc.msg} (column {exc.colno})") from None
            except (ValueError, RecursionError) as exc:  # a huge number, deep nesting
                raise InvalidRequest(f"invalid JSON: {type(exc).__name__}") from None
            result.requests.append(request_from_record(record, where))
        except Exception as exc:
            problem = _malformed(exc)
            if not skip_invalid:
                raise SourceError(f"{where}: {problem}", hint=_HINT) from None
            result.skip(f"{where}: {problem}")


def request_from_record(record: t.Any, origin: str = "") -> ReplayRequest:
    """A trace record (``wsgiscope.trace/1``) or a flat request object.

    :raises InvalidRequest: when it has no usable method or path.
    """
    if not isinstance(record, dict):
        raise InvalidRequest(f"expected a JSON object, got {type(record).__name__}")
    request = record.get("request")
    fields = request if isinstance(request, dict) else record
    method = _method(fields.get("method"))
    path = fields.get("path")
    query = fields.get("query_string", fields.get("query", ""))
    scheme = fields.get("scheme")
    host = fields.get("host")
    if path is None and isinstance(fields.get("url"), str):
        url = urlsplit(fields["url"])
        path, query = url.path or "/", url.query
        scheme, host = scheme or url.scheme or None, host or url.netloc or None
    if not isinstance(path, str) or not path.startswith("/"):
        raise InvalidRequest(f"no request path (got {path!r}); expected 'path': '/...'")
    script_name = fields.get("script_name") or ""
    if not isinstance(script_name, str) or (script_name and not script_name.startswith("/")):
        raise InvalidRequest(f"script_name must be empty or start with '/' (got {script_name!r})")
    if fields is request:
        # A trace record holds the WSGI strings (latin-1 decoded bytes):
        # the request's text is what the framework decodes from them.
        from wsgiscope.wsgistr import display_path

        path, script_name = display_path(path), display_path(script_name)
        if isinstance(query, str):
            query = display_path(query)
    if script_name:
        path = script_name.rstrip("/") + path
    headers, redacted = _record_headers(fields.get("headers"), record.get("environ"))
    body = _record_body(fields, record)
    if REDACTED.encode() in body:
        redacted += ("body",)
    return validate_request(
        ReplayRequest(
            method,
            path,
            _query_text(query),
            headers,
            body,
            scheme if isinstance(scheme, str) and scheme else None,
            host if isinstance(host, str) and host else None,
            origin,
            redacted,
        )
    )


def _method(value: t.Any) -> str:
    if not isinstance(value, str) or not value:
        raise InvalidRequest(f"no request method (got {value!r})")
    method = value.upper()
    if method not in METHODS:
        raise InvalidRequest(f"unknown method {value!r}")
    return method


def _query_text(query: t.Any) -> str:
    if query is None:
        return ""
    if isinstance(query, str):
        return query.lstrip("?")
    if isinstance(query, dict):
        return urlencode(query, doseq=True)
    if isinstance(query, list):
        try:
            return urlencode([(str(k), str(v)) for k, v in query])
        except (TypeError, ValueError):
            pass
    raise InvalidRequest(f"query must be a string, an object or [name, value] pairs, got {query!r}")


def _record_headers(
    headers: t.Any, environ: t.Any
) -> tuple[tuple[tuple[str, str], ...], tuple[str, ...]]:
    """The headers to replay, and the names of those redacted in the record."""
    pairs: list[tuple[str, str]] = []
    if isinstance(headers, dict):
        pairs = [(str(k), str(v)) for k, v in headers.items()]
    elif isinstance(headers, list):
        for item in headers:
            if isinstance(item, (list, tuple)) and len(item) == 2:
                pairs.append((str(item[0]), str(item[1])))
            elif isinstance(item, dict) and "name" in item:
                pairs.append((str(item["name"]), str(item.get("value", ""))))
            else:
                raise InvalidRequest(f"a header must be [name, value], got {item!r}")
    elif headers is not None:
        raise InvalidRequest(f"headers must be an object or a list, got {headers!r}")
    elif isinstance(environ, dict):
        for key, value in environ.items():
            if not isinstance(value, str):
                continue
            if key.startswith("HTTP_"):
                pairs.append((key[5:].replace("_", "-").title(), value))
            elif key == "CONTENT_TYPE" and value:
                pairs.append(("Content-Type", value))
    # A secret redacted in the record (Cookie, Authorization...) cannot be
    # replayed: sending the placeholder would be a different request.
    kept = tuple((n, v) for n, v in pairs if n.lower() not in _DROPPED_HEADERS and v != REDACTED)
    return kept, tuple(n for n, v in pairs if v == REDACTED)


def _record_body(fields: dict[str, t.Any], record: dict[str, t.Any]) -> bytes:
    for holder in (fields, record):
        if isinstance(holder.get("body_base64"), str):
            try:
                return base64.b64decode(holder["body_base64"], validate=True)
            except ValueError:
                raise InvalidRequest("body_base64 is not valid base64") from None
        body = holder.get("body")
        if isinstance(body, str):
            if holder.get("body_encoding") == "base64":  # a trace record's binary body
                try:
                    return base64.b64decode(body, validate=True)
                except ValueError:
                    raise InvalidRequest("body is not valid base64") from None
            return body.encode("utf-8")
        if isinstance(body, (dict, list)):
            return json.dumps(body).encode("utf-8")
        if body is not None:
            raise InvalidRequest(f"body must be a string, got {type(body).__name__}")
    return b""


# -- HAR ---------------------------------------------------------------------


def _read_har(
    path: Path,
    text: str,
    result: SourceResult,
    skip_invalid: bool,
    host_filter: t.Sequence[str] | None,
) -> None:
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SourceError(f"{path}:{exc.lineno}: invalid JSON in HAR file: {exc.msg}") from None
    except (ValueError, RecursionError) as exc:  # a huge number, deep nesting
        raise SourceError(f"{path}: invalid JSON in HAR file: {type(exc).__name__}") from None
    log = document.get("log") if isinstance(document, dict) else None
    entries = log.get("entries") if isinstance(log, dict) else None
    if not isinstance(entries, list):
        raise SourceError(
            f"{path}: not a HAR file: no log.entries list",
            hint="export the network log as HAR from the browser's developer tools",
        )
    patterns = list(host_filter) if host_filter else None
    skipped: set[str] = set()
    for index, entry in enumerate(entries):
        where = f"{path}: log.entries[{index}]"
        try:
            request = request_from_har_entry(entry, where)
        except Exception as exc:
            problem = _malformed(exc)
            if not skip_invalid:
                raise SourceError(f"{where}: {problem}", hint=_HINT) from None
            result.skip(f"{where}: {problem}")
            continue
        host = (request.host or "").lower()
        if patterns is None:
            patterns = [host]
        if not any(fnmatch.fnmatch(host, p.lower()) for p in patterns):
            result.other_hosts += 1
            skipped.add(host)
            continue
        result.requests.append(request)
    result.skipped_hosts = sorted(set(result.skipped_hosts) | skipped)


def request_from_har_entry(entry: t.Any, origin: str = "") -> ReplayRequest:
    """One HAR 1.2 ``entries[i]`` as a request.

    :raises InvalidRequest: when the entry has no request, method or absolute URL.
    """
    request = entry.get("request") if isinstance(entry, dict) else None
    if not isinstance(request, dict):
        raise InvalidRequest("no 'request' object")
    method = _method(request.get("method"))
    url = request.get("url")
    if not isinstance(url, str):
        raise InvalidRequest(f"no request URL (got {url!r})")
    try:
        parts = urlsplit(url)
    except ValueError as exc:  # a bad IPv6 address
        raise InvalidRequest(f"invalid URL {_shown_url(url)!r}: {exc}") from None
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise InvalidRequest(f"the URL must be absolute http(s), got {_shown_url(url)!r}")
    headers: list[tuple[str, str]] = []
    for header in request.get("headers") or []:
        if not isinstance(header, dict) or not isinstance(header.get("name"), str):
            raise InvalidRequest(f"a header must be {{'name', 'value'}}, got {header!r}")
        name = header["name"]
        # HTTP/2 and HTTP/3 pseudo-headers (:authority, :method...) are not headers.
        if name.startswith(":") or name.lower() in _DROPPED_HEADERS or name.lower() == "host":
            continue
        headers.append((name, str(header.get("value", ""))))
    headers.insert(0, ("Host", parts.netloc))
    names = {name.lower() for name, _ in headers}
    cookies = request.get("cookies") or []
    if cookies and "cookie" not in names:
        pairs = [
            f"{c['name']}={c.get('value', '')}"
            for c in cookies
            if isinstance(c, dict) and isinstance(c.get("name"), str)
        ]
        headers.append(("Cookie", "; ".join(pairs)))
    body, content_type = _har_body(request.get("postData"))
    if content_type and "content-type" not in names:
        headers.append(("Content-Type", content_type))
    return validate_request(
        ReplayRequest(
            method,
            parts.path or "/",
            parts.query,
            tuple(headers),
            body,
            parts.scheme,
            parts.netloc,
            origin,
        )
    )


def _har_body(post: t.Any) -> tuple[bytes, str | None]:
    if post is None:
        return b"", None
    if not isinstance(post, dict):
        raise InvalidRequest(f"postData must be an object, got {post!r}")
    mime = post.get("mimeType") or None
    text = post.get("text")
    if isinstance(text, str):
        if post.get("encoding") == "base64":
            try:
                return base64.b64decode(text), mime
            except ValueError:
                raise InvalidRequest("postData.text is not valid base64") from None
        return text.encode("utf-8"), mime
    params = post.get("params")
    if not isinstance(params, list):
        return b"", mime
    fields = [(str(p.get("name", "")), str(p.get("value", ""))) for p in params]
    if mime and mime.startswith("multipart/form-data"):
        boundary = f"wsgiscope{uuid.uuid4().hex}"
        chunks = [
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
            for name, value in fields
        ]
        body = "".join(chunks) + f"--{boundary}--\r\n"
        return body.encode("utf-8"), f"multipart/form-data; boundary={boundary}"
    return urlencode(fields).encode("utf-8"), mime or "application/x-www-form-urlencoded"


# -- request lines -----------------------------------------------------------


def _read_lines(path: Path, text: str, result: SourceResult, skip_invalid: bool) -> None:
    current: dict[str, t.Any] | None = None
    skipping = False

    def flush() -> None:
        if current is not None:
            request = ReplayRequest(
                current["method"],
                current["path"],
                current["query"],
                tuple(current["headers"]),
                origin=current["origin"],
            )
            try:
                result.requests.append(validate_request(request))
            except InvalidRequest as exc:
                if not skip_invalid:
                    raise SourceError(f"{current['origin']}: {exc}", hint=_HINT) from None
                result.skip(f"{current['origin']}: {exc}")

    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        where = f"{path}:{number}"
        is_header = raw[:1].isspace() or _looks_like_header(line)
        try:
            if is_header:
                if skipping:
                    continue
                if current is None:
                    raise InvalidRequest(f"header line before any request line: {line!r}")
                name, _, value = line.partition(":")
                if name.lower() not in _DROPPED_HEADERS:
                    current["headers"].append((name.strip(), value.strip()))
                continue
            flush()
            current, skipping = None, False
            current = _request_line(line, where)
        except InvalidRequest as exc:
            if not skip_invalid:
                raise SourceError(f"{where}: {exc}", hint=_HINT) from None
            result.skip(f"{where}: {exc}")
            skipping = not is_header
    flush()


def _looks_like_header(line: str) -> bool:
    name, sep, _ = line.partition(":")
    return bool(sep) and " " not in name and "/" not in name and bool(name)


def _request_line(line: str, where: str) -> dict[str, t.Any]:
    words = line.split()
    if len(words) == 1 and words[0].startswith("/"):
        words = ["GET", words[0]]
    if len(words) not in (2, 3):
        raise InvalidRequest(f"expected 'METHOD /path' (optionally 'HTTP/1.1'), got {line!r}")
    method = _method(words[0])
    target = words[1]
    if target.startswith(("http://", "https://")):
        target = urlsplit(target)._replace(scheme="", netloc="").geturl() or "/"
    if not target.startswith("/"):
        raise InvalidRequest(f"the path must start with '/', got {target!r}")
    path, _, query = target.partition("?")
    return {"method": method, "path": path, "query": query, "headers": [], "origin": where}


# -- the route table ---------------------------------------------------------


def requests_from_routes(routes: t.Iterable[t.Any]) -> list[ReplayRequest]:
    """GET and HEAD for every route whose URL could be built.

    ``routes`` are :class:`wsgiscope.frameworks.base.Route` values; a route
    without a ``url`` (no sample arguments fit) or without GET is left out.
    """
    found: list[ReplayRequest] = []
    seen: set[tuple[str, str]] = set()
    for route in routes:
        url = getattr(route, "url", None)
        methods = {m.upper() for m in getattr(route, "methods", None) or ["GET"]}
        # An opaque route ("/*": an app without a route table) takes any method.
        if not url or not methods & {"GET", "*"} or getattr(route, "redirect_to", None):
            continue
        parts = urlsplit(url)
        target = parts.path or "/"
        for method in ("GET", "HEAD"):
            if (method, url) in seen:
                continue
            seen.add((method, url))
            found.append(
                ReplayRequest(
                    method,
                    target,
                    parts.query,
                    scheme=parts.scheme or None,
                    host=parts.netloc or None,
                    origin=f"route {getattr(route, 'endpoint', '?')}",
                )
            )
    return found


def parse_header_option(text: str) -> tuple[str, str]:
    """``-H 'Name: value'`` -> ``(name, value)``.

    :raises UsageError: when it is not ``Name: value`` with a valid name.
    """
    from wsgiscope.errors import UsageError

    name, sep, value = text.partition(":")
    name = name.strip()
    if not sep or not re.fullmatch(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+", name):
        raise UsageError(
            f"invalid header {text!r}", hint="use -H 'Name: value', e.g. -H 'Cookie: session=...'"
        )
    return name, value.strip()


def with_headers(
    requests: t.Sequence[ReplayRequest], extra: t.Sequence[tuple[str, str]]
) -> list[ReplayRequest]:
    """Every request with the ``extra`` headers, replacing same-named ones
    (as curl's ``-H`` does); a header given counts as no longer redacted."""
    if not extra:
        return list(requests)
    names = {name.lower() for name, _ in extra}
    out = []
    for request in requests:
        headers = tuple(h for h in request.headers if h[0].lower() not in names) + tuple(extra)
        redacted = tuple(r for r in request.redacted if r.lower() not in names)
        out.append(dataclasses.replace(request, headers=headers, redacted=redacted))
    return out
