"""Rich rendering of the ``info`` report."""

from __future__ import annotations

import typing as t

from rich.console import Group
from rich.table import Table
from rich.text import Text
from rich.tree import Tree

from wsgiscope.render.console import data, label


def render_info(report: dict[str, t.Any]) -> Group:
    """A summary table and the structure tree of an ``info`` report."""
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold", no_wrap=True)
    table.add_column(overflow="fold")  # a long file path goes on, never cut with "…"
    table.add_row(
        "app", label((report["import_path"], "cyan"), " ", (f"({report['source']})", "dim"))
    )
    table.add_row("module", label((report["module"], ""), "  ", (report["file"] or "?", "dim")))
    table.add_row(
        "object",
        label(
            (report["attribute"], "cyan"),
            ": ",
            (report["object"], ""),
            " ",
            (f"({report['type']})", "dim"),
        ),
    )
    table.add_row("framework", data(report["framework"], "magenta"))
    tracer = report.get("flask_tracer")
    if isinstance(tracer, dict):
        table.add_row(
            "tracer",
            label(
                (f"Flask {tracer.get('version')}: ", ""),
                (tracer.get("description") or "?", "" if tracer.get("adapter") else "yellow"),
            ),
        )
    for package in report.get("frameworks", []):
        table.add_row(
            data(package["name"]),
            label((package["version"] or "?", ""), "  ", (package["file"] or "?", "dim")),
        )
    tree = Tree(Text("structure", style="bold"), guide_style="dim")
    _add_chain(tree, report["chain"], report["mounts"])
    return Group(table, Text(), tree)


def _add_chain(tree: Tree, chain: list[dict[str, t.Any]], mounts: list[dict[str, t.Any]]) -> None:
    branch = tree
    for link in chain:
        text = label((link["object"], "bold"), " ", (link["type"], "dim"))
        if link["via"] == "wsgi_app":
            text = label(
                ("wsgi_app wrapped in place by ", "yellow"),
                (link["object"], "bold"),
                " ",
                (link["type"], "dim"),
            )
        branch = branch.add(text)
    for mount in mounts:
        prefix = mount["prefix"] or "/ (default)"
        node = branch.add(label((prefix, "green bold"), "  ", (mount["framework"], "magenta")))
        _add_chain(node, mount["chain"], mount["mounts"])
