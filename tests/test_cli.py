"""The command shell: help, version, errors, exit codes, pipes, completion."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from wsgiscope import __version__
from wsgiscope.cli import COMMANDS, cli
from wsgiscope.cli.completion import completion_script

pytestmark = pytest.mark.flask  # also run under the next Flask (.ci/run)

ROOT = Path(__file__).parent.parent
#: Modules the shell itself must never import (start-up time).
HEAVY = (
    "rich",
    "werkzeug",
    "gevent",
    "greenlet",
    "flask",
    "django",
    "bottle",
    "falcon",
    "pyramid",
    "gunicorn",
    "hdrh",
    "concurrent.futures",
)


def run(*args: str, cwd: Path = ROOT, **env: str) -> subprocess.CompletedProcess[str]:
    """Run the real entry point in a fresh interpreter."""
    environment = {**os.environ, "PYTHONPATH": str(ROOT), **env}
    environment.pop("WSGISCOPE_APP", None)
    return subprocess.run(
        [sys.executable, "-m", "wsgiscope", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=environment,
        timeout=60,
    )


def run_main(*args: str) -> tuple[set[str], str]:
    """wsgiscope's ``main(args)`` in a fresh interpreter from tests/apps: the
    modules it imported, and its stdout (``exit N`` last when it exited)."""
    code = (
        "import sys\n"
        "from wsgiscope.cli import main\n"
        "try:\n"
        f"    main({list(args)!r})\n"
        "except SystemExit as exc:\n"
        "    print('exit', exc.code)\n"
        "sys.stderr.write('\\n'.join(sys.modules))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=ROOT / "tests" / "apps",
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        timeout=60,
    )
    return set(result.stderr.split()), result.stdout


def imported_by(*args: str) -> set[str]:
    return run_main(*args)[0]


def heavy(modules: set[str]) -> list[str]:
    return sorted(m for m in modules if m.startswith(HEAVY))


def test_version() -> None:
    result = CliRunner().invoke(cli, ["--version"])
    assert result.stdout == f"wsgiscope, version {__version__}\n"


def test_help_lists_every_registered_command_with_a_summary() -> None:
    result = CliRunner().invoke(cli, ["--help"])
    assert result.exit_code == 0
    listed = result.stdout.split("Commands:\n", 1)[1].splitlines()
    assert [line.split()[0] for line in listed] == list(COMMANDS)
    assert all(len(line.split()) > 2 for line in listed)


def test_help_imports_nothing_heavy() -> None:
    assert heavy(imported_by("--help")) == []
    assert heavy(imported_by("info", "--help")) == []


def test_info_on_a_plain_app_imports_no_framework() -> None:
    modules = imported_by("info", "info_plain:application")
    assert "info_plain" in modules
    assert [m for m in heavy(modules) if not m.startswith("rich")] == []


#: What `trace` must not import for a request that succeeds without lint
#: findings, redirects or a session (start-up time, #23): the error
#: renderers, the routing (only a framework that leaves a lint rule to the
#: server needs it), the rule and server-refusal tables, the strict lint
#: server, the cookie jar, the host registry, the shadowing check's
#: sysconfig, and the record sinks with orjson (trace writes no file).
TRACE_NEEDS_NOT = (
    "rich.traceback",
    "rich.syntax",
    "rich.pretty",
    "pygments",
    "wsgiscope.routing",
    "wsgiscope.structure",
    "wsgiscope.frameworks.base",
    "wsgiscope.frameworks.flask",
    "wsgiscope.lint.runner",
    "wsgiscope.lint.refusals",
    "wsgiscope.lint.rules",
    "wsgiscope.lint.server",
    "wsgiscope.sessions",
    "wsgiscope.hosting",
    "sysconfig",
    "wsgiscope.tracing.sinks",
    "orjson",
)


def test_trace_of_a_request_that_succeeds_imports_only_what_it_needs() -> None:
    modules, stdout = run_main("trace", "lint_flask_clean:app", "GET", "/", "--width", "100")
    assert "GET / → 200 OK" in stdout, stdout
    assert "exit 0" in stdout
    assert {"wsgiscope.tracing.flask", "wsgiscope.lint.trace", "rich.tree"} <= modules
    unneeded = [m for m in modules if m.partition(".")[0] == "pygments"]
    unneeded += [m for m in TRACE_NEEDS_NOT if m in modules]
    assert sorted(unneeded) == []


def test_python_dash_m_and_loading_error_exit_code() -> None:
    result = run("info", "no_such_module_x:app")
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr == (
        f"wsgiscope: error: module 'no_such_module_x' not found (looked for "
        f"'no_such_module_x' from {ROOT})\n"
        "hint: run wsgiscope from the project directory, or pass a file path\n"
    )


def test_app_exception_while_importing_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "boom_app.py").write_text("import json\njson.loads('{')\n")
    result = run("info", "boom_app", cwd=tmp_path)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    first = result.stderr.splitlines()[0]
    assert first.startswith("wsgiscope: error: importing 'boom_app' raised JSONDecodeError: ")
    assert first.endswith(f"at {tmp_path / 'boom_app.py'}:2")


def test_traceback_option_shows_the_python_traceback(tmp_path: Path) -> None:
    (tmp_path / "boom_app.py").write_text("raise RuntimeError('x')\n")
    result = run("--traceback", "info", "boom_app", cwd=tmp_path)
    assert result.returncode == 1
    assert "Traceback (most recent call last)" in result.stderr
    assert "AppLoadError" in result.stderr


def test_no_app_anywhere(tmp_path: Path) -> None:
    result = run("info", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.startswith("wsgiscope: error: no app given and none found in ")


def test_unknown_command_and_option_are_usage_errors() -> None:
    result = CliRunner().invoke(cli, ["frobnicate"])
    assert result.exit_code == 2
    assert "No such command 'frobnicate'" in result.stderr
    result = CliRunner().invoke(cli, ["info", "--frob"])
    assert result.exit_code == 2
    assert "No such option '--frob'" in result.stderr


def test_discovery_from_the_current_directory(tmp_path: Path) -> None:
    (tmp_path / "wsgi.py").write_text("def application(environ, start_response):\n    return []\n")
    result = run("info", "--json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert '"source": "discovery"' in result.stdout


#: An app whose every output is far bigger than a pipe's buffer (64 KiB).
BIG_APP = """
from werkzeug.middleware.dispatcher import DispatcherMiddleware

