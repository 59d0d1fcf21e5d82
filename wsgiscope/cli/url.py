"""``wsgiscope url``: build a URL for an endpoint exactly as the framework would."""

from __future__ import annotations

import re

import click

from wsgiscope.cli.completers import complete_endpoints
from wsgiscope.cli.options import app_option, load, output_options, print_json
from wsgiscope.errors import UsageError

#: ``NAME=VALUE``: a Python-identifier-like name (or a position, ``0=``, for
#: Django's unnamed ``re_path`` groups), then ``=``.
_VALUE = re.compile(r"(?:[A-Za-z_][A-Za-z0-9_]*|[0-9]+)=")


def split_url_arguments(tokens: tuple[str, ...]) -> tuple[str | None, str, dict[str, str]]:
    """``[APP] ENDPOINT [NAME=VALUE ...]`` -> (app, endpoint, values).

    A token is a value when it starts with ``NAME=``; the one or two tokens
    before the first value are ``[APP] ENDPOINT``. An import path such as
    ``app:create_app(debug=True)`` is never taken for a value.
    """
    heads: list[str] = []
    values: dict[str, str] = {}
    for token in tokens:
        if _VALUE.match(token) and "(" not in token.partition("=")[0]:
            name, _, value = token.partition("=")
            values[name] = value
        elif values or ("=" in token and "(" not in token):
            raise UsageError(
                f"malformed value {token!r}: expected NAME=VALUE",
                hint="values come after the endpoint, e.g. id=3",
            )
        else:
            heads.append(token)
    if not heads:
        raise UsageError("missing ENDPOINT", hint="wsgiscope routes lists the endpoints")
    if len(heads) > 2:
        raise UsageError(
            f"too many arguments before the values: {' '.join(heads)!r}",
            hint="usage: wsgiscope url [APP] ENDPOINT [NAME=VALUE]...",
        )
    if any(not value for value in heads):
        raise UsageError("empty ENDPOINT")
    return (heads[0], heads[1], values) if len(heads) == 2 else (None, heads[0], values)


@click.command(short_help="Build a URL exactly as the app's url_for would.")
@click.argument(
    "arguments",
    nargs=-1,
    required=True,
    metavar="[APP] ENDPOINT [NAME=VALUE]...",
    shell_complete=complete_endpoints,
)
@app_option
@click.option("--external", is_flag=True, help="An absolute URL with scheme and host.")
@click.option("--method", metavar="METHOD", help="Build the rule that accepts METHOD.")
@click.option("--anchor", metavar="TEXT", help="Append #TEXT.")
@click.option("--scheme", metavar="SCHEME", help="URL scheme (implies --external).")
@click.option("--mount", metavar="PREFIX", help="The mount prefix of the app that owns ENDPOINT.")
@output_options
def url(
    arguments: tuple[str, ...],
    app_option: str | None,
    external: bool,
    method: str | None,
    anchor: str | None,
    scheme: str | None,
    mount: str | None,
    as_json: bool,
    color: str,
    width: int | None,
) -> None:
    """Build the URL of ENDPOINT as the app's url_for / reverse would.

    Values that are not rule arguments become the query string. Endpoints of
    mounted apps are addressed as MOUNT:ENDPOINT or with --mount.
    """
    from wsgiscope.routing import build_url

    app, endpoint, values = split_url_arguments(arguments)
    loaded = load(app, app_option)
    built = build_url(
        loaded.app,
        endpoint,
        values,
        mount=mount,
        external=external,
        method=method.upper() if method else None,
        anchor=anchor,
        scheme=scheme,
    )
    if as_json:
        print_json(
            {
                "url": built.url,
                "endpoint": built.endpoint,
                "mount": built.mount,
                "framework": built.framework,
                "app": built.app,
            },
            format="wsgiscope.url/1",
        )
        return
    from wsgiscope.render.text import safe

    click.echo(safe(built.url))
