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
import re
import typing as t
import weakref

from rich.console import Console, Group, RenderableType
from rich.table import Table
from rich.text import Text

from wsgiscope.render.capture import tail_suffix
from wsgiscope.render.console import data, label
from wsgiscope.render.text import TARGET_LIMIT, cap, escape_control
from wsgiscope.tailing import record_error, record_path, record_status
from wsgiscope.wsgistr import display_query

_STATUS_STYLE = {2: "green", 3: "cyan", 4: "yellow", 5: "bold red"}
_STATUS_STYLES = {key: (style,) for key, style in _STATUS_STYLE.items()}


#: A record's ``started`` as sinks write it: the local time of its second is
#: looked up (:data:`_SECONDS`), its milliseconds are its first digits.
_STAMP = re.compile(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)\.(\d{3})\d{3}(Z|[+-]\d\d:\d\d)?", re.ASCII)
#: ``HH:MM:SS.`` (local) by the second and offset of a timestamp, or ``None``
#: when that does not parse.
_SECONDS: dict[tuple[str, str], str | None] = {}


def format_time(started: object) -> str:
    """``HH:MM:SS.mmm`` in local time of an ISO-8601 timestamp (as given if unparsable)."""
    if not isinstance(started, str):
        return "--:--:--.---"
    found = _STAMP.fullmatch(started)
    if found is not None:  # the usual shape: one conversion per second
        second, millis, offset = found.group(1, 2, 3)
        key = (second, offset or "")
        head = _SECONDS.get(key, "")
        if head == "":
            if len(_SECONDS) >= 4096:
                _SECONDS.clear()
            whole = _format_time(f"{second}.000000{offset or ''}")
            head = _SECONDS[key] = whole[:9] if whole.endswith(".000") else None
        if head is not None:
            return head + millis
    return _format_time(started)


def _format_time(started: str) -> str:
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


#: A part of a compact line: escaped text, and the styles of the spans over
#: it, outer first (the inner one wins where both set something).
Part: t.TypeAlias = "tuple[str, tuple[str, ...]]"

_PLAIN: tuple[str, ...] = ()
_RAISED, _RAISED_MESSAGE = ("bold red",), ("bold red", "red")
_TEARDOWN, _TEARDOWN_MESSAGE = ("yellow",), ("yellow", "yellow")


def _safe(value: object, limit: int = 0) -> str:
    """:func:`~wsgiscope.render.text.safe`, without its search when the text
    is printable ASCII (most of a line)."""
    text = value if isinstance(value, str) else str(value)
    if limit:
        text = cap(text, limit)
    return text if text.isascii() and text.isprintable() else escape_control(text)


def request_parts(record: t.Mapping[str, t.Any]) -> list[Part]:
    """The compact line for one record, as (text, styles) parts."""
    request = record.get("request") or {}
    target = record_path(record)  # decoded as the framework reads it
    if request.get("query_string"):
        target = f"{target}?{display_query(request['query_string'])}"
    status = record_status(record)
    status_text = str(status) if status is not None else "---"
    status_style = _STATUS_STYLES.get((status or 0) // 100, ("bold red",))
    response = record.get("response") or {}
    size = response.get("body_bytes") if isinstance(response, dict) else None
    parts: list[Part] = [
        (_safe(format_time(record.get("started"))), ("dim",)),
        ("  ", _PLAIN),
        (_safe(worker_ident(record)), ("blue",)),
        ("  ", _PLAIN),
        (_safe(request.get("method") or "?"), ("bold",)),
        (" ", _PLAIN),
        (_safe(cap(target, TARGET_LIMIT)), _PLAIN),
        ("  ", _PLAIN),
        (_safe(status_text), status_style),
        ("  ", _PLAIN),
        (_safe(format_duration(record.get("duration_ms"))), ("magenta",)),
        ("  ", _PLAIN),
        (_safe(format_size(size)), ("dim",)),
    ]
    queries = tail_suffix(record)
    if queries is not None:
        parts.append((_safe(f"  {queries}"), ("blue",)))
    error = record_error(record)
    if error is not None:
        kind, message = error
        parts.append(("  ", _PLAIN))
        if kind == "raised":
            parts += [("RAISED ", _RAISED), (_safe(message, 120), _RAISED_MESSAGE)]
        else:
            parts += [("teardown saw ", _TEARDOWN), (_safe(message, 120), _TEARDOWN_MESSAGE)]
    return parts


def request_line(record: t.Mapping[str, t.Any]) -> Text:
    """The compact line for one record."""
    return _text(request_parts(record))


def _text(parts: list[Part]) -> Text:
    text = Text()
    for value, styles in parts:
        if not value:
            continue
        start = len(text)
        text.append(value)
        for style in styles:
            text.stylize(style, start, start + len(value))
    return text


def print_request_lines(console: Console, records: t.Iterable[t.Mapping[str, t.Any]]) -> None:
    """Print the compact lines of several records in one call.

    rich's cost per ``print`` call, and per styled piece of text, is most of
    the cost of a line: the lines are written directly, in plain text
    without colour, and with the escape codes rich writes for each style
    (asked of rich once per style and console) with colour: the same
    bytes ``console.print`` wrote (``tests/test_tail_lines.py``). A console
    rich must handle itself (recording, legacy Windows, Jupyter, quiet), and
    a line longer than the console that ends in white space (which a rich
    version could crop), go through rich.
    """
    lines = [request_parts(record) for record in records]
    if console.color_system is None:
        console.file.write("".join(f"{''.join(text for text, _ in parts)}\n" for parts in lines))
        return
    rendered = _ansi_lines(console, lines)
    if rendered is None:
        console.print(Text("\n").join(_text(parts) for parts in lines), soft_wrap=True)
        return
    try:
        console.file.write(rendered)
        console.file.flush()
    except UnicodeEncodeError:  # rich words this one (and nothing was written)
        console.print(Text("\n").join(_text(parts) for parts in lines), soft_wrap=True)
    except BrokenPipeError:
        console.on_broken_pipe()


#: Per console, per styles: the escape codes before and after a styled text.
_CODES: weakref.WeakKeyDictionary[Console, dict[tuple[str, ...], tuple[str, str]]] = (
    weakref.WeakKeyDictionary()
)
_TRAILING_SPACE = re.compile(r"\s+$")


def _ansi_lines(console: Console, lines: list[list[Part]]) -> str | None:
    """What ``console.print`` writes for these lines, or ``None`` when rich
    must do it."""
    if console.record or console.legacy_windows or console.is_jupyter or console.quiet:
        return None
    codes = _CODES.get(console)
    if codes is None:
        codes = _CODES[console] = {}
    width = console.width
    out: list[str] = []
    for parts in lines:
        length = 0
        for value, styles in parts:
            if not value:
                continue
            length += len(value)
            if not styles:
                out.append(value)
                continue
            pair = codes.get(styles)
            if pair is None:
                pair = codes[styles] = _style_codes(console, styles)
            out += (pair[0], value, pair[1])
        if length > width and _TRAILING_SPACE.search("".join(value for value, _ in parts)):
            return None  # rich's to crop or not
        out.append("\n")
    return "".join(out)


def _style_codes(console: Console, styles: tuple[str, ...]) -> tuple[str, str]:
    """The codes ``console`` writes before and after a text with these spans."""
    sample = Text("x")
    for style in styles:
        sample.stylize(style)
    with console.capture() as capture:
        console.print(sample, end="", soft_wrap=True)
    before, _, after = capture.get().partition("x")
    return before, after


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
