"""``wsgiscope trace``: run one request in-process and show its lifecycle.

The command only turns words into plain values (a
:class:`~wsgiscope.request.RequestSpec`, render options), asks the tracing
core to run the request and hands the record to
:mod:`wsgiscope.render.trace`. Exit codes: 0, 1 when the app raised or
answered 5xx, 2 for usage and loading errors, 130 on Ctrl-C.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import io
import re
import sys
import typing as t

import click

from wsgiscope.cli.options import app_option, console, load, output_options, print_json
from wsgiscope.errors import ExitCode, UsageError

_SIZE = re.compile(r"^\s*(\d+)\s*([kmg]?)(?:i?b)?\s*$", re.IGNORECASE)


def parse_size(value: str) -> int:
    """A byte count: ``65536``, ``64k``, ``1M``, ``2MiB``.

    :raises ValueError: for anything else.
    """
    found = _SIZE.match(value)
    if not found:
        raise ValueError(f"{value!r} is not a size such as 65536, 64k or 1M")
    number, unit = int(found.group(1)), found.group(2).lower()
    return number * {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3}[unit]


def _size(ctx: click.Context, param: click.Parameter, value: str | int) -> int:
    if isinstance(value, int):
        return value
    try:
        return parse_size(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


def _sections(ctx: click.Context, param: click.Parameter, value: str | None) -> t.Any:
    if value is None:
        return None
    from wsgiscope.render.sections import parse_sections

    try:
        return parse_sections(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


def _captures(ctx: click.Context, param: click.Parameter, value: str | None) -> t.Any:
    if value is None:
        return None
    from wsgiscope.capture import parse_capture

    try:
        return parse_capture(() if value.strip().lower() == "none" else value)
    except ValueError as exc:
        raise click.BadParameter(f"{exc}, or none") from None


def _log_level(ctx: click.Context, param: click.Parameter, value: str | None) -> int | None:
    if value is None:
        return None
    import logging

    number = logging.getLevelName(value.strip().upper())
    if not isinstance(number, int):
        raise click.BadParameter(
            f"unknown level {value!r}: use DEBUG, INFO, WARNING, ERROR or CRITICAL"
        )
    return number


@click.command(
    short_help="Run one request in-process and show its lifecycle.",
    context_settings={"ignore_unknown_options": False},
)
@click.argument("words", nargs=-1, metavar="[APP] [METHOD] PATH [ITEM]...")
@app_option
@click.option(
    "-f", "--form", "mode", flag_value="form", help="Send fields as a form (the default)."
)
@click.option(
    "-j",
    "--json-body",
    "mode",
    flag_value="json",
    help="Send fields as a JSON object (':=' items do so anyway).",
)
@click.option("--raw", metavar="BODY", help="Send BODY as the request body, as is.")
@click.option(
    "-p",
    "--print",
    "sections",
    metavar="SECTIONS",
    callback=_sections,
    help="Sections to show: contexts, hooks, environ, response, body, sql, logs, outbound, "
    "templates (comma separated, or letters chebrslot). Default: all, environ summarised.",
)
@click.option("-v", "--verbose", is_flag=True, help="Show the whole environ and body.")
@click.option(
    "--max-body",
    metavar="BYTES",
    type=str,
    default="256k",
    callback=_size,
    show_default=True,
    help="Stop capturing the response body after this many bytes (closing the iterable).",
)
@click.option("--save", metavar="FILE", help="Append the record to FILE as JSON Lines.")
@click.option(
    "--lint/--no-lint",
    default=True,
    show_default=True,
    help="Check the request against PEP 3333 and list the findings.",
)
@click.option("--show-secrets", is_flag=True, help="Show cookies, tokens and passwords unredacted.")
@click.option(
    "--keep-secrets",
    is_flag=True,
    help="With --save: keep cookies, tokens and passwords in the saved record "
    "(the file is created 0600) so that replay can send them; the output stays redacted.",
)
@click.option(
    "--capture",
    metavar="LIST",
    callback=_captures,
    help="What to capture beneath the hooks: sql, logging, http, templates (comma "
    "separated), all or none. Default: all.",
)
@click.option(
    "--log-level",
    metavar="LEVEL",
    callback=_log_level,
    help="Capture log records from LEVEL up (default WARNING, and INFO from the app's logger).",
)
@click.option(
    "--profile", is_flag=True, help="Profile the request (pyinstrument) and show each hook's calls."
)
@click.option(
    "--profile-out",
    metavar="FILE",
    help="Write the profile to FILE: speedscope JSON (.json) or pyinstrument HTML (.html).",
)
@output_options
def trace(
    words: tuple[str, ...],
    app_option: str | None,
    mode: str | None,
    raw: str | None,
    sections: frozenset[str] | None,
    verbose: bool,
    max_body: int,
    save: str | None,
    lint: bool,
    show_secrets: bool,
    keep_secrets: bool,
    capture: frozenset[str] | None,
    log_level: int | None,
    profile: bool,
    profile_out: str | None,
    as_json: bool,
    color: str,
    width: int | None,
) -> None:
    """Run one request through APP in-process and show what happened inside.

    \b
    Items follow HTTPie:
      Header:value     a request header
      name==value      a query parameter
      field=value      a form field (a JSON string with --json-body)
      field:=json      a JSON value: n:=3 tags:='["a"]' (sends JSON)
      field@file       a file upload (multipart form)
      @file            the request body, read from a file

    METHOD is GET, or POST when the request has a body. Exits 1 when the app
    raised or answered 5xx, or gave a response real servers refuse.

    \b
      wsgiscope trace wsgiscope.demo /catalog/ user==ada
      wsgiscope trace app:app POST /users name=Ada admin:=true
    """
    if keep_secrets and not save:
        raise UsageError(
            "--keep-secrets only applies to the record --save writes",
            hint="add --save FILE (output is always redacted unless --show-secrets)",
        )
    try:
        if keep_secrets:
            _private(save)  # type: ignore[arg-type]
        failed, interrupted = _trace(
            words=words,
            app_option=app_option,
            mode=_mode(mode),
            raw=raw,
            sections=sections,
            verbose=verbose,
            max_body=max_body,
            save=save,
            lint=lint,
            show_secrets=show_secrets,
            keep_secrets=keep_secrets,
            as_json=as_json,
            color=color,
            width=width,
            beneath=Beneath(capture, log_level, profile or profile_out is not None, profile_out),
        )
    except KeyboardInterrupt:
        # click would turn this into "Aborted!" and exit 1.
        interrupted = True
    if interrupted:
        click.echo("wsgiscope: interrupted", err=True)
        click.get_current_context().exit(int(ExitCode.INTERRUPTED))
    if failed:
        click.get_current_context().exit(int(ExitCode.PROBLEM))


def _trace(
    *,
    words: tuple[str, ...],
    app_option: str | None,
    mode: t.Literal["auto", "form", "json"],
    raw: str | None,
    sections: frozenset[str] | None,
    verbose: bool,
    max_body: int,
    save: str | None,
    lint: bool,
    show_secrets: bool,
    as_json: bool,
    color: str,
    width: int | None,
    keep_secrets: bool = False,
    beneath: Beneath | None = None,
) -> tuple[bool, bool]:
    """Build, run, save and show the request; whether the app failed, and
    whether Ctrl-C ended it (what it did until then is still shown and saved)."""
    from wsgiscope.interrupts import watching_ctrl_c
    from wsgiscope.request import build_environ, parse_request, split_target
    from wsgiscope.tracing import run_traced

    beneath = beneath or Beneath()
    if beneath.profile:
        from wsgiscope.capture import profile as profiling

        profiling.require()
        if beneath.profile_out:
            profiling.check_output(beneath.profile_out)
    app_word, method, path, items = split_target(words)
    # Items are checked before the app is imported: a typo costs no import.
    spec = parse_request(path, items, method=method, mode=mode, raw=raw)
    loaded = load(app_word, app_option)
    environ = build_environ(spec, loaded.app)
    # What the app logs to wsgi.errors (Flask's logger does, with the
    # traceback of a failing view) is shown with the trace, not mixed into it.
    errors = io.StringIO()
    environ["wsgi.errors"] = errors
    app, checks = loaded.app, None
    if lint:
        from wsgiscope.lint.runner import SERVER_HANDLED, answered_by
        from wsgiscope.lint.trace import TraceLint

        # The full PEP 3333 checker between the tracer and the app; its
        # findings become the record's lint list (the tree's lint section).
        # What the answering framework leaves to the server is left out, as
        # `lint` leaves it out without --strict.
        framework = answered_by(app, environ["REQUEST_METHOD"], path)[1]
        linted = TraceLint(app, leave_out=SERVER_HANDLED.get(framework or "", {}))
        app, checks = linted, linted.checks
    # What the app prints goes to stderr: stdout is the trace (--json stays valid JSON).
    # An app's own KeyboardInterrupt is its error; only Ctrl-C means "interrupted".
    with contextlib.redirect_stdout(sys.stderr), watching_ctrl_c(), beneath.logging():
        profiler = profiling.start() if beneath.profile else None
        try:
            result = run_traced(
                app,
                environ,
                max_body=max_body,
                redact=not show_secrets,
                checks=checks,
                capture=beneath.capture,
                keep_secrets=keep_secrets,
            )
        finally:
            if profiler is not None and profiler.is_running:
                profiler.stop()
    record = result.record
    if profiler is not None:
        profiling.attach(record, result.recorder, profiler)
        if beneath.profile_out:
            profiling.write_profile(profiler, beneath.profile_out)
    failed = result.failed
    if lint:
        from wsgiscope.lint.refusals import server_refusals

        # A response real servers refuse is a failure, whatever the lenient
        # in-process read made of it (a str body "answered" 200).
        refused = server_refusals(record.get("lint") or [])
        if refused:
            record["server_refusals"] = refused
            failed = True
    if save:
        attach = None
        if profiler is not None:
            attach = functools.partial(profiling.attach, rec=result.recorder, profiler=profiler)
        _save(save, _saved_record(record, result.unredacted, attach))
    log = errors.getvalue()
    if as_json:
        print_json(record)
        if log:
            from wsgiscope.render.text import escape_control

            # The app's text reaches the terminal: its lines stay lines, but
            # escape sequences and other control characters are made visible.
            shown = "\n".join(escape_control(line) for line in log.split("\n"))
            click.echo(shown, err=True, nl=not log.endswith("\n"))
    else:
        from wsgiscope.render.trace import RenderOptions, render_trace

        out = console(color, width)
        options = RenderOptions(
            verbose=verbose,
            app_label=loaded.ref.import_path,
            exc_info=result.exc_info,
            width=out.width,
            max_body=max_body,
            log=log,
            interrupted=result.interrupted,
        )
        if sections is not None:
            options.sections = sections
            options.environ_whole = "environ" in sections
        out.print(render_trace(record, options))
    return failed, result.interrupted


@dataclasses.dataclass
class Beneath:
    """What ``trace`` captures beneath the hooks (see :mod:`wsgiscope.capture`)."""

    capture: frozenset[str] | None = None
    log_level: int | None = None
    profile: bool = False
    profile_out: str | None = None

    @contextlib.contextmanager
    def logging(self) -> t.Iterator[None]:
        """The log level asked for, for the block."""
        if self.log_level is None:
            yield
            return
        from wsgiscope.capture import logs

        saved = (logs.LEVEL, logs.APP_LEVEL)
        logs.set_level(self.log_level)
        try:
            yield
        finally:
            logs.LEVEL, logs.APP_LEVEL = saved


def _mode(mode: str | None) -> t.Literal["auto", "form", "json"]:
    if mode == "form":
        return "form"
    if mode == "json":
        return "json"
    return "auto"


def _saved_record(
    record: dict[str, t.Any],
    kept: dict[str, t.Any] | None,
    attach: t.Callable[[dict[str, t.Any]], None] | None,
) -> dict[str, t.Any]:
    """What --save writes: the record shown, or with --keep-secrets the one
    that kept them (the profile and server refusals added to it too)."""
    if kept is None:
        return record
    if attach is not None:
        attach(kept)
    if "server_refusals" in record:
        kept["server_refusals"] = record["server_refusals"]
    return kept


def _private(path: str) -> None:
    """Create ``path`` readable by its owner only (0600), and say so."""
    from wsgiscope.tracing.kept import private_file

    try:
        private_file(path)
    except OSError as exc:
        raise UsageError(
            f"cannot write the record file {path!r}: {exc.strerror or exc}",
            hint="check the directory exists and is writable",
        ) from None
    click.echo(
        f"wsgiscope: {path} keeps secrets (cookies, tokens, passwords) unredacted; "
        "it is readable by you only (0600): keep it private",
        err=True,
    )


def _save(path: str, record: t.Mapping[str, t.Any]) -> None:
    from wsgiscope.tracing.sinks import JsonLinesFile

    # The file sink itself, not the middleware's error-swallowing wrapper:
    # here a file that cannot be written is the user's error to hear about.
    sink = JsonLinesFile(path)
    try:
        sink(dict(record))
    except OSError as exc:
        raise UsageError(
            f"cannot append the record to {path!r}: {exc.strerror or exc}",
            hint="check the directory exists and is writable",
        ) from None
    finally:
        sink.close()
