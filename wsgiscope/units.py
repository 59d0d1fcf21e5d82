"""Durations and sizes: one way to read them and one way to print them.

Every duration option (``tail --slower-than``, ``serve --slower-than``,
``replay --duration``) reads :func:`parse_duration`; every size option
(``trace --max-body``) reads :func:`parse_size`; ``trace``, ``tail``,
``serve`` and ``replay`` print with :func:`format_duration` and
:func:`format_size`:

- a duration is a number with a unit, ``us`` (or ``µs``), ``ms``, ``s``,
  ``m`` or ``h``; **a bare number is seconds** everywhere (as ``sleep``,
  ``timeout`` and gunicorn's ``-t`` read it);
- a size is bytes, or a number with ``k``, ``M``, ``G`` (powers of 1024,
  ``KiB``/``kB``/``k`` all alike): ``65536``, ``64k``, ``1.5M``;
- sizes print in binary units, ``512 B``, ``1.5 KiB``, ``3.2 MiB``;
  durations as ``0.28ms``, ``12.4ms``, ``250ms``, ``1.52s`` (no space, so a
  wrapped line never splits a value from its unit).
"""

from __future__ import annotations

import re

_DURATION = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*(us|µs|ms|s|m|h)?\s*$", re.IGNORECASE)
_SECONDS = {"us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
_SIZE = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*([kmg]?)(?:i?b)?\s*$", re.IGNORECASE)
_BYTES = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3}


def parse_duration(text: str) -> float:
    """``"250ms"``, ``"1.5s"``, ``"2m"``, ``"30"`` (seconds) -> seconds.

    :raises ValueError: for anything else, with a message a user can act on.
    """
    found = _DURATION.match(text)
    if not found:
        raise ValueError(
            f"{text!r} is not a duration such as 250ms, 1.5s or 2m (a bare number is seconds)"
        )
    return float(found.group(1)) * _SECONDS[(found.group(2) or "s").lower()]


def parse_size(text: str) -> int:
    """``"65536"``, ``"64k"``, ``"1.5M"``, ``"2MiB"`` -> bytes.

    :raises ValueError: for anything else.
    """
    found = _SIZE.match(text)
    if not found:
        raise ValueError(f"{text!r} is not a size such as 65536, 64k or 1M")
    return int(float(found.group(1)) * _BYTES[found.group(2).lower()])


def format_size(size: object, unknown: str = "?") -> str:
    """``1536`` -> ``"1.5 KiB"``; ``unknown`` for anything but a number."""
    if isinstance(size, bool) or not isinstance(size, (int, float)):
        return unknown
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{int(value)} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def format_duration(ms: object, unknown: str = "?") -> str:
    """Milliseconds with a precision that suits their size: ``0.28ms``, ``12.4ms``,
    ``250ms``, ``1.52s``; ``unknown`` for anything but a number."""
    if isinstance(ms, bool) or not isinstance(ms, (int, float)):
        return unknown
    if ms >= 1000:
        return f"{ms / 1000:.2f}s"
    if ms >= 100:
        return f"{ms:.0f}ms"
    if ms >= 10:
        return f"{ms:.1f}ms"
    return f"{ms:.2f}ms"
