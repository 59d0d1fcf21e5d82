"""Shared helpers for the trace CLI tests: load the test apps, run environs."""

from __future__ import annotations

import json
import typing as t
from pathlib import Path

from wsgiscope.loading import AppRef, load_app

APPS = Path(__file__).parent / "apps"


def load(ref: str) -> t.Any:
    """Load ``tests/apps/<ref>`` (e.g. ``"tracecli_echo.py:app"``) the real way."""
    return load_app(AppRef(str(APPS / ref), "argument", APPS)).app


def call(app: t.Any, environ: dict[str, t.Any]) -> tuple[str, dict[str, str], bytes]:
    """Run ``environ`` through ``app``: status, headers, body."""
    from werkzeug.test import run_wsgi_app

    app_iter, status, headers = run_wsgi_app(app, environ, buffered=True)
    return status, dict(headers), b"".join(app_iter)


def echo(app: t.Any, environ: dict[str, t.Any]) -> dict[str, t.Any]:
    """What the echo app saw."""
    status, _, body = call(app, environ)
    assert status == "200 OK", body
    return t.cast("dict[str, t.Any]", json.loads(body))
