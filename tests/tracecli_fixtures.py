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


SNAPSHOTS = Path(__file__).parent / "snapshots"


class FakeClock:
    """A clock that advances 0.1 ms every time it is read."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        self.now += 0.0001
        return self.now


def mask(text: str) -> str:
    """Replace what differs between runs (pids, addresses) by placeholders."""
    import re

    text = re.sub(r"pid \d+", "pid <pid>", text)
    return re.sub(r"0x[0-9a-f]+", "0x<addr>", text)


def assert_snapshot(name: str, text: str) -> None:
    """Compare ``text`` with ``tests/snapshots/<name>``.

    Set ``WSGISCOPE_UPDATE_SNAPSHOTS=1`` to write the files instead.
    """
    import os

    path = SNAPSHOTS / name
    if os.environ.get("WSGISCOPE_UPDATE_SNAPSHOTS"):
        path.parent.mkdir(exist_ok=True)
        path.write_text(text, encoding="utf-8")
    assert path.is_file(), f"no snapshot {path}: run with WSGISCOPE_UPDATE_SNAPSHOTS=1"
    assert text == path.read_text(encoding="utf-8")
