"""Shared helpers of the serve and tail tests: trace records, free ports, servers."""

from __future__ import annotations

import json
import os
import typing as t


def make_record(
    n: int = 0,
    *,
    method: str = "GET",
    path: str = "/",
    status: int = 200,
    duration_ms: float = 1.0,
    pid: int = 1000,
    error: dict[str, str] | None = None,
    teardown_exception: str | None = None,
) -> dict[str, t.Any]:
    """A ``wsgiscope.trace/1`` record shaped as DESIGN.md describes it."""
    events: list[dict[str, t.Any]] = []
    if teardown_exception is not None:
        events.append(
            {
                "seq": 1,
                "t_ms": 0.5,
                "kind": "hook",
                "depth": 1,
                "hook": "teardown_request",
                "function": "app.close_db",
                "exception": teardown_exception,
                "duration_ms": 0.01,
            }
        )
    return {
        "format": "wsgiscope.trace/1",
        "id": f"req-{n}",
        "started": "2026-01-02T03:04:05.678000+00:00",
        "duration_ms": duration_ms,
        "request": {
            "method": method,
            "path": path,
            "query_string": "",
            "script_name": "",
            "scheme": "http",
            "host": "127.0.0.1",
        },
        "environ": {},
        "events": events,
        "response": {
            "status": status,
            "headers": [],
            "body_bytes": 12,
            "body_preview": "",
            "truncated": False,
        },
        "error": error,
        "lint": [],
        "worker": {"pid": pid, "thread": 139_000_000 + n, "greenlet": None},
    }


def record_line(record: dict[str, t.Any]) -> bytes:
    """One JSON Lines line for ``record``."""
    return json.dumps(record).encode() + b"\n"


def append(path: str | os.PathLike[str], data: bytes) -> None:
    """Append ``data`` to ``path`` in one ``O_APPEND`` write, as the sink does."""
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)
