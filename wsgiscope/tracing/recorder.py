"""The per-request event recorder and how instrumented code finds it.

One :class:`Recorder` collects the events of one request. Instrumentation
(the Flask and Django adapters, the dispatcher probe) finds the recorder of
the request it runs in through :func:`current`, a :class:`contextvars.ContextVar`
lookup: every thread and every greenlet (greenlet 1.0+ gives each greenlet
its own context) sees only its own request, so concurrent requests never mix
their events. :func:`recording` makes a recorder current for a block.

The clock is injectable (``Recorder(clock=...)``): ``t_ms`` and durations
come from it, so tests can pin them.
"""

from __future__ import annotations

import contextlib
import contextvars
import time
import typing as t

from wsgiscope.tracing.events import Event, RawEvent, SignalSent, object_name

Clock = t.Callable[[], float]

_DEFAULT_CAPTURE = frozenset(("sql", "logging", "http", "templates"))

_current: contextvars.ContextVar[Recorder | None] = contextvars.ContextVar(
    "wsgiscope_recorder", default=None
)

#: Events kept per request at most; later ones are counted in ``dropped``.
MAX_EVENTS = 10_000


def current() -> Recorder | None:
    """The recorder of the request running in this thread/greenlet, if any."""
    return _current.get()


@contextlib.contextmanager
def recording(recorder: Recorder) -> t.Iterator[Recorder]:
    """Make ``recorder`` current for the block (restoring the previous one)."""
    token = _current.set(recorder)
    try:
        yield recorder
    finally:
        _current.reset(token)


class Recorder:
    """The events of one request, in order, as raw rows (see :mod:`.events`).

    Besides the rows it keeps the bookkeeping adapters need while the request
    runs: the stack of open spans (pushes and hook calls, for ``parent``)
    and the stack of current framework contexts (for ``depth``).

    :param clock: a monotonic clock in seconds, ``time.perf_counter`` by default.
    :param keep: keep the rows (``False`` for an ambient recorder that only
        feeds listeners and must not grow).
    :param environ: the request's environ as the tracer received it.
    """

    __slots__ = (
        "app_error",
        "body_bytes",
        "capture",
        "captured",
        "clock",
        "contexts",
        "depth",
        "dropped",
        "environ",
        "keep",
        "limit",
        "pending",
        "rows",
        "spans",
        "state",
        "t0",
    )

    def __init__(
        self,
        clock: Clock = time.perf_counter,
        keep: bool = True,
        environ: dict[str, t.Any] | None = None,
    ) -> None:
        self.clock = clock
        self.keep = keep
        self.limit = MAX_EVENTS if keep else 0
        self.t0 = clock()
        self.rows: list[RawEvent] = []
        self.spans: list[RawEvent] = []
        #: Current framework contexts: (ctx, kind, app object, depth, push row, ...).
        self.contexts: list[tuple[t.Any, ...]] = []
        #: Contexts being popped, whose pop is recorded once they stop being current.
        self.pending: list[t.Any] = []
        #: Depth of the innermost current framework context (0 outside any).
        self.depth = 0
        #: ``(depth, parent seq)`` of an event recorded now: kept up to date
        #: by whatever opens or closes a span or changes ``depth`` (a change of
        #: ``depth`` comes before the :meth:`close_span` that follows it), so
        #: that a leaf event reads one attribute.
        self.state: tuple[int, int | None] = (0, None)
        self.dropped = 0
        #: Response bytes the server got in all (set when the trace ends; body
        #: events stop at the middleware's ``max_body``, this count does not).
        self.body_bytes = 0
        #: The environ as the traced middleware received it (shallow copy).
        self.environ: dict[str, t.Any] = {} if environ is None else environ
        #: The exception the framework caught and turned into a 500, if any.
        self.app_error: BaseException | None = None
        #: What :mod:`wsgiscope.capture` records for this request (set by the
        #: middleware), and its bookkeeping once something was captured.
        self.capture: frozenset[str] = _DEFAULT_CAPTURE
        self.captured: t.Any = None

    def add(self, cls: type[Event], depth: int, values: list[t.Any]) -> RawEvent:
        """Record an event of kind ``cls`` now; returns its row."""
        rows = self.rows
        seq = len(rows)
        row = (cls, self.clock(), depth, self.state[1], values, seq)
        if seq < self.limit:
            rows.append(row)
        elif self.keep:
            self.dropped += 1
        return row

    def open(self, cls: type[Event], depth: int, values: list[t.Any]) -> RawEvent:
        """Record an event that encloses the ones after it until :meth:`close_span`."""
        row = self.add(cls, depth, values)
        self.spans.append(row)
        self.state = (self.depth, row[5])
        return row

    def close_span(self, row: RawEvent) -> None:
        """End the span opened by ``row`` (and any left open inside it)."""
        spans = self.spans
        if spans and spans[-1] is row:
            spans.pop()
        else:
            for i in range(len(spans) - 1, -1, -1):
                if spans[i] is row:
                    del spans[i:]
                    break
        self.state = (self.depth, spans[-1][5] if spans else None)

    def settle(self) -> list[RawEvent]:
        """Turn the leaf rows into full rows (see :func:`full_row`); returns :attr:`rows`."""
        rows = self.rows
        for index, row in enumerate(rows):
            if type(row[2]) is tuple:
                rows[index] = full_row(row, index)
        return rows

    def event(self, row: RawEvent) -> Event:
        """The frozen event for a row (``seq`` is -1 for rows not kept)."""
        if type(row[2]) is tuple:
            rows = self.rows
            row = full_row(row, len(rows) - 1 if rows and rows[-1] is row else -1)
        cls, when, depth, parent, values, seq = row
        if not self.keep:
            seq = parent = -1
        return cls(seq, int((when - self.t0) * 1e6 + 0.5) / 1000, depth, parent, *values)

    def events(self) -> list[Event]:
        """Every event kept so far, as frozen dataclasses."""
        t0 = self.t0
        return [
            cls(seq, int((when - t0) * 1e6 + 0.5) / 1000, depth, parent, *values)
            for cls, when, depth, parent, values, seq in self.settle()
        ]


def full_row(leaf: tuple[t.Any, ...], seq: int) -> RawEvent:
    """The full row ``(cls, t, depth, parent, values, seq)`` of a leaf row.

    A leaf event (one that opens no span: a signal, ``start_response``, a
    body chunk, ``close()``) is recorded as ``(cls, t, state, *values)``,
    one tuple and no list, with ``state`` the recorder's
    ``(depth, parent)`` at that moment; rows become full when someone reads
    them (:meth:`Recorder.settle`). A ``signal`` row holds its sender, named
    here.
    """
    cls, when, state, *values = leaf
    if cls is SignalSent:
        sender = values[1]
        if sender is not None and not isinstance(sender, str):
            values[1] = object_name(sender)
    return (cls, when, state[0], state[1], values, seq)
