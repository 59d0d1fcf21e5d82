"""``wsgiscope lint``: exit codes, grouping, --json, --explain, requests, files."""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.conftest import APPS
from wsgiscope.cli import cli
from wsgiscope.lint import RULES

pytestmark = pytest.mark.flask  # also run under the next Flask (.ci/run)

ROOT = Path(__file__).parent.parent
FINDING_KEYS = {"rule", "severity", "message", "method", "path", "endpoint", "phase", "count"}


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["lint", *args], catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


@pytest.mark.usefixtures("apps_dir")
def test_findings_grouped_by_rule_exit_1() -> None:
    code, out, err = run("lint_flask_bad.py", "--width", "200")
    assert code == 1, err
    lines = out.splitlines()
    assert lines[0].startswith("WSGI208 header-not-latin1  ")
    assert "├── GET /invoice  invoice  header 'Content-Disposition'" in out
    assert "└── HEAD /invoice  invoice  " in out
    assert [line.split()[0] for line in lines if line.startswith("WSGI")] == [
        "WSGI208",
        "WSGI209",
        "WSGI302",
    ]
    assert "└── GET /report  report  Content-Length 100 but the body has 5 bytes" in out
    assert "5 findings (5 errors, 0 warnings) of 3 rules in 19 requests" in out


@pytest.mark.usefixtures("apps_dir")
def test_clean_app_exit_0() -> None:
    code, out, _ = run("lint_flask_clean.py")
    assert code == 0
    assert out.strip() == "no findings in 28 requests"


@pytest.mark.usefixtures("apps_dir")
def test_json() -> None:
    code, out, _ = run("lint_flask_bad.py", "--json")
    assert code == 1
    data = json.loads(out)
    assert data["format"] == "wsgiscope.lint/1"
    assert "\x1b" not in out
    assert all(set(finding) == FINDING_KEYS for finding in data["findings"])
    assert {
        "rule": "WSGI209",
        "severity": "error",
        "message": "hop-by-hop header 'Connection' set by the application",
        "method": "HEAD",
        "path": "/download",
        "endpoint": "download",
        "phase": "start_response",
        "count": 1,
    } in data["findings"]
    assert data["summary"] == {
        "requests": 19,
        "findings": 5,
        "errors": 5,
        "warnings": 0,
        "rules": ["WSGI208", "WSGI209", "WSGI302"],
    }
    statuses = {(r["method"], r["path"]): r["status"] for r in data["requests"]}
    assert statuses["POST", "/api/items"] == "201 CREATED"
    assert data["interrupted"] is False


@pytest.mark.usefixtures("apps_dir")
def test_requests_option_and_endpoint() -> None:
    code, out, _ = run(
        "lint_flask_bad.py", "--no-routes", "-r", "GET /download", "--request", "/", "--json"
    )
    assert code == 1
    data = json.loads(out)
    assert [(r["method"], r["path"], r["endpoint"]) for r in data["requests"]] == [
        ("GET", "/download", "download"),
        ("GET", "/", "index"),
    ]
    assert [f["rule"] for f in data["findings"]] == ["WSGI209"]


@pytest.mark.usefixtures("apps_dir")
def test_request_with_items_reaches_the_app() -> None:
    code, out, _ = run("lint_flask_clean.py", "--no-routes", "-r", "POST /form name=ada", "--json")
    assert code == 0
    (request,) = json.loads(out)["requests"]
    assert (request["method"], request["status"]) == ("POST", "200 OK")


def test_request_file(apps_dir: Path, tmp_path: Path) -> None:
    source = tmp_path / "requests.txt"
    source.write_text("# two requests\nGET /download\nHEAD /\n")
    code, out, _ = run("lint_flask_bad.py", str(source), "--no-routes", "--json")
    assert code == 1
    data = json.loads(out)
    assert [(r["method"], r["path"]) for r in data["requests"]] == [
        ("GET", "/download"),
        ("HEAD", "/"),
    ]
    assert [(f["rule"], f["path"]) for f in data["findings"]] == [("WSGI209", "/download")]


@pytest.mark.usefixtures("apps_dir")
def test_request_files_har_and_jsonl() -> None:
    """HAR files and JSON Lines traces, the other formats 'replay' reads."""
    data = ROOT / "tests" / "data"
    code, out, _ = run(
        "lint_flask_bad.py",
        str(data / "replay_chrome.har"),
        str(data / "replay_traces.jsonl"),
        "--no-routes",
        "--json",
    )
    assert code == 0
    assert [(r["method"], r["path"]) for r in json.loads(out)["requests"]] == [
        ("GET", "/catalog/items?page=2&sort=price"),
        ("POST", "/cart/add"),
        ("PUT", "/api/cart/items/7"),
        ("GET", "/whoami?user=alice"),
        ("POST", "/api/notes?draft=1"),
        ("GET", "/whoami?user=bob"),
    ]


