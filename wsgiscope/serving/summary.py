"""What ``serve`` tells when it stops: requests, status counts, slowest requests.

:class:`Summary` is fed every record the server wrote (filters only change
what is shown, not what is counted) and returns plain data.
"""

from __future__ import annotations

import collections
import heapq
import itertools
import time
import typing as t

from wsgiscope.tailing import record_error, record_path, record_status


class Summary:
    """Counts of the records seen since the server started.

    :param slowest: how many of the slowest requests to keep.
    """

    def __init__(self, slowest: int = 5) -> None:
        self.requests = 0
        self.errors = 0
        #: Records that could not be built whole (``capture_errors``).
        self.degraded = 0
        #: Records the server could not write, by process id, and why.
        self.dropped: dict[int, int] = {}
        self.dropped_reason = ""
        self.statuses: collections.Counter[str] = collections.Counter()
        self._keep = slowest
        self._slowest: list[tuple[float, int, dict[str, t.Any]]] = []
        self._order = itertools.count()
        self._began = time.monotonic()

    def add(self, record: t.Mapping[str, t.Any]) -> None:
        """Count one record."""
        self.requests += 1
        status = record_status(record)
        self.statuses["---" if status is None else str(status)] += 1
        if record_error(record) is not None:
            self.errors += 1
        if record.get("capture_errors"):
            self.degraded += 1
        duration = record.get("duration_ms")
        if not isinstance(duration, (int, float)):
            return
        slowest = self._slowest
        full = len(slowest) >= self._keep
        if full and not float(duration) > slowest[0][0]:
            return  # most requests are not among the slowest: no entry built
        request = record.get("request") or {}
        entry = {
            "duration_ms": float(duration),
            "method": request.get("method") or "?",
            "path": record_path(record),
            "status": status,
        }
        item = (float(duration), next(self._order), entry)
        if full:
            heapq.heapreplace(slowest, item)
        else:
            heapq.heappush(slowest, item)

    def drop(self, pid: t.Any, count: t.Any, reason: t.Any) -> bool:
        """Note a server process's count of records it could not write;
        whether this is the first loss heard of."""
        first = not self.dropped
        if isinstance(count, int) and count > self.dropped.get(pid, 0):
            self.dropped[pid] = count
        self.dropped_reason = str(reason)
        return first

    def as_dict(self) -> dict[str, t.Any]:
        """``{requests, errors, seconds, statuses: {code: count}, slowest: [...]}``."""
        return {
            "requests": self.requests,
            "errors": self.errors,
            "degraded": self.degraded,
            "dropped": sum(self.dropped.values()),
            "dropped_reason": self.dropped_reason,
            "seconds": time.monotonic() - self._began,
            "statuses": dict(sorted(self.statuses.items())),
            "slowest": [entry for _, _, entry in sorted(self._slowest, reverse=True)],
        }
