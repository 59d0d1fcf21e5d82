"""The one rich Console a command prints through, and safe Text.

Colour is on only for a terminal, off when ``NO_COLOR`` is set or with
``--color never``; rich's own reading of ``FORCE_COLOR`` (which treats
``FORCE_COLOR=0`` as forcing colour) is overridden here. Emoji codes and
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
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


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
        force_terminal=color if choice == "always" else None,
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
