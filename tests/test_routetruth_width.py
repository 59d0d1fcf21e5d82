"""Every command readable at 80 columns, and at 200 (issue #15, point 13).

Each command's text output is taken at ``--width 80`` and ``--width 200`` on
realistic apps (``tests/apps/routetruth_*``): no line may be wider than the
width, and every name a user must type (endpoints, rules, lint rule ids and
names, the app's import path, a file path) must appear whole, never cut with
``…`` nor broken in the middle.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from rich.cells import cell_len
from routes_fixtures import run, run_json

BLOG = "routetruth_flask_blog:composite"
LONG_RULE = "/admin/users/<int:user_id>/permissions/<string:permission_name>/history"
LONG_ENDPOINT = "permission_history_for_user_account"


def output(*args: str) -> str:
    result = run(*args, "--color", "never")
    assert result.exit_code in (0, 1), result.stderr
    return result.stdout


def check_width(text: str, width: int, summaries: bool = False) -> list[str]:
    """The lines of ``text``: none wider than ``width``, none cut with "…"
    (``summaries``: the trace's own "… 4 more" lines are allowed)."""
    lines = text.splitlines()
    assert lines
    too_wide = [line for line in lines if cell_len(line.rstrip()) > width]
    assert not too_wide, f"{len(too_wide)} lines wider than {width}:\n" + "\n".join(too_wide)
    cut = [line for line in lines if "…" in line and not re.search(r"… \d+ more", line)]
    assert not (cut if summaries else [line for line in lines if "…" in line]), cut
    return lines


def whole(text: str, name: str) -> None:
    """``name`` appears unbroken on one line."""
    assert any(name in line for line in text.splitlines()), f"{name!r} is not whole"


@pytest.fixture(autouse=True)
def no_columns(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("COLUMNS", raising=False)


@pytest.mark.parametrize("width", [80, 200])
@pytest.mark.parametrize("table", [False, True])
def test_routes_fit_the_width(apps_dir: Path, width: int, table: bool) -> None:
    args = ["routes", BLOG, "--width", str(width), *(["--table"] if table else [])]
    text = output(*args)
    lines = check_width(text, width)
    for route in run_json("routes", BLOG):
        whole(text, route["path"])
        whole(text, route["endpoint"])
        whole(text, route["url"])
    assert "url_for builds /index" in text
    if width == 200 and not table:
        # wide enough: one line per rule, the builder's URL beside its rule
        root = next(line for line in lines if re.search(r"GET\s+/\s+index\s", line))
        assert "url_for builds /index" in root
        assert len([line for line in lines if LONG_RULE in line]) == 1
        assert any(LONG_RULE in line and LONG_ENDPOINT in line for line in lines)
    else:
        # the view moved under its rule, labelled
        assert any(re.match(r"[│ ]*\s+view routetruth_flask_blog:echo", line) for line in lines)


def test_routes_in_a_pipe_keep_whole_lines(apps_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # no --width and not a terminal: one rule per line, for grep
    lines = output("routes", BLOG).splitlines()
    assert any(LONG_RULE in line and "routetruth_flask_blog.py:" in line for line in lines)
    monkeypatch.setenv("COLUMNS", "80")  # a width said by the environment is honoured
    check_width(output("routes", BLOG), 80)


def test_routes_fit_on_other_frameworks(apps_dir: Path) -> None:
    pytest.importorskip("falcon")
    pytest.importorskip("pyramid")
    for app in ("routetruth_falcon_api:app", "routetruth_pyramid_wiki:app"):
        text = output("routes", app, "--width", "80")
        check_width(text, 80)
        for route in run_json("routes", app):
            whole(text, route["endpoint"])
            whole(text, route["rule"])


@pytest.mark.parametrize("width", [80, 200])
def test_match_fits_the_width(apps_dir: Path, width: int) -> None:
    text = output("match", BLOG, "/admin/users/1/permissions/x/history", "--width", str(width))
    lines = check_width(text, width)
    whole(text, LONG_ENDPOINT)
    whole(text, "'/users/1/permissions/x/history'")
    # a label stays with its value
    assert any("PATH_INFO '/users/1/permissions/x/history'" in line for line in lines)
    if width == 200:
        whole(text, LONG_RULE)
    text = output("match", BLOG, "/admin/nope/permissions", "--width", str(width))
    check_width(text, width)


@pytest.mark.parametrize("width", [80, 200])
def test_trace_header_wraps_between_fields(apps_dir: Path, width: int) -> None:
    text = output("trace", BLOG, "/admin/users/1/permissions/x/history", "--width", str(width))
    lines = check_width(text, width, summaries=True)
    whole(text, f"app {BLOG}")
    assert re.search(r"pid \d+ MainThread", text)
    assert lines[0].startswith("GET /admin/users/1/permissions/x/history → 200 OK")
    if width == 200:
        assert f"app {BLOG}" in lines[0]


@pytest.mark.parametrize("width", [40, 80, 200])
def test_lint_rule_list_keeps_ids_and_names(width: int) -> None:
    text = output("lint", "--list-rules", "--width", str(width))
    lines = check_width(text, width)
    for rule in run_json("lint", "--list-rules")["rules"]:
        line = next((x for x in lines if x.startswith(rule["id"] + " ")), None)
        assert line is not None, rule["id"]
        assert f" {rule['name']} " in line, (rule["name"], line)
        summary = re.sub(r"\s+", " ", text)
        assert rule["summary"] in summary or width < 200


@pytest.mark.parametrize("width", [80, 200])
def test_info_never_cuts_a_file_path(tmp_path: Path, width: int) -> None:
    deep = tmp_path / ("a_long_project_directory_name_" * 2) / "and_a_second_long_level"
    deep.mkdir(parents=True)
    source = Path(__file__).parent / "apps" / "routetruth_flask_blog.py"
    (deep / "blogapp.py").write_text(source.read_text())
    text = output("info", f"{deep / 'blogapp.py'}:composite", "--width", str(width))
    check_width(text, width)
    # folded at the width, all of it there
    joined = re.sub(r"\s*\n\s*", "", text)
    assert str(deep / "blogapp.py") in joined
    if width == 200:
        whole(text, str(deep / "blogapp.py"))
