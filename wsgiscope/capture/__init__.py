"""Beneath the hooks: what a request does inside its hooks (SQL, logging,
outbound HTTP, template renders), captured while it is traced.

One module per capture:

- :mod:`~wsgiscope.capture.sql`: SQLAlchemy (class-level engine events),
  Django (an execute wrapper on every connection the request uses) and
  plain :mod:`sqlite3` connections made while tracing;
- :mod:`~wsgiscope.capture.logs`: log records the request emits;
- :mod:`~wsgiscope.capture.outbound`: ``http.client`` requests (urllib,
  urllib3, requests) and ``httpx``;
- :mod:`~wsgiscope.capture.templates`: Jinja2 renders through Flask's
  signals, Django template renders.

The hooks are installed with the framework instrumentation (see
:mod:`wsgiscope.tracing.instrument`: only while a trace runs, removed
exactly afterwards) and each one looks up the current request's
:class:`~wsgiscope.tracing.recorder.Recorder`: a request that is not traced,
or whose middleware did not ask for that capture (``capture=``), costs one
``ContextVar`` lookup and is otherwise untouched. Nothing here runs for a
request that does none of these things.

Each capture is capped per request (:data:`MAX_EVENTS` events and
:data:`MAX_BYTES` bytes of captured text); what is over the cap is counted
in the record's ``capture_dropped``. The record's derived fields
(``queries``, ``logs``...) are built by :func:`record_fields`.
"""

from __future__ import annotations

import functools
import logging
import typing as t

if t.TYPE_CHECKING:
    from wsgiscope.tracing.recorder import Recorder

#: Every capture, in the order the documentation gives them.
CAPTURES: tuple[str, ...] = ("sql", "logging", "http", "templates")
#: What is captured unless the middleware is told otherwise.
DEFAULT_CAPTURE: frozenset[str] = frozenset(CAPTURES)

#: Events one capture keeps per request at most.
MAX_EVENTS = 1000
#: Bytes of captured text (statements, parameters, messages, URLs) one
#: capture keeps per request at most.
MAX_BYTES = 512 * 1024


F = t.TypeVar("F", bound=t.Callable[..., t.Any])

_failed = False


def quiet(func: F) -> F:
    """Run a capture's bookkeeping without ever failing the app's call: an
    error degrades the record (reported once through logging), and the
    function returns ``None``."""

    @functools.wraps(func)
    def wrapper(*args: t.Any, **kwargs: t.Any) -> t.Any:
        global _failed
        try:
            return func(*args, **kwargs)
        except Exception:
            if not _failed:
                _failed = True
                logging.getLogger("wsgiscope").warning(
                    "wsgiscope: a capture failed (reported once); the record misses it",
                    exc_info=True,
                )
            return None

    return t.cast(F, wrapper)


def parse_capture(value: t.Iterable[str] | str | None) -> frozenset[str]:
    """``capture=`` of the middleware: names from :data:`CAPTURES`.

    ``None`` is the default (all); ``()`` captures nothing; ``"all"`` all.

    :raises ValueError: for an unknown name.
    """
    if value is None:
        return DEFAULT_CAPTURE
    if isinstance(value, str):
        value = [v for v in value.replace(" ", ",").split(",") if v]
    chosen: set[str] = set()
    for name in value:
        if name == "all":
            chosen.update(CAPTURES)
        elif name in CAPTURES:
            chosen.add(name)
        else:
            raise ValueError(f"unknown capture {name!r}: use {', '.join(CAPTURES)} or all")
    return frozenset(chosen)


class Captured:
    """A request's capture bookkeeping: what each capture kept and dropped."""

    __slots__ = ("dropped", "events", "nested", "sizes", "spans")

    def __init__(self) -> None:
        self.events: dict[str, int] = {}
        self.sizes: dict[str, int] = {}
        self.dropped: dict[str, int] = {}
        #: Set while a higher-level SQL capture (SQLAlchemy, Django) runs a
        #: statement, so the sqlite3 connection below it does not count it twice.
        self.nested = 0
        #: Open template renders: ``(row, template)``, innermost last.
        self.spans: list[tuple[t.Any, t.Any]] = []

    def admit(self, capture: str, size: int) -> bool:
        """Whether one more event of ``size`` bytes fits ``capture``'s caps
        (counted as kept, or as dropped)."""
        count = self.events.get(capture, 0)
        total = self.sizes.get(capture, 0) + size
        if count >= MAX_EVENTS or total > MAX_BYTES:
            self.dropped[capture] = self.dropped.get(capture, 0) + 1
            return False
        self.events[capture] = count + 1
        self.sizes[capture] = total
        return True


def captured(rec: Recorder) -> Captured:
    """The request's :class:`Captured`, made on first use."""
    state = rec.captured
    if state is None:
        state = rec.captured = Captured()
    return state


def record_fields(rec: Recorder, events: list[dict[str, t.Any]]) -> dict[str, t.Any]:
    """Top-level record fields derived from the captured events."""
    from wsgiscope.capture.sql import query_summary

    out: dict[str, t.Any] = {}
    queries = query_summary(events)
    if queries is not None:
        out["queries"] = queries
    counts: dict[str, int] = {}
    for event in events:
        kind = event.get("kind")
        if kind in ("log", "http", "template"):
            counts[kind] = counts.get(kind, 0) + 1
    if counts.get("log"):
        levels: dict[str, int] = {}
        for event in events:
            if event.get("kind") == "log":
                levels[event["level"]] = levels.get(event["level"], 0) + 1
        out["logs"] = {"count": counts["log"], "levels": levels}
    if counts.get("http"):
        out["outbound"] = {
            "count": counts["http"],
            "total_ms": _total_ms(events, "http"),
        }
    if counts.get("template"):
        out["templates"] = {"count": counts["template"]}
    state = rec.captured
    if state is not None and state.dropped:
        out["capture_dropped"] = dict(state.dropped)
    return out


def _total_ms(events: list[dict[str, t.Any]], kind: str) -> float:
    total = sum(
        e["duration_ms"]
        for e in events
        if e.get("kind") == kind and e.get("duration_ms") is not None
    )
    return round(total, 3)
