"""Hostile app text and secrets through ``replay``'s examples and error log head."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from wsgiscope.cli import cli
from wsgiscope.redact import redact_text
from wsgiscope.replay.sources import ReplayRequest

pytestmark = pytest.mark.flask  # also run under the next Flask (.ci/run)

SECRET = "s3cr3t-TOKEN-42"
RAW_CONTROL = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u202e]")


def replay(*args: str):
    return CliRunner().invoke(cli, ["replay", *args, "--width", "100"], catch_exceptions=False)


def lines(tmp_path: Path, *requests: str) -> str:
    path = tmp_path / "requests.txt"
    path.write_text("\n".join(requests) + "\n")
    return str(path)


def test_describe_redacts_secret_query_parameters():
    request = ReplayRequest("GET", "/who", f"user=bob&api_key={SECRET}&token={SECRET}")
    assert request.describe() == "GET /who?user=bob&api_key=[redacted]&token=[redacted]"
    assert ReplayRequest("GET", "/who").describe() == "GET /who"


def test_divergence_examples_redact_the_query(apps_dir: Path, tmp_path: Path):
    # Was: "divergent GET /whoami?user=b&token=s3cr3t-TOKEN-42 #6 ..." in text
    # and in --json's isolation examples.
    source = lines(
        tmp_path, f"GET /whoami?user=a&api_key={SECRET}", f"GET /whoami?user=b&token={SECRET}"
    )
    text = replay("outsafe_flask.py", source, "--threads", "4", "-n", "24")
    assert text.exit_code == 1
    assert "divergent GET /whoami?user=" in text.stdout
    assert SECRET not in text.stdout
    assert not RAW_CONTROL.search(text.stdout)
    result = replay("outsafe_flask.py", source, "--threads", "4", "-n", "24", "--json")
    data = json.loads(result.stdout)
    assert data["isolation"]["divergent"] > 0
    assert SECRET not in result.stdout
    assert "token=[redacted]" in result.stdout or "api_key=[redacted]" in result.stdout


def test_leak_examples_redact_both_requests(apps_dir: Path, tmp_path: Path):
    source = lines(
        tmp_path, f"GET /visit?user=a&token={SECRET}", f"GET /visit?user=b&password={SECRET}"
    )
    result = replay("replay_shared_session.py", source, "--threads", "2", "-n", "10", "--json")
    data = json.loads(result.stdout)
    assert data["isolation"]["leaks"] > 0
    assert SECRET not in result.stdout
    text = replay("replay_shared_session.py", source, "--threads", "2", "-n", "10")
    assert "leak session" in text.stdout
    assert SECRET not in text.stdout


def test_error_examples_and_wsgi_errors_head_are_capped(apps_dir: Path, tmp_path: Path):
    # Was: a 20,019-character line in wsgi_errors.head and the whole query
    # (token included) in error_examples.
    source = lines(tmp_path, f"GET /crash?token={SECRET}", "GET /x")
    result = replay("outsafe_wsgi.py", source, "-n", "4", "--json")
    data = json.loads(result.stdout)
    assert SECRET not in result.stdout
    assert data["error_examples"][0].startswith("GET /crash?token=[redacted]: ValueError: crash")
    assert all(len(example) < 600 for example in data["error_examples"])
    head = data["wsgi_errors"]["head"]
    assert any(line.startswith("LLLL") and line.endswith("... [20000 chars]") for line in head)
    assert all(len(line) < 600 for line in head)


def test_divergence_bodies_redact_secret_members(apps_dir: Path, tmp_path: Path):
    # Was: expected '{"token":"s3cr3t-TOKEN-42-a","user":"a"}\n', got '...-b...'.
    source = lines(tmp_path, "GET /me?user=a", "GET /me?user=b")
    result = replay("outsafe_flask.py", source, "--threads", "4", "-n", "24", "--json")
    data = json.loads(result.stdout)
    assert data["isolation"]["divergent"] > 0
    assert SECRET not in result.stdout
    example = data["isolation"]["examples"][0]
    assert '"token":"[redacted]"' in example["expected"]["body"]
    assert SECRET not in replay("outsafe_flask.py", source, "--threads", "4", "-n", "24").stdout


def test_redact_text_handles_cut_json_and_parameters():
    cut = '{"auth":"Bearer x","got":{"password":"s3cr'
    assert redact_text(cut) == '{"auth":"[redacted]","got":{"password":"[redacted]"'
    assert redact_text('{"n": 1, "token": 12345}') == '{"n": 1, "token": "[redacted]"}'
    assert redact_text("password=abc&user=x") == "password=[redacted]&user=x"
    assert redact_text("see /x?api_key=zz&b=1") == "see /x?api_key=[redacted]&b=1"
    assert redact_text('{"user": "bob"}') == '{"user": "bob"}'


def test_a_huge_request_target_is_capped_in_examples(apps_dir: Path, tmp_path: Path):
    # Was: every divergence example printed the 3,000-character query whole.
    pad = "P" * 3000
    source = lines(tmp_path, f"GET /me?user=a&pad={pad}", f"GET /me?user=b&pad={pad}")
    text = replay("outsafe_flask.py", source, "--threads", "4", "-n", "24").stdout
    examples = text.count("divergent GET")
    assert examples > 0
    assert text.count("P") < examples * 300 + 100
    assert "more characters]" in text
