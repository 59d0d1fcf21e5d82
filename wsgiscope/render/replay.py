"""Rendering of ``replay``: live progress, summary, latency histogram, compare.

Everything here renders the plain summary dicts of
:func:`wsgiscope.replay.runner.summarize`. The progress bar lives only in
the parent process, which never monkey-patches: greenlet modes run in
worker processes that never import rich, so no rich ``Live`` thread can
exist before ``patch_all()`` (DESIGN, "Known pitfalls").
"""

from __future__ import annotations

import contextlib
import json
import time
import typing as t

from rich.console import Console, Group, RenderableType
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table
from rich.text import Text

from wsgiscope.render.console import data, label
from wsgiscope.render.text import TARGET_LIMIT, cap

#: Width of the bars of the latency histogram, in characters.
BAR_WIDTH = 30


class _RateColumn(ProgressColumn):
    def render(self, task: Task) -> Text:
        elapsed = task.elapsed or 0.0
        rate = task.completed / elapsed if elapsed else 0.0
        return Text(f"{rate:,.0f} req/s", style="cyan")


class _ErrorsColumn(ProgressColumn):
    def render(self, task: Task) -> Text:
        errors = int(task.fields.get("errors", 0))
        return Text(f"{errors:,} errors", style="red" if errors else "dim")


@contextlib.contextmanager
def progress_bar(
    console: Console,
    title: str,
    total: int | None,
    duration: float | None,
    show: bool = True,
) -> t.Iterator[t.Callable[[int, int], None] | None]:
    """A live bar (done/total, req/s, errors); yields its update callback.

    With a duration the bar fills with time and shows the count done.
    Yields ``None`` when ``show`` is false (not a terminal, ``--json``).
    """
    if not show:
        yield None
        return
    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn() if total is not None else TextColumn("{task.fields[done]:,} done"),
        _RateColumn(),
        _ErrorsColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    )
    task = progress.add_task(
        title, total=total if total is not None else duration, done=0, errors=0
    )
    started = time.monotonic()

    def update(done: int, errors: int) -> None:
        if total is not None:
            progress.update(task, completed=done, errors=errors)
        else:
            elapsed = min(time.monotonic() - started, duration or 0.0)
            progress.update(task, completed=elapsed, done=done, errors=errors)

    with progress:
        yield update


def _ms(value: float) -> str:
    from wsgiscope.units import format_duration

    return format_duration(value)


def _rows(summary: dict[str, t.Any]) -> list[tuple[str, Text]]:
    latency = summary["latency_ms"]
    isolation = summary["isolation"]
    problems = isolation["leaks"] + isolation["divergent"]
    status = ", ".join(f"{k} {v:,}" for k, v in summary["status"].items()) or "none"
    if summary.get("status_codes"):
        status = ", ".join(f"{k}: {v:,}" for k, v in summary["status_codes"].items())
    exceptions = ", ".join(f"{k} {v:,}" for k, v in summary["exceptions"].items()) or "none"
    return [
        ("mode", data(summary["label"], "bold")),
        ("requests", Text(f"{summary['requests']:,}")),
        ("errors", Text(f"{summary['errors']:,}", style="red" if summary["errors"] else "green")),
        ("status", data(status)),
        ("exceptions", data(exceptions, "red" if summary["exceptions"] else "")),
        ("duration", Text(f"{summary['duration_s']:.3f} s")),
        ("throughput", Text(f"{summary['throughput_rps']:,.1f} req/s", style="cyan")),
        *_timeouts(summary),
        *[("latency min", Text(_ms(latency["min"])))] * ("min" in latency),
        *[("latency mean", Text(_ms(latency["mean"])))] * ("mean" in latency),
        ("latency p50", Text(_ms(latency["p50"]))),
        ("latency p90", Text(_ms(latency["p90"]))),
        *[("latency p95", Text(_ms(latency["p95"])))] * ("p95" in latency),
        ("latency p99", Text(_ms(latency["p99"]))),
        ("latency p99.9", Text(_ms(latency["p999"]))),
        ("latency max", Text(_ms(latency["max"]))),
        ("max in flight", Text(f"{summary['max_in_flight']:,}")),
        ("workers (idents)", Text(f"{summary['idents']:,}")),
        ("isolation checks", Text(f"{isolation['checked']:,}")),
        (
            "leaks / divergent",
            Text(
                f"{isolation['leaks']:,} / {isolation['divergent']:,}",
                style="bold red" if problems else "green",
            ),
        ),
    ]


