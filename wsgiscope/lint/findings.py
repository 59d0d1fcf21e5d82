"""Findings: what a lint check reports, and where in the request it happened.

A :class:`Finding` belongs to one request. ``phase`` says which part of the
WSGI conversation produced it (``call``, ``start_response``, ``write``,
``body``, ``close``, ``input``, ``errors``, ``environ``); a finding that
repeats (every chunk of a body being ``str``) is reported once with a
``count``.

.. versionadded:: 0.1
"""

from __future__ import annotations

import dataclasses
import typing as t

from wsgiscope.render.text import escape_control

if t.TYPE_CHECKING:
    from wsgiscope.lint.rules import Severity

#: Messages quote app data (header values, reprs); longer ones are cut.
MESSAGE_LIMIT = 240

Phase = t.Literal["call", "start_response", "write", "body", "close", "input", "errors", "environ"]


def safe_repr(value: object, limit: int = 80) -> str:
    """``repr(value)``, cut to ``limit`` characters; never raises."""
    try:
        text = repr(value)
    except Exception:
        text = f"<{type(value).__name__} object (repr failed)>"
    return text if len(text) <= limit else text[: limit - 3] + "..."


def exc_text(exc: BaseException) -> str:
    """``"Type: message"`` for an exception; never raises."""
    try:
        message = str(exc)
    except Exception:
        message = "<str() failed>"
    return f"{type(exc).__name__}: {message}" if message else type(exc).__name__


@dataclasses.dataclass
class Finding:
    """One rule violated by one request.

    :param rule: the rule id, e.g. ``"WSGI203"``.
    :param severity: the rule's severity.
    :param message: what happened, one line (may quote app data: escape it
        before printing).
    :param phase: where in the request it happened.
    :param count: how many times it happened in this request.
    """

    rule: str
    severity: Severity
    message: str
    phase: Phase
    count: int = 1

    def to_json(self) -> dict[str, t.Any]:
        """The finding as a JSON object."""
        return dataclasses.asdict(self)

    def to_record(self) -> dict[str, str]:
        """The ``{rule, message}`` entry of a trace record's ``lint`` list."""
        return {"rule": self.rule, "message": self.message}


class FindingList:
    """Collects findings for one request, merging repeats into ``count``."""

    def __init__(self) -> None:
        self._by_key: dict[tuple[str, str], Finding] = {}

    def add(self, rule: str, message: str, phase: Phase) -> None:
        """Record that ``rule`` was violated (again)."""
        # One line whatever the app put in it (exception texts can hold
        # newlines and escapes): control characters become visible escapes.
        message = escape_control(message)
        if len(message) > MESSAGE_LIMIT:
            message = f"{message[:MESSAGE_LIMIT]}… [{len(message) - MESSAGE_LIMIT} more characters]"
        key = (rule, message)
        existing = self._by_key.get(key)
        if existing is not None:
            existing.count += 1
            return
        from wsgiscope.lint.rules import get_rule  # the rule table, with the first finding

        self._by_key[key] = Finding(rule, get_rule(rule).severity, message, phase)

    def has(self, rule: str) -> bool:
        """Whether ``rule`` was reported."""
        return any(key[0] == rule for key in self._by_key)

    def __iter__(self) -> t.Iterator[Finding]:
        return iter(list(self._by_key.values()))

    def __len__(self) -> int:
        return len(self._by_key)
