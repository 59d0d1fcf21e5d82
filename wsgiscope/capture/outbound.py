"""Outbound HTTP capture: requests a traced request makes to other servers.

While tracing, on the classes (restored exactly afterwards):

- ``http.client.HTTPConnection.putrequest``, ``endheaders`` (where it
  connects and sends) and ``getresponse``, which
  urllib, urllib3 and requests all go through (their connections subclass
  ``HTTPConnection`` and call ``super()``): one event per request, from the
  request line to the response's status line and headers;
- ``httpx.Client.send`` when httpx is imported (it does not use
  ``http.client``).

Each is an event ``kind="http"`` at its place in the lifecycle:
``method``, ``url`` (user info dropped, secret-named query parameters
redacted), ``status``, ``duration_ms`` (until the response headers arrived;
reading the body is the app's own time), ``response_bytes`` (the response's
``Content-Length``, or the body size for a non-streamed httpx response;
``null`` when unknown), ``client`` and ``error`` (a connection refused, a
timeout).
"""

from __future__ import annotations

import dataclasses
import typing as t
from urllib.parse import urlsplit, urlunsplit

from wsgiscope.capture import captured, quiet
from wsgiscope.redact import Redactor, as_text, redact_uri
from wsgiscope.tracing.events import Event, _fields, describe_exception
from wsgiscope.tracing.recorder import Recorder, _current

if t.TYPE_CHECKING:
    from wsgiscope.tracing.instrument import Patches

#: Characters of a URL kept.
URL_LIMIT = 2000


@_fields
@dataclasses.dataclass(frozen=True, slots=True)
class OutboundRequest(Event):
    """An HTTP request the app made."""

    method: str
    url: str
    status: int | None
    duration: float | None
    response_bytes: int | None
    client: str
    error: BaseException | None

    kind: t.ClassVar[str] = "http"

    @classmethod
    def to_record(
        cls,
        seq: int,
        t_ms: float,
        depth: int,
        parent: int | None,
        values: list[t.Any],
        redactor: Redactor,
    ) -> dict[str, t.Any]:
        method, url, status, duration, size, client, error = values
        return {
            "seq": seq,
            "t_ms": t_ms,
            "kind": cls.kind,
            "depth": depth,
            "parent": parent,
            "method": method,
            "url": url if redactor.show_secrets else redact_uri(url),
            "status": status,
            "duration_ms": None if duration is None else int(duration * 1e6 + 0.5) / 1000,
            "response_bytes": size,
            "client": client,
            "error": describe_exception(error),
        }


def clean_url(url: str) -> str:
    """``url`` without user info, capped."""
    try:
        parts = urlsplit(url)
        if parts.username is not None or parts.password is not None:
            host = parts.hostname or ""
            if parts.port is not None:
                host = f"{host}:{parts.port}"
            url = urlunsplit((parts.scheme, host, parts.path, parts.query, parts.fragment))
    except ValueError:
        pass
    return url if len(url) <= URL_LIMIT else f"{url[:URL_LIMIT]}... [{len(url)} chars]"


def _recording() -> Recorder | None:
    rec = _current.get()
    if rec is None or not rec.keep or "http" not in rec.capture:
        return None
    return rec


@quiet
def start(rec: Recorder, method: t.Any, url: str, client: str) -> t.Any:
    """Record a request starting now; returns its row (finished by :func:`end`)."""
    url = clean_url(url)
    if not captured(rec).admit("http", len(url)):
        return None
    values = [as_text(method), url, None, None, None, client, None]
    return rec.add(OutboundRequest, rec.depth, values)


@quiet
def end(
    rec: Recorder,
    row: t.Any,
    status: t.Any = None,
    size: t.Any = None,
    error: BaseException | None = None,
) -> None:
    """Finish a request's event."""
    values = row[4]
    values[3] = rec.clock() - row[1]  # since the row was added
    if type(status) is int:
        values[2] = status
    if isinstance(size, str) and size.strip().isdigit():
        size = int(size)
    if type(size) is int:
        values[4] = size
    if error is not None:
        values[6] = error


_KEY = "_wsgiscope_http"


def install(patches: Patches) -> None:
    """Wrap ``HTTPConnection.putrequest``, ``endheaders`` and ``getresponse``."""
    import http.client

    connection = http.client.HTTPConnection
    orig_put = connection.putrequest
    orig_get = connection.getresponse
    orig_end = connection.endheaders
    https = getattr(http.client, "HTTPSConnection", None)

    @quiet
    def note(self: t.Any, rec: Recorder, method: str, url: str) -> None:
        if "://" in url:
            full = url  # a request through a proxy names the whole URL
        else:
            scheme = "https" if https is not None and isinstance(self, https) else "http"
            full = f"{scheme}://{self.host}:{self.port}{url}"
        values = start(rec, method, full, "http.client")
        if values is not None:
            self.__dict__[_KEY] = (rec, values)

    def putrequest(self: t.Any, method: str, url: str, *args: t.Any, **kwargs: t.Any) -> t.Any:
        rec = _recording()
        if rec is not None:
            note(self, rec, method, url)
        return orig_put(self, method, url, *args, **kwargs)

    def getresponse(self: t.Any) -> t.Any:
        pending = self.__dict__.pop(_KEY, None)
        if pending is None:
            return orig_get(self)
        rec, values = pending
        try:
            response = orig_get(self)
        except BaseException as exc:
            end(rec, values, error=exc)
            raise
        end(rec, values, response.status, response.getheader("Content-Length"))
        return response

    def endheaders(self: t.Any, *args: t.Any, **kwargs: t.Any) -> t.Any:
        # sends the request, connecting first: a refused connection is here
        try:
            return orig_end(self, *args, **kwargs)
        except BaseException as exc:
            pending = self.__dict__.pop(_KEY, None)
            if pending is not None:
                end(pending[0], pending[1], error=exc)
            raise

    patches.set(connection, "putrequest", putrequest)
    patches.set(connection, "endheaders", endheaders)
    patches.set(connection, "getresponse", getresponse)


def install_httpx(patches: Patches) -> None:
    """Wrap ``httpx.Client.send``."""
    import httpx

    orig = httpx.Client.send

    def send(self: t.Any, request: t.Any, *args: t.Any, **kwargs: t.Any) -> t.Any:
        rec = _recording()
        values = None if rec is None else start(rec, request.method, str(request.url), "httpx")
        if values is None or rec is None:
            return orig(self, request, *args, **kwargs)
        try:
            response = orig(self, request, *args, **kwargs)
        except BaseException as exc:
            end(rec, values, error=exc)
            raise
        size: t.Any = response.headers.get("content-length")
        if size is None and not kwargs.get("stream"):
            try:
                size = len(response.content)
            except Exception:
                size = None
        end(rec, values, response.status_code, size)
        return response

    patches.set(httpx.Client, "send", send)
