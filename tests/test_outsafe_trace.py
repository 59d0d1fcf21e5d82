"""Hostile app text and secrets through ``trace`` (and the record it builds).

The apps (``tests/apps/outsafe_*.py``) put markup, control characters,
emoji codes, very long strings and secrets everywhere an app can. Each test
names the exact output that was wrong before its fix.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from wsgiscope.cli import cli
from wsgiscope.redact import REDACTED, Redactor

pytestmark = pytest.mark.flask  # also run under the next Flask (.ci/run)

APPS = Path(__file__).parent / "apps"
FLASK = str(APPS / "outsafe_flask.py")
WSGI = str(APPS / "outsafe_wsgi.py")
SECRET = "s3cr3t-TOKEN-42"
#: A run of the app's 20,000-character value longer than any cap.
LONG_RUN = re.compile("L{1001,}")
RAW_CONTROL = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u202e]")


def trace(*args: str):
    return CliRunner().invoke(cli, ["trace", *args, "--width", "100"], catch_exceptions=False)


# -- secrets in response bodies ----------------------------------------------------


def test_json_response_echoing_a_password_is_redacted_in_record_and_text():
    # Was: "got": {"password": "s3cr3t-TOKEN-42"} and "auth": "Bearer s3cr3t-..."
    # in body_preview, though the request's own body was redacted.
    args = (FLASK, "POST", "/login", f"password={SECRET}", f"Authorization:Bearer {SECRET}")
    record = json.loads(trace(*args, "--json").stdout)
    assert SECRET not in json.dumps(record)
    assert json.loads(record["response"]["body_preview"]) == {
        "auth": REDACTED,
        "got": {"password": REDACTED},
    }
    text = trace(*args).stdout
    assert SECRET not in text
    assert '"password": "[redacted]"' in text


def test_show_secrets_keeps_the_response_body():
    args = (FLASK, "POST", "/login", f"password={SECRET}", "--show-secrets", "--json")
    record = json.loads(trace(*args).stdout)
    assert json.loads(record["response"]["body_preview"])["got"] == {"password": SECRET}


def test_redirect_page_repeating_a_token_location_is_redacted(tmp_path: Path):
    # Was: Location: /x?token=[redacted] but the page under it showed
    # href="/x?token=s3cr3t-TOKEN-42&amp;next=..." in text, --json and --save.
    saved = tmp_path / "t.jsonl"
    result = trace(FLASK, "/go", "-v", "--save", str(saved))
    assert SECRET not in result.stdout
    assert 'href="/x?token=[redacted]&amp;next=%1b[31m"' in result.stdout
    assert SECRET not in saved.read_text()
    assert SECRET not in trace(FLASK, "/go", "--json").stdout


def test_response_body_redaction_by_content_type_and_location():
    redactor = Redactor()
    form = [("Content-Type", "application/x-www-form-urlencoded")]
    assert redactor.response_body(f"a=1&api_key={SECRET}", form) == f"a=1&api_key={REDACTED}"
    page = f'<a href="/next?sid=1&amp;access_token={SECRET}">go</a>'
    moved = [("Content-Type", "text/html"), ("Location", f"/next?sid=1&access_token={SECRET}")]
    assert redactor.response_body(page, moved) == page.replace(SECRET, REDACTED)
    # Without a redacted URL header, a page is left as it is.
    html = [("Content-Type", "text/html")]
    assert redactor.response_body(page, html) == page
    # A JSON body without a secret-looking name is not rewritten (nor parsed).
    body = '{"user":  "bob"}'
    assert redactor.response_body(body, [("Content-Type", "application/json")]) == body
    assert Redactor(show_secrets=True).response_body(page, moved) == page


# -- caps ---------------------------------------------------------------------------


def test_a_long_body_line_is_capped_unless_verbose():
    # Was: the 20,000-character line of /plain printed whole without -v.
    text = trace(FLASK, "/plain").stdout
    assert not LONG_RUN.search(text.replace("\n", "").replace(" ", "").replace("│", ""))
    assert "more characters]" in text
    whole = trace(FLASK, "/plain", "-v").stdout
    assert LONG_RUN.search(whole.replace("\n", "").replace(" ", "").replace("│", ""))


def test_a_huge_exception_message_is_capped_everywhere_in_text():
    # Was: 2,144 lines of "LLLL..." (the message in five lifecycle events, the
    # heading and rich's traceback, each whole).
    result = trace(FLASK, "/boom")
    assert result.exit_code == 1
    assert len(result.stdout.splitlines()) < 400
    flat = result.stdout.replace("\n", "").replace(" ", "").replace("│", "")
    assert not LONG_RUN.search(flat)
    assert "the app raised RuntimeError: boom [bold red]x[/]" in result.stdout
    # The record keeps the whole message.
    record = json.loads(trace(FLASK, "/boom", "--json").stdout)
    assert len(record["error"]["message"]) > 20000


# -- the app log with --json -----------------------------------------------------------


def test_json_mode_app_log_on_stderr_is_escaped():
    # Was: wsgi.errors echoed raw to stderr: ESC ]0;pwned BEL retitled the terminal.
    result = trace(WSGI, "/x", "--json")
    json.loads(result.stdout)
    assert "\x1b" not in result.stderr
    assert not RAW_CONTROL.search(result.stderr)
    assert "wsgi.errors [bold red]x[/]" in result.stderr
    assert "\\x1b]0;pwned\\x07" in result.stderr
    # Lines stay lines.
    assert "\nok\n" in result.stderr


def test_text_mode_stays_escaped_with_colour_forced():
    result = trace(WSGI, "/x", "--color", "always")
    stripped = re.sub("\x1b\\[[0-9;]*m", "", result.stdout)
    assert not RAW_CONTROL.search(stripped)
    assert "\U0001f604" not in result.stdout
    assert "[bold red]R[/]" in stripped


def test_a_huge_request_target_is_capped_in_headings(tmp_path: Path):
    # Was: the whole 12,000-character path and query in trace's heading, in
    # the tail/serve line and three times in match's tree.
    long = "P" * 6000
    target = f"/x{long}?q={long}"
    text = trace(FLASK, target).stdout
    assert text.count("P") < 1000
    assert "more characters]" in text.split("├──")[0]
    saved = tmp_path / "t.jsonl"
    trace(FLASK, target, "--save", str(saved))
    line = CliRunner().invoke(cli, ["tail", str(saved), "--no-follow"]).stdout
    assert line.count("P") < 400
    assert "more characters]" in line
    matched = CliRunner().invoke(cli, ["match", FLASK, target]).stdout
    assert matched.count("P") < 1000
