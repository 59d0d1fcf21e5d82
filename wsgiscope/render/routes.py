"""Rich rendering of route tables (``routes``) and match results (``match``).

The tree groups rules by mount prefix, then blueprint / namespace (nested
groups nested), with each group's rules as one aligned grid; ``--table`` is
one flat table. Both are laid out by :mod:`wsgiscope.render.lines` (fast on
thousands of rules), and so is the ``match`` answer. Every value shown comes
from the app and is escaped by :func:`~wsgiscope.render.lines.piece`, never
parsed as markup.
"""

from __future__ import annotations

import os
import typing as t

from wsgiscope.render.lines import (
    Cell,
    Lines,
    Node,
    Piece,
    fit_grid,
    line_width,
    piece,
    tree_lines,
)
from wsgiscope.render.text import TARGET_LIMIT, safe

if t.TYPE_CHECKING:
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


#: What each framework calls its URL builder, for "url_for builds /index".
BUILDERS = {
    "flask": "url_for",
    "django": "reverse",
    "pyramid": "route_path",
    "bottle": "get_url",
    "werkzeug": "MapAdapter.build",
    "falcon": "wsgiscope url",
}


def builder_differs(route: Route) -> bool:
    """The endpoint's builder makes another URL than this rule's own."""
    return bool(route.url and route.endpoint_url and route.endpoint_url != route.url)


def _notes(route: Route) -> Cell:
    parts: list[Piece] = []

    def add(name: str, value: object) -> None:
        if parts:
            parts.append(("  ", ""))
        parts.extend([(name + " ", "dim"), piece(value)])

    if builder_differs(route):
        # the surprise to see: the endpoint's URL reaches another rule
        parts.extend(
            [(f"{BUILDERS.get(route.framework, 'the builder')} builds ", "yellow"),
             piece(route.endpoint_url, "yellow")]
        )  # fmt: skip
    if route.host:
        add("host", route.host)
    if route.subdomain:
        add("subdomain", route.subdomain)
    if route.defaults:
        add("defaults", ", ".join(f"{k}={v!r}" for k, v in route.defaults.items()))
    if route.redirect_to:
        add("redirect_to", route.redirect_to)
    if route.strict_slashes is False:
        parts.extend([("  ", "")] if parts else [])
        parts.append(("strict_slashes off", "dim"))
    if route.note:
        parts.extend([("  ", "")] if parts else [])
        parts.append(piece(route.note, "yellow italic"))
    return parts


def _url(route: Route) -> Cell:
    if route.url is not None:
        return [piece(route.url, "green")]
    if route.opaque:
        return []
    return [("not buildable: ", "red"), piece(route.url_error or "?", "red dim")]


def _view(route: Route) -> Cell:
    if route.view is None:
        return []
    where = location(route.view)
    cell = [piece(route.view.name)]
    if where:
        cell += [("  ", ""), piece(where, "dim")]
    return cell


def _methods(route: Route) -> Cell:
    return [piece(" ".join(route.methods), "bold")]


def _row(route: Route) -> list[Cell]:
    return [
        _methods(route),
        [piece(route.path, "cyan")],
        [piece(route.endpoint or "", "yellow")],
        _url(route),
        _view(route),
        _notes(route),
    ]


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'s' if count != 1 else ''}"


def _mount_label(route: Route, count: int) -> list[Piece]:
    rules = "opaque" if route.opaque else _plural(count, "rule")
    return [
        piece(route.mount or "/", "green bold"),
        ("  ", ""),
        piece(route.app, "bold"),
        ("  ", ""),
        piece(route.framework, "magenta"),
        ("  ", ""),
        (f"({rules})", "dim"),
    ]


#: Row columns (methods, path, endpoint, url, view, notes) that leave a
#: narrow grid first: the view, then the notes, then the URL; methods, path
#: and endpoint (what a user types) always stay.
_DROP = (4, 5, 3)
_LABELS = {3: "url", 4: "view", 5: "notes"}


def render_routes_tree(routes: list[Route], title: str = "", width: int | None = None) -> Lines:
    """Mount prefix -> group (blueprint / namespace, nested) -> rules.

    Each group's rules form one aligned grid; the tree is laid out by
    :mod:`wsgiscope.render.lines` because rich's Tree and Table take
    seconds on thousands of rules. With ``width`` every line fits it (see
    :func:`~wsgiscope.render.lines.fit_grid`).
    """
    by_mount: dict[tuple[str, str], list[Route]] = {}
    for route in routes:
        by_mount.setdefault((route.mount, route.app), []).append(route)
    header: list[Piece] = [("routes", "bold")]
    if title:
        header += [(" of ", ""), piece(title, "cyan")]
    header.append((f"  {_plural(len(routes), 'rule')}, {_plural(len(by_mount), 'app')}", "dim"))
    root = Node(header)
    for members in by_mount.values():
        _add_groups(root.add(_mount_label(members[0], len(members))), members)
    return Lines(tree_lines(root, width=width))


