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
import sys
import typing as t

import click

from wsgiscope.cli.options import app_option, console, load_once, output_options, print_json
from wsgiscope.cli.redaction import redact_option
from wsgiscope.errors import ExitCode, UsageError


def parse_size(value: str) -> int:
    """A byte count: ``65536``, ``64k``, ``1M``, ``2MiB`` (:mod:`wsgiscope.units`).

    :raises ValueError: for anything else.
    """
    from wsgiscope.units import parse_size as size

    return size(value)


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
    "-f",
    "--form",
    "mode",
    flag_value="form",
    help="Send fields as a form (default: a JSON object, as HTTPie).",
)
@click.option(
    "-j",
    "--json-body",
    "mode",
    flag_value="json",
    help="Send fields as a JSON object (the default, as HTTPie's --json).",
)
@click.option("--raw", metavar="BODY", help="Send BODY as the request body, as is.")
@click.option(
    "-p",
    "--print",
    "sections",
    metavar="SECTIONS",
    envvar="WSGISCOPE_TRACE_PRINT",
    callback=_sections,
    help="Sections to show, as HTTPie's --print letters: H request headers, B request "
    "body, h response headers, b response body, m response meta; wsgiscope's own: "
    "c contexts, k hooks, e environ; beneath the hooks: s sql, l logs, o outbound, "
    "t templates (or names, comma separated). Default: ckehmbslot.",
)
@click.option(
    "-v", "--verbose", is_flag=True, help="Show everything: the whole environ, request and body."
)
@click.option(
    "-a",
    "--auth",
    metavar="USER[:PASS]",
    help="Credentials, as HTTPie: Basic auth (asks for PASS on a terminal when left out); "
    "with -A bearer, a token.",
)
@click.option(
    "-A",
    "--auth-type",
    type=click.Choice(["basic", "bearer"]),
    default="basic",
    show_default=True,
    help="How --auth is sent.",
)
@click.option(
    "--session",
    "session_name",
    metavar="NAME",
    help="Keep cookies, headers and auth between traces, as HTTPie's sessions "
    "(stored under ~/.config/wsgiscope/sessions/HOST/NAME.json, mode 0600).",
)
@click.option(
    "-F",
    "--follow",
    is_flag=True,
    help="Follow redirects: trace each hop as its own lifecycle (--json: one record a line).",
)
@click.option(
    "--max-redirects",
    type=click.IntRange(0),
    default=30,
    show_default=True,
    help="With --follow, stop after this many redirects (exit 1).",
)
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
@click.option(
    "--html", "html_file", metavar="FILE", help="Also write a self-contained HTML report."
)
@redact_option
@output_options
def trace(
    words: tuple[str, ...],
    app_option: str | None,
    mode: str | None,
    raw: str | None,
    sections: frozenset[str] | None,
    verbose: bool,
    auth: str | None,
    auth_type: str,
    session_name: str | None,
    follow: bool,
    max_redirects: int,
    max_body: int,
    save: str | None,
    lint: bool,
    show_secrets: bool,
    keep_secrets: bool,
    capture: frozenset[str] | None,
    log_level: int | None,
    profile: bool,
    profile_out: str | None,
    html_file: str | None,
    as_json: bool,
    color: str,
    width: int | None,
) -> None:
    """Run one request through APP in-process and show what happened inside.

    \b
    Items follow HTTPie:
      Header:value     a request header (Header: removes it, Header; sends it empty)
      name==value      a query parameter
      field=value      a JSON string field (a form field with --form)
      field:=json      a JSON value: n:=3 tags:='["a"]'
      a[b]=c a[]=1     nested JSON
      field=@file      a text field read from a file (:=@file: JSON, Header:@file)
      field@file       a file upload (multipart form; field@file;type=MIME)
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
            auth=auth,
            auth_type=auth_type,
            session_name=session_name,
            follow=follow,
            max_redirects=max_redirects,
            max_body=max_body,
            save=save,
            lint=lint,
            show_secrets=show_secrets,
            keep_secrets=keep_secrets,
            html_file=html_file,
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
    auth: str | None = None,
    auth_type: str = "basic",
    session_name: str | None = None,
    follow: bool = False,
    max_redirects: int = 30,
    max_body: int,
    save: str | None,
    lint: bool,
    show_secrets: bool,
    as_json: bool,
    color: str,
    width: int | None,
    keep_secrets: bool = False,
    beneath: Beneath | None = None,
    html_file: str | None = None,
) -> tuple[bool, bool]:
    """Build, run, save and show the request (and with --follow each redirect
    hop); whether the app failed, and whether Ctrl-C ended it (what it did
    until then is still shown and saved)."""
    from wsgiscope.request import base_url, parse_request, split_target

    beneath = beneath or Beneath()
    if beneath.profile:
        from wsgiscope.capture import profile as profiling

        profiling.require()
        if beneath.profile_out:
            profiling.check_output(beneath.profile_out)
    app_word, method, path, items = split_target(words)
    # Items are checked before the app is imported: a typo costs no import.
    spec = parse_request(path, items, method=method, mode=mode, raw=raw)
    given = list(spec.headers)
    credentials = _auth_header(auth, auth_type)
    if credentials is not None and not any(n.lower() == "authorization" for n, _ in given):
        given.insert(0, credentials)
    loaded = load_once(app_word, app_option)
    base = base_url(loaded.app)
    session = _open_session(session_name, spec.path, base)
    # Without a session, cookies matter only to the next --follow hop.
    jar = session if session is not None or not follow else _transient_session()
    hop = 0
    failed = interrupted = False
    while True:
        stored = jar.request_headers(_path_of(spec.path)) if jar is not None else []
        names = {n.lower() for n, _ in given}
        spec.headers = [(n, v) for n, v in stored if n.lower() not in names] + given
        result, hop_failed = _run_one(
            spec, loaded, base, hop, sections, verbose, max_body, save, lint,
            show_secrets, as_json, follow, color, width, beneath, html_file, keep_secrets,
        )  # fmt: skip
        if jar is not None:
            jar.remember_cookies(result.headers)
        failed = failed or hop_failed
        interrupted = result.interrupted
        following = _redirect(spec, result, follow) if not interrupted else None
        if following is None:
            break
        hop += 1
        if hop > max_redirects:
            click.echo(f"wsgiscope: too many redirects (--max-redirects={max_redirects})", err=True)
            failed = True
            break
        spec, note = following
        given = [(n, v) for n, v in given if not n.lower().startswith("content-")]
        if not as_json:
            console(color, width).print(note)
    if session is not None:
        session.remember_headers(given)
        session.save()
    return failed, interrupted


def _run_one(
    spec: t.Any,
    loaded: t.Any,
    base: str,
    hop: int,
    sections: frozenset[str] | None,
    verbose: bool,
    max_body: int,
    save: str | None,
    lint: bool,
    show_secrets: bool,
    as_json: bool,
    follow: bool,
    color: str,
    width: int | None,
    beneath: Beneath,
    html_file: str | None,
    keep_secrets: bool = False,
) -> tuple[t.Any, bool]:
    """Trace one request of ``spec``; (the run's result, whether the app failed)."""
    from wsgiscope.capture import profile as profiling
    from wsgiscope.interrupts import watching_ctrl_c
    from wsgiscope.request import build_environ
    from wsgiscope.tracing import run_traced

    environ = build_environ(spec, loaded.app, base=base)
    request_body = _sent_body(environ, show_secrets)
    path = environ.get("PATH_INFO", "/")
    # What the app logs to wsgi.errors (Flask's logger does, with the
    # traceback of a failing view) is shown with the trace, not mixed into it.
    errors = io.StringIO()
    environ["wsgi.errors"] = errors
    app, checks = loaded.app, None
    if lint:
        app, checks = _linted(app, environ["REQUEST_METHOD"], path)
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
        # A response real servers refuse is a failure, whatever the lenient
        # in-process read made of it (a str body "answered" 200).
        refused = _server_refusals(record)
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
        if follow:
            from wsgiscope.render.jsonout import dumps_line
            from wsgiscope.schemas import check_output

            check_output(record)
            click.echo(dumps_line(record))  # JSON Lines: one record per hop
        else:
            print_json(record)
        if log:
            from wsgiscope.render.text import escape_control

            # The app's text reaches the terminal: its lines stay lines, but
            # escape sequences and other control characters are made visible.
            shown = "\n".join(escape_control(line) for line in log.split("\n"))
            click.echo(shown, err=True, nl=not log.endswith("\n"))
    else:
        from wsgiscope.render.sections import DEFAULT_SECTIONS, SECTIONS
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
            request_body=request_body,
        )
        if sections is not None:
            options.sections = sections
            options.environ_whole = "environ" in sections
        elif verbose:
            options.sections = frozenset(SECTIONS)
        else:
            options.sections = DEFAULT_SECTIONS
        out.print(render_trace(record, options))
    if html_file:
        from wsgiscope.render.html import trace_report, write_html
        from wsgiscope.render.trace import RenderOptions

        report = RenderOptions(app_label=loaded.ref.import_path, log=log, max_body=max_body)
        report.exc_info, report.interrupted = result.exc_info, result.interrupted
        write_html(html_file, trace_report(record, report))
    return result, failed