def _timeouts(summary: dict[str, t.Any]) -> list[tuple[str, Text]]:
    if summary.get("timeouts") is None:
        return []
    count = summary["timeouts"]
    return [
        (
            "timeouts",
            Text(
                f"{count:,} (longer than {_ms(summary['timeout_s'] * 1000)})",
                style="red" if count else "green",
            ),
        )
    ]


def render_endpoints(rows: list[dict[str, t.Any]]) -> Table:
    """Locust's main table: one row per endpoint (the rule that answered)."""
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold")
    for _ in range(8):
        table.add_column(justify="right")
    heads = ("endpoint", "reqs", "errors", "req/s", "p50", "p95", "p99", "max", "mean")
    table.add_row(*(Text(head, style="dim") for head in heads))
    for row in rows:
        table.add_row(
            data(row["name"], limit=60),
            Text(f"{row['requests']:,}"),
            Text(f"{row['errors']:,}", style="red" if row["errors"] else ""),
            Text(f"{row['rps']:,.1f}"),
            Text(_ms(row["p50_ms"])),
            Text(_ms(row["p95_ms"])),
            Text(_ms(row["p99_ms"])),
            Text(_ms(row["max_ms"])),
            Text(_ms(row["mean_ms"])),
        )
    return table


def _queries(rows: list[dict[str, t.Any]]) -> list[RenderableType]:
    """``--queries``: SQL statements per endpoint (mean, max, time)."""
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold")
    for _ in range(4):
        table.add_column(justify="right")
    heads = ("endpoint", "requests", "mean", "max", "mean ms")
    table.add_row(*(Text(head, style="dim") for head in heads))
    for row in rows:
        uneven = row["max"] > row["mean"]
        table.add_row(
            data(row["endpoint"], limit=60),
            Text(f"{row['requests']:,}"),
            Text(f"{row['mean']:g}"),
            Text(str(row["max"]), style="bold yellow" if uneven else ""),
            Text(f"{row['mean_ms']:.2f}"),
        )
    return [Text(""), Text("SQL statements per request, by endpoint", style="bold"), table]


def render_summary(
    summary: dict[str, t.Any],
    source: dict[str, t.Any] | None = None,
    findings_only: bool = False,
) -> RenderableType:
    """The summary table, latency histogram, findings and source notes."""
    parts: list[RenderableType] = []
    if not findings_only:
        table = Table.grid(padding=(0, 2))
        table.add_column(style="bold")
        table.add_column()
        for name, value in _rows(summary):
            table.add_row(Text(name), value)
        parts.append(table)
        if summary.get("endpoint_stats"):
            parts.extend(
                [
                    Text(""),
                    Text("by endpoint", style="bold"),
                    render_endpoints(summary["endpoint_stats"]),
                ]
            )
        histogram = render_histogram(summary["histogram"])
        if histogram is not None:
            parts.extend([Text(""), Text("latency", style="bold"), histogram])
    if summary.get("queries") and not findings_only:
        parts.extend(_queries(summary["queries"]))
    parts.extend(_findings(summary))
    parts.extend(_excluded(summary))
    errors_log = summary.get("wsgi_errors") or {}
    if errors_log.get("chars") and not findings_only:
        parts.append(
            Text(
                f"the app wrote {errors_log['chars']:,} characters to wsgi.errors "
                "(not shown; the first lines are in --json)",
                style="yellow",
            )
        )
    if source is not None and not findings_only:
        parts.extend(_source_lines(source))
    if summary.get("interrupted"):
        parts.append(Text("interrupted: the figures cover what ran", style="yellow"))
    return Group(*parts)


def render_histogram(buckets: list[list[float]]) -> Table | None:
    """Bars of request counts per latency bucket (log-spaced)."""
    if not buckets:
        return None
    largest = max(count for _, count in buckets) or 1
    table = Table.grid(padding=(0, 1))
    table.add_column(justify="right")
    table.add_column()
    table.add_column(justify="right", style="dim")
    for bound, count in buckets:
        filled = round(BAR_WIDTH * count / largest)
        bar = "█" * filled if filled or not count else "▏"
        table.add_row(Text(f"≤ {_ms(bound)}"), Text(bar, style="cyan"), Text(f"{int(count):,}"))
    return table


