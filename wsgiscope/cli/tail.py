"""``wsgiscope tail``: show and follow a JSON Lines trace file.

Also home of the record filter options and of :class:`RecordPrinter`, which
``serve`` shares: both commands print the same lines for the same records.
"""

from __future__ import annotations

import os
import sys
import typing as t

import click

from wsgiscope.cli.completers import complete_record_files
from wsgiscope.cli.options import console, output_options

if t.TYPE_CHECKING:
    from rich.console import Console

    from wsgiscope.tailing import RecordFilter, TailItem, TraceLine

F = t.TypeVar("F", bound=t.Callable[..., t.Any])


def _statuses(ctx: click.Context, param: click.Parameter, value: tuple[str, ...]) -> t.Any:
    from wsgiscope.tailing import parse_statuses

    try:
        return parse_statuses(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


def _duration(ctx: click.Context, param: click.Parameter, value: str | None) -> float | None:
    from wsgiscope.tailing import parse_duration_ms

    if value is None:
        return None
    try:
        return parse_duration_ms(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


def _since(ctx: click.Context, param: click.Parameter, value: str | None) -> float | None:
    from wsgiscope.tailing import parse_since

    if value is None:
        return None
    try:
        return parse_since(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


def filter_options(function: F) -> F:
    """``--status``, ``--method``, ``--path``, ``--slower-than``, ``--queries-over``,
    ``--errors``, ``--worker``, ``--since``."""
    options = [
        click.option(
            "--since", "since", callback=_since, metavar="TIME",
            help="Only requests started at TIME or later: a time (2026-12-07T09:30:00Z, "
            "local without an offset) or a duration back from now (10m, 2h).",
        ),
        click.option(
            "--worker", "worker_pids", type=int, multiple=True, metavar="PID",
            help="Only requests served by this process (repeatable).",
        ),
        click.option(
            "--errors", is_flag=True,
            help="Only requests where the app raised or a teardown saw an exception.",
        ),
        click.option(
            "--slower-than", "slower_than", callback=_duration, metavar="DURATION",
            help="Only requests that took longer, e.g. 100ms, 1.5s.",
        ),
        click.option(
            "--queries-over", "queries_over", type=click.IntRange(min=0), metavar="N",
            help="Only requests that ran more than N SQL statements.",
        ),
        click.option(
            "--path", "path_glob", metavar="GLOB", help="Only paths matching GLOB, e.g. '/api/*'."
        ),
        click.option(
            "--method", "methods", multiple=True, metavar="METHOD",
            help="Only this method (repeatable, or comma-separated).",
        ),
        click.option(
            "--status", "statuses", multiple=True, callback=_statuses, metavar="STATUS",
            help="Only these statuses: 5xx, 404 or a list like 2xx,404 (repeatable).",
        ),
    ]  # fmt: skip
    for option in options:
        function = option(function)
    return function


def make_filter(
    statuses: t.Any,
    methods: tuple[str, ...],
    path_glob: str | None,
    slower_than: float | None,
    errors: bool,
    worker_pids: tuple[int, ...],
    queries_over: int | None = None,
    since: float | None = None,
) -> RecordFilter:
    """The :class:`~wsgiscope.tailing.RecordFilter` for the filter options' values."""
    from wsgiscope.tailing import RecordFilter

    split = {m.strip().upper() for value in methods for m in value.split(",") if m.strip()}
    return RecordFilter(
        statuses=tuple(statuses),
        methods=frozenset(split),
        path=path_glob,
        slower_than_ms=slower_than,
        errors=errors,
        workers=frozenset(worker_pids),
        queries_over=queries_over,
        since=since,
    )


class RecordPrinter:
    """Prints what a tail yields: records to stdout, bad lines and notices to stderr.

    :param name: how to call the file in messages.
    :param match: the record filter.
    :param as_json: print matching records as JSON Lines.
    :param verbose: print the full trace tree of each matching record.
    :param out: the Console lines and trees go to (``None`` with ``as_json``).
    """

    def __init__(
        self,
        name: str,
        match: t.Callable[[t.Mapping[str, t.Any]], bool],
        as_json: bool,
        verbose: bool,
        out: Console | None,
    ) -> None:
        self.name = name
        self.match = match
        self.as_json = as_json
        self.verbose = verbose
        self.out = out
        self.shown = 0

    def show(self, items: t.Iterable[TailItem]) -> None:
        """Print ``items``, then flush so a pipe sees them at once.

        Consecutive records are printed in one call: per-call overhead in
        rich is most of the cost of a line, and ``serve`` may print
        thousands per second.
        """
        from wsgiscope.render.text import safe
        from wsgiscope.tailing import BadLine, FileNotice

        pending: list[TraceLine] = []
        for item in items:
            if isinstance(item, BadLine):
                self.records(pending)
                click.echo(
                    f"wsgiscope: warning: {safe(self.name)}:{item.line}: skipped, "
                    f"{safe(item.reason)}: {safe(item.preview)}",
                    err=True,
                )
            elif isinstance(item, FileNotice):
                self.records(pending)
                click.echo(f"wsgiscope: {safe(self.name)} {_NOTICES[item.kind]}", err=True)
            elif self.match(item.record):
                pending.append(item)
                if len(pending) >= 256:  # a streamed backlog: print as it comes
                    self.records(pending)
                    sys.stdout.flush()
        self.records(pending)
        sys.stdout.flush()

    def records(self, lines: list[TraceLine]) -> None:
        """Print matching records (and empty the list)."""
        if not lines:
            return
        self.shown += len(lines)
        if self.as_json:
            from wsgiscope.render.jsonout import dumps_line
            from wsgiscope.schemas import CHECK_VARIABLE, check_output

            if os.environ.get(CHECK_VARIABLE):
                for line in lines:
                    check_output(line.record)

            # the line as the sink wrote it when it is plain ASCII (JSON
            # cannot hold raw control characters); anything else re-encoded
            # (ASCII too); the batch in one write of bytes, not through
            # click.echo's search for ANSI codes that JSON cannot hold
            data = b"\n".join(
                [
                    *(
                        line.raw if line.raw.isascii() else dumps_line(line.record).encode()
                        for line in lines
                    ),
                    b"",
                ]
            )
            stdout = sys.stdout
            binary = getattr(stdout, "buffer", None)
            if binary is None or os.linesep != "\n":  # (text mode ends lines its own way)
                click.echo(data.decode("ascii"), nl=False)
            else:
                stdout.flush()
                binary.write(data)
        elif self.verbose:
            from wsgiscope.render.trace import render_trace

            assert self.out is not None
            for line in lines:
                self.out.print(render_trace(line.record))
        else:
            from wsgiscope.render.tail import print_request_lines

            assert self.out is not None
            print_request_lines(self.out, [line.record for line in lines])
        lines.clear()


def _is_fifo(path: str) -> bool:
    import os
    import stat

    try:
        return stat.S_ISFIFO(os.stat(path).st_mode)
    except OSError:
        return False


def _tail_stream(
    file: str, lines: int | None, follow: bool, verbose: bool, as_json: bool, color: str,
    width: int | None, filters: dict[str, t.Any],
) -> None:  # fmt: skip
    """``tail -`` / a named pipe: records as they arrive (the last N with --no-follow)."""
    import contextlib

    from wsgiscope.errors import ExitCode, SourceError
    from wsgiscope.tailstream import last_items, stream_items

    name = "stdin" if file == "-" else file
    printer = RecordPrinter(
        name, make_filter(**filters), as_json, verbose, None if as_json else console(color, width)
    )
    with contextlib.ExitStack() as stack:
        if file == "-":
            stream: t.BinaryIO = sys.stdin.buffer
        else:
            try:
                stream = stack.enter_context(open(file, "rb"))
            except OSError as exc:
                raise SourceError(f"cannot read {file}: {exc.strerror}") from None
        try:
            if follow:
                for item in stream_items(stream):
                    printer.show([item])
            else:
                printer.show(list(last_items(stream, lines, printer.match)))
        except KeyboardInterrupt:
            sys.stdout.flush()
            raise SystemExit(int(ExitCode.INTERRUPTED)) from None


_NOTICES = {
    "rotated": "was replaced (rotated); following the new file",
    "truncated": "was truncated; following it from its start",
    "missing": "has gone; waiting for it to reappear",
    "appeared": "appeared; following it",
}


class _Lines(click.ParamType):
    name = "N|all"

    def convert(
        self, value: t.Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> t.Any:
        if value is None or (isinstance(value, int) and value >= 0):
            return value
        if str(value).lower() == "all":
            return None
        try:
            number = int(value)
        except ValueError:
            number = -1
        if number < 0:
            self.fail(f"{value!r} is not a number of records (0 or more) or 'all'", param, ctx)
        return number


@click.command()
@click.argument("file", type=click.Path(dir_okay=False), shell_complete=complete_record_files)
@click.option(
    "-n",
    "--lines",
    type=_Lines(),
    default="10",
    show_default=True,
    help="How many of the last matching records to print first ('all' for every one).",
)
@click.option(
    "-f",
    "--follow/--no-follow",
    default=True,
    show_default=True,
    help="Keep printing records as they are written (survives rotation and truncation).",
)
@click.option("-v", "--verbose", is_flag=True, help="The full trace tree of every request.")
@filter_options
@output_options
def tail(
    file: str, lines: int | None, follow: bool, verbose: bool, as_json: bool, color: str,
    width: int | None, **filters: t.Any,
) -> None:  # fmt: skip
    """Print the requests in FILE, a trace file, and follow new ones.

    FILE is JSON Lines written by 'serve --record' or by
    TraceMiddleware(app, sink="FILE") inside any server. Corrupt lines are
    reported with their line number and skipped; a line still being written
    is waited for. FILE '-' (or a named pipe) reads standard input as it
    arrives, with the same filters: kubectl logs -f pod | wsgiscope tail -
    """
    from wsgiscope.errors import ExitCode, SourceError
    from wsgiscope.tailing import NotARegularFileError, TraceTail

    if file == "-" or _is_fifo(file):
        _tail_stream(file, lines, follow, verbose, as_json, color, width, filters)
        return

    try:
        trace_tail = TraceTail(file, wait=follow)
    except NotARegularFileError:
        raise SourceError(
            f"{file} is not a regular file",
            hint="tail follows the JSON Lines file a sink appends to; for a stream, use jq",
        ) from None
    except FileNotFoundError:
        raise SourceError(
            f"trace file not found: {file}",
            hint="give the file written by 'serve --record' or TraceMiddleware(sink=...)",
        ) from None
    except OSError as exc:
        raise SourceError(f"cannot read trace file {file}: {exc.strerror}") from None
    printer = RecordPrinter(
        file, make_filter(**filters), as_json, verbose, None if as_json else console(color, width)
    )
    with trace_tail:
        if not trace_tail.exists:
            click.echo(f"wsgiscope: {file} does not exist yet; waiting for it", err=True)
        try:
            if lines is None:  # streamed: the first line at once, memory bounded
                printer.show(trace_tail.stream_all(printer.match))
            else:
                printer.show(trace_tail.backlog(lines, printer.match))
            if not follow:
                printer.show(trace_tail.finish())
                return
            for batch in trace_tail.follow_batches():
                printer.show(batch)
        except KeyboardInterrupt:
            sys.stdout.flush()
            raise SystemExit(int(ExitCode.INTERRUPTED)) from None
