"""``wsgiscope serve``: the app on a real server, every request's trace tailed live."""

from __future__ import annotations

import typing as t

import click

from wsgiscope.cli.options import app_option, console, output_options
from wsgiscope.cli.redaction import redact_option
from wsgiscope.cli.tail import filter_options, make_filter

if t.TYPE_CHECKING:
    from wsgiscope.cli.tail import RecordPrinter
    from wsgiscope.serving import ServePlan


@click.command(short_help="Serve APP for real, tailing every request's trace live.")
@click.argument("app", required=False, metavar="[APP]")
@app_option
@click.option(
    "--server",
    type=click.Choice(["werkzeug", "gevent", "gunicorn"]),
    default="werkzeug",
    show_default=True,
    help="werkzeug's threaded dev server, gevent's WSGIServer, or gunicorn.",
)
@click.option("--host", default="127.0.0.1", show_default=True, help="The address to bind.")
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=8000,
    show_default=True,
    help="The port to bind; 0 picks a free one (and prints it).",
)
@click.option(
    "-w",
    "--workers",
    type=click.IntRange(1),
    help="gunicorn worker processes (implies --server gunicorn).  [default: 1]",
)
@click.option(
    "-k",
    "--worker-class",
    metavar="CLASS",
    help="gunicorn worker class: sync, gthread, gevent or any gunicorn knows.  [default: sync]",
)
@click.option("--threads", type=click.IntRange(1), help="gunicorn threads per worker (gthread).")
@click.option("-t", "--timeout", type=click.IntRange(0), help="gunicorn worker timeout, seconds.")
@click.option(
    "-b", "--bind", metavar="ADDRESS", help="gunicorn's bind address (HOST:PORT), for gunicorn."
)
@click.option(
    "-c",
    "--config",
    "gunicorn_config",
    metavar="FILE",
    help="A gunicorn config file (gunicorn.conf.py in the current directory is read anyway); "
    "GUNICORN_CMD_ARGS applies too, as under gunicorn.",
)
@click.option(
    "--reload",
    is_flag=True,
    help="Restart when the code changes (werkzeug's reloader, or gunicorn's).",
)
@click.option(
    "--record",
    type=click.Path(dir_okay=False),
    metavar="FILE",
    help="Append every request's trace record to FILE (JSON Lines, wsgiscope.trace/1).",
)
@click.option(
    "--keep-secrets",
    is_flag=True,
    help="Records keep cookies, tokens and passwords (the --record file is created 0600) "
    "so that replay can send them; the output stays redacted.",
)
@click.option("-v", "--verbose", is_flag=True, help="The full trace tree of every request.")
@filter_options
@redact_option
@output_options
def serve(
    app: str | None, app_option: str | None, server: str, host: str, port: int,
    workers: int | None, worker_class: str | None, threads: int | None, timeout: int | None,
    bind: str | None, gunicorn_config: str | None, reload: bool, record: str | None,
    keep_secrets: bool, verbose: bool, as_json: bool, color: str, width: int | None,
    **filters: t.Any,
) -> None:  # fmt: skip
    """Run APP on a real server and show every request as it completes.

    The app is wrapped in TraceMiddleware and served from a child process
    (for --server gevent, one patched before the app is imported). Every
    record goes to the --record file (or a temporary one) and is printed
    from there, so the requests of all gunicorn workers arrive whole.
    Ctrl-C stops the server, lets requests in flight finish and prints a
    summary.
    """
    import os
    import shutil
    import tempfile

    from wsgiscope.cli.tail import RecordPrinter
    from wsgiscope.errors import MissingDependency, UsageError
    from wsgiscope.loading import resolve_app_ref
    from wsgiscope.serving import ServePlan, host_port
    from wsgiscope.serving.process import check_port_free

    ctx = click.get_current_context()
    given = [n for n, v in (("--workers", workers), ("--worker-class", worker_class),
                            ("--threads", threads), ("--timeout", timeout), ("--bind", bind),
                            ("--config", gunicorn_config)) if v is not None]  # fmt: skip
    explicit = ctx.get_parameter_source("server") not in (
        click.core.ParameterSource.DEFAULT,
        None,
    )
    if given and not explicit:
        server = "gunicorn"  # gunicorn's flags mean gunicorn, as `gunicorn -w 4 app`
    if reload and server == "gevent":
        raise UsageError(
            "--reload works with --server werkzeug or gunicorn",
            hint="gevent's server has no reloader; use --server werkzeug --reload",
        )
    if server != "gunicorn":
        if given:
            raise UsageError(
                f"{', '.join(given)} only apply to --server gunicorn",
                hint="add --server gunicorn, or drop them",
            )
    else:
        try:
            import gunicorn  # noqa: F401
        except ImportError:
            raise MissingDependency("gunicorn", "--server gunicorn") from None
    if keep_secrets and record is None:
        raise UsageError(
            "--keep-secrets only applies to a --record FILE",
            hint="add --record FILE (the output is always redacted)",
        )
    ref = resolve_app_ref(app, app_option)
    address_given = any(
        ctx.get_parameter_source(name) not in (click.core.ParameterSource.DEFAULT, None)
        for name in ("host", "port")
    )
    gunicorn_args = _gunicorn_args(
        workers, worker_class, threads, timeout, gunicorn_config, reload,
        bind or (host_port(host, port) if address_given else None),
    ) if server == "gunicorn" else []  # fmt: skip
    if server != "gunicorn" or (address_given and bind is None):
        # for gunicorn without --host/--port, its own config may bind elsewhere
        # (-b, -c, GUNICORN_CMD_ARGS): its arbiter reports a taken address
        check_port_free(host, port)
    scratch = None
    if record is None:
        scratch = tempfile.mkdtemp(prefix="wsgiscope-serve-")
        record = os.path.join(scratch, "traces.jsonl")
    try:
        _touch(record, keep_secrets)
        plan = ServePlan(
            import_path=ref.import_path, base_dir=str(ref.base_dir), source=ref.source,
            record=os.path.abspath(record), server=server, host=host, port=port,
            workers=workers or 1, worker_class=worker_class or "sync", threads=threads or 1,
            keep_secrets=keep_secrets,
            gunicorn_args=gunicorn_args, reload=reload and server == "werkzeug",
        )  # fmt: skip
        printer = RecordPrinter(
            record, make_filter(**filters), as_json, verbose,
            None if as_json else console(color, width),
        )  # fmt: skip
        interrupted = _serve(plan, printer, keep=scratch is None)
    finally:
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)
    if interrupted:
        # 128 + the signal, as a shell reports it: 130 for Ctrl-C, 143 for SIGTERM
        raise SystemExit(128 + interrupted)


