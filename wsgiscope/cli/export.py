"""``wsgiscope export``: trace records to HAR, curl, HTTPie, Chrome trace events, pytest, OTLP.

The command reads records (files or ``-`` for stdin) through ``tail``'s
filters and hands them to the format's writer in :mod:`wsgiscope.export`;
output goes to stdout or, with ``-o``, to a file written whole (a temporary
file renamed into place, so a failed export leaves no half file).
"""

from __future__ import annotations

import os
import sys
import typing as t

import click

from wsgiscope.cli.tail import filter_options, make_filter
from wsgiscope.errors import UsageError

_FORMATS = ("har", "curl", "httpie", "chrome", "pytest", "otlp")
#: Options that only some formats take: option -> formats.
_ONLY = {
    "--base-url": ("curl", "httpie"),
    "--app": ("pytest",),
    "--endpoint": ("otlp",),
}


def _check_base_url(value: str | None) -> str | None:
    from urllib.parse import urlsplit

    if value is None:
        return None
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
        raise UsageError(
            f"--base-url must be an http(s) URL such as http://127.0.0.1:8000, not {value!r}",
            hint="a path prefix is allowed: https://example.com/api",
        )
    return value


@click.command(short_help="Trace records to HAR, curl, HTTPie, Perfetto, pytest or OTLP.")
@click.argument("format_name", metavar="FORMAT", type=click.Choice(_FORMATS))
@click.argument("records", nargs=-1, metavar="[RECORDS]...", type=click.Path(dir_okay=True))
@click.option(
    "-o", "--output", metavar="FILE", help="Write to FILE instead of stdout (otlp: OTLP JSON)."
)
@click.option(
    "--base-url",
    metavar="URL",
    help="curl/httpie: send the requests here (default: each record's own scheme and host).",
)
@click.option(
    "--app",
    "app_ref",
    metavar="IMPORT",
    help="pytest: the app the tests load (any APP form, e.g. 'shop:create_app()').",
)
@click.option(
    "--endpoint",
    metavar="URL",
    help="otlp: the OTLP/HTTP endpoint spans are sent to [default: http://localhost:4318].",
)
@filter_options
def export(
    format_name: str,
    records: tuple[str, ...],
    output: str | None,
    base_url: str | None,
    app_ref: str | None,
    endpoint: str | None,
    **filters: t.Any,
) -> None:
    """Export the trace records in RECORDS (files, '-' for stdin) as FORMAT.

    \b
    har     HAR 1.2: a browser's network panel, k6/Locust converters, 'replay'
    curl    one curl command per record (bash)
    httpie  one HTTPie command per record (bash)
    chrome  Chrome trace-event JSON: open in ui.perfetto.dev or chrome://tracing
    pytest  a pytest module replaying each record through the test client
    otlp    OpenTelemetry spans to an OTLP/HTTP endpoint, or OTLP JSON with -o

    RECORDS are JSON Lines written by 'trace --save', 'serve --record' or
    TraceMiddleware(sink=...); without any, stdin is read. The filters are
    tail's.

    \b
      wsgiscope export har traces.jsonl -o session.har
      wsgiscope export curl traces.jsonl --status 5xx --base-url http://127.0.0.1:8000
      wsgiscope export chrome traces.jsonl -o trace.json
      wsgiscope export pytest traces.jsonl --app shop:app -o test_recorded.py
    """
    from wsgiscope.export import ExportOptions, read_records

    given = {"--base-url": base_url, "--app": app_ref, "--endpoint": endpoint}
    for option, formats in _ONLY.items():
        if given[option] is not None and format_name not in formats:
            raise UsageError(
                f"{option} applies to {' and '.join(formats)}, not {format_name}",
                hint="see: wsgiscope export --help",
            )
    options = ExportOptions(base_url=_check_base_url(base_url), app=app_ref)
    if endpoint is not None:
        options.endpoint = endpoint
    if format_name == "pytest":
        _prepare_pytest(options)
    if format_name == "otlp":
        from wsgiscope.export.otlp import require_sdk

        require_sdk()
    sources = list(records) or ["-"]
    if sources == ["-"] and not records and sys.stdin.isatty():
        raise UsageError(
            "no RECORDS given and stdin is a terminal",
            hint="give a trace file: wsgiscope export har traces.jsonl",
        )
    match = make_filter(**filters)
    stream = read_records(sources, match if match.active else None, _warn)
    if format_name == "otlp" and output is None:
        from wsgiscope.export.otlp import send

        count = send(stream, options)
        click.echo(
            f"wsgiscope: sent {_records(count)} as OTLP spans to {options.endpoint}", err=True
        )
    else:
        count = _write(format_name, stream, options, output)
        if output is not None:
            click.echo(f"wsgiscope: wrote {_records(count)} to {output}", err=True)
    if count == 0:
        click.echo("wsgiscope: warning: no trace records matched: the output is empty", err=True)


def _records(count: int) -> str:
    return f"{count} record{'s' if count != 1 else ''}"


def _warn(source: str, bad: t.Any) -> None:
    from wsgiscope.render.text import safe

    click.echo(
        f"wsgiscope: warning: {safe(source)}:{bad.line}: skipped, "
        f"{safe(bad.reason)}: {safe(bad.preview)}",
        err=True,
    )


def _prepare_pytest(options: t.Any) -> None:
    from wsgiscope.cli.options import load
    from wsgiscope.export.pytest import detect

    if options.app is None:
        raise UsageError(
            "export pytest needs --app: the app the generated tests load",
            hint="e.g. --app shop:app or --app 'shop:create_app()'",
        )
    options.framework = detect(load(options.app, None).app)


def _write(format_name: str, stream: t.Iterable[t.Any], options: t.Any, output: str | None) -> int:
    from wsgiscope.export import writer

    write = writer(format_name)
    if output is None or output == "-":
        out = sys.stdout
        count = write(stream, out, options)
        out.flush()
        return count
    directory = os.path.dirname(os.path.abspath(output))
    temporary = os.path.join(directory, f".{os.path.basename(output)}.{os.getpid()}.tmp")
    try:
        with open(temporary, "w", encoding="utf-8") as out:
            count = write(stream, out, options)
        os.replace(temporary, output)
    except OSError as exc:
        raise UsageError(
            f"cannot write {output}: {exc.strerror or exc}",
            hint="check the directory exists and is writable",
        ) from None
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)
    return count
