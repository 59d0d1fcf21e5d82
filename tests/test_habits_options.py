"""Options from ``[tool.wsgiscope]`` and ``WSGISCOPE_*`` variables, and shell
completion of endpoints, lint rules and record files (issue #16)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent
APPS = ROOT / "tests" / "apps"

APP = """
def app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain"), ("X-Employee-No", "42")])
    return [b"x" * 5000]
"""

PYPROJECT = """
[tool.wsgiscope]
app = "capp:app"
width = 200
print = "hm"
redact = ["employee-no"]

[tool.wsgiscope.trace]
max-body = "1k"
"""


def wsgiscope(*args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    script = Path(sys.executable).parent / "wsgiscope"
    command = [str(script)] if script.exists() else [sys.executable, "-m", "wsgiscope"]
    environment = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("WSGISCOPE_") or k == "WSGISCOPE_CHECK_SCHEMAS"
    }
    environment.update(PYTHONPATH=str(ROOT), NO_COLOR="1", **env)
    return subprocess.run(
        [*command, *args], capture_output=True, text=True, cwd=cwd, env=environment, timeout=60
    )


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "capp.py").write_text(textwrap.dedent(APP))
    (tmp_path / "pyproject.toml").write_text(textwrap.dedent(PYPROJECT))
    (tmp_path / "sub").mkdir()
    return tmp_path


@pytest.mark.slow
def test_pyproject_options_are_defaults(project: Path) -> None:
    result = wsgiscope("trace", "/", cwd=project / "sub")  # found from a subdirectory
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    # width 200: the header line is whole; print "hm": headers and size, no lifecycle
    assert lines[0].startswith("GET / → 200 OK")
    assert "MainThread" in lines[0]
    assert "lifecycle" not in result.stdout
    assert "size 4.9 KiB" in result.stdout
    # max-body 1k from [tool.wsgiscope.trace]
    assert "truncated at 1.0 KiB (--max-body)" in result.stdout
    # redact: the user's own secret names
    assert "X-Employee-No: [redacted]" in result.stdout


@pytest.mark.slow
def test_environment_wins_over_pyproject_and_the_command_line_over_both(project: Path) -> None:
    env = {"WSGISCOPE_TRACE_PRINT": "b", "WSGISCOPE_TRACE_MAX_BODY": "10"}
    result = wsgiscope("trace", "/", cwd=project, **env)
    assert result.returncode == 0, result.stderr
    assert "truncated at 10 B (--max-body)" in result.stdout
    assert "X-Employee-No" not in result.stdout  # only the body
    assert result.stdout.rstrip().endswith("xxxxxxxxxx")
    result = wsgiscope("trace", "/", "--max-body", "20", "-p", "h", cwd=project, **env)
    assert "X-Employee-No" in result.stdout
    assert "truncated at 20 B (--max-body)" in result.stdout
    # a bad value names the option, whichever place it came from
    bad = wsgiscope("trace", "/", cwd=project, WSGISCOPE_TRACE_MAX_BODY="lots")
    assert bad.returncode == 2
    assert "'lots' is not a size" in bad.stderr


@pytest.mark.slow
def test_show_secrets_still_shows_the_users_secret_names(project: Path) -> None:
    result = wsgiscope("trace", "/", "--show-secrets", cwd=project)
    assert "X-Employee-No: 42" in result.stdout


# -- shell completion ------------------------------------------------------------


def complete(line: str, cwd: Path = APPS) -> list[str]:
    words = line.split(" ")
    result = wsgiscope(
        cwd=cwd,
        _WSGISCOPE_COMPLETE="bash_complete",
        COMP_WORDS=line,
        COMP_CWORD=str(len(words) - 1),
    )
    assert result.returncode == 0, result.stderr
    return [item.partition(",")[2] for item in result.stdout.splitlines() if item]


@pytest.mark.slow
def test_url_completes_the_apps_endpoints() -> None:
    pytest.importorskip("flask")
    assert complete("wsgiscope url wsgiscope.demo catalog.p") == ["catalog.product"]
    found = complete("wsgiscope url --app wsgiscope.demo ")
    assert {"catalog.index", "catalog.product", "dashboard"} <= set(found)
    # after the endpoint come NAME=VALUE words: nothing to offer; a broken app: nothing
    assert complete("wsgiscope url wsgiscope.demo catalog.product ") == []
    assert complete("wsgiscope url routes_broken ") == []


@pytest.mark.slow
def test_lint_completes_rules_and_tail_completes_record_files(tmp_path: Path) -> None:
    assert complete("wsgiscope lint --explain WSGI10")[:2] == ["WSGI101", "WSGI102"]
    assert complete("wsgiscope lint --ignore hop") == ["hop-by-hop-header"]
    (tmp_path / "traces.jsonl").write_text("")
    (tmp_path / "notes.txt").write_text("")
    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / "serve.jsonl").write_text("")
    assert complete("wsgiscope tail ", cwd=tmp_path) == ["-", "logs/", "traces.jsonl"]
    assert complete("wsgiscope tail logs/", cwd=tmp_path) == ["logs/serve.jsonl"]
