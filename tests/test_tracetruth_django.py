"""#15 points 5, 6 and 12 on a stock-shaped Django project
(``tests/apps/tracetruth_django``: startproject's middleware list, a form
with ``{% csrf_token %}``, ``ALLOWED_HOSTS``, a real SQLite database).

Django's settings are process-global: every test runs the real CLI in a
subprocess.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import APPS

pytest.importorskip("django")

ROOT = Path(__file__).parent.parent
PROJECT = APPS / "tracetruth_django"
WSGI = "guestsite/wsgi.py"


def wsgiscope(*args: str, db: Path) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "PYTHONPATH": str(ROOT), "TRACETRUTH_DB": str(db)}
    for name in ("WSGISCOPE_APP", "DJANGO_SETTINGS_MODULE", "NO_COLOR", "FORCE_COLOR"):
        environment.pop(name, None)
    return subprocess.run(
        [sys.executable, "-m", "wsgiscope", *args],
        capture_output=True,
        text=True,
        cwd=PROJECT,
        env=environment,
        timeout=60,
    )


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "guestbook.sqlite3"


def test_lint_of_a_stock_project_with_a_csrf_form_finds_nothing(db: Path) -> None:
    """CsrfViewMiddleware writes request.META["CSRF_COOKIE_NEEDS_UPDATE"] (a
    bool) into the environ Django owns: not a conformance finding (#15.12)."""
    result = wsgiscope("lint", WSGI, "--json", db=db)
    data = json.loads(result.stdout)
    assert (result.returncode, data["findings"]) == (0, []), result.stdout + result.stderr
    # the form page was really linted: it rendered the CSRF token
    sent = {(r["method"], r["path"], r["status"]) for r in data["requests"]}
    assert ("GET", "/", "200 OK") in sent


def test_trace_shows_the_environ_keys_django_wrote_without_a_finding(db: Path) -> None:
    result = wsgiscope("trace", WSGI, "/", "--json", db=db)
    record = json.loads(result.stdout)
    assert result.returncode == 0, result.stderr
    assert record["response"]["status_code"] == 200
    assert 'name="csrfmiddlewaretoken"' in record["response"]["body_preview"]
    assert record["lint"] == []


def test_disallowed_host_is_raised_for_trace_tail_and_serve_alike(db: Path, tmp_path: Path) -> None:
    """Django turns DisallowedHost into a 400: the tree says the middleware
    raised it, and tail --errors / serve's RAISED marker count it (#15.6)."""
    saved = tmp_path / "traces.jsonl"
    result = wsgiscope(
        "trace", WSGI, "/", "Host:evil.example", "--save", str(saved), "--width", "250", db=db
    )
    assert result.returncode == 0, result.stderr
    assert "raised DisallowedHost: Invalid HTTP_HOST header: 'evil.example'" in result.stdout
    assert (
        "the app raised DisallowedHost: Invalid HTTP_HOST header: 'evil.example'. You may need "
        "to add 'evil.example' to ALLOWED_HOSTS. (in django.middleware.common.CommonMiddleware); "
        "the framework answered 400 Bad Request"
    ) in result.stdout
    # Django's security logger printed the traceback (to stderr, no LOGGING
    # configured): the app's and Django's frames, none of wsgiscope's (#15.8)
    frames = [line for line in result.stderr.splitlines() if line.strip().startswith('File "')]
    assert "in get_host" in frames[-1], result.stderr
    if sys.version_info >= (3, 11):  # 3.10's bare raise restores the traceback as caught
        assert not [frame for frame in frames if "wsgiscope" in frame], result.stderr
    assert wsgiscope("trace", WSGI, "/", "--save", str(saved), db=db).returncode == 0
    tail = wsgiscope("tail", str(saved), "--errors", "-n", "all", "--no-follow", db=db)
    lines = tail.stdout.splitlines()
    assert len(lines) == 1, tail.stdout
    assert "GET /  400" in lines[0]
    assert "RAISED DisallowedHost: Invalid HTTP_HOST header: 'evil.example'" in lines[0]


def test_a_non_ascii_path_is_shown_as_django_decodes_it(db: Path) -> None:
    """#15.5: the header and environ show /city/café/, as the view saw it."""
    result = wsgiscope("trace", WSGI, "/city/café/", "q==naïve", "--width", "200", db=db)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("GET /city/café/?q=naïve → 200 OK")
    assert "view guestbook:city name='café' → guestbook.views.city" in result.stdout
    assert "PATH_INFO = /city/café/\n" in result.stdout
    assert '"path": "/city/café/"' in result.stdout  # request.path in the view
    assert "Ã" not in result.stdout
