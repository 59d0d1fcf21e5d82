"""Trace records of real requests to ``tests/apps/export_shop.py``, for the export tests."""

from __future__ import annotations

import json
import os
import threading
import typing as t
from pathlib import Path

from wsgiscope.loading import AppRef, load_app

APPS = Path(__file__).parent / "apps"
SHOP = f"{APPS / 'export_shop.py'}:app"

#: (method, path, query, headers, body) sent to the shop and recorded.
REQUESTS: list[tuple[str, str, str, list[tuple[str, str]], bytes | None]] = [
    ("GET", "/items/caf%C3%A9", "q=a+b&n=1", [("X-Trace", "a b;c=d:e")], None),
    (
        "POST",
        "/items",
        "",
        [("Content-Type", "application/json"), ("X-Note", "$(touch PWNED) `id` 'q' \"d\"")],
        b'{"name": "ada", "tags": ["x", "\\u00e9"]}',
    ),
    ("POST", "/items", "", [("Content-Type", "application/x-www-form-urlencoded")], b"name=bob"),
    ("PUT", "/blob", "", [("Content-Type", "application/octet-stream")], bytes(range(256))),
    ("DELETE", "/items/old", "", [], None),
    ("GET", "/private", "", [("Cookie", "session_id=s3cret")], None),
    ("GET", "/boom", "", [], None),
    ("HEAD", "/items/x", "", [], None),
    ("GET", "/items/%5Bx%5D%7By%7D@", "", [("X-Empty", "")], None),
]


def load_shop() -> t.Any:
    return load_app(AppRef(SHOP, "test")).app


def record_requests(path: Path, *, threads: int = 1) -> list[dict[str, t.Any]]:
    """Send :data:`REQUESTS` through ``TraceMiddleware`` into ``path``; its records.

    The app's module and ``sys.path`` are put back as they were afterwards
    (module-scoped fixtures call this before ``isolate_imports`` looks).
    """
    import sys

    modules, sys_path = set(sys.modules), list(sys.path)
    try:
        return _record_requests(path, threads)
    finally:
        for name in set(sys.modules) - modules:
            del sys.modules[name]
        sys.path[:] = sys_path


def _record_requests(path: Path, threads: int) -> list[dict[str, t.Any]]:
    from werkzeug.test import Client

    from wsgiscope.tracing import TraceMiddleware

    app = load_shop()
    original = app.wsgi_app
    traced = TraceMiddleware(original, sink=str(path))
    app.wsgi_app = traced
    try:

        def send(requests: t.Sequence[t.Any]) -> None:
            client = Client(app, use_cookies=False)
            for method, target, query, headers, body in requests:
                response = client.open(
                    target, method=method, query_string=query, headers=headers, data=body
                )
                response.close()

        if threads == 1:
            send(REQUESTS)
        else:
            workers = [
                threading.Thread(target=send, args=(REQUESTS,), name=f"worker-{n}")
                for n in range(threads)
            ]
            for worker in workers:
                worker.start()
            for worker in workers:
                worker.join()
    finally:
        traced.close()
        app.wsgi_app = original
    return [json.loads(line) for line in path.read_text().splitlines()]


def received(log: Path) -> list[str]:
    """The distinct requests the shop logged (``EXPORT_LOG``), sorted."""
    return sorted(set(log.read_text().splitlines())) if log.exists() else []


def env_with(**values: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(values)
    env.pop("WSGISCOPE_APP", None)
    return env
