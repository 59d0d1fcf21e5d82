"""The compact one-line-per-request view of ``tail`` and ``serve``, and serve's summary.

A line reads::

    12:03:04.512  4242:5a3c  GET  /shop/items?page=2  200  12.4 ms  1.2 kB

time (local), worker pid and the last hex digits of the thread or greenlet
ident, method, path and query, status, duration, response size, and a
marker when the app raised (``RAISED Type: message``) or when only a
teardown saw an exception (``teardown saw Type: message``). Every value from
the record is data: escaped, never markup.
"""

from __future__ import annotations

import datetime
import typing as t

from rich.console import Console, Group, RenderableType
from rich.table import Table
from rich.text import Text

from wsgiscope.render.capture import tail_suffix
from wsgiscope.render.console import data, label
from wsgiscope.render.text import TARGET_LIMIT, cap
from wsgiscope.tailing import record_error, record_path, record_status
from wsgiscope.wsgistr import display_query

_STATUS_STYLE = {2: "green", 3: "cyan", 4: "yellow", 5: "bold red"}


def format_time(started: object) -> str:
    """``HH:MM:SS.mmm`` in local time of an ISO-8601 timestamp (as given if unparsable)."""
    if not isinstance(started, str):
        return "--:--:--.---"
    try:
        moment = datetime.datetime.fromisoformat(started.replace("Z", "+00:00"))
    except ValueError:
        return started[:12]
    if moment.tzinfo is not None:
        moment = moment.astimezone()
    return moment.strftime("%H:%M:%S.") + f"{moment.microsecond // 1000:03d}"


def format_size(size: object) -> str:
    """``512 B``, ``1.5 KiB``; ``-`` when unknown (:mod:`wsgiscope.units`, as ``trace``)."""
    from wsgiscope import units

    return units.format_size(size, unknown="-")


def format_duration(ms: object) -> str:
    """``0.84ms``, ``12.4ms``, ``1.52s``; ``-`` when unknown (:mod:`wsgiscope.units`)."""
    from wsgiscope import units

    return units.format_duration(ms, unknown="-")


def worker_ident(record: t.Mapping[str, t.Any]) -> str:
    """``pid:ident``: the pid and the last 4 hex digits of the greenlet or thread ident."""
    worker = record.get("worker") or {}
    if not isinstance(worker, dict):
        return "?"
    pid = worker.get("pid", "?")
    for key in ("greenlet", "thread_ident", "thread"):
        ident = worker.get(key)
        if isinstance(ident, int) and not isinstance(ident, bool):
            return f"{pid}:{ident & 0xFFFF:04x}"
    return str(pid)


def request_line(record: t.Mapping[str, t.Any]) -> Text:
    """The compact line for one record."""
    request = record.get("request") or {}
    target = record_path(record)  # decoded as the framework reads it
    if request.get("query_string"):
        target = f"{target}?{display_query(request['query_string'])}"
    status = record_status(record)
    status_text = str(status) if status is not None else "---"
    status_style = _STATUS_STYLE.get((status or 0) // 100, "bold red")
    response = record.get("response") or {}
    line = label(
        (format_time(record.get("started")), "dim"),
        "  ",
        (worker_ident(record), "blue"),
        "  ",
        (request.get("method") or "?", "bold"),
        " ",
        (cap(target, TARGET_LIMIT), ""),
        "  ",
        (status_text, status_style),
        "  ",
        (format_duration(record.get("duration_ms")), "magenta"),
        "  ",
        (format_size(response.get("body_bytes") if isinstance(response, dict) else None), "dim"),
    )
    queries = tail_suffix(record)
    if queries is not None:
        line.append(f"  {queries}", style="blue")
    error = record_error(record)
    if error is not None:
        kind, message = error
        line.append("  ")
        if kind == "raised":
            line.append_text(data("RAISED ", "bold red") + data(message, "red", limit=120))
        else:
            line.append_text(data("teardown saw ", "yellow") + data(message, "yellow", limit=120))
    return line


def print_request_lines(console: Console, records: t.Iterable[t.Mapping[str, t.Any]]) -> None:
    """Print the compact lines of several records in one call.

    rich's cost per ``print`` call is most of the cost of a line; without
    colour the plain text (already escaped) is written directly, which
    keeps up with thousands of requests per second.
    """
    lines = [request_line(record) for record in records]
    if console.color_system is None:
        console.file.write("".join(f"{line.plain}\n" for line in lines))
        return
    console.print(Text("\n").join(lines), soft_wrap=True)


def render_summary(summary: t.Mapping[str, t.Any]) -> RenderableType:
    """serve's closing summary: requests, status counts, slowest requests.

    :param summary: :meth:`wsgiscope.serving.summary.Summary.as_dict`.
    """
    parts: list[RenderableType] = []
    head = label(
        (f"{summary['requests']} request{'' if summary['requests'] == 1 else 's'}", "bold"),
        f" in {summary['seconds']:.1f} s",
    )
    if summary["errors"]:
        head.append(f", {summary['errors']} with errors", style="red")
    parts.append(head)
    dropped = summary.get("dropped")
    if dropped:
        lost = Text(f"{dropped} record{'' if dropped == 1 else 's'} lost", style="bold red")
        lost.append(" (not written to the record file: ", style="red")
        lost.append_text(data(summary.get("dropped_reason") or "unknown", limit=200))
        lost.append(")", style="red")
        parts.append(lost)
    if summary.get("degraded"):
        parts.append(
            Text(
                f"{summary['degraded']} record(s) degraded: some parts could not be"
                " captured (their capture_errors say which)",
                style="yellow",
            )
        )
    if summary["statuses"]:
        counts = Text("status  ")
        for index, (status, count) in enumerate(sorted(summary["statuses"].items())):
            if index:
                counts.append("  ")
            code = int(status) if str(status).isdigit() else 0
            counts.append(str(status), style=_STATUS_STYLE.get(code // 100, "bold red"))
            counts.append(f" x{count}")
        parts.append(counts)
    if summary["slowest"]:
        table = Table.grid(padding=(0, 2))
        table.add_column(justify="right", style="magenta")
        table.add_column(style="bold")
        table.add_column()
        table.add_column()
        for entry in summary["slowest"]:
            table.add_row(
                Text(format_duration(entry["duration_ms"])),
                data(entry["method"]),
                data(entry["path"], limit=80),
                data(entry["status"] if entry["status"] is not None else "---"),
            )
        parts.append(Text("slowest", style="bold"))
        parts.append(table)
    return Group(*parts)
