"""The shell of ``routes``/``url``/``match``: argument shapes, bad input, imports."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from routes_fixtures import fails, run

from wsgiscope.cli.match import split_match_arguments
from wsgiscope.cli.url import split_url_arguments
from wsgiscope.errors import UsageError

pytestmark = pytest.mark.flask  # also run under the next Flask (.ci/run)

ROOT = Path(__file__).parent.parent


@pytest.mark.parametrize(
    ("tokens", "expected"),
    [
        (("/x",), (None, "GET", "/x")),
        (("post", "/x"), (None, "POST", "/x")),
        (("PROPFIND", "/x"), (None, "PROPFIND", "/x")),
        (("app:app", "/x"), ("app:app", "GET", "/x")),
        (("app:app", "delete", "/x"), ("app:app", "DELETE", "/x")),
    ],
)
def test_match_argument_shapes(tokens: tuple[str, ...], expected: tuple[str, str, str]) -> None:
    assert split_match_arguments(tokens) == expected


@pytest.mark.parametrize(
    "tokens",
    [
        *[(), ("app:app",), ("app.py",), ("GET",), ("app:app", "nope", "/x")],
        *[("a", "GET", "b", "/x"), ("users/1",), ("app:app", "relative"), ("app:app", "GET")],
    ],
)
def test_match_bad_shapes(tokens: tuple[str, ...]) -> None:
    with pytest.raises(UsageError):
        split_match_arguments(tokens)


@pytest.mark.parametrize(
    ("tokens", "expected"),
    [
        (("home",), (None, "home", {})),
        (("app:app", "home"), ("app:app", "home", {})),
        (("shop.item", "id=3", "q="), (None, "shop.item", {"id": "3", "q": ""})),
        (("app:make(debug=1)", "home", "x=a=b"), ("app:make(debug=1)", "home", {"x": "a=b"})),
        (("/admin:dashboard",), (None, "/admin:dashboard", {})),
        (("page", "0=7"), (None, "page", {"0": "7"})),  # a Django positional group
    ],
)
def test_url_argument_shapes(
    tokens: tuple[str, ...], expected: tuple[str | None, str, dict[str, str]]
) -> None:
    assert split_url_arguments(tokens) == expected


@pytest.mark.parametrize(
    "tokens", [("id=3",), ("a", "b", "c"), ("home", "id=3", "oops"), ("home", "=3")]
)
def test_url_bad_shapes(tokens: tuple[str, ...]) -> None:
    with pytest.raises(UsageError):
        split_url_arguments(tokens)


def test_bad_input_is_one_line(apps_dir: Path) -> None:
    assert "malformed value '=3'" in fails("url", "routes_flask_shop", "home", "a=1", "=3")
    assert "missing ENDPOINT" in fails("url", "id=3")
    assert "not an HTTP method" in fails("match", "routes_flask_shop", "FETCH?", "/")
    assert "not found" in fails("routes", "no_such_module_here")


@pytest.mark.parametrize(
    ("args", "error", "hint"),
    [
        (["url", "routes_flask_shop", "home", "--frobnicate"],
         "No such option '--frobnicate'.", "cli url --help"),
        (["url", "home", "--extrenal"],
         "No such option '--extrenal'. Did you mean '--external'?", "cli url --help"),
        (["routes", "--sort", "size"],
         "Invalid value for '--sort': 'size' is not one of 'mount', 'rule', 'endpoint', "
         "'methods'.", "cli routes --help"),
        (["match", "--zzz", "/"], "No such option '--zzz'.", "cli match --help"),
        (["url"], "Missing argument '[APP] ENDPOINT [NAME=VALUE]...'.", "cli url --help"),
        (["--frob", "routes"], "No such option '--frob'.", "cli --help"),
        (["rootes"], "No such command 'rootes'.", "cli --help"),
    ],
)  # fmt: skip
def test_click_usage_errors_are_one_line(args: list[str], error: str, hint: str) -> None:
    """Unknown options, bad choices, missing arguments: one line and a hint, exit 2.

    (CliRunner names the program ``cli``; the real entry point says
    ``wsgiscope``, see test_real_entry_point.)
    """
    assert fails(*args).splitlines() == [f"wsgiscope: error: {error}", f"hint: see: {hint}"]


def test_bare_command_still_prints_the_help() -> None:
    result = run()
    assert result.exit_code == 2
    assert result.output.startswith("Usage: cli [OPTIONS] COMMAND [ARGS]...")
    assert "Commands:" in result.output


def test_plain_callable(apps_dir: Path) -> None:
    result = run("routes", "info_plain:application", "--json")
    assert result.exit_code == 0, result.stderr
    [route] = json.loads(result.stdout)["routes"]
    assert (route["opaque"], route["path"], route["framework"]) == (True, "/*", "wsgi")
    text = run("routes", "info_plain:application", "--width", "150").stdout
    assert "plain WSGI callable: it receives every path" in text
    assert "no named routes" in fails("url", "info_plain:application", "home")


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "NO_COLOR": "1"}
    env.pop("WSGISCOPE_APP", None)
    return subprocess.run(
        [sys.executable, "-m", "wsgiscope", *args],
        capture_output=True,
        text=True,
        cwd=ROOT / "tests" / "apps",
        env=env,
        timeout=60,
    )


def test_real_entry_point() -> None:
    routes = _run("routes", "wsgiscope.demo", "--json")
    assert routes.returncode == 0, routes.stderr
    urls = {r["url"] for r in json.loads(routes.stdout)["routes"]}
    assert urls >= {"/catalog/SKU-1111", "/admin/"}
    built = _run("url", "wsgiscope.demo", "catalog.product", "sku=SKU-1001")
    assert (built.returncode, built.stdout) == (0, "/catalog/SKU-1001\n")
    missing = _run("match", "wsgiscope.demo", "/catalog/nope")
    assert missing.returncode == 1
    assert "404 no rule matches" in missing.stdout
    bad = _run("url", "wsgiscope.demo", "catalog.product")
    assert bad.returncode == 2
    assert bad.stderr.startswith("wsgiscope: error: cannot build a URL for 'catalog.product'")
    option = _run("routes", "wsgiscope.demo", "--frobnicate")
    assert (option.returncode, option.stdout) == (2, "")
    assert option.stderr.splitlines() == [
        "wsgiscope: error: No such option '--frobnicate'.",
        "hint: see: wsgiscope routes --help",
    ]


def test_help_imports_nothing_heavy() -> None:
    code = (
        "import sys\nfrom wsgiscope.cli import main\n"
        "for command in ('routes', 'url', 'match'):\n"
        "    try:\n        main([command, '--help'])\n    except SystemExit:\n        pass\n"
        "sys.stderr.write('\\n'.join(sys.modules))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        timeout=60,
    )
    heavy = ("rich", "werkzeug", "gevent", "flask", "django")
    assert [m for m in result.stderr.split() if m.startswith(heavy)] == []


def test_app_text_is_data(apps_dir: Path) -> None:
    """Escapes in rules and endpoints are shown escaped, markup is not parsed."""
    for args in (["--width", "200"], ["--table"], ["--color", "always"]):
        result = run("routes", "routes_flask_odd", *args)
        assert result.exit_code == 0, result.stderr
        assert "\\x1b[31m" in result.stdout
        assert "evil\\x1b]0;title\\x07" in result.stdout
        assert "[bold]markup[/bold]" in result.stdout
        assert "/line\\nbreak" in result.stdout
        assert "\x07" not in result.stdout
        assert "\x1b]" not in result.stdout
    answer = run("match", "routes_flask_odd", "/red\x1b[31m/3", "--color", "never")
    assert "\\x1b[31m" in answer.stdout
    assert "\x1b" not in answer.stdout