def _gunicorn_args(
    workers: int | None, worker_class: str | None, threads: int | None, timeout: int | None,
    config: str | None, reload: bool, bind: str | None,
) -> list[str]:  # fmt: skip
    """The gunicorn flags ``serve`` was given, for gunicorn's own parser."""
    args: list[str] = []
    for flag, value in (("-w", workers), ("-k", worker_class), ("--threads", threads),
                        ("-t", timeout), ("-c", config), ("-b", bind)):  # fmt: skip
        if value is not None:
            args += [flag, str(value)]
    if reload:
        args.append("--reload")
    return args


def _touch(path: str, private: bool = False) -> None:
    import errno
    import os
    import stat

    from wsgiscope.errors import UsageError
    from wsgiscope.tracing.kept import private_file

    try:
        # O_NONBLOCK: a FIFO is refused below instead of blocking the open
        flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NONBLOCK
        fd = os.open(path, flags, 0o600 if private else 0o644)
        try:
            mode = os.fstat(fd).st_mode
        finally:
            os.close(fd)
    except OSError as exc:
        if exc.errno == errno.ENXIO:  # a FIFO nobody reads
            mode = stat.S_IFIFO
        else:
            raise UsageError(f"cannot write the record file {path}: {exc.strerror}") from None
    if not stat.S_ISREG(mode):
        kind = (
            "a FIFO" if stat.S_ISFIFO(mode) else "a device" if stat.S_ISCHR(mode) else "not a file"
        )
        raise UsageError(
            f"the record file {path} is {kind}: serve reads back what it records",
            hint="give --record a regular file (or leave it out for a temporary one)",
        )
    if private:
        try:
            private_file(path)
        except OSError as exc:
            raise UsageError(f"cannot write the record file {path}: {exc.strerror}") from None
        click.echo(
            f"wsgiscope: {path} keeps secrets (cookies, tokens, passwords) unredacted; "
            "it is readable by you only (0600): keep it private",
            err=True,
        )


