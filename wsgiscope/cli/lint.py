"""``wsgiscope lint``: PEP 3333 conformance over every buildable route."""

from __future__ import annotations

import os
import typing as t

import click

from wsgiscope.cli.completers import complete_rules
from wsgiscope.cli.options import app_option, console, load, output_options, print_json
from wsgiscope.cli.redaction import redact_option

if t.TYPE_CHECKING:
    from wsgiscope.lint.runner import LintReport, Target


def _split_words(words: tuple[str, ...]) -> tuple[str | None, list[str]]:
    """APP and request files, told apart as ``replay`` does: an existing
    file that is not ``.py`` in first place is a source, not an APP."""
    if not words:
        return None, []
    first = words[0]
    if os.path.isfile(first) and not first.endswith(".py"):
        return None, list(words)
    return first, list(words[1:])


@click.command()
@click.argument("words", nargs=-1, metavar="[APP] [SOURCE]...")
@app_option
@click.option(
    "-r",
    "--request",
    "requests",
    multiple=True,
    metavar="'[METHOD] /PATH [ITEM]...'",
    help="Also lint this request (repeatable); ITEMs as in 'trace'.",
)
@click.option("--no-routes", is_flag=True, help="Lint only --request and SOURCE requests.")
@click.option(
    "--ignore",
    multiple=True,
    metavar="RULE",
    shell_complete=complete_rules,
    help="Leave RULE out of the report (repeatable).",
)
@click.option(
    "--max-body",
    type=click.IntRange(1),
    default=8 * 1024 * 1024,
    show_default=True,
    metavar="BYTES",
    help="Stop reading a body after BYTES (endless bodies are reported, WSGI305).",
)
@click.option(
    "--strict",
    is_flag=True,
    help="Also report what a framework leaves to the server by design (Django's HEAD bodies).",
)
@click.option(
    "--explain",
    metavar="RULE",
    shell_complete=complete_rules,
    help="Explain RULE (id or name) and exit.",
)
@click.option("--list-rules", is_flag=True, help="List every rule and exit.")
@click.option(
    "--html", "html_file", metavar="FILE", help="Also write a self-contained HTML report."
)
@redact_option
@output_options
@click.pass_context
def lint(
    ctx: click.Context,
    words: tuple[str, ...],
    app_option: str | None,
    requests: tuple[str, ...],
    no_routes: bool,
    ignore: tuple[str, ...],
    max_body: int,
    strict: bool,
    explain: str | None,
    list_rules: bool,
    html_file: str | None,
    as_json: bool,
    color: str,
    width: int | None,
) -> None:
    """Check APP against PEP 3333, request by request.

    Sends every route's sample URL for each of its methods (HEAD included),
    plus --request and SOURCE requests (JSON Lines traces, HAR files,
    'GET /path' lines, as 'replay' reads them), through a strict server,
    and reports every violation grouped by rule. Exit 1 when anything was
    found, 0 when clean.
    """
    if explain is not None:
        _explain(explain, as_json, color, width)
        return
    if list_rules:
        _list_rules(as_json, color, width)
        return
    from wsgiscope.lint.runner import parse_request_option

    ignored = {_rule_id(rule) for rule in ignore}
    app_word, sources = _split_words(words)
    # Requests are checked before the app is imported: a typo costs no import.
    extra = [parse_request_option(text) for text in requests]
    app = load(app_word, app_option).app
    targets, skipped = _targets(app, extra, sources, no_routes)
    report = _run(app, targets, ignored, max_body, strict, as_json, color, width)
    report.skipped = skipped
    if as_json:
        print_json(report.to_json())
    else:
        from wsgiscope.render.lint import render_report

        console(color, width).print(render_report(report))
    if html_file:
        from wsgiscope.render.html import lint_report, write_html

        write_html(html_file, lint_report(report, app_word or app_option or ""))
    if report.interrupted:
        ctx.exit(130)
    ctx.exit(1 if report.findings else 0)


def _rule_id(key: str) -> str:
    from wsgiscope.errors import UsageError
    from wsgiscope.lint.rules import get_rule

    try:
        return get_rule(key).id
    except KeyError:
        raise UsageError(
            f"unknown lint rule {key!r}; 'wsgiscope lint --list-rules' lists them"
        ) from None


def _explain(key: str, as_json: bool, color: str, width: int | None) -> None:
    from wsgiscope.lint.rules import get_rule

    rule = get_rule(_rule_id(key))
    if as_json:
        print_json(rule.to_json(), format="wsgiscope.lint-rule/1")
        return
    from wsgiscope.render.lint import render_explain

    console(color, width).print(render_explain(rule))


def _list_rules(as_json: bool, color: str, width: int | None) -> None:
    from wsgiscope.lint.rules import RULES

    if as_json:
        print_json({"rules": [rule.to_json() for rule in RULES]}, format="wsgiscope.lint-rules/1")
        return
    from wsgiscope.render.lint import render_rules

    console(color, width).print(render_rules(RULES))


def _targets(
    app: t.Any, extra: list[Target], sources: list[str], no_routes: bool
) -> tuple[list[Target], list[dict[str, str | None]]]:
    from wsgiscope.errors import UsageError
    from wsgiscope.lint.runner import answered_by, route_targets, source_targets

    targets: list[Target] = []
    skipped: list[dict[str, str | None]] = []
    if not no_routes:
        from wsgiscope.routing import discover_routes

        targets, skipped = route_targets(discover_routes(app))
    if sources:
        from wsgiscope.replay.sources import load_sources

        extra += source_targets(load_sources(sources).requests)
    for target in extra:
        target.endpoint, target.framework = answered_by(app, target.method, target.path)
    targets += extra
    if not targets:
        raise UsageError(
            "nothing to lint: no route has a buildable URL and no request was given",
            hint="add requests with --request 'GET /path' or a request file",
        )
    return targets, skipped


def _run(
    app: t.Any,
    targets: list[Target],
    ignored: set[str],
    max_body: int,
    strict: bool,
    as_json: bool,
    color: str,
    width: int | None,
) -> LintReport:
    """Lint with a progress bar on a terminal (stderr)."""
    import contextlib
    import sys

    from wsgiscope.interrupts import watching_ctrl_c
    from wsgiscope.lint.runner import run_lint
    from wsgiscope.render.console import make_console
    from wsgiscope.render.lint import progress_bar

    err = make_console(t.cast(t.Any, color), width, stream=sys.stderr)
    show = err.is_terminal and not as_json and len(targets) > 1
    # What the app prints goes to stderr: stdout is the report (--json stays JSON).
    # An app's own KeyboardInterrupt is a finding; only Ctrl-C stops the run.
    with (
        contextlib.redirect_stdout(sys.stderr),
        progress_bar(err, len(targets), show) as update,
        watching_ctrl_c(),
    ):
        return run_lint(
            app, targets, ignore=ignored, max_body=max_body, progress=update, strict=strict
        )
