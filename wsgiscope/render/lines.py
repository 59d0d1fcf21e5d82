"""Fast aligned grids and trees for thousands of rows, as rich renderables.

rich's ``Table`` and ``Tree`` measure and wrap every cell, which costs
seconds on a route table of 5,000 rules. :class:`Lines` yields ready-made
segments instead: cells are padded to their column's width once, guides are
drawn like rich's ``Tree`` draws them. Every cell's text goes through
:func:`~wsgiscope.render.text.safe`, so app data stays data.

Without a width, long lines are left to the terminal (as ``flask routes``
does, for pipes and ``grep``). With one (``--width``, or a terminal's),
:func:`fit_grid` and :func:`tree_lines` make every line fit: a grid moves its
least important columns (``drop``) out of the row onto labelled lines under
it, and what is still too wide is folded between pieces, a piece longer
than a whole line split across lines: nothing is ever cut, so every name a
user must type is there whole.
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
    from rich.text import Text

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
    return [_aligned(row, widths, gap) for row in rows]


def _aligned(row: list[Cell], widths: list[int], gap: int) -> list[Piece]:
    """One row padded to the column ``widths`` (columns of width 0 take no room)."""
    # columns empty in every row take no room
    shown = [i for i in range(len(widths)) if widths[i]]
    line: list[Piece] = []
    for position, index in enumerate(shown):
        cell = row[index] if index < len(row) else []
        line.extend(cell)
        if position < len(shown) - 1:
            line.append((" " * max(widths[index] - _width(cell), 0) + " " * gap, ""))
    while line and not line[-1][0].strip():  # no trailing blanks
        line.pop()
    return line


def line_width(line: list[Piece]) -> int:
    """The width of a line in terminal cells."""
    return _width(line)


def _split_text(text: str, room: int) -> tuple[str, str]:
    """``text`` cut after ``room`` cells (at least one character), after its
    last space within them when it has one (prose breaks between words)."""
    space = text.rfind(" ", 0, max(room, 1) + 1)
    if space > 0 and cell_len(text[: space + 1]) <= max(room, 1):
        return text[:space], text[space + 1 :]  # the space is where the line breaks
    if text.isascii():
        return text[: max(room, 1)], text[max(room, 1) :]
    used = 0
    for index, char in enumerate(text):
        used += cell_len(char)
        if used > room:
            return (text[:index], text[index:]) if index else (text[:1], text[1:])
    return text, ""


def fold(pieces: list[Piece], width: int, indent: int = 0) -> list[list[Piece]]:
    """``pieces`` as lines at most ``width`` cells wide.

    Lines break between pieces (blank pieces at a break are dropped); a
    label piece ending in a space (``"  PATH_INFO "``) goes to the next line
    with the value after it. Continuation lines start with ``indent`` spaces,
    or fewer when that keeps a piece whole. A piece wider than a whole line
    is split, its text going on on the next line: nothing is cut.
    """
    width = max(width, 1)
    indent = min(indent, width // 2)
    lines: list[list[Piece]] = []
    line: list[Piece] = []
    used = start = 0

    def begin(at: int) -> None:
        nonlocal line, used, start
        if used > start:
            lines.append(line)
        line, used, start = ([(" " * at, "")] if at else []), at, at

    for text, style in pieces:
        size = _width([(text, style)])
        if used + size <= width:
            line.append((text, style))
            used += size
            continue
        if not text.strip():  # a gap where the line breaks: what follows starts a line
            begin(indent)
            continue
        carry: list[Piece] = []
        last = line[-1][0] if line else ""
        if last.strip() and last.endswith(" ") and used - _width([line[-1]]) > start:
            label = line.pop()
            used -= _width([label])
            carry = [(label[0].lstrip(), label[1])]
        extra = _width(carry)
        at = next((n for n in (indent, min(indent, 4), 0) if n + extra + size <= width), None)
        if at is not None or used + extra > width - 10:
            begin(indent if at is None else at)
        # else: whole nowhere, so it is split from where the line stands
        line.extend(carry)
        used += extra
        while used + size > width:
            head, text = _split_text(text, width - used)
            line.append((head, style))
            used = width
            begin(indent)
            size = _width([(text, style)])
        if text:
            line.append((text, style))
            used += size
    if used > start:
        lines.append(line)
    for each in lines:
        while each and not each[-1][0].strip():
            each.pop()
    return lines or [[]]


def fit_grid(
    rows: list[list[Cell]],
    width: int | None,
    drop: t.Sequence[int] = (),
    labels: t.Mapping[int, str] | None = None,
    header: bool = False,
    gap: int = 2,
) -> list[list[Piece]]:
    """Rows of cells as lines, fitted to ``width`` (``None``: as wide as they are).

    When the aligned grid is too wide, the columns in ``drop`` leave it one
    by one (first listed, first out) until it fits; each row is then
    followed by one line per non-empty dropped cell, ``label value``. What
    is still too wide is folded (:func:`fold`), continuation lines aligned
    under the row's last column when there is room for it. A row too wide
    even without the droppable columns (one very long rule) does not decide
    for the others: it is laid out on its own. With ``header`` the first row
    is a header: its dropped cells are not repeated.
    """
    if width is None:
        return grid_lines(rows, gap)
    columns = max((len(row) for row in rows), default=0)
    sizes = [[_width(cell) for cell in row] + [0] * (columns - len(row)) for row in rows]

    def span(size: list[int], kept: t.Collection[int]) -> int:
        shown = [size[i] for i in range(columns) if i in kept and size[i]]
        return sum(shown) + gap * (len(shown) - 1) if shown else 0

    def grid_span(members: list[list[int]], kept: t.Collection[int]) -> int:
        most = [max((size[i] for size in members), default=0) for i in range(columns)]
        return span(most, kept)

    everything = range(columns)
    if grid_span(sizes, everything) <= width:
        return grid_lines(rows, gap)
    labels = labels or {}
    least = [i for i in everything if i not in drop]
    regular = [size for size in sizes if span(size, least) <= width] or sizes
    dropped: list[int] = []
    for index in drop:
        dropped.append(index)
        if grid_span(regular, [i for i in everything if i not in dropped]) <= width:
            break
    kept = [i for i in everything if i not in dropped]
    # the columns are aligned on the rows that fit
    fitting = [size for size in sizes if span(size, kept) <= width] or sizes
    widths = [max((size[i] for size in fitting), default=0) if i in kept else 0
              for i in everything]  # fmt: skip
    shown = [i for i in kept if widths[i]]
    start = sum(widths[i] + gap for i in shown[:-1])
    hang = start if start <= width - 20 else 4
    result: list[list[Piece]] = []
    for number, (row, size) in enumerate(zip(rows, sizes, strict=True)):
        own = dropped
        if all(size[i] <= widths[i] for i in kept if not shown or i != shown[-1]):
            line = _aligned([row[i] if i < len(row) else [] for i in everything], widths, gap)
            last = size[shown[-1]] if shown else 0
            result.extend([line] if start + last <= width else fold(line, width, hang))
        else:  # an outlier: every droppable column under it, labelled
            own = [*dropped, *(i for i in drop if i not in dropped)]
            alone = [row[i] for i in everything if i < len(row) and i not in own]
            result.extend(fold(_aligned(alone, [_width(c) for c in alone], gap), width, 4))
        if header and number == 0:
            continue
        for index in sorted(own):
            if index >= len(row) or not size[index]:
                continue
            detail: list[Piece] = [("    ", ""), (labels.get(index, "") + " ", "dim"), *row[index]]
            fits = 4 + len(labels.get(index, "")) + 1 + size[index] <= width
            result.extend([detail] if fits else fold(detail, width, 6))
    return result


@dataclasses.dataclass
class Node:
    """A tree node: a one-line label and/or a grid, then child nodes.

    ``drop`` and ``labels`` say how the grid fits a narrow width (see
    :func:`fit_grid`).
    """

    label: list[Piece] | None = None
    rows: list[list[Cell]] = dataclasses.field(default_factory=list)
    children: list[Node] = dataclasses.field(default_factory=list)
    drop: tuple[int, ...] = ()
    labels: dict[int, str] = dataclasses.field(default_factory=dict)

    def add(self, label: list[Piece] | None = None, rows: list[list[Cell]] | None = None) -> Node:
        """Add and return a child node."""
        child = Node(label, rows or [])
        self.children.append(child)
        return child


def tree_lines(root: Node, guide: str = "dim", width: int | None = None) -> list[list[Piece]]:
    """``root`` drawn like rich's Tree: ``├── ``, ``│   ``, ``└── ``.

    With ``width`` every line fits it: labels fold, grids fit
    (:func:`fit_grid`) in the room their guides leave.
    """
    lines: list[list[Piece]] = []
    if root.label is not None:
        lines.extend(fold(list(root.label), width, 4) if width else [list(root.label)])
    _children(root, [], lines, guide, width)
    return lines


def _children(
    node: Node,
    prefix: list[Piece],
    lines: list[list[Piece]],
    guide: str,
    width: int | None = None,
) -> None:
    # a node's grid is drawn as its first child (like a multi-line child label)
    items: list[Node] = []
    if node.rows:
        items.append(Node(None, node.rows, drop=node.drop, labels=node.labels))
    items.extend(node.children)
    room = None if width is None else max(width - 4 * (len(prefix) + 1), 20)
    for index, child in enumerate(items):
        last = index == len(items) - 1
        first_guide = ("└── " if last else "├── ", guide)
        rest_guide = ("    " if last else "│   ", guide)
        if child.label is not None:
            body = fold(child.label, room, 2) if room else [child.label]
        else:
            body = fit_grid(child.rows, room, child.drop, child.labels)
        for number, line in enumerate(body):
            lines.append([*prefix, first_guide if number == 0 else rest_guide, *line])
        if child.label is not None:
            _children(child, [*prefix, rest_guide], lines, guide, width)


class Fields:
    """A line of fields (a rich ``Text`` whose fields are separated by two
    spaces) that wraps between fields only, continuation lines indented.

    rich wraps a ``Text`` at any space, so ``app NAME`` or ``pid 1 thread``
    broke in the middle; a field longer than the whole width still folds.
    """

    def __init__(self, text: Text, separator: str = "  ", indent: int = 2) -> None:
        self.text = text
        self.separator = separator
        self.indent = indent

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        from rich.text import Text

        width = options.max_width
        line = Text()
        for field in self.text.split(self.separator, allow_blank=False):
            if not field.plain.strip():
                continue
            if not line.plain:
                line.append_text(field)
            elif cell_len(line.plain) + len(self.separator) + cell_len(field.plain) <= width:
                line.append(self.separator)
                line.append_text(field)
            else:
                yield line
                line = Text(" " * self.indent)
                line.append_text(field)
        if line.plain:
            yield line


def fit_width(console: Console, width: int | None) -> int | None:
    """The width to fit lines to: ``--width``, else the terminal's (or
    ``$COLUMNS``); ``None`` for a pipe or a file, whose lines stay whole
    (one rule per line for ``grep``)."""
    import os

    if width:
        return width
    if console.is_terminal or os.environ.get("COLUMNS", "").isdigit():
        return console.width
    return None


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