@pytest.mark.usefixtures("apps_dir")
def test_ignore() -> None:
    code, out, _ = run("lint_flask_bad.py", "--ignore", "WSGI208", "--ignore", "hop-by-hop-header")
    assert code == 1
    assert [line.split()[0] for line in out.splitlines() if line.startswith("WSGI")] == ["WSGI302"]
    code, _, err = run("lint_flask_bad.py", "--ignore", "WSGI999")
    assert code == 2
    assert (
        err == "wsgiscope: error: unknown lint rule 'WSGI999'; "
        "'wsgiscope lint --list-rules' lists them\n"
    )


@pytest.mark.parametrize("key", ["WSGI203", "wsgi203", "status-format"])
def test_explain(key: str) -> None:
    code, out, _ = run("--explain", key)
    assert code == 0
    assert out.startswith("WSGI203 status-format  error\n")
    assert "PEP 3333, The start_response() Callable" in out
    assert "'200 OK'" in out


def test_explain_json() -> None:
    code, out, _ = run("--explain", "WSGI401", "--json")
    assert code == 0
    data = json.loads(out)
    assert data["id"] == "WSGI401"
    assert set(data) == {"format", "id", "name", "severity", "summary", "section", "explanation"}
    assert data["format"] == "wsgiscope.lint-rule/1"


def test_explain_unknown_rule_is_one_line_exit_2() -> None:
    code, out, err = run("--explain", "WSGI999")
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1
    assert err.startswith("wsgiscope: error: unknown lint rule 'WSGI999'")


def test_list_rules() -> None:
    code, out, _ = run("--list-rules", "--width", "200")
    assert code == 0
    assert [line.split()[0] for line in out.splitlines()[1:]] == [rule.id for rule in RULES]
    # each rule's one-line summary with the PEP 3333 section (or RFC) it enforces
    assert out.splitlines()[0].split() == ["rule", "name", "severity", "summary", "section"]
    assert re.split(r"\s{2,}", out.splitlines()[1].strip()) == [
        "WSGI101",
        "not-iterable",
        "error",
        "the application returned something that is not an iterable of bytes",
        "PEP 3333, Specification Details",
    ]
    code, out, _ = run("--list-rules", "--json")
    document = json.loads(out)
    assert document["format"] == "wsgiscope.lint-rules/1"
    assert [rule["id"] for rule in document["rules"]] == [rule.id for rule in RULES]


@pytest.mark.usefixtures("apps_dir")
def test_app_data_is_escaped() -> None:
    code, out, _ = run(
        "lint_violations.py:header_injection", "--no-routes", "-r", "/", "--width", "200"
    )
    assert code == 1
    assert "'a\\r\\nSet-Cookie: evil=1'" in out
    assert not any(line.startswith("Set-Cookie") for line in out.splitlines())
    code, out, _ = run(
        "lint_violations.py:raises_escape", "--no-routes", "-r", "/", "--width", "200"
    )
    assert code == 1
    assert "\x1b" not in out
    assert "ValueError: \\x1b[2J\\nforged line" in out


@pytest.mark.usefixtures("apps_dir")
def test_bad_apps_give_findings_not_tracebacks() -> None:
    expected = {
        "returns_none": "WSGI101",
        "returns_int": "WSGI101",
        "iter_raises": "WSGI101",
        "endless": "WSGI305",
        "close_raises": "WSGI402",
        "app_raises": "WSGI103",
    }
    for name, rule in expected.items():
        code, out, err = run(f"lint_violations.py:{name}", "--max-body", "100000")
        assert code == 1, (name, err)
        assert "Traceback" not in out + err
        assert f"\n{rule} " in f"\n{out}", (name, out)


@pytest.mark.usefixtures("apps_dir")
def test_nothing_to_lint_is_a_usage_error() -> None:
    code, _, err = run("lint_flask_clean.py", "--no-routes")
    assert code == 2
    assert err.startswith("wsgiscope: error: nothing to lint")


def test_progress_bar_on_a_terminal() -> None:
    from rich.console import Console

    from wsgiscope.render.lint import progress_bar

    stream = io.StringIO()
    console = Console(file=stream, force_terminal=True, width=80)
    with progress_bar(console, 3) as update:
        assert update is not None
        update(3, 2)
    with progress_bar(console, 3, show=False) as update:
        assert update is None


