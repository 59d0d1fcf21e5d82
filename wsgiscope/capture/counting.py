"""Per-endpoint SQL statement counts over many requests (``replay --queries``).

:class:`QueryCounter` wraps a WSGI app: each request runs with a recorder
of its own that keeps its SQL statements (and the framework's hook events,
for the endpoint), and when the response is closed its statement count and
time are added to the request's endpoint: the view's endpoint name (Flask's
endpoint, Django's URL name) when the framework is instrumented, else
``METHOD path``. An N+1 that appears only under some data shows as a
``max`` above the ``mean``.

It holds the tracing instrumentation while it is alive (see
:mod:`wsgiscope.tracing.instrument`), so the requests it counts pay the
tracer's cost: replay's latency figures with ``--queries`` are those of a
traced app.
"""

from __future__ import annotations

import threading
import typing as t

from wsgiscope.capture.sql import SQLQuery
from wsgiscope.tracing import instrument
from wsgiscope.tracing.events import HookCall
from wsgiscope.tracing.recorder import Recorder, _current

_SQL_ONLY = frozenset(("sql",))


class QueryCounter:
    """A WSGI wrapper counting each endpoint's SQL statements.

    :param app: the WSGI app.
    """

    def __init__(self, app: t.Callable[..., t.Any]) -> None:
        self.app = app
        self.lock = threading.Lock()
        #: endpoint -> [requests, statements, most statements, milliseconds]
        self.table: dict[str, list[float]] = {}
        self._held = False

    def hold(self) -> None:
        """Install the instrumentation (once)."""
        if not self._held:
            instrument.acquire()
            self._held = True

    def release(self) -> None:
        """Let the instrumentation go."""
        if self._held:
            self._held = False
            instrument.release()

    def __call__(self, environ: dict[str, t.Any], start_response: t.Any) -> t.Any:
        self.hold()
        rec = Recorder()
        rec.capture = _SQL_ONLY
        token = _current.set(rec)
        try:
            result = self.app(environ, start_response)
        except BaseException:
            self.count(rec, environ)
            raise
        finally:
            _current.reset(token)
        return _Counted(self, rec, environ, result)

    def count(self, rec: Recorder, environ: dict[str, t.Any]) -> None:
        """Add one finished request to its endpoint's figures."""
        statements, seconds, endpoint = 0, 0.0, None
        for row in rec.rows:
            cls = row[0]
            if cls is SQLQuery:
                statements += 1
                duration = row[4][4]
                if isinstance(duration, float):
                    seconds += duration
            elif cls is HookCall and endpoint is None and row[4][0] == "view" and row[4][3]:
                endpoint = str(row[4][3])
        if endpoint is None:
            endpoint = f"{environ.get('REQUEST_METHOD', '?')} {environ.get('PATH_INFO', '')}"
        with self.lock:
            entry = self.table.get(endpoint)
            if entry is None:
                if len(self.table) >= 1000:  # bounded: endpoints, not paths, are few
                    endpoint = "(other)"
                    entry = self.table.setdefault(endpoint, [0, 0, 0, 0.0])
                else:
                    entry = self.table[endpoint] = [0, 0, 0, 0.0]
            entry[0] += 1
            entry[1] += statements
            entry[2] = max(entry[2], statements)
            entry[3] += seconds * 1000

    def to_payload(self) -> dict[str, list[float]]:
        """The raw table (to merge across processes)."""
        with self.lock:
            return {key: list(value) for key, value in self.table.items()}


def counting(app: t.Callable[..., t.Any]) -> tuple[QueryCounter, QueryCounter]:
    """``(app to call, counter)``: ``app`` wrapped in a held :class:`QueryCounter`."""
    counter = QueryCounter(app)
    counter.hold()
    return counter, counter


def merge_payloads(payloads: t.Iterable[dict[str, list[float]]]) -> dict[str, list[float]]:
    """Add up several :meth:`QueryCounter.to_payload` tables."""
    table: dict[str, list[float]] = {}
    for payload in payloads:
        for key, (requests, statements, most, ms) in payload.items():
            entry = table.setdefault(key, [0, 0, 0, 0.0])
            entry[0] += requests
            entry[1] += statements
            entry[2] = max(entry[2], most)
            entry[3] += ms
    return table


def summary(table: dict[str, list[float]]) -> list[dict[str, t.Any]]:
    """``replay --json``'s ``queries``: per endpoint, most statements first."""
    rows: list[dict[str, t.Any]] = [
        {
            "endpoint": key,
            "requests": int(requests),
            "mean": round(statements / requests, 2) if requests else 0.0,
            "max": int(most),
            "mean_ms": round(ms / requests, 3) if requests else 0.0,
        }
        for key, (requests, statements, most, ms) in table.items()
    ]
    rows.sort(key=lambda row: (-row["max"], row["endpoint"]))
    return rows


class _Counted:
    """The response iterable: the recorder is current while the body is
    produced; closing counts the request."""

    def __init__(self, counter: QueryCounter, rec: Recorder, environ: t.Any, result: t.Any) -> None:
        self.counter = counter
        self.rec = rec
        self.environ = environ
        self.result = result
        self.done = False

    def __iter__(self) -> t.Iterator[t.Any]:
        iterator = iter(self.result)
        while True:
            token = _current.set(self.rec)
            try:
                chunk = next(iterator)
            except StopIteration:
                return
            finally:
                _current.reset(token)
            yield chunk

    def close(self) -> None:
        if self.done:
            return
        self.done = True
        token = _current.set(self.rec)
        try:
            close = getattr(self.result, "close", None)
            if close is not None:
                close()
        finally:
            _current.reset(token)
            self.counter.count(self.rec, self.environ)
