"""Helpers for the replay tests: run the real CLI in a fresh interpreter.

Greenlet modes must run in a subprocess (gevent patching must never reach
the pytest process), and so does anything that configures Django.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import typing as t
from pathlib import Path

ROOT = Path(__file__).parent.parent
APPS = Path(__file__).parent / "apps"
DATA = Path(__file__).parent / "data"


def replay(*args: str, timeout: float = 60) -> tuple[int, dict[str, t.Any] | None, str]:
    """``python -m wsgiscope replay ARGS --json`` from tests/apps: (rc, JSON, stderr)."""
    environment = {**os.environ, "PYTHONPATH": str(ROOT)}
    environment.pop("WSGISCOPE_APP", None)
    result = subprocess.run(
        [sys.executable, "-m", "wsgiscope", "replay", *args, "--json"],
        capture_output=True,
        text=True,
        cwd=APPS,
        env=environment,
        timeout=timeout,
    )
    document = json.loads(result.stdout) if result.stdout.strip() else None
    return result.returncode, document, result.stderr


def lines_file(tmp_path: Path, *lines: str) -> str:
    """A request-lines source file holding ``lines``."""
    path = tmp_path / "requests.txt"
    path.write_text("\n".join(lines) + "\n")
    return str(path)


USERS = ("GET /whoami?user=alice", "GET /whoami?user=bob", "GET /whoami?user=carol")
