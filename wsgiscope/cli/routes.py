"""``wsgiscope routes``: the route table of the whole app, mounted apps included."""

from __future__ import annotations

import click

from wsgiscope.cli.options import app_option, console, load, output_options, print_json


@click.command()
@click.argument("app", required=False, metavar="[APP]")
@app_option
@click.option("--table", "as_table", is_flag=True, help="A flat table instead of the tree.")
@click.option(
    "--sort",
    type=click.Choice(["mount", "rule", "endpoint", "methods"]),
    default="mount",
    show_default=True,
    help="Order of the rules ('mount' = mount prefix, then rule).",
)
@click.option("--method", metavar="METHOD", help="Only rules that accept METHOD.")
@click.option("--endpoint", "endpoint_glob", metavar="GLOB", help="Only endpoints matching GLOB.")
@click.option("--all-methods", is_flag=True, help="Show HEAD and OPTIONS too.")
@output_options
def routes(
    app: str | None,
    app_option: str | None,
    as_table: bool,
    sort: str,
    method: str | None,
    endpoint_glob: str | None,
    all_methods: bool,
    as_json: bool,
    color: str,
    width: int | None,
) -> None:
    """Show every route of APP and of the apps mounted in it, with the URLs they build."""
    from wsgiscope.routing import discover_routes, select_routes

    loaded = load(app, app_option)
    found = select_routes(
        discover_routes(loaded.app),
        sort=sort,
        method=method,
        endpoint_glob=endpoint_glob,
        all_methods=all_methods,
    )
    if as_json:
        print_json([route.to_json() for route in found])
        return
    from wsgiscope.render.routes import render_routes_table, render_routes_tree

    out = console(color, width)
    if as_table:
        out.print(render_routes_table(found))
    else:
        out.print(render_routes_tree(found, loaded.ref.import_path))
