"""The one rich Console a command prints through, and safe Text.

Colour is on for a terminal, or anywhere when ``FORCE_COLOR`` is set to a
non-empty value other than ``0``/``false`` (as rich, pytest and most tools
read it); ``NO_COLOR`` wins over ``FORCE_COLOR``, and ``--color
always|never`` wins over both. rich's own reading of ``FORCE_COLOR`` (which
treats ``FORCE_COLOR=0`` as forcing colour) is overridden here. Emoji codes and
markup are off: what wsgiscope prints from apps is data.
"""

from __future__ import annotations

import os
import sys
import typing as t

from rich.console import Console
from rich.text import Text

from wsgiscope.render.text import safe

ColorChoice = t.Literal["auto", "always", "never"]


def color_enabled(choice: ColorChoice, stream: t.TextIO) -> bool:
    """Whether to colour output written to ``stream``."""
    if choice == "always":
        return True
    if choice == "never" or os.environ.get("NO_COLOR"):
        return False
    if force_color():
        return True
    return _isatty(stream)


def force_color() -> bool:
    """``FORCE_COLOR`` set to a value that means yes (not empty, ``0`` or ``false``)."""
    value = os.environ.get("FORCE_COLOR", "").strip().lower()
    return value not in ("", "0", "false", "no", "off")


def _isatty(stream: t.TextIO) -> bool:
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty and isatty())
    except ValueError:  # a closed stream
        return False


def make_console(
    choice: ColorChoice = "auto",
    width: int | None = None,
    stream: t.TextIO | None = None,
) -> Console:
    """A Console for ``stream`` (stdout by default)."""
    stream = sys.stdout if stream is None else stream
    color = color_enabled(choice, stream)
    return Console(
        file=stream,
        width=width,
        color_system="auto" if color else None,
        # decided here, not by rich's own FORCE_COLOR reading: a terminal, or
        # colour forced (--color always, FORCE_COLOR) onto a pipe
        force_terminal=color or _isatty(stream),
        no_color=not color,
        emoji=False,
        markup=False,
        highlight=False,
        soft_wrap=False,
    )


def data(value: object, style: str = "", limit: int = 0) -> Text:
    """A Text for a value from an app or request: escaped, never markup."""
    return Text(safe(value, limit), style=style)


def label(*parts: tuple[object, str] | str) -> Text:
    """Concatenate ``(value, style)`` pairs (values escaped) and plain strings."""
    text = Text()
    for part in parts:
        if isinstance(part, tuple):
            text.append(safe(part[0]), style=part[1])
        else:
            text.append(part)
    return text
