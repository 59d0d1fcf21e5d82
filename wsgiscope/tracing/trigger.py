"""Production trace hooks: trace only the requests that ask for it, and join W3C traces.

:class:`Trigger` is what ``TraceMiddleware(trigger=...)`` takes: a header or
a cookie that must carry a shared secret (compared in constant time, with
:func:`hmac.compare_digest`). With a trigger, only requests that carry it
are traced; every other request goes straight to the app, untouched (no
sampling decision, no copy of the environ). The secret never reaches a
record: the trigger's header (or cookie) is replaced by ``"[redacted]"`` in
the record's environ (and a dispatcher's environ changes), even with
``redact=False``.

:func:`trace_context` reads a W3C Trace Context ``traceparent`` header
(https://www.w3.org/TR/trace-context/, version ``00``; later versions are
read by their first four fields, as the specification asks) into the
record's ``traceparent`` field: ``{"trace_id": 32 hex, "parent_span_id":
16 hex, "sampled": bool}`` (plus ``"tracestate"`` when the request has one).
``wsgiscope export otlp`` puts the request's spans into that trace, under
that parent span.
"""

from __future__ import annotations

import hmac
import re
import typing as t

from wsgiscope.redact import REDACTED

__all__ = ["Trigger", "trace_context"]


class Trigger:
    """Trace a request only when it carries a header or cookie with the shared secret.

    Exactly one of ``header`` and ``cookie`` is given::

        app.wsgi_app = TraceMiddleware(
            app.wsgi_app,
            sink="traces.jsonl",
            trigger=Trigger(header="X-Wsgiscope-Trace", secret=os.environ["TRACE_SECRET"]),
        )
        # curl -H "X-Wsgiscope-Trace: $TRACE_SECRET" https://example.com/slow-page

    :param header: the request header that carries the secret.
    :param cookie: the cookie that carries the secret.
    :param secret: the shared secret (at least 16 characters: it is a
        password to turn tracing on in production).
    :raises ValueError: for a missing or short secret, or not exactly one of
        ``header`` and ``cookie``.
    """

    def __init__(
        self, *, header: str | None = None, cookie: str | None = None, secret: str
    ) -> None:
        if (header is None) == (cookie is None):
            raise ValueError("give exactly one of header= and cookie=")
        if not isinstance(secret, str) or len(secret) < 16:
            raise ValueError("the trigger secret must be a string of at least 16 characters")
        self.header = header
        self.cookie = cookie
        self._secret = secret.encode("utf-8")
        self._key = None if header is None else "HTTP_" + header.upper().replace("-", "_")

    def __repr__(self) -> str:
        where = f"header={self.header!r}" if self.header else f"cookie={self.cookie!r}"
        return f"Trigger({where}, secret=...)"

    def _given(self, environ: t.Mapping[str, t.Any]) -> str | None:
        if self._key is not None:
            value = environ.get(self._key)
            return value if isinstance(value, str) else None
        cookies = environ.get("HTTP_COOKIE")
        if not isinstance(cookies, str):
            return None
        for part in cookies.split(";"):
            name, sep, value = part.strip().partition("=")
            if sep and name == self.cookie:
                return value.strip().strip('"')
        return None

    def matches(self, environ: t.Mapping[str, t.Any]) -> bool:
        """Whether the request carries the secret (compared in constant time)."""
        given = self._given(environ)
        if given is None:
            return False
        # WSGI header values are latin-1 text: back to the bytes the client sent
        data = given.encode("latin-1", "replace")
        return hmac.compare_digest(data, self._secret)

    def scrub(self, record: dict[str, t.Any]) -> None:
        """Replace the secret by ``"[redacted]"`` wherever ``record`` (a
        ``wsgiscope.trace/1`` record) shows the environ: its ``environ`` and
        the environ keys a dispatcher level changed."""
        holders = [record.get("environ")]
        for event in record.get("events") or ():
            if isinstance(event, dict) and event.get("kind") == "dispatch":
                holders.append(event.get("changed"))
        for holder in holders:
            if isinstance(holder, dict):
                self._scrub_environ(holder)

    def _scrub_environ(self, environ: dict[str, t.Any]) -> None:
        if self._key is not None:
            if self._key in environ:
                environ[self._key] = REDACTED
            return
        cookies = environ.get("HTTP_COOKIE")
        if not isinstance(cookies, str) or cookies == REDACTED:
            return
        parts = []
        for part in cookies.split(";"):
            name, sep, _ = part.strip().partition("=")
            parts.append(f"{name}={REDACTED}" if sep and name == self.cookie else part.strip())
        environ["HTTP_COOKIE"] = "; ".join(parts)


_TRACEPARENT = re.compile(r"^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-[^\s]*)?$")


def trace_context(environ: t.Mapping[str, t.Any]) -> dict[str, t.Any] | None:
    """The request's W3C ``traceparent`` as the record stores it, or ``None``
    when it has none or an invalid one (which the specification says to ignore)."""
    header = environ.get("HTTP_TRACEPARENT")
    if not isinstance(header, str):
        return None
    found = _TRACEPARENT.match(header.strip())
    if found is None:
        return None
    version, trace_id, parent_id, flags, rest = found.groups()
    if version == "ff" or (version == "00" and rest):
        return None
    if trace_id == "0" * 32 or parent_id == "0" * 16:
        return None
    context: dict[str, t.Any] = {
        "trace_id": trace_id,
        "parent_span_id": parent_id,
        "sampled": bool(int(flags, 16) & 1),
    }
    state = environ.get("HTTP_TRACESTATE")
    if isinstance(state, str) and state:
        context["tracestate"] = state[:512]
    return context