def _server_refusals(record: dict[str, t.Any]) -> list[dict[str, str]]:
    """The record's lint findings real servers refuse (none without findings:
    the refusal table is then not imported)."""
    if not record.get("lint"):
        return []
    from wsgiscope.lint.refusals import server_refusals

    return server_refusals(record["lint"])


def _linted(app: t.Any, method: str, path: str) -> tuple[t.Any, t.Any]:
    """The full PEP 3333 checker between the tracer and the app, and its
    checks: its findings become the record's lint list (the tree's lint
    section). What the answering framework leaves to the server is left
    out, as `lint` leaves it out without --strict."""
    from wsgiscope.lint import SERVER_HANDLED
    from wsgiscope.lint.trace import TraceLint

    # Only such a framework's app matters, and it has its package imported:
    # without one, the routing (and its imports) is not asked which answers.
    framework = None
    if any(name in sys.modules for name in SERVER_HANDLED):
        from wsgiscope.lint.runner import answered_by

        framework = answered_by(app, method, path)[1]
    linted = TraceLint(app, leave_out=SERVER_HANDLED.get(framework or "", {}))
    return linted, linted.checks


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


def _sent_body(environ: dict[str, t.Any], show_secrets: bool) -> bytes | None:
    """The request body built for ``environ`` (rewound), redacted for display."""
    stream = environ.get("wsgi.input")
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return None
    if stream is None or not length or not hasattr(stream, "seek"):
        return None
    body = stream.read(min(length, 64 * 1024))
    stream.seek(0)
    if show_secrets:
        return bytes(body)
    from wsgiscope.redact import redact_body

    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return bytes(body)
    return redact_body(text, str(environ.get("CONTENT_TYPE") or "")).encode("utf-8")


