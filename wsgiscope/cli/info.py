"""``wsgiscope info``: what APP resolved to and what it is made of."""

from __future__ import annotations

import click

from wsgiscope.cli.options import app_option, console, load, output_options, print_json


@click.command(short_help="What APP resolves to: module, framework, middleware, mounts.")
@click.argument("app", required=False, metavar="[APP]")
@app_option
@output_options
def info(
    app: str | None, app_option: str | None, as_json: bool, color: str, width: int | None
) -> None:
    """Show what APP resolves to: import path, module, framework, middleware, mounts."""
    from wsgiscope.appinfo import describe_loaded

    loaded = load(app, app_option)
    report = describe_loaded(loaded)
    if as_json:
        print_json(report, format="wsgiscope.info/1")
        return
    from wsgiscope.render.info import render_info

    console(color, width).print(render_info(report))