def _entry_point(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "PYTHONPATH": str(ROOT)}
    environment.pop("WSGISCOPE_APP", None)
    return subprocess.run(
        [sys.executable, "-m", "wsgiscope", "lint", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=environment,
        timeout=60,
    )


def test_entry_point_django() -> None:
    """Django's settings are process-global: lint it through the real CLI."""
    pytest.importorskip("django")
    result = _entry_point(
        "lint_django_clean.py",
        *("-r", "POST /form/ name=x", "-r", "/stream/", "-r", "HEAD /stream/", "-r", "/go/"),
        "--json",
        cwd=APPS,
    )
    data = json.loads(result.stdout)
    # A clean Django app: no findings. Django leaves HEAD bodies to the
    # server by design: not reported, but the report says so.
    assert (result.returncode, data["findings"]) == (0, []), result.stderr
    assert data["delegated"] == [
        {
            "framework": "django",
            "rule": "WSGI303",
            "requests": 4,
            "reason": "Django leaves HEAD bodies to the server by design "
            "(its runserver and gunicorn strip them; wsgiref does not)",
        }
    ]
    # every route of the URLconf (GET and HEAD), then the -r requests
    sent = [(r["method"], r["path"], r["status"]) for r in data["requests"]]
    assert sent[:8] == [
        (method, path, status)
        for path, status in [("/", "200 OK"), ("/form/", "200 OK"), ("/stream/", "200 OK"),
                             ("/go/", "302 Found")]
        for method in ("GET", "HEAD")
    ]  # fmt: skip
    assert sent[8:] == [
        ("POST", "/form/", "200 OK"), ("GET", "/stream/", "200 OK"),
        ("HEAD", "/stream/", "200 OK"), ("GET", "/go/", "302 Found"),
    ]  # fmt: skip


def test_entry_point_django_strict() -> None:
    """--strict reports what Django leaves to the server: one HEAD body per route."""
    pytest.importorskip("django")
    result = _entry_point("lint_django_clean.py", "--strict", "--width", "200", cwd=APPS)
    assert result.returncode == 1
    assert result.stdout.splitlines()[1:5] == [
        "├── HEAD /  lint_django_clean.index  18 body bytes sent for HEAD",
        "├── HEAD /form/  lint_django_clean.form  42 body bytes sent for HEAD",
        "└── HEAD /stream/  lint_django_clean.stream  6 body bytes sent for HEAD",
        "",
    ]
    assert "not reported" not in result.stdout


def test_entry_point_exit_codes() -> None:
    clean = _entry_point("lint_flask_clean.py", cwd=APPS)
    assert (clean.returncode, clean.stderr) == (0, "")
    bad = _entry_point("lint_flask_bad.py", "--json", cwd=APPS)
    assert bad.returncode == 1
    assert json.loads(bad.stdout)["summary"]["findings"] == 5
    unknown = _entry_point("--explain", "nope", cwd=APPS)
    assert unknown.returncode == 2
    assert len(unknown.stderr.splitlines()) == 1


@pytest.mark.usefixtures("apps_dir")
def test_ctrl_c_prints_results_so_far_exit_130() -> None:
    args = ["lint_nasty.py:ctrl_c_on_second", "--no-routes", "-r", "/first", "-r", "/second"]
    code, out, _ = run(*args, "-r", "/third")
    assert code == 130
    assert "GET /first" in out
    assert "/third" not in out
    assert "interrupted: results so far" in out
    code, out, _ = run(*args, "--json")
    assert code == 130
    data = json.loads(out)
    assert data["interrupted"] is True
    assert [r["path"] for r in data["requests"]] == ["/first"]


@pytest.mark.usefixtures("apps_dir")
def test_an_apps_own_keyboard_interrupt_is_a_finding_not_ctrl_c() -> None:
    args = ["lint_nasty.py:raises_keyboard_interrupt", "--no-routes", "-r", "/first"]
    code, out, _ = run(*args, "-r", "/second", "-r", "/third", "--json")
    assert code == 1
    data = json.loads(out)
    assert data["interrupted"] is False
    assert [r["path"] for r in data["requests"]] == ["/first", "/second", "/third"]
    (finding,) = data["findings"]
    assert (finding["rule"], finding["path"]) == ("WSGI103", "/second")
    assert finding["message"] == "KeyboardInterrupt: raised by the app"


@pytest.mark.usefixtures("apps_dir")
def test_unbuildable_routes_are_reported_as_skipped() -> None:
    code, out, _ = run("lint_flask_skipped.py", "--width", "200")
    assert code == 0
    assert out.splitlines() == [
        "no findings in 6 requests",
        "skipped /u/<user:name>  profile  ValueError: users are built from User objects only",
    ]
    code, out, _ = run("lint_flask_skipped.py", "--json")
    assert json.loads(out)["skipped"] == [
        {
            "rule": "/u/<user:name>",
            "endpoint": "profile",
            "reason": "ValueError: users are built from User objects only",
        }
    ]


def test_bad_request_option_fails_before_loading_the_app(tmp_path: Path) -> None:
    code, out, err = run(str(tmp_path / "missing_app.py"), "-r", "GET nopath")
    assert code == 2
    assert out == ""
    assert err.startswith("wsgiscope: error: expected a PATH starting with '/', got 'nopath'")
