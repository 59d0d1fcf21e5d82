"""The sections of a rendered trace and the ``--print`` syntax that picks them.

Kept apart from :mod:`wsgiscope.render.trace` so the CLI can check
``--print`` without importing rich.

``--print`` takes section names separated by commas (``contexts,response``),
``all``, or letters. The letters HTTPie's ``--print`` uses mean what they
mean there; wsgiscope's own sections have letters HTTPie does not use:

======  ==============  ===================================================
letter  section         shows
======  ==============  ===================================================
``H``   request         the request headers (as the app received them)
``B``   request-body    the request body sent (``trace`` only)
``h``   response        the response headers
``b``   body            the response body
``m``   meta            the response metadata: size (status and time head
                        every trace)
``c``   contexts        the lifecycle: contexts pushed and popped, signals
``k``   hooks           the lifecycle's hooks, views and teardowns
``e``   environ         the environ the app received
``s``   sql             SQL statements (beneath the hooks: wsgiscope.capture)
``l``   logs            log records the request emitted
``o``   outbound        outbound HTTP requests the request made
``t``   templates       templates rendered
======  ==============  ===================================================
"""

from __future__ import annotations

#: The sections ``--print`` selects from, in display order.
SECTIONS = (
    "contexts",
    "hooks",
    "environ",
    "request",
    "request-body",
    "response",
    "meta",
    "body",
    # beneath the hooks (wsgiscope.capture)
    "sql",
    "logs",
    "outbound",
    "templates",
)
#: Shown when ``--print`` is not given (``-v`` adds the request ones).
DEFAULT_SECTIONS = frozenset(SECTIONS) - {"request", "request-body"}
#: ``--print`` letters: HTTPie's (``HBhbm``), wsgiscope's own (``cke``) and
#: beneath the hooks (``slot``).
LETTERS = {
    "H": "request",
    "B": "request-body",
    "h": "response",
    "b": "body",
    "m": "meta",
    "c": "contexts",
    "k": "hooks",
    "e": "environ",
    "s": "sql",
    "l": "logs",
    "o": "outbound",
    "t": "templates",
}


def parse_sections(value: str) -> frozenset[str]:
    """``--print`` value -> sections.

    :raises ValueError: for an unknown name or letter, or nothing chosen.
    """
    words = [w.strip() for w in value.replace(" ", ",").split(",") if w.strip()]
    chosen: set[str] = set()
    for word in words:
        if word.lower() in SECTIONS:
            chosen.add(word.lower())
        elif word.lower() == "all":
            chosen.update(SECTIONS)
        elif all(letter in LETTERS for letter in word):
            chosen.update(LETTERS[letter] for letter in word)
        else:
            letters = ", ".join(f"{k} {v}" for k, v in LETTERS.items())
            raise ValueError(
                f"unknown section {word!r}: use {', '.join(SECTIONS)}, all, "
                f"or letters as HTTPie's --print ({letters})"
            )
    if not chosen:
        raise ValueError("no section given")
    return frozenset(chosen)
