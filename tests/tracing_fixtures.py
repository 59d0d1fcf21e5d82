"""Helpers shared by the tracing tests: run a request, summarise its events."""

from __future__ import annotations

import typing as t

from werkzeug.test import EnvironBuilder

from wsgiscope.tracing import TraceResult, run_traced


def environ(path: str = "/", **kwargs: t.Any) -> dict[str, t.Any]:
    """A request environ as werkzeug's test client builds it."""
    return EnvironBuilder(path, **kwargs).get_environ()


def trace(app: t.Any, path: str = "/", **kwargs: t.Any) -> TraceResult:
    """Run one request through ``app`` under the tracer."""
    options = {k: kwargs.pop(k) for k in ("max_body", "redact", "clock") if k in kwargs}
    return run_traced(app, environ(path, **kwargs), **options)


def steps(record: dict[str, t.Any], kinds: tuple[str, ...] = ("push", "pop", "hook")) -> list[str]:
    """The events of ``kinds`` as short strings, e.g. ``"push app lifecycle 1"``."""
    out = []
    for event in record["events"]:
        kind = event["kind"]
        if kind not in kinds:
            continue
        if kind in ("push", "pop"):
            out.append(f"{kind} {event['context']} {event['app']} {event['depth']}")
        elif kind == "hook":
            out.append(f"{event['hook']} {event['function'].rsplit('.', 1)[-1]}")
        elif kind == "signal":
            out.append(f"signal {event['name']}")
        else:
            out.append(kind)
    return out


def merged_flask() -> bool:
    """Whether the installed Flask has one merged app + request context (Flask 3.2)."""
    from wsgiscope.tracing.flask import detect

    return detect() == "merged"


def append_records(path: str, count: int, size: int) -> int:
    """Worker process body: ``count`` requests whose records carry ``size`` body bytes.

    Run in separate processes by the sink tests; returns the pid.
    """
    import os

    from wsgiscope import TraceMiddleware

    payload = (f"{os.getpid()}:".encode() * size)[:size]

    def app(env: dict[str, t.Any], start_response: t.Any) -> list[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [payload]

    with TraceMiddleware(app, sink=path, max_body=size) as mw:
        for i in range(count):
            result = mw(environ(f"/{i}"), lambda status, headers, exc_info=None: None)
            for _ in result:
                pass
            result.close()  # type: ignore[attr-defined]
    return os.getpid()
