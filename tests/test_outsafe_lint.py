"""Secrets and hostile text in ``lint`` findings (and a trace's lint section)."""

from __future__ import annotations

import json
import re
from pathlib import Path

from click.testing import CliRunner

from wsgiscope.cli import cli
from wsgiscope.lint.headers import check_header

APPS = Path(__file__).parent / "apps"
WSGI = str(APPS / "outsafe_wsgi.py")
SECRET = "s3cr3t-TOKEN-42"
RAW_CONTROL = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u202e]")


def run(*args: str):
    return CliRunner().invoke(cli, [*args, "--width", "100"], catch_exceptions=False)


def test_secret_header_values_are_redacted_in_findings():
    # Was: header 'Set-Cookie' value 'sid=s3cr3t-TOKEN-42\x01' contains control characters
    assert check_header("Set-Cookie", f"sid={SECRET}\x01") == [
        ("WSGI207", "header 'Set-Cookie' value '[redacted]' contains control characters")
    ]
    assert check_header("X-Api-Key", f"{SECRET}\u2603") == [
        ("WSGI208", "header 'X-Api-Key' value '[redacted]' is not ISO-8859-1 encodable")
    ]
    assert check_header("Authorization", SECRET.encode())[0][1] == (
        "value of header 'Authorization' is bytes '[redacted]', not str"
    )
    assert check_header("Location", f"/c?password={SECRET}\x1b") == [
        ("WSGI207", "header 'Location' value '/c?password=[redacted]' contains control characters")
    ]
    # Other values are still quoted (escaped).
    assert check_header("X-Plain", "a\x1bb") == [
        ("WSGI207", "header 'X-Plain' value 'a\\x1bb' contains control characters")
    ]


def test_lint_reports_and_json_hold_no_secret(apps_dir: Path):
    for extra in ((), ("--json",), ("--color", "always")):
        result = run("lint", WSGI, *extra)
        assert result.exit_code == 1
        assert SECRET not in result.stdout
        assert "'Set-Cookie' value '[redacted]'" in result.stdout
        if "--json" in extra:
            json.loads(result.stdout)
            assert "\x1b" not in result.stdout
        else:
            stripped = re.sub("\x1b\\[[0-9;]*m", "", result.stdout)
            assert not RAW_CONTROL.search(stripped)


def test_request_query_secrets_are_redacted_in_reports(apps_dir: Path, tmp_path: Path):
    # Was: "GET /x?token=s3cr3t-TOKEN-42" on every finding, text and JSON.
    text = run("lint", WSGI, "--no-routes", "-r", f"GET /x?token={SECRET}&a=1")
    assert "GET /x?token=[redacted]&a=1" in text.stdout
    assert SECRET not in text.stdout
    source = tmp_path / "requests.txt"
    source.write_text(f"GET /x?api_key={SECRET}\n")
    data = run("lint", WSGI, "--no-routes", str(source), "--json").stdout
    assert SECRET not in data
    assert "/x?api_key=[redacted]" in data


def test_trace_records_lint_findings_without_secrets(apps_dir: Path, tmp_path: Path):
    saved = tmp_path / "t.jsonl"
    result = run("trace", WSGI, "/x", "--json", "--save", str(saved))
    record = json.loads(result.stdout)
    messages = [finding["message"] for finding in record["lint"]]
    assert "header 'Set-Cookie' value '[redacted]' contains control characters" in messages
    assert SECRET not in result.stdout
    assert SECRET not in saved.read_text()


def test_a_huge_request_target_is_capped_in_reports(apps_dir: Path):
    # Was: the 3,000-character path printed whole under every finding.
    target = "/" + "P" * 3000
    text = run("lint", WSGI, "--no-routes", "-r", f"GET {target}").stdout
    findings = text.count("… [2701 more characters]")
    assert findings >= 5
    assert text.count("P") < findings * 300 + 100  # was 3,000 per finding
    assert "… [2701 more characters]" in text
    data = json.loads(run("lint", WSGI, "--no-routes", "-r", f"GET {target}", "--json").stdout)
    assert data["findings"][0]["path"] == target
