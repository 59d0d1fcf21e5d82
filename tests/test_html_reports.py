"""``--html FILE`` on trace, lint and replay: pages checked in a real headless Chromium."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from wsgiscope.cli import cli

CHROMIUM = "/usr/bin/chromium"
APPS = Path(__file__).parent / "apps"
SHOP = f"{APPS / 'export_shop.py'}:app"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not os.path.exists(CHROMIUM),
        reason=f"{CHROMIUM} is missing (.ci/run installs the Debian package 'chromium')",
    ),
]


@pytest.fixture(scope="module")
def browser():
    playwright = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    with playwright.sync_playwright() as driver:
        browser = driver.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        yield browser
        browser.close()


class Page:
    """A report opened in the browser, with every console message and dialog kept."""

    def __init__(self, browser, path: Path) -> None:
        self.page = browser.new_page()
        self.console: list[str] = []
        self.errors: list[str] = []
        self.dialogs: list[str] = []
        self.requests: list[str] = []
        self.page.on("console", lambda m: self.console.append(f"{m.type}: {m.text}"))
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("dialog", lambda d: (self.dialogs.append(d.message), d.dismiss()))
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.page.goto(path.as_uri())
        self.page.wait_for_load_state("load")

    def assert_clean(self, path: Path) -> None:
        assert [m for m in self.console if m.startswith("error")] == []
        assert self.errors == []
        assert self.dialogs == []
        assert self.requests == [path.as_uri()]  # nothing fetched: self-contained
        assert self.page.locator("script").count() == 0


def invoke(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_trace_report_loads_expands_and_keeps_hostile_text_inert(browser, tmp_path):
    report = tmp_path / "trace.html"
    result = invoke(
        "trace",
        SHOP,
        "GET",
        "/items/<script>alert(1)</script>",
        "X-Evil:<img src=x onerror=alert(2)>",
        "X-Ctl:a\x1b[31mred\u202e",
        "Cookie:session_id=s3cret",
        "--html",
        str(report),
    )
    assert result.exit_code == 0, result.output
    document = report.read_text()
    assert "s3cret" not in document
    page = Page(browser, report)
    page.assert_clean(report)
    assert page.page.locator("img").count() == 0
    body = page.page.inner_text("body")
    # markup from the request is shown as text, control characters as escapes
    assert "/items/<script>alert(1)</script>" in body
    assert "<img src=x onerror=alert(2)>" in body
    # (U+202E arrives as its UTF-8 bytes read as latin-1, as WSGI gives it)
    assert "a\\x1b[31mred\u00e2\\x80\u00ae" in body
    assert not {"\x1b", "\x80", "\u202e"} & set(body)
    assert "[redacted]" in body
    assert page.page.locator("svg.timeline rect").count() >= 3
    # a deep node starts closed and opens with a click; an open one closes
    closed = page.page.locator("details:not([open])").first.element_handle()
    child = closed.query_selector(":scope > .kids")
    assert not child.is_visible()
    closed.query_selector(":scope > summary").click()
    assert closed.evaluate("node => node.open")
    assert child.is_visible()
    assert "received no exception" in child.inner_text()
    top = page.page.locator("details[open]").first.element_handle()
    top.query_selector(":scope > summary").click()
    assert not top.evaluate("node => node.open")
    assert not top.query_selector(":scope > .kids").is_visible()
    page.assert_clean(report)


def test_lint_report_links_findings_to_explanations(browser, tmp_path):
    report = tmp_path / "lint.html"
    result = invoke("lint", str(APPS / "lint_flask_bad.py"), "--html", str(report))
    assert result.exit_code == 1  # findings
    page = Page(browser, report)
    page.assert_clean(report)
    link = page.page.locator('a[href="#explain-WSGI209"]')
    assert link.count() == 1
    link.click()
    assert page.page.evaluate("location.hash") == "#explain-WSGI209"
    target = page.page.locator("#explain-WSGI209")
    assert "hop-by-hop" in target.inner_text()
    assert target.is_visible()


def test_replay_report_draws_the_histogram(browser, tmp_path):
    report = tmp_path / "replay.html"
    result = invoke(
        "replay", str(APPS / "replay_hooks.py"), "-n", "60", "--threads", "2", "--html", str(report)
    )
    assert result.exit_code == 0, result.output
    page = Page(browser, report)
    page.assert_clean(report)
    body = page.page.inner_text("body")
    assert "threads=2" in body
    assert "leaks / divergent" in body
    bars = page.page.locator("svg.histogram rect").count()
    assert bars >= 1
    assert page.page.locator("svg.histogram text").count() == 2 * bars
    # the per-request table: every request replay_hooks' routes answer, 60 in all
    rows = page.page.locator("table tbody tr")
    assert rows.count() >= 1
    counts = [
        int(rows.nth(i).locator("td").nth(1).inner_text().replace(",", ""))
        for i in range(rows.count())
    ]
    assert sum(counts) == 60
