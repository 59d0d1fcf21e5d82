"""``wsgiscope routes``: the route table of the whole app, mounted apps included."""

from __future__ import annotations

import click

from wsgiscope.cli.options import app_option, console, load_once, output_options


@click.command(short_help="Route table of APP, every mounted app included.")
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

    if not as_json:
        # import rich before the app: with thousands of rules loaded, every
        # garbage collection during the import walks the whole heap
        import wsgiscope.render.routes  # noqa: F401

    loaded = load_once(app, app_option)
    found = select_routes(
        discover_routes(loaded.app),
        sort=sort,
        method=method,
        endpoint_glob=endpoint_glob,
        all_methods=all_methods,
    )
    if as_json:
        from wsgiscope.render.jsonout import dumps_line
        from wsgiscope.schemas import check_output

        document = {"format": "wsgiscope.routes/1", "routes": [r.to_json() for r in found]}
        check_output(document)
        # one route per line: json's C encoder, ten times faster than indent=2
        # on thousands of rules, and still easy to read and to grep
        items = ",\n    ".join(map(dumps_line, document["routes"]))
        click.echo(
            '{\n  "format": "wsgiscope.routes/1",\n  "routes": '
            + (f"[\n    {items}\n  ]" if found else "[]")
            + "\n}"
        )
        return
    from wsgiscope.render.lines import fit_width
    from wsgiscope.render.routes import render_routes_table, render_routes_tree

    out = console(color, width)
    fit = fit_width(out, width)  # None for a pipe: one rule per line, whole
    rendered = (
        render_routes_table(found, fit)
        if as_table
        else render_routes_tree(found, loaded.ref.import_path, fit)
    )
    # nothing is cut: too wide a line is folded (or, in a pipe, left whole)
    out.print(rendered, crop=False)
