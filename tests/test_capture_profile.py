"""``trace --profile``: pyinstrument's call tree under the hook it belongs to,
``--profile-out`` files, and a clear message without the extra."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from wsgiscope.cli import cli

pytest.importorskip("flask_sqlalchemy")

ROOT = Path(__file__).parent.parent
BLOG = str(ROOT / "tests" / "apps" / "beneath_flask_blog.py")


def trace(*args: str):
    return CliRunner().invoke(cli, ["trace", BLOG, *args], catch_exceptions=False)


def functions(node: dict) -> list[str]:
    names = [node["function"]]
    for child in node.get("children") or []:
        names += functions(child)
    return names


def test_profile_hangs_each_hooks_calls_on_it(tmp_path: Path) -> None:
    pytest.importorskip("pyinstrument")
    out = tmp_path / "profile.json"
    result = trace("/api/authors", "--profile", "--profile-out", str(out), "--json")
    assert result.exit_code == 0, result.output
    record = json.loads(result.stdout)
    assert record["profile"]["interval_ms"] == pytest.approx(0.2)
    assert record["profile"]["duration_ms"] > 0
    hooks = {e["hook"]: e for e in record["events"] if e["kind"] == "hook"}
    view = hooks["view"]["profile"]
    assert view["function"] == "api_authors"
    assert view["file"].endswith("beneath_flask_blog.py")
    # the lazy loads of the N+1 are inside the view's calls
    assert any("LazyLoader" in name for name in functions(view))
    before = hooks["before_request"]["profile"]
    assert before["function"] == "load_user"
    speedscope = json.loads(out.read_text())
    assert speedscope["$schema"].startswith("https://www.speedscope.app/")
    html = tmp_path / "profile.html"
    result = trace("/api/authors", "--profile-out", str(html), "-p", "k")
    assert result.exit_code == 0, result.output
    assert "profile " in result.stdout
    assert html.read_text().lstrip().lower().startswith("<!doctype html>")


def test_profile_without_pyinstrument_or_with_a_bad_file(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    result = CliRunner().invoke(cli, ["trace", BLOG, "/", "--profile-out", "p.txt"])
    assert result.exit_code == 2
    assert "must end in .json (speedscope) or .html" in result.stderr
    assert "Traceback" not in result.output
    monkeypatch.setitem(sys.modules, "pyinstrument", None)
    result = CliRunner().invoke(cli, ["trace", BLOG, "/", "--profile"])
    assert result.exit_code == 2
    assert "--profile needs pyinstrument" in result.stderr
    assert "pip install 'wsgiscope[profile]'" in result.stderr
    assert "Traceback" not in result.output


def test_capture_and_log_level_options() -> None:
    result = trace("/api/authors", "--capture", "none", "--json")
    record = json.loads(result.stdout)
    assert "queries" not in record
    assert not [e for e in record["events"] if e["kind"] in ("sql", "log")]
    result = trace("/authors", "--capture", "sql,templates", "--log-level", "info", "--json")
    record = json.loads(result.stdout)
    assert record["queries"]["count"] == 6
    assert {e["kind"] for e in record["events"]} >= {"sql", "template"}
    assert "log" not in {e["kind"] for e in record["events"]}
    result = trace("/authors", "--log-level", "info", "--json")
    assert "log" not in {e["kind"] for e in json.loads(result.stdout)["events"]}  # not enabled
    for option, value, message in (
        ("--capture", "sql,sq", "unknown capture 'sq'"),
        ("--log-level", "loud", "unknown level 'loud'"),
    ):
        result = CliRunner().invoke(cli, ["trace", BLOG, "/", option, value])
        assert result.exit_code == 2
        assert message in result.stderr
