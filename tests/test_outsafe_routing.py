"""Hostile route names and secrets through ``routes``, ``match`` and ``info``."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from wsgiscope.cli import cli

pytestmark = pytest.mark.flask  # also run under the next Flask (.ci/run)

APPS = Path(__file__).parent / "apps"
FLASK = str(APPS / "outsafe_flask.py")
SECRET = "s3cr3t-TOKEN-42"
RAW_CONTROL = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u202e]")
SGR = re.compile("\x1b\\[[0-9;]*m")


def run(*args: str):
    return CliRunner().invoke(cli, [*args, "--width", "200"], catch_exceptions=False)


def test_match_redacts_secret_query_parameters():
    # Was: "GET /evil/...?api_key=s3cr3t-TOKEN-42" in the heading and --json's "path".
    target = f"/evil/[bold red]x[/]:smile:/a?api_key={SECRET}&page=2"
    text = run("match", FLASK, "GET", target)
    assert text.exit_code == 0
    assert text.stdout.startswith("GET /evil/[bold red]x[/]:smile:/a?api_key=[redacted]&page=2\n")
    assert SECRET not in text.stdout
    data = json.loads(run("match", FLASK, "GET", target, "--json").stdout)
    assert data["path"] == "/evil/[bold red]x[/]:smile:/a?api_key=[redacted]&page=2"
    assert data["route"]["endpoint"] == "[bold red]evil[/]:smile:\x1b[31m"


@pytest.mark.parametrize(
    "args",
    [
        ("routes", FLASK),
        ("routes", FLASK, "--table"),
        ("match", FLASK, "GET", "/evl/[bold red]x[/]:smile:/\x1b[31mRED"),
        ("info", str(APPS / "outsafe_wsgi.py") + ":evil"),
    ],
)
def test_app_names_stay_data_with_colour_forced(args: tuple[str, ...]):
    result = run(*args, "--color", "always")
    stripped = SGR.sub("", result.stdout)
    assert not RAW_CONTROL.search(stripped)
    assert "\U0001f604" not in result.stdout
    assert "\x1b]8;" not in result.stdout  # no hyperlink from [link=...]
    assert "[bold" in stripped  # markup shown as text, not applied
    plain = run(*args, "--json").stdout
    json.loads(plain)
    assert "\x1b" not in plain


def test_huge_rule_endpoint_and_view_names_are_capped(tmp_path: Path, monkeypatch):
    # Was: a 5,000-character rule, endpoint, URL and view printed whole (20,000
    # characters on one line of the route table).
    (tmp_path / "outsafe_long_routes.py").write_text(
        "from flask import Flask\n"
        "app = Flask('longroutes')\n"
        "def view():\n    return 'x'\n"
        "view.__qualname__ = 'Q' * 5000\n"
        "app.add_url_rule('/long/' + 'R' * 5000, endpoint='E' * 5000, view_func=view)\n"
    )
    monkeypatch.chdir(tmp_path)
    for extra in ((), ("--table",)):
        text = run("routes", "outsafe_long_routes.py", *extra).stdout
        assert sum(text.count(c) for c in "REQ") < 2500
        assert "… [4500 more characters]" in text
    data = json.loads(run("routes", "outsafe_long_routes.py", "--json").stdout)["routes"]
    assert any(len(route["endpoint"]) == 5000 for route in data)
