"""The sections of a rendered trace and the ``--print`` syntax that picks them.

Kept apart from :mod:`wsgiscope.render.trace` so the CLI can check
``--print`` without importing rich.
"""

from __future__ import annotations

#: The sections ``--print`` selects from, in display order.
SECTIONS = (
    "contexts",
    "hooks",
    "environ",
    "response",
    "body",
    # beneath the hooks (wsgiscope.capture)
    "sql",
    "logs",
    "outbound",
    "templates",
)


def parse_sections(value: str) -> frozenset[str]:
    """``--print`` value -> sections.

    Names separated by commas (``"contexts,response"``), ``all``, or letters
    as HTTPie's ``--print`` (``"chrb"``): ``c`` contexts, ``h`` hooks,
    ``e`` environ, ``r`` response, ``b`` body; ``s`` sql, ``l`` logs,
    ``o`` outbound HTTP, ``t`` templates.

    :raises ValueError: for an unknown name or letter, or nothing chosen.
    """
    letters = {name[0]: name for name in SECTIONS}
    words = [w.strip().lower() for w in value.replace(" ", ",").split(",") if w.strip()]
    chosen: set[str] = set()
    for word in words:
        if word in SECTIONS:
            chosen.add(word)
        elif word == "all":
            chosen.update(SECTIONS)
        elif all(letter in letters for letter in word):
            chosen.update(letters[letter] for letter in word)
        else:
            raise ValueError(
                f"unknown section {word!r}: use {', '.join(SECTIONS)}, all, or letters "
                f"{''.join(letters)}"
            )
    if not chosen:
        raise ValueError("no section given")
    return frozenset(chosen)
