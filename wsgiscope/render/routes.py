"""Rich rendering of route tables (``routes``) and match results (``match``).

The tree groups rules by mount prefix, then blueprint / namespace (nested
groups nested), with each group's rules as one aligned grid; ``--table`` is
one flat table. Every value shown comes from the app and is rendered with
:func:`~wsgiscope.render.console.data` (escaped, never markup).
"""

from __future__ import annotations

import os
import typing as t

from rich.console import Group
from rich.table import Table
from rich.text import Text
from rich.tree import Tree

from wsgiscope.render.console import data, label

if t.TYPE_CHECKING:
    from rich.console import RenderableType

    from wsgiscope.frameworks.base import Route, View
    from wsgiscope.routing import Resolution

_CWD = os.getcwd()


def location(view: View | None) -> str:
    """The view's ``file:line``, relative to the current directory when inside it."""
    if view is None or not view.location:
        return ""
    path = view.location
    if path.startswith(_CWD + os.sep):
        return path[len(_CWD) + 1 :]
    return path


def _notes(route: Route) -> Text:
    parts: list[tuple[object, str] | str] = []
    if route.host:
        parts += [("host ", "dim"), (route.host, "")]
    if route.subdomain:
        parts += [("subdomain ", "dim"), (route.subdomain, "")]
    if route.defaults:
        shown = ", ".join(f"{k}={v!r}" for k, v in route.defaults.items())
        parts += [("defaults ", "dim"), (shown, "")]
    if route.redirect_to:
        parts += [("redirect_to ", "dim"), (route.redirect_to, "")]
    if route.strict_slashes is False:
        parts += [("strict_slashes off", "dim")]
    if route.note:
        parts += [(route.note, "yellow italic")]
    text = Text()
    for index, part in enumerate(parts):
        if index and isinstance(part, tuple) and part[1] == "dim":
            text.append("  ")
        text.append_text(label(part))
    return text


def _url(route: Route) -> Text:
    if route.url is not None:
        return data(route.url, "green")
    if route.opaque:
        return Text()
    return label(("not buildable: ", "red"), (route.url_error or "?", "red dim"))


def _view(route: Route) -> Text:
    if route.view is None:
        return Text()
    where = location(route.view)
    return label((route.view.name, ""), "  " if where else "", (where, "dim"))


def _methods(route: Route) -> Text:
    return data(" ".join(route.methods), "bold")


def _grid(routes: list[Route]) -> Table:
    grid = Table.grid(padding=(0, 2))
    for _ in range(6):
        grid.add_column(no_wrap=False)
    for route in routes:
        grid.add_row(
            _methods(route),
            data(route.path, "cyan"),
            data(route.endpoint or "", "yellow"),
            _url(route),
            _view(route),
            _notes(route),
        )
    return grid


def _mount_label(route: Route, count: int) -> Text:
    rules = "opaque" if route.opaque else f"{count} rule{'s' if count != 1 else ''}"
    return label(
        (route.mount or "/", "green bold"),
        "  ",
        (route.app, "bold"),
        "  ",
        (route.framework, "magenta"),
        "  ",
        (f"({rules})", "dim"),
    )


def render_routes_tree(routes: list[Route], title: str = "") -> Tree:
    """Mount prefix -> group (blueprint / namespace, nested) -> rules."""
    mounts = len({(r.mount, r.app) for r in routes})
    root = Tree(
        label(
            ("routes", "bold"),
            " of " if title else "",
            (title, "cyan"),
            "  ",
            (f"{len(routes)} rule{'s' if len(routes) != 1 else ''}, ", "dim"),
            (f"{mounts} app{'s' if mounts != 1 else ''}", "dim"),
        ),
        guide_style="dim",
    )
    by_mount: dict[tuple[str, str], list[Route]] = {}
    for route in routes:
        by_mount.setdefault((route.mount, route.app), []).append(route)
    for members in by_mount.values():
        node = root.add(_mount_label(members[0], len(members)))
        _add_groups(node, members)
    return root


