"""Issue #22, points 14-15: an app that ends the process or leaves threads
running while it loads.

Each command runs as a real process (``python -m wsgiscope``): what is
tested is how the process ends."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from tests.conftest import APPS

APP = f"{APPS / 'hostile_load.py'}:app"
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def wsgiscope(mode: str, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "wsgiscope", *args],
        capture_output=True, text=True, timeout=timeout, cwd=ROOT,
        env={**os.environ, "PYTHONPATH": ROOT, "HOSTILE_LOAD": mode, "NO_COLOR": "1"},
    )  # fmt: skip


COMMANDS = [
    ["info", APP],
    ["trace", APP, "/"],
    ["routes", APP],
    ["lint", APP],
    ["replay", APP, "-n", "5"],
    ["replay", APP, "-n", "5", "--processes", "2"],
]


@pytest.mark.slow
@pytest.mark.parametrize("args", COMMANDS, ids=lambda a: " ".join(a[::2]))
def test_os_exit_while_loading_is_one_line(args: list[str]) -> None:
    done = wsgiscope("exit", *args)
    assert done.returncode == 2, done.stderr
    assert "the app exited the process while loading (os._exit(7))" in done.stderr
    assert "hostile_load.py:" in done.stderr


@pytest.mark.slow
@pytest.mark.parametrize("server", [[], ["--server", "gunicorn"]])
def test_serve_stops_when_the_app_exits_while_loading(server: list[str]) -> None:
    if server:
        pytest.importorskip("gunicorn")
    done = wsgiscope("exit", "serve", APP, "--port", "0", *server)
    assert done.returncode == 2, done.stderr
    assert "the app exited the process while loading (os._exit(7))" in done.stderr


@pytest.mark.slow
def test_serve_stops_when_gunicorn_workers_keep_dying_at_boot() -> None:
    pytest.importorskip("gunicorn")
    started = time.monotonic()
    done = wsgiscope("segv", "serve", APP, "--port", "0", "--server", "gunicorn")
    assert time.monotonic() - started < 50
    assert done.returncode == 2, done.stderr
    assert "gunicorn workers keep dying before they boot (3 in a row)" in done.stderr


@pytest.mark.slow
@pytest.mark.parametrize("args", COMMANDS, ids=lambda a: " ".join(a[::2]))
def test_commands_end_when_their_work_ends_despite_app_threads(args: list[str]) -> None:
    done = wsgiscope("thread", *args, timeout=60)
    assert done.returncode in (0, 1), done.stderr
    if "--processes" not in args:
        assert "the app's threads were left running (app-poller)" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.slow
def test_ctrl_c_with_app_threads_exits_130() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "wsgiscope", "replay", APP, "--duration", "60s"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
        env={**os.environ, "PYTHONPATH": ROOT, "HOSTILE_LOAD": "thread"},
    )  # fmt: skip
    time.sleep(3)
    proc.send_signal(signal.SIGINT)
    try:
        _, stderr = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 130, stderr
    assert "Exception ignored" not in stderr