def _findings(summary: dict[str, t.Any]) -> list[RenderableType]:
    isolation = summary["isolation"]
    if not isolation["examples"]:
        return []
    lines: list[RenderableType] = [
        Text(""),
        label(
            ("isolation problems", "bold red"),
            " in ",
            (summary["label"], "bold"),
            f" (first {len(isolation['examples'])}):",
        ),
    ]
    for example in isolation["examples"]:
        if example["kind"] == "leak":
            seen = example["seen"]
            lines.append(
                label(
                    ("  leak ", "red"),
                    (example["what"], "bold"),
                    " at ",
                    (example["hook"], ""),
                    " ",
                    (example["function"], "dim"),
                    f": request #{example['request']['id']} ",
                    (cap(example["request"]["request"] or "?", TARGET_LIMIT), "bold"),
                    f" saw one of request #{seen.get('id')}",
                    (
                        f" {cap(seen['request'], TARGET_LIMIT)}" if seen.get("request") else "",
                        "bold",
                    ),
                    f" (worker {example['worker']})",
                )
            )
        else:
            lines.extend(_divergence(example))
    return lines


def _divergence(example: dict[str, t.Any]) -> list[RenderableType]:
    """A divergence: the request, both statuses, and the first differing region."""
    where = example.get("where", "body")
    lines: list[RenderableType] = [
        label(
            ("  divergent ", "red"),
            (cap(example["request"], TARGET_LIMIT), "bold"),
            f" #{example['request_id']} (worker {example['worker']}): expected ",
            (example["expected"]["status"], ""),
            ", got ",
            (example["got"]["status"], ""),
            f"; first difference in the {where}:",
        )
    ]
    for line in example.get("diff") or []:
        style = {"-": "green", "+": "red", "@": "cyan"}.get(line[:1], "dim")
        lines.append(data("      " + line, style))
    for item in example.get("json_paths") or []:
        lines.append(
            label(
                ("      ", ""),
                (item["path"], "bold"),
                ": expected ",
                (cap(json.dumps(item["expected"]), TARGET_LIMIT), "green"),
                ", got ",
                (cap(json.dumps(item["got"]), TARGET_LIMIT), "red"),
            )
        )
    return lines


def _excluded(summary: dict[str, t.Any]) -> list[RenderableType]:
    """What the divergence check did not compare, and why."""
    isolation = summary["isolation"]
    lines: list[RenderableType] = []
    for item in isolation.get("excluded") or []:
        shown = ", ".join(item["requests"][:3]) + (", ..." if item["count"] > 3 else "")
        lines.append(
            label(
                (f"not compared: {item['count']:,} ", "yellow"),
                ("request" if item["count"] == 1 else "requests", "yellow"),
                " (",
                (cap(shown, 3 * TARGET_LIMIT), "bold"),
                f"): {item['reason']}",
            )
        )
    if isolation.get("varied"):
        lines.append(
            Text(
                f"{isolation['varied']:,} answers varied from the sequential baseline in "
                "sequential mode: run-to-run variation, not a divergence",
                style="yellow",
            )
        )
    if isolation.get("unjudged"):
        lines.append(
            Text(
                f"{isolation['unjudged']:,} differing answers were not kept, so not judged "
                "again after the run",
                style="yellow",
            )
        )
    return lines


def _source_lines(source: dict[str, t.Any]) -> list[RenderableType]:
    lines: list[RenderableType] = []
    if source.get("invalid"):
        lines.append(
            Text(
                f"skipped {source['invalid']:,} invalid source lines/entries (--skip-invalid)",
                style="yellow",
            )
        )
    if source.get("other_hosts"):
        lines.append(
            label(
                (f"skipped {source['other_hosts']:,} HAR entries for other hosts: ", "yellow"),
                (", ".join(source.get("skipped_hosts", [])), ""),
                " (--host-filter)",
            )
        )
    return lines


def render_compare(summaries: list[dict[str, t.Any]]) -> Table:
    """Modes side by side: one column per mode, one row per figure."""
    table = Table(show_edge=False, pad_edge=False)
    table.add_column(Text(""), style="bold")
    for summary in summaries:
        table.add_column(data(summary["label"]), justify="right")
    rows = [_rows(summary)[1:] for summary in summaries]
    if not rows:
        return table
    for index, (name, _) in enumerate(rows[0]):
        table.add_row(Text(name), *(row[index][1] for row in rows))
    base = summaries[0]["throughput_rps"] or 1.0
    table.add_row(
        Text("vs first"),
        *(Text(f"{s['throughput_rps'] / base:.2f}x") for s in summaries),
    )
    return table