def _add_groups(node: Tree, routes: list[Route], depth: int = 0) -> None:
    """The rules of this level as one grid, then one child per group."""
    own = [r for r in routes if len(_group_path(r)) <= depth]
    if own:
        node.add(_grid(own))
    children: dict[str, list[Route]] = {}
    for route in routes:
        path = _group_path(route)
        if len(path) > depth:
            children.setdefault(path[depth], []).append(route)
    for members in children.values():
        full = ".".join(_group_path(members[0])[: depth + 1])
        child = node.add(label((full, "blue bold"), "  ", (f"({len(members)})", "dim")))
        _add_groups(child, members, depth + 1)


def _group_path(route: Route) -> list[str]:
    return route.group.split(".") if route.group else []


def render_routes_table(routes: list[Route]) -> Table:
    """One row per rule: mount, methods, path, endpoint, URL, view, notes."""
    table = Table(show_edge=False, pad_edge=False, header_style="bold")
    for column in ("Mount", "Methods", "Path", "Endpoint", "URL", "View", "Notes"):
        table.add_column(column)
    for route in routes:
        table.add_row(
            data(route.mount or "/", "green"),
            _methods(route),
            data(route.path, "cyan"),
            data(route.endpoint or "", "yellow"),
            _url(route),
            _view(route),
            _notes(route),
        )
    return table


def render_match(resolution: Resolution) -> RenderableType:
    """The way through the dispatchers, then the router's answer."""
    title = label(
        (resolution.method, "bold"),
        " ",
        (resolution.path, "cyan"),
        ("  host " if resolution.host else "", "dim"),
        (resolution.host or "", ""),
    )
    tree = Tree(title, guide_style="dim")
    branch = tree
    for step in resolution.steps:
        branch = branch.add(
            label(
                (step.dispatcher, "bold"),
                "  mount ",
                (step.prefix or "(default app)", "green bold"),
                "  SCRIPT_NAME ",
                (repr(step.script_name), "cyan"),
                "  PATH_INFO ",
                (repr(step.path_info), "cyan"),
            )
        )
    node = branch.add(
        label(
            (resolution.app, "bold"),
            "  ",
            (resolution.framework, "magenta"),
            "  mounted at ",
            (resolution.mount or "/", "green"),
            "  PATH_INFO ",
            (repr(resolution.path_info), "cyan"),
        )
    )
    result = resolution.result
    if result is None:
        node.add(data(resolution.note or "no router", "yellow italic"))
        return tree
    node.add(_status_line(result.status))
    if result.status == 200 and result.route is not None:
        route = result.route
        facts = Table.grid(padding=(0, 2))
        facts.add_column(style="bold")
        facts.add_column()
        facts.add_row("rule", data(route.path, "cyan"))
        facts.add_row("endpoint", data(route.endpoint or "", "yellow"))
        facts.add_row("view", _view(route))
        facts.add_row("methods", _methods(route))
        notes = _notes(route)
        if notes:
            facts.add_row("notes", notes)
        for name, value in result.arguments.items():
            facts.add_row(
                label(("arg ", "dim"), (name, "bold")),
                label((repr(value), ""), "  ", (type(value).__name__, "magenta")),
            )
        node.add(facts)
    elif result.status == 405:
        node.add(label(("allowed: ", "bold"), (", ".join(result.allowed), "")))
    elif result.location:
        node.add(label(("redirects to ", "bold"), (result.location, "green")))
    if result.status == 404:
        if result.nearest:
            near = node.add(Text("nearest rules", style="bold"))
            for rule in result.nearest:
                near.add(data(rule, "cyan"))
        else:
            node.add(Text("no rule is close", style="dim"))
    return Group(tree)


def _status_line(status: int) -> Text:
    words = {200: "matched", 404: "no rule matches", 405: "method not allowed"}
    word = words.get(status, "redirect")
    style = "green bold" if status == 200 else "yellow bold" if status < 400 else "red bold"
    return label((str(status), style), " ", (word, style))