def _auth_header(auth: str | None, auth_type: str) -> tuple[str, str] | None:
    """``-a USER[:PASS]`` (``-A bearer``: a token) as an Authorization header."""
    if auth is None:
        return None
    if auth_type == "bearer":
        return ("Authorization", f"Bearer {auth}")
    import base64

    user, colon, password = auth.partition(":")
    if not colon:
        if not sys.stdin.isatty():
            raise UsageError(
                f"-a {user}: no password given and no terminal to ask for it",
                hint=f"give it as -a {user}:PASSWORD",
            )
        password = click.prompt(f"wsgiscope: password for {user}", hide_input=True, err=True)
    token = base64.b64encode(f"{user}:{password}".encode()).decode("ascii")
    return ("Authorization", f"Basic {token}")


def _path_of(target: str) -> str:
    from urllib.parse import urlsplit

    return target if target.startswith("/") else (urlsplit(target).path or "/")


def _open_session(name: str | None, path: str, base: str) -> t.Any:
    if name is None:
        return None
    from urllib.parse import urlsplit

    from wsgiscope.sessions import Session, session_path

    host = urlsplit(path if not path.startswith("/") else base).hostname or "localhost"
    return Session.load(session_path(name, host))


def _transient_session() -> t.Any:
    """Cookies kept across --follow hops only (nothing written)."""
    from pathlib import Path

    from wsgiscope.sessions import Session

    return Session(Path(""))


#: Statuses that redirect, and whether the method (and body) are kept.
_REDIRECTS = {301: False, 302: False, 303: False, 307: True, 308: True}


def _redirect(spec: t.Any, result: t.Any, follow: bool) -> tuple[t.Any, t.Any] | None:
    """The next hop's spec and a note, when ``--follow`` and the app redirected."""
    if not follow or result.status_code not in _REDIRECTS:
        return None
    location = next((v for n, v in result.headers if n.lower() == "location"), None)
    if not location:
        return None
    import dataclasses
    from urllib.parse import urljoin, urlsplit

    from wsgiscope.render.console import label
    from wsgiscope.request import RequestSpec

    current = spec.path if not spec.path.startswith("/") else "http://wsgiscope.invalid" + spec.path
    target = urljoin(current, location)
    parts = urlsplit(target)
    if parts.netloc == "wsgiscope.invalid":
        target = parts.path + (f"?{parts.query}" if parts.query else "")
    keep = _REDIRECTS[result.status_code] or spec.effective_method in ("GET", "HEAD")
    if keep:
        following = dataclasses.replace(spec, path=target, query=[])
    else:
        following = RequestSpec(path=target, method="GET", mode=spec.mode)
    note = label(
        ("↪ ", "dim"),
        (f"{result.status_code} ", "yellow"),
        ("Location: ", "dim"),
        (location, "cyan"),
        (f"  → {following.effective_method} {target}", "dim"),
    )
    return following, note


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
