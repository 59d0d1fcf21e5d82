"""Machine output: JSON and JSON Lines that stay valid whatever the app holds.

Values JSON cannot carry (bytes, objects, sets) become their ``repr``; all
non-ASCII text is escaped so the output is safe on any terminal and never
carries ANSI codes. This module never imports rich.
"""

from __future__ import annotations

import json
import typing as t


def _default(value: t.Any) -> t.Any:
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    return repr(value)


def dumps(data: t.Any, indent: int | None = 2) -> str:
    """``data`` as JSON text; odd values as their ``repr``."""
    return json.dumps(data, indent=indent, default=_default, ensure_ascii=True)


def dumps_line(data: t.Any) -> str:
    """``data`` as one JSON Lines record (no newline)."""
    return json.dumps(data, default=_default, ensure_ascii=True, separators=(",", ":"))