def _add_groups(node: Node, routes: list[Route], depth: int = 0) -> None:
    """The rules of this level as the node's grid, then one child per group."""
    node.rows = [_row(r) for r in routes if len(_group_path(r)) <= depth]
    node.drop, node.labels = _DROP, _LABELS
    children: dict[str, list[Route]] = {}
    for route in routes:
        path = _group_path(route)
        if len(path) > depth:
            children.setdefault(path[depth], []).append(route)
    for members in children.values():
        full = ".".join(_group_path(members[0])[: depth + 1])
        child = node.add([piece(full, "blue bold"), (f"  ({len(members)})", "dim")])
        _add_groups(child, members, depth + 1)


def _group_path(route: Route) -> list[str]:
    return route.group.split(".") if route.group else []


def render_routes_table(routes: list[Route], width: int | None = None) -> Lines:
    """One row per rule: mount, methods, path, endpoint, URL, view, notes.

    With ``width``, View, Notes then URL leave the table for lines under
    each row when it is too wide.
    """
    names = ("Mount", "Methods", "Path", "Endpoint", "URL", "View", "Notes")
    rows: list[list[Cell]] = [[[(name, "bold")] for name in names]]
    for route in routes:
        rows.append([[piece(route.mount or "/", "green")], *_row(route)])
    drop = tuple(index + 1 for index in _DROP)
    labels = {index + 1: label for index, label in _LABELS.items()}
    lines = fit_grid(rows, width, drop, labels, header=True)
    rule = max(map(line_width, lines), default=0)
    lines.insert(1, [("-" * min(rule, width or rule), "dim")])
    return Lines(lines)


def render_match(resolution: Resolution, width: int | None = None) -> Lines:
    """The way through the dispatchers, then the router's answer."""
    title: list[Piece] = [
        piece(resolution.method, "bold"),
        (" ", ""),
        (safe(resolution.path, TARGET_LIMIT), "cyan"),
    ]
    if resolution.host:
        title += [("  host ", "dim"), piece(resolution.host)]
    root = Node(title)
    branch = root
    for step in resolution.steps:
        branch = branch.add(
            [
                piece(step.dispatcher, "bold"),
                ("  mount ", ""),
                piece(step.prefix or "(default app)", "green bold"),
                ("  SCRIPT_NAME ", ""),
                piece(repr(step.script_name), "cyan"),
                ("  PATH_INFO ", ""),
                (safe(repr(step.path_info), TARGET_LIMIT), "cyan"),
            ]
        )
    node = branch.add(
        [
            piece(resolution.app, "bold"),
            ("  ", ""),
            piece(resolution.framework, "magenta"),
            ("  mounted at ", ""),
            piece(resolution.mount or "/", "green"),
            ("  PATH_INFO ", ""),
            (safe(repr(resolution.path_info), TARGET_LIMIT), "cyan"),
        ]
    )
    result = resolution.result
    if result is None:
        node.add([piece(resolution.note or "no router", "yellow italic")])
        return Lines(tree_lines(root, width=width))
    node.add(_status_line(result.status, bool(result.allowed)))
    if result.status == 200 and result.route is not None:
        route = result.route
        facts: list[list[Cell]] = [
            [[("rule", "bold")], [piece(route.path, "cyan")]],
            [[("endpoint", "bold")], [piece(route.endpoint or "", "yellow")]],
            [[("view", "bold")], _view(route)],
            [[("methods", "bold")], _methods(route)],
        ]
        notes = _notes(route)
        if notes:
            facts.append([[("notes", "bold")], notes])
        for name, value in result.arguments.items():
            facts.append(
                [
                    [("arg ", "dim"), piece(name, "bold")],
                    [piece(repr(value)), ("  ", ""), piece(type(value).__name__, "magenta")],
                ]
            )
        node.add(rows=facts)
    elif result.status == 405 or result.allowed:
        node.add([("allowed: ", "bold"), piece(", ".join(result.allowed))])
    elif result.location:
        node.add([("redirects to ", "bold"), piece(result.location, "green")])
    if result.status == 404:
        if result.nearest:
            near = node.add([("nearest rules", "bold")])
            for rule in result.nearest:
                near.add([piece(rule, "cyan")])
        else:
            node.add([("no rule is close", "dim")])
    return Lines(tree_lines(root, width=width))


def _status_line(status: int, allowed: bool = False) -> list[Piece]:
    words = {200: "matched", 404: "no rule matches", 405: "method not allowed"}
    word = words.get(status, "redirect")
    if status == 404 and allowed:
        # Pyramid: a route's pattern matches, but no view's request_method
        # predicate does, and Pyramid answers that with 404
        word = "a rule matches the path, not the method"
    style = "green bold" if status == 200 else "yellow bold" if status < 400 else "red bold"
    return [(f"{status} {word}", style)]
