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
from rich.padding import Padding
from rich.table import Table
from rich.text import Text
from rich.tree import Tree

from wsgiscope.render.console import data, label
from wsgiscope.render.text import TARGET_LIMIT, cap
from wsgiscope.wsgistr import display_url

if t.TYPE_CHECKING:
    from rich.console import Console, ConsoleOptions, RenderableType, RenderResult

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
        tree = rule_tree(get_rule(rule_id), findings)
        parts.extend([tree, Text()])
    parts.append(render_summary(report))
    return Group(*parts)


def rule_tree(rule: t.Any, findings: t.Iterable[t.Any]) -> Tree:
    """One rule (id, name, summary, PEP section) over the requests that broke it."""
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
    return tree


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


class _RuleList:
    """The rule table, laid out for the width it is printed at."""

    def __init__(self, rules: list[Rule]) -> None:
        self.rules = rules

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        if options.max_width < _NARROW_RULES:  # no room for columns: one rule per stanza
            for rule in self.rules:
                yield label(
                    (rule.id, _SEVERITY_STYLE[rule.severity]),
                    "  ",
                    (rule.name, "bold"),
                    "  ",
                    (rule.severity, _SEVERITY_STYLE[rule.severity]),
                )
                yield Padding(label((rule.summary, ""), "  ", (rule.section, "dim")), (0, 0, 0, 4))
            return
        yield _rules_table(self.rules, wide=options.max_width >= _WIDE_RULES)


#: Below this width the section goes under the summary instead of beside it.
_WIDE_RULES = 130
#: Below this width each rule is a stanza: id, name, severity, then the summary.
_NARROW_RULES = 72


def render_rules(rules: t.Iterable[Rule]) -> RenderableType:
    """Every rule: id, slug, severity, summary and where it comes from.

    The id and the name (what ``--explain`` and ``--ignore`` take) are never
    wrapped nor cut; the summary wraps, with the section under it when the
    output is narrower than :data:`_WIDE_RULES` columns.
    """
    return _RuleList(list(rules))


def _rules_table(rules: list[Rule], wide: bool) -> Table:
    table = Table(box=None, pad_edge=False, show_header=True, header_style="bold")
    for column in ("rule", "name", "severity"):
        table.add_column(column, no_wrap=True)
    table.add_column("summary" if wide else "summary / section", overflow="fold", ratio=1)
    if wide:
        table.add_column("section", overflow="fold")
    for rule in rules:
        summary = data(rule.summary)
        if not wide:
            summary.append("\n")
            summary.append_text(data(rule.section, "dim"))
        cells = [
            data(rule.id, _SEVERITY_STYLE[rule.severity]),
            data(rule.name),
            data(rule.severity, _SEVERITY_STYLE[rule.severity]),
            summary,
        ]
        table.add_row(*cells, *([data(rule.section, "dim")] if wide else []))
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
