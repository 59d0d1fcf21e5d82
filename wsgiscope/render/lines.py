"""Fast aligned grids and trees for thousands of rows, as rich renderables.

rich's ``Table`` and ``Tree`` measure and wrap every cell, which costs
seconds on a route table of 5,000 rules. :class:`Lines` yields ready-made
segments instead: cells are padded to their column's width once, guides are
drawn like rich's ``Tree`` draws them, and long lines are left to the
terminal (as ``flask routes`` does). Every cell's text goes through
:func:`~wsgiscope.render.text.safe`, so app data stays data.
"""

from __future__ import annotations

import dataclasses
import functools
import typing as t

from rich.cells import cell_len
from rich.segment import Segment
from rich.style import Style

from wsgiscope.render.text import safe

if t.TYPE_CHECKING:
    from rich.console import Console, ConsoleOptions, RenderResult

#: One piece of a line: (text, style). Text is escaped when the cell is made.
Piece = tuple[str, str]
#: A grid cell: its pieces.
Cell = list[Piece]


#: Characters of one piece of app data shown (a rule or an endpoint name can
#: be of any length; ``--json`` keeps it whole).
PIECE_LIMIT = 500


def piece(value: object, style: str = "") -> Piece:
    """A piece of app data: escaped for the terminal, capped at :data:`PIECE_LIMIT`."""
    return (safe(value, PIECE_LIMIT), style)


@functools.lru_cache(maxsize=256)
def _style(name: str) -> Style | None:
    return Style.parse(name) if name else None


def _width(cell: Cell) -> int:
    return sum(len(text) if text.isascii() else cell_len(text) for text, _ in cell)


def grid_lines(rows: list[list[Cell]], gap: int = 2) -> list[list[Piece]]:
    """Rows of cells as lines, each column padded to its widest cell."""
    if not rows:
        return []
    columns = max(len(row) for row in rows)
    widths = [0] * columns
    for row in rows:
        for index, cell in enumerate(row):
            widths[index] = max(widths[index], _width(cell))
    # columns empty in every row take no room
    shown = [i for i in range(columns) if widths[i]]
    lines = []
    for row in rows:
        line: list[Piece] = []
        for position, index in enumerate(shown):
            cell = row[index] if index < len(row) else []
            line.extend(cell)
            if position < len(shown) - 1:
                line.append((" " * (widths[index] - _width(cell) + gap), ""))
        while line and not line[-1][0].strip():  # no trailing blanks
            line.pop()
        lines.append(line)
    return lines


@dataclasses.dataclass
class Node:
    """A tree node: a one-line label and/or a grid, then child nodes."""

    label: list[Piece] | None = None
    rows: list[list[Cell]] = dataclasses.field(default_factory=list)
    children: list[Node] = dataclasses.field(default_factory=list)

    def add(self, label: list[Piece] | None = None, rows: list[list[Cell]] | None = None) -> Node:
        """Add and return a child node."""
        child = Node(label, rows or [])
        self.children.append(child)
        return child


def tree_lines(root: Node, guide: str = "dim") -> list[list[Piece]]:
    """``root`` drawn like rich's Tree: ``├── ``, ``│   ``, ``└── ``."""
    lines: list[list[Piece]] = []
    if root.label is not None:
        lines.append(list(root.label))
    _children(root, [], lines, guide)
    return lines


def _children(node: Node, prefix: list[Piece], lines: list[list[Piece]], guide: str) -> None:
    # a node's grid is drawn as its first child (like a multi-line child label)
    items: list[Node] = []
    if node.rows:
        items.append(Node(None, node.rows))
    items.extend(node.children)
    for index, child in enumerate(items):
        last = index == len(items) - 1
        first_guide = ("└── " if last else "├── ", guide)
        rest_guide = ("    " if last else "│   ", guide)
        body = [child.label] if child.label is not None else grid_lines(child.rows)
        for number, line in enumerate(body):
            lines.append([*prefix, first_guide if number == 0 else rest_guide, *line])
        if child.label is not None:
            _children(child, [*prefix, rest_guide], lines, guide)


class Lines:
    """Pre-laid-out lines of styled pieces, printed as they are."""

    def __init__(self, lines: list[list[Piece]]) -> None:
        self.lines = lines

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        if console.no_color or console.color_system is None:
            # no styles to show: one segment per line (thousands of tiny
            # segments cost more than the rest of ``routes``)
            for line in self.lines:
                yield Segment("".join(text for text, _ in line) + "\n")
            return
        newline = Segment.line()
        for line in self.lines:
            text, style = "", ""
            for value, value_style in line:
                if value_style == style or (not value.strip() and not style):
                    text += value
                    continue
                if text:
                    yield Segment(text, _style(style))
                text, style = value, value_style
            if text:
                yield Segment(text, _style(style))
            yield newline

    def plain(self) -> str:
        """The text without styles (for tests and for pipes)."""
        return "".join("".join(text for text, _ in line) + "\n" for line in self.lines)