def plain(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"line\\n" * 100000]

application = DispatcherMiddleware(plain, {f"/m{i}": plain for i in range(2000)})
"""


@pytest.mark.parametrize(
    "args",
    [
        ["--help"],
        ["info", "big_pipe"],
        ["info", "big_pipe", "--json"],
        ["routes", "big_pipe"],
        ["routes", "big_pipe", "--json"],
        ["trace", "big_pipe", "/", "--print", "body", "--max-body", "0"],
        ["trace", "big_pipe", "/", "--json", "--max-body", "0"],
    ],
    ids=" ".join,
)
def test_a_closed_pipe_is_quiet(tmp_path: Path, args: list[str]) -> None:
    """The reader goes away after the first bytes, as `head` does: the writer
    meets a real EPIPE (the output is larger than the pipe's buffer)."""
    (tmp_path / "big_pipe.py").write_text(BIG_APP)
    environment = {**os.environ, "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen(
        [sys.executable, "-m", "wsgiscope", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=tmp_path,
        env=environment,
    )
    assert process.stdout is not None
    assert process.stderr is not None
    first = process.stdout.read(100)
    process.stdout.close()
    stderr = process.stderr.read().decode()
    process.stderr.close()
    assert process.wait(timeout=60) in (0, 141), stderr
    assert len(first) == 100
    assert stderr == ""


def test_broken_pipe_into_head_is_quiet() -> None:
    script = (
        f"{sys.executable} -m wsgiscope routes wsgiscope.demo | head -c 10 >/dev/null; "
        "echo status=${PIPESTATUS[0]}"
    )
    result = subprocess.run(
        ["bash", "-c", script],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        timeout=60,
    )
    assert result.stderr == ""
    assert result.stdout.strip() in {"status=0", "status=141"}


@pytest.mark.parametrize("env", [{"NO_COLOR": "1"}, {"FORCE_COLOR": "0"}, {"TERM": "dumb"}])
def test_no_ansi_when_not_a_terminal(env: dict[str, str]) -> None:
    result = run("info", "wsgiscope.demo", **env)
    assert result.returncode == 0
    assert "\x1b[" not in result.stdout


def test_color_always_colours() -> None:
    result = run("info", "wsgiscope.demo", "--color", "always")
    assert "\x1b[" in result.stdout


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_completion_files_are_current(shell: str) -> None:
    generated = completion_script(shell)
    assert "_WSGISCOPE_COMPLETE" in generated
    committed = (ROOT / "completions" / f"wsgiscope.{shell}").read_text()
    assert committed == generated, "run: python -m wsgiscope.cli.completion (see README)"


def test_completion_command_prints_the_script() -> None:
    result = CliRunner().invoke(cli, ["completion", "zsh"])
    assert result.stdout == completion_script("zsh")
    assert CliRunner().invoke(cli, ["completion", "tcsh"]).exit_code == 2


def test_completion_completes_commands() -> None:
    result = run(_WSGISCOPE_COMPLETE="bash_complete", COMP_WORDS="wsgiscope in", COMP_CWORD="1")
    assert result.stdout.split() == ["plain,info"]


def test_installed_console_script() -> None:
    script = Path(sys.executable).parent / "wsgiscope"
    if not script.exists():
        pytest.skip("wsgiscope is not installed in this environment (pip install -e .)")
    result = subprocess.run(
        [str(script), "info", "wsgiscope.demo", "--json"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert '"framework": "dispatcher"' in result.stdout
    result = subprocess.run(
        [str(script), "info", "a:b:c"], capture_output=True, text=True, cwd=ROOT, timeout=60
    )
    assert (result.returncode, result.stderr.splitlines()[0]) == (
        2,
        "wsgiscope: error: malformed import path 'a:b:c': more than one ':'",
    )


def test_a_command_imports_no_other_command() -> None:
    modules = imported_by("info", "info_plain:application")
    assert sorted(m for m in modules if m.startswith("wsgiscope.cli.")) == [
        "wsgiscope.cli.info",
        "wsgiscope.cli.options",
    ]


def test_a_successful_trace_imports_no_traceback_renderer_nor_dotenv() -> None:
    # rich.traceback (with rich.pretty, attrs, pygments) is for a failure;
    # python-dotenv only when there is an env file to read.
    modules = imported_by("trace", "lint_flask_clean:app", "GET", "/")
    assert "lint_flask_clean" in modules
    assert "rich.tree" in modules
    assert not {"rich.traceback", "rich.pretty", "pygments", "dotenv"} & modules
