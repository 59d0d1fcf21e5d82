"""Rich rendering of ``lint``: findings grouped by rule, rule explanations,
the rule list, and the progress bar of a long run.

Every value that comes from the app (messages quoting headers, paths,
endpoints) goes through :func:`~wsgiscope.render.console.data` or
:func:`~wsgiscope.render.console.label`: escaped, never markup.
"""

from __future__ import annotations

import contextlib
import typing as t

from rich.console import Group
from rich.table import Table
from rich.text import Text
from rich.tree import Tree

from wsgiscope.render.console import data, label
from wsgiscope.render.text import TARGET_LIMIT, cap
from wsgiscope.wsgistr import display_url

if t.TYPE_CHECKING:
    from rich.console import Console, RenderableType

    from wsgiscope.lint.rules import Rule
    from wsgiscope.lint.runner import LintReport, Occurrence

_SEVERITY_STYLE = {"error": "bold red", "warning": "yellow"}


def _where(finding: Occurrence) -> Text:
    path = display_url(finding.path)  # /caf%C3%A9 as /café, as in trace and match
    text = label((f"{finding.method} ", "bold"), (cap(path, TARGET_LIMIT), "cyan"))
    if finding.endpoint:
        text.append_text(label("  ", (cap(finding.endpoint, TARGET_LIMIT), "magenta")))
    return text


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def render_report(report: LintReport) -> RenderableType:
    """Findings grouped by rule, each under the requests that triggered it."""
    from wsgiscope.lint.rules import get_rule

    parts: list[RenderableType] = []
    for rule_id, findings in report.by_rule():
        rule = get_rule(rule_id)
        tree = Tree(
            label(
                (rule.id, _SEVERITY_STYLE[rule.severity]),
                " ",
                (rule.name, "bold"),
                "  ",
                (rule.summary, ""),
                "  ",
                (f"({rule.section})", "dim"),
            ),
            guide_style="dim",
        )
        for finding in findings:
            line = _where(finding)
            line.append_text(label("  ", (finding.message, "")))
            if finding.count > 1:
                line.append_text(label((f"  (x{finding.count})", "dim")))
            tree.add(line)
        parts.extend([tree, Text()])
    parts.append(render_summary(report))
    return Group(*parts)


def render_summary(report: LintReport) -> Group:
    """The closing lines: counts, skipped routes, interruption."""
    requests = _plural(len(report.requests), "request")
    errors = sum(f.severity == "error" for f in report.findings)
    warnings = len(report.findings) - errors
    if report.findings:
        lines = [
            label(
                (_plural(len(report.findings), "finding"), "bold"),
                f" ({_plural(errors, 'error')}, {_plural(warnings, 'warning')}) "
                f"of {_plural(len(report.by_rule()), 'rule')} in {requests}",
            ),
            Text("explain a rule: wsgiscope lint --explain RULE", style="dim"),
        ]
    else:
        lines = [label(("no findings", "bold green"), f" in {requests}")]
    for skipped in report.skipped:
        lines.append(
            label(
                ("skipped ", "yellow"),
                (skipped["rule"], "cyan"),
                "  ",
                (skipped["endpoint"] or "", "magenta"),
                "  ",
                (skipped["reason"], "dim"),
            )
        )
    for entry in report.delegated:
        lines.append(
            label(
                ("not reported ", "yellow"),
                (entry["rule"], "bold"),
                f" on {_plural(entry['requests'], 'request')}: ",
                (entry["reason"], "dim"),
                ("; --strict reports it", "dim"),
            )
        )
    if report.interrupted:
        lines.append(Text("interrupted: results so far", style="yellow bold"))
    return Group(*lines)


def render_explain(rule: Rule) -> RenderableType:
    """The long text of one rule."""
    head = label(
        (rule.id, _SEVERITY_STYLE[rule.severity]),
        " ",
        (rule.name, "bold"),
        "  ",
        (rule.severity, _SEVERITY_STYLE[rule.severity]),
    )
    parts: list[RenderableType] = [
        head,
        data(rule.summary),
        data(rule.section, "dim"),
        Text(),
        Text(rule.explanation),
    ]
    from wsgiscope.lint.refusals import REFUSALS

    for refusal in REFUSALS:
        if refusal.rule == rule.id:
            # What real servers do with it (measured; wsgiscope.lint.refusals).
            when = f" ({refusal.case})" if refusal.case else ""
            parts += [
                Text(),
                Text(f"What servers do with it{when}:", style="bold"),
                label(("werkzeug  ", "bold"), (refusal.werkzeug_detail, "")),
                label(("gunicorn  ", "bold"), (refusal.gunicorn_detail, "")),
            ]
    return Group(*parts)


def render_rules(rules: t.Iterable[Rule]) -> Table:
    """Every rule: id, slug, severity, summary and where it comes from."""
    table = Table(box=None, pad_edge=False, show_header=True, header_style="bold")
    for column in ("rule", "name", "severity", "summary", "section"):
        table.add_column(column)
    for rule in rules:
        table.add_row(
            data(rule.id, _SEVERITY_STYLE[rule.severity]),
            data(rule.name),
            data(rule.severity, _SEVERITY_STYLE[rule.severity]),
            data(rule.summary),
            data(rule.section, "dim"),
        )
    return table


@contextlib.contextmanager
def progress_bar(
    console: Console, total: int, show: bool = True
) -> t.Iterator[t.Callable[[int, int], None] | None]:
    """A transient bar (requests done/total, findings); yields its update
    callback, or ``None`` when ``show`` is false."""
    if not show:
        yield None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    progress = Progress(
        TextColumn("lint"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[findings]} findings"),
        console=console,
        transient=True,
    )
    task = progress.add_task("lint", total=total, findings=0)

    def update(done: int, findings: int) -> None:
        progress.update(task, completed=done, findings=findings)

    with progress:
        yield update
