"""Make untrusted text safe for a terminal, without importing rich.

Text from an app or a request is data. :func:`escape_control` turns every
character that a terminal would act on (C0 and C1 controls, DEL, ESC, bidi
overrides, line and paragraph separators) and every invisible one (zero-width
spaces and joiners, U+2060-U+206F, variation selectors, tag characters,
Hangul fillers, the soft hyphen) into a visible escape, so a header value can
neither forge a line of the tree, retitle the terminal nor hide text.
:func:`cap` shortens long values and says so.
"""

from __future__ import annotations

import re

_UNSAFE = re.compile(
    "[\x00-\x1f\x7f-\x9f\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f"
    "\u200b-\u200f\u2028-\u202e\u2060-\u206f\u3164\ufe00-\ufe0f\ufeff\uffa0\ufff9-\ufffb"
    "\U000e0000-\U000e007f]"
)
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    if char in _NAMED:
        return _NAMED[char]
    code = ord(char)
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def escape_control(value: str) -> str:
    """Replace terminal-active characters in ``value`` by visible escapes."""
    return _UNSAFE.sub(_escape, value)


def cap(value: str, limit: int) -> str:
    """``value`` cut to ``limit`` characters, saying how much was cut."""
    if limit <= 0 or len(value) <= limit:
        return value
    return f"{value[:limit]}… [{len(value) - limit} more characters]"


#: Characters of a request target (path and query) shown in a heading or a
#: one-line summary: a client may send a 64 kB URL.
TARGET_LIMIT = 300


def safe(value: object, limit: int = 0) -> str:
    """``str(value)`` escaped and, with ``limit``, capped."""
    text = value if isinstance(value, str) else str(value)
    return escape_control(cap(text, limit) if limit else text)