def _serve(plan: ServePlan, printer: RecordPrinter, keep: bool) -> int:
    """Start the server, tail the record file while it serves; the signal that
    stopped it (SIGINT for Ctrl-C, SIGTERM), else 0."""
    import gc
    import signal
    import sys

    from wsgiscope.render.console import make_console
    from wsgiscope.render.tail import render_summary
    from wsgiscope.serving import host_port
    from wsgiscope.serving.process import ServerError, ServerProcess
    from wsgiscope.serving.summary import Summary
    from wsgiscope.tailing import TraceLine, TraceTail

    stopping: list[int] = []

    def on_signal(signum: int, frame: object) -> None:
        # The first Ctrl-C (or SIGTERM) only asks the loop to stop, so that
        # no batch of records is cut in half; a second one is impatient.
        if stopping:
            raise KeyboardInterrupt
        stopping.append(signum)

    summary = Summary()
    record = plan.record
    tail = TraceTail(record)
    tail.seek_end()
    err = make_console(stream=sys.stderr)
    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}

    def show(items: list[t.Any]) -> None:
        items = _shown(items, plan.keep_secrets)
        for item in items:
            if isinstance(item, TraceLine):
                summary.add(item.record)
        printer.show(items)

    interrupted = started = completed = False
    stopped_by = 0
    try:
        with ServerProcess.start(plan) as child:
            ready = child.wait_ready(cancel=lambda: bool(stopping))
            started = True
            # What is loaded by now lives as long as serve: the collector need
            # not walk it again and again while records are read (it did,
            # for 7% of the time per record)
            gc.freeze()
            url = f"http://{host_port(str(ready.get('host') or plan.host), ready['port'])}/"
            click.echo(
                f"wsgiscope: serving {plan.import_path} with "
                f"{ready.get('description') or plan.description} on {url} "
                f"(pid {ready['pid']})",
                err=True,
            )
            where = record if keep else "a temporary file (use --record FILE to keep them)"
            click.echo(f"wsgiscope: records go to {where}; press Ctrl-C to stop", err=True)

            while child.running and not stopping:
                show(tail.poll())
                for found in child.messages(0.1):
                    _on_message(found, child, summary, record, plan.reload)
            interrupted = bool(stopping)
            stopped_by = stopping[0] if stopping else 0
            if interrupted:
                click.echo("wsgiscope: stopping the server...", err=True)
            code = child.stop()
            for found in child.messages():
                _on_message(found, None, summary, record)
            show([*tail.poll(), *tail.finish()])
            if not interrupted and code != 0:
                raise ServerError(f"the server stopped on its own (exit code {code})")
            completed = True
    finally:
        tail.close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if started and (completed or summary.requests):
            err.print(render_summary(summary.as_dict()))
    return int(stopped_by)


#: gunicorn workers dying before they boot, in a row, that make serve stop.
BOOT_FAILURES = 3


def _on_message(
    found: t.Mapping[str, t.Any], child: t.Any, summary: t.Any, record: str, reload: bool = False
) -> None:
    """Act on one control message from the server (``child`` None: it has
    stopped, only lost records are still counted)."""
    from wsgiscope.render.text import safe
    from wsgiscope.serving import DROPPED, ERROR, WORKER, WORKER_EXIT
    from wsgiscope.serving.process import ServerError, raise_reported

    event = found.get("event")
    if event == DROPPED:
        if summary.drop(found.get("pid"), found.get("count"), found.get("reason")):
            click.echo(
                f"wsgiscope: records are being lost: cannot write {safe(record)}:"
                f" {safe(found.get('reason'), 200)} (counted; the app keeps answering)",
                err=True,
            )
    elif child is None:
        return
    elif event == WORKER:
        child.booted.add(found.get("pid"))
        child.boot_failures = 0
        click.echo(f"wsgiscope: worker {found.get('pid')} booted", err=True)
    elif event == WORKER_EXIT and found.get("pid") not in child.booted:
        child.boot_failures += 1
        if child.boot_failures >= BOOT_FAILURES:
            child.stop()
            raise ServerError(
                f"gunicorn workers keep dying before they boot ({child.boot_failures} in a row)",
                hint="the app's output above says why; try 'wsgiscope info APP'",
            )
    elif event == ERROR and reload:
        # an edit that breaks the app: say so, wait for the next one
        click.echo(
            f"wsgiscope: error: {found.get('message')} "
            "(fix it: the server reloads on the next change)",
            err=True,
        )
    elif event == ERROR:
        # a gunicorn worker could not load the app: the arbiter
        # halts by itself, a SIGTERM now would only interrupt it
        child.stop(wait_first=10)
        raise_reported(found)


def _shown(items: list[t.Any], kept_secrets: bool) -> list[t.Any]:
    """What the tail read, as shown: a --keep-secrets file's records redacted."""
    if not kept_secrets:
        return items
    from wsgiscope.tailing import TraceLine

    return [_redacted(item) if isinstance(item, TraceLine) else item for item in items]


def _redacted(item: t.Any) -> t.Any:
    """A record line of a --keep-secrets file, redacted for display."""
    import dataclasses

    from wsgiscope.render.jsonout import dumps_line
    from wsgiscope.tracing.kept import redact_record

    record = redact_record(item.record)
    return dataclasses.replace(item, record=record, raw=dumps_line(record).encode())
