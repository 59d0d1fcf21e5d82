"""``wsgiscope match``: which mount, rule, endpoint and arguments answer a path."""

from __future__ import annotations

import re

import click

from wsgiscope.cli.options import app_option, console, load, output_options, print_json
from wsgiscope.errors import ExitCode, UsageError

#: Methods recognised in lower case too; other all-capital words count as methods.
KNOWN_METHODS = frozenset(
    {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT"}
)


def is_method(token: str) -> bool:
    """``GET``, ``get``, ``PROPFIND``: an HTTP method word."""
    return token.upper() in KNOWN_METHODS or re.fullmatch(r"[A-Z][A-Z-]*", token) is not None


def split_match_arguments(tokens: tuple[str, ...]) -> tuple[str | None, str, str]:
    """``[APP] [METHOD] PATH`` -> (app, method, path), decided by shape.

    PATH is the last token and starts with ``/`` (anything else is an error,
    as in ``trace``: ``match app GET`` has no PATH, ``match app users`` is
    refused with a hint). Before it, an HTTP method word is METHOD and
    anything else APP.
    """
    if not tokens:
        raise UsageError("missing PATH", hint="usage: wsgiscope match [APP] [METHOD] PATH")
    *heads, path = tokens
    if not path.startswith("/"):
        # as trace parses it: a word that is not a PATH is never taken for one
        if ":" in path or path.endswith(".py") or is_method(path):
            raise UsageError(
                f"missing PATH after {path!r}", hint="a PATH starts with '/', e.g. /users/1"
            )
        raise UsageError(
            f"expected a PATH starting with '/', got {path!r}", hint=f"did you mean '/{path}'?"
        )
    if len(heads) > 2:
        raise UsageError(
            f"too many arguments: {' '.join(tokens)!r}",
            hint="usage: wsgiscope match [APP] [METHOD] PATH",
        )
    app: str | None = None
    method = "GET"
    if len(heads) == 2:
        app, method = heads
        if not is_method(method):
            raise UsageError(f"{method!r} is not an HTTP method", hint="e.g. GET, POST, DELETE")
    elif heads:
        if is_method(heads[0]):
            method = heads[0]
        else:
            app = heads[0]
    return app, method.upper(), path


@click.command(short_help="Which app, rule, endpoint and arguments answer a path.")
@click.argument("arguments", nargs=-1, required=True, metavar="[APP] [METHOD] PATH")
@app_option
@click.option("--host", metavar="HOST", help="Host header (default: SERVER_NAME or localhost).")
@output_options
def match(
    arguments: tuple[str, ...],
    app_option: str | None,
    host: str | None,
    as_json: bool,
    color: str,
    width: int | None,
) -> None:
    """Show which mount, rule, endpoint and arguments answer METHOD PATH.

    Exits 1 when no rule answers (404 or 405).
    """
    from wsgiscope.redact import redact_uri
    from wsgiscope.routing import match as resolve

    app, method, path = split_match_arguments(arguments)
    loaded = load(app, app_option)
    # The query takes no part in matching; its secrets would be echoed in
    # the heading, a redirect's location and --json.
    resolution = resolve(loaded.app, method, redact_uri(path), host=host)
    if as_json:
        from wsgiscope.routing import resolution_json

        print_json(resolution_json(resolution), format="wsgiscope.match/1")
    else:
        from wsgiscope.render.lines import fit_width
        from wsgiscope.render.routes import render_match

        out = console(color, width)
        out.print(render_match(resolution, fit_width(out, width)), crop=False)
    if resolution.result is not None and resolution.result.status in (404, 405):
        click.get_current_context().exit(int(ExitCode.PROBLEM))
