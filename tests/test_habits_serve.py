"""``serve`` like gunicorn and ``flask run`` (issue #16): gunicorn's flags, its
config file and GUNICORN_CMD_ARGS through gunicorn's own machinery (the
user's hooks run), ``--reload`` with werkzeug's and gunicorn's reloaders, and
the exit codes of a stop by SIGTERM (143) and Ctrl-C (130)."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner
from serve_fixtures import ServeRun

from wsgiscope.cli import cli

pytest.importorskip("gunicorn")

APP = """
def application(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"%s"]
"""

CONFIG = """
workers = 3
timeout = 45

def on_starting(server):
    with open(%r, "a") as marks:
        marks.write("on_starting workers=%%d\\n" %% server.cfg.workers)

def when_ready(server):
    with open(%r, "a") as marks:
        marks.write("when_ready\\n")
"""


def wait_for(check: object, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():  # type: ignore[operator]
            return
        time.sleep(0.2)
    raise AssertionError("timed out")


@pytest.mark.slow
def test_gunicorn_flags_config_file_and_cmd_args(tmp_path: Path) -> None:
    (tmp_path / "gapp.py").write_text(APP % "g")
    marks = tmp_path / "marks.txt"
    config = tmp_path / "gunicorn.conf.py"
    config.write_text(CONFIG % (str(marks), str(marks)))
    # -w on the command line wins over the file's workers = 3; GUNICORN_CMD_ARGS
    # gives the threads; -k any worker class gunicorn knows; no --server needed
    args = ["-c", str(config), "-w", "2", "-k", "gthread", "-t", "30"]
    env = {"GUNICORN_CMD_ARGS": "--threads 3"}
    with ServeRun(tmp_path, *args, app=str(tmp_path / "gapp.py"), env=env) as run:
        base = run.wait_ready(60)
        assert httpx.get(base).text == "g"
        assert "with gunicorn (2 gthread workers, 3 threads each) on" in run.stderr
        # the user's hooks ran, with the final settings
        wait_for(lambda: marks.exists() and "when_ready" in marks.read_text())
        assert marks.read_text().splitlines() == ["on_starting workers=2", "when_ready"]
        wait_for(lambda: len(run.worker_pids()) == 2)
        run.proc.send_signal(signal.SIGTERM)
        assert run.proc.wait(60) == 143
    assert run.stdout.split()[2:5] == ["GET", "/", "200"]


@pytest.mark.slow
@pytest.mark.parametrize("server", ["werkzeug", "gunicorn"])
def test_reload_serves_the_changed_code(tmp_path: Path, server: str) -> None:
    app = tmp_path / f"reload_{server}.py"
    app.write_text(APP % "one")
    with ServeRun(tmp_path, "--server", server, "--reload", app=str(app)) as run:
        base = run.wait_ready(60)
        assert httpx.get(base).text == "one"
        time.sleep(1.1)  # a new mtime, whatever the file system's resolution
        app.write_text(APP % "two")

        def reloaded() -> bool:
            try:
                return httpx.get(base, timeout=2).text == "two"
            except httpx.HTTPError:  # between two servers
                return False

        wait_for(reloaded, 30)
        assert run.stop() == 130
    assert "2 requests" in run.stderr or "requests in" in run.stderr


def test_reload_needs_a_server_with_a_reloader() -> None:
    result = CliRunner().invoke(
        cli, ["serve", "tests/apps/serve_flask.py:app", "--server", "gevent", "--reload"]
    )
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        "wsgiscope: error: --reload works with --server werkzeug or gunicorn",
        "hint: gevent's server has no reloader; use --server werkzeug --reload",
    ]


@pytest.mark.slow
def test_bad_gunicorn_options_are_reported(tmp_path: Path) -> None:
    (tmp_path / "gapp.py").write_text(APP % "g")
    env = {"GUNICORN_CMD_ARGS": "--no-such-flag"}
    with ServeRun(tmp_path, "-w", "1", app=str(tmp_path / "gapp.py"), env=env) as run:
        assert run.proc.wait(60) == 2
    assert "wsgiscope: error: gunicorn refused its options (see above)" in run.stderr
