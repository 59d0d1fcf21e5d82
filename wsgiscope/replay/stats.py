"""Bounded-memory replay statistics.

Each worker loop owns one :class:`Stats` and records into it without locks;
the runner merges them (and those sent back by worker processes as
:meth:`Stats.to_payload`) at the end. Latencies go into a fixed-size
histogram (:mod:`wsgiscope.replay.histogram`): microsecond resolution, three
significant digits, up to an hour, in a fixed ~190 KB whatever the request
count, so a ten-million-request run uses the memory a ten-request run does. Error
exception types are counted by name; the first few examples are kept.
"""

from __future__ import annotations

import math
import typing as t

from wsgiscope.redact import cap
from wsgiscope.replay.histogram import Histogram

#: Characters kept of one error example (the exception message can be huge).
EXAMPLE_CAP = 500

#: Highest latency the histogram tracks, in microseconds (one hour).
HIGHEST_US = 3_600_000_000
#: Significant digits kept for every latency.
DIGITS = 3


def new_histogram() -> Histogram:
    """An empty latency histogram (microseconds)."""
    return Histogram()


def clamped(latencies: list[int]) -> list[int]:
    """``latencies`` (us), each brought into the histogram's range
    (1 to :data:`HIGHEST_US`): the list itself when all are."""
    if latencies and (min(latencies) < 1 or max(latencies) > HIGHEST_US):
        return [max(1, min(micros, HIGHEST_US)) for micros in latencies]
    return latencies


#: Distinct source requests one worker counts separately (``endpoints``).
ENTRY_CAP = 1000
#: The index the requests beyond :data:`ENTRY_CAP` are counted under.
OTHER_ENTRIES = -1


#: Per-endpoint latencies are kept coarser than the run's: values below
#: this exactly, above it 32 buckets per power of two (3% precision), at
#: most ~900 counters per endpoint whatever the request count.
GROUP_EXACT = 64


def group_bucket_high(bucket: int) -> int:
    """The highest latency (us) that lands in per-endpoint ``bucket``."""
    if bucket < GROUP_EXACT:
        return bucket
    shift, top = bucket >> 6, bucket & 63
    return ((top + 1) << shift) - 1


class Stats:
    """Counts and latencies of the requests one worker (or one run) served.

    ``status[k]`` counts responses with status ``k``xx (``k`` 1 to 5; 0 for
    none); ``exceptions`` counts exceptions the app raised, by type name.
    An error is a 5xx response or an exception.
    """

    #: The latency histogram, made on first use (a worker that serves
    #: nothing costs no ~190 KB histogram).
    _hist: Histogram | None = None
    #: ``(groups, the one group they all are or None)``, for :meth:`count_batch`.
    _one_group: tuple[list[int], int | None] | None = None

    @property
    def hist(self) -> Histogram:
        hist = self._hist
        if hist is None:
            hist = self._hist = new_histogram()
        return hist

    @hist.setter
    def hist(self, value: Histogram) -> None:
        self._hist = value

    def __init__(self) -> None:
        self.count = 0
        self.errors = 0
        self.status = [0] * 6
        self.exceptions: dict[str, int] = {}
        self.examples: list[str] = []
        self.max_in_flight = 0
        self.idents: set[tuple[int, int]] = set()
        #: Characters the app wrote to ``wsgi.errors``, and the first lines.
        self.wsgi_errors = 0
        self.wsgi_errors_head: list[str] = []
        #: Per source request (its index): ``[count, errors, total us, max us]``.
        self.per_entry: dict[int, list[int]] = {}
        #: Responses by exact status code (``status`` counts them by class).
        self.codes: dict[int, int] = {}
        #: Per request index, its endpoint group (see :mod:`wsgiscope.replay.report`),
        #: and the groups' names; ``None`` when not grouped.
        self.groups: list[int] | None = None
        self.group_names: list[str] = []
        #: Per group: ``[count, errors, total us, max us, min us, {bucket: count}]``.
        self.per_group: dict[int, list[t.Any]] = {}
        #: What a worker loop keeps of each request before counting it
        #: (:meth:`count_batch`, :meth:`settle`): the source request's index
        #: (``~index`` for an error) and the latency (us); and per status line
        #: ``[code, requests]`` (:meth:`count_codes`; keyed by the code itself
        #: beyond the first few lines). ``count`` and ``errors`` are counted
        #: at once: the progress reads them.
        self.kept_indices: list[int] = []
        self.kept_latencies: list[int] = []
        self.lines: dict[str | int, list[int]] = {}

    def record(self, latency_s: float, status_code: int) -> None:
        """One response: its latency and status code."""
        self.count += 1
        self.hist.record_value(max(1, min(int(latency_s * 1_000_000), HIGHEST_US)))
        self.status[status_code // 100 if 0 < status_code < 600 else 0] += 1
        self.codes[status_code] = self.codes.get(status_code, 0) + 1
        if status_code >= 500:
            self.errors += 1

    def record_exception(
        self, latency_s: float, exc: BaseException, where: str, latency: bool = True
    ) -> None:
        """A request whose app call raised ``exc`` (its latency recorded here
        unless ``latency`` is false: the caller keeps it)."""
        self.count += 1
        self.errors += 1
        if latency:
            self.hist.record_value(max(1, min(int(latency_s * 1_000_000), HIGHEST_US)))
        name = type(exc).__name__
        self.exceptions[name] = self.exceptions.get(name, 0) + 1
        if len(self.examples) < 5:
            self.examples.append(cap(f"{where}: {name}: {exc}", EXAMPLE_CAP))

    def settle(self) -> None:
        """Count what a worker loop kept and has not counted yet (all of it,
        once the loop ended; its last requests, for a worker left in a
        request the app did not finish): the latencies into :attr:`hist`."""
        self.count_codes(self.lines.values())
        self.count_kept(lambda latencies: self.hist.record_values(latencies))

    def count_kept(self, record_latencies: t.Callable[[list[int]], None]) -> None:
        """Count the requests a worker loop kept (:meth:`count_batch`), hand
        their latencies (in the histogram's range) to ``record_latencies``,
        and forget them."""
        kept, latencies = self.kept_indices, self.kept_latencies
        if len(kept) != len(latencies):  # a Ctrl-C between the two appends
            del kept[len(latencies) :], latencies[len(kept) :]
        if latencies:
            self.count_batch(kept, latencies)
            record_latencies(clamped(latencies))
            kept.clear()
            latencies.clear()

    def merge(self, other: Stats) -> None:
        """Add ``other``'s counts and latencies to these."""
        other.settle()
        if other._hist is not None:
            self.hist.add(other._hist)
        self.count += other.count
        self.errors += other.errors
        self.status = [a + b for a, b in zip(self.status, other.status, strict=True)]
        for name, count in other.exceptions.items():
            self.exceptions[name] = self.exceptions.get(name, 0) + count
        self.examples.extend(other.examples[: max(0, 5 - len(self.examples))])
        self.max_in_flight = max(self.max_in_flight, other.max_in_flight)
        self.idents |= other.idents
        self.wsgi_errors += other.wsgi_errors
        if not self.wsgi_errors_head:
            self.wsgi_errors_head = list(other.wsgi_errors_head)
        for index, row in other.per_entry.items():
            mine = self.per_entry.setdefault(index, [0, 0, 0, 0])
            mine[0] += row[0]
            mine[1] += row[1]
            mine[2] += row[2]
            mine[3] = max(mine[3], row[3])
        for code, count in other.codes.items():
            self.codes[code] = self.codes.get(code, 0) + count
        for index, grouped in other.per_group.items():
            self._merge_group(other.group_names[index], grouped)

    def _merge_group(self, name: str, row: list[t.Any]) -> None:
        """Add another worker's row of endpoint group ``name`` (matched by name)."""
        if name in self.group_names:
            group = self.group_names.index(name)
        else:
            group = len(self.group_names)
            self.group_names.append(name)
        mine = self.per_group.get(group)
        if mine is None:
            self.per_group[group] = [row[0], row[1], row[2], row[3], row[4], dict(row[5])]
            return
        mine[0] += row[0]
        mine[1] += row[1]
        mine[2] += row[2]
        mine[3] = max(mine[3], row[3])
        mine[4] = min(mine[4], row[4])
        buckets: dict[int, int] = mine[5]
        for bucket, count in row[5].items():
            buckets[bucket] = buckets.get(bucket, 0) + count

    def to_payload(self) -> dict[str, t.Any]:
        """Picklable and compact: the histogram as its non-empty counters."""
        self.settle()
        return {
            "hist": self.hist.to_pairs(),
            "count": self.count,
            "errors": self.errors,
            "status": self.status,
            "exceptions": self.exceptions,
            "examples": self.examples,
            "max_in_flight": self.max_in_flight,
            "idents": sorted(self.idents),
            "wsgi_errors": self.wsgi_errors,
            "wsgi_errors_head": self.wsgi_errors_head,
            "per_entry": self.per_entry,
            "codes": self.codes,
            "group_names": self.group_names,
            "per_group": self.per_group,
        }

    @classmethod
    def from_payload(cls, payload: dict[str, t.Any]) -> Stats:
        """The inverse of :meth:`to_payload`."""
        stats = cls()
        stats.hist = Histogram.from_pairs(payload["hist"])
        stats.count = payload["count"]
        stats.errors = payload["errors"]
        stats.status = list(payload["status"])
        stats.exceptions = dict(payload["exceptions"])
        stats.examples = list(payload["examples"])
        stats.max_in_flight = payload["max_in_flight"]
        stats.idents = {tuple(i) for i in payload["idents"]}
        stats.wsgi_errors = payload["wsgi_errors"]
        stats.wsgi_errors_head = list(payload["wsgi_errors_head"])
        stats.per_entry = {k: list(v) for k, v in payload.get("per_entry", {}).items()}
        stats.codes = dict(payload.get("codes", {}))
        stats.group_names = list(payload.get("group_names", []))
        stats.per_group = {k: list(v) for k, v in payload.get("per_group", {}).items()}
        return stats

    def count_entry(self, index: int, micros: int, error: bool) -> None:
        """One request of source request ``index``: its latency and whether it errored.

        A worker counts at most :data:`ENTRY_CAP` distinct requests separately
        (memory stays near the histogram's); later ones go to index -1,
        "(other requests)".
        """
        groups = self.groups
        if groups is not None:
            self._count_group(groups[index], micros, error)
        row = self.per_entry.get(index)
        if row is None:
            if len(self.per_entry) >= ENTRY_CAP:
                index = OTHER_ENTRIES
                row = self.per_entry.get(index)
            if row is None:
                row = self.per_entry[index] = [0, 0, 0, 0]
        row[0] += 1
        row[1] += error
        row[2] += micros
        if micros > row[3]:
            row[3] = micros

    def count_batch(self, indices: list[int], latencies: list[int]) -> None:
        """Requests in bulk, what a worker loop kept of each: its source
        request's index (``~index`` for an error: a 5xx or an exception) and
        its latency (us); :meth:`count_entry` for each.

        The counts of :meth:`record` (``count``, ``errors``, status codes)
        are the caller's to keep: they are read while the run goes on.
        """
        groups = self.groups
        if groups is not None:
            if self._one_group is None or self._one_group[0] is not groups:
                self._one_group = (groups, groups[0] if len(set(groups)) == 1 else None)
            group = self._one_group[1]
            if group is not None and latencies and min(indices) >= 0:
                self._count_one_group(group, latencies)
            else:
                for index, micros in zip(indices, latencies, strict=True):
                    if index < 0:
                        self._count_group(groups[~index], micros, True)
                    else:
                        self._count_group(groups[index], micros, False)
        per_entry = self.per_entry
        entry_row = per_entry.get
        for index, micros in zip(indices, latencies, strict=True):
            error = index < 0
            if error:
                index = ~index
            row = entry_row(index)
            if row is None:
                if len(per_entry) >= ENTRY_CAP:
                    index = OTHER_ENTRIES
                    row = entry_row(index)
                if row is None:
                    row = per_entry[index] = [0, 0, 0, 0]
            row[0] += 1
            if error:
                row[1] += 1
            row[2] += micros
            if micros > row[3]:
                row[3] = micros

    def _count_one_group(self, group: int, latencies: list[int]) -> None:
        """:meth:`_count_group` of a batch of requests of one group, none an
        error: the sums and extremes by builtins, only the buckets one by one."""
        row = self.per_group.get(group)
        if row is None:
            row = self.per_group[group] = [0, 0, 0, 0, latencies[0], {}]
        row[0] += len(latencies)
        row[2] += sum(latencies)
        high, low = max(latencies), min(latencies)
        if high > row[3]:
            row[3] = high
        if low < row[4]:
            row[4] = low
        buckets = row[5]
        for micros in latencies:
            if micros < GROUP_EXACT:
                bucket = micros
            else:
                shift = micros.bit_length() - 6
                bucket = (shift << 6) + (micros >> shift)
            buckets[bucket] = buckets.get(bucket, 0) + 1

    def count_codes(self, lines: t.Iterable[list[int]]) -> None:
        """Add ``[code, count]`` rows (see :attr:`lines`) to the status code
        counts of :meth:`record`, and set each count to 0."""
        status, codes = self.status, self.codes
        for line in lines:
            code, count = line
            if count:
                status[code // 100 if 0 < code < 600 else 0] += count
                codes[code] = codes.get(code, 0) + count
                line[1] = 0

    def _count_group(self, group: int, micros: int, error: bool) -> None:
        """One request of endpoint group ``group`` (see :data:`GROUP_EXACT`)."""
        row = self.per_group.get(group)
        if row is None:
            row = self.per_group[group] = [0, 0, 0, 0, micros, {}]
        row[0] += 1
        row[1] += error
        row[2] += micros
        if micros > row[3]:
            row[3] = micros
        if micros < row[4]:
            row[4] = micros
        if micros < GROUP_EXACT:
            bucket = micros
        else:
            shift = micros.bit_length() - 6
            bucket = (shift << 6) + (micros >> shift)
        buckets = row[5]
        buckets[bucket] = buckets.get(bucket, 0) + 1

    def endpoints(
        self, describe: t.Callable[[int], str], limit: int = 50
    ) -> list[dict[str, t.Any]]:
        """Requests, errors, mean and max latency (ms) per distinct request,
        ``describe(index)`` naming a source request; the ``limit`` busiest."""
        merged: dict[str, list[int]] = {}
        for index, row in self.per_entry.items():
            name = "(other requests)" if index == OTHER_ENTRIES else describe(index)
            mine = merged.setdefault(name, [0, 0, 0, 0])
            mine[0] += row[0]
            mine[1] += row[1]
            mine[2] += row[2]
            mine[3] = max(mine[3], row[3])
        busiest = sorted(merged.items(), key=lambda item: (-item[1][0], item[0]))[:limit]
        return [
            {
                "request": name,
                "requests": row[0],
                "errors": row[1],
                "mean_ms": round(row[2] / row[0] / 1000, 3) if row[0] else 0.0,
                "max_ms": round(row[3] / 1000, 3),
            }
            for name, row in busiest
        ]

    def status_classes(self) -> dict[str, int]:
        """``{"2xx": n, ...}`` for the classes seen (``"none"`` for no status)."""
        names = ["none", "1xx", "2xx", "3xx", "4xx", "5xx"]
        return {names[i]: n for i, n in enumerate(self.status) if n}

    def latency_ms(self) -> dict[str, float]:
        """min, mean, p50, p90, p95, p99, p99.9 and max, in milliseconds."""
        names = ("min", "mean", "p50", "p90", "p95", "p99", "p999", "max")
        if not self.count:
            return dict.fromkeys(names, 0.0)
        value = self.hist.get_value_at_percentile
        total_us = sum(row[2] for row in self.per_entry.values())
        return {
            "min": self.hist.get_min_value() / 1000,
            "mean": total_us / self.count / 1000,
            "p50": value(50) / 1000,
            "p90": value(90) / 1000,
            "p95": value(95) / 1000,
            "p99": value(99) / 1000,
            "p999": value(99.9) / 1000,
            "max": self.hist.get_max_value() / 1000,
        }

    def histogram(self, buckets: int = 12) -> list[tuple[float, int]]:
        """``(upper bound ms, count)`` over log-spaced buckets, min to max."""
        if not self.count:
            return []
        low = max(1, self.hist.get_min_value())
        high = max(low + 1, self.hist.get_max_value())
        step = (math.log(high) - math.log(low)) / buckets
        bounds = [low * math.exp(step * (i + 1)) for i in range(buckets)]
        counts = [0] * buckets
        for value, count in self.hist.values():
            index = 0
            while index < buckets - 1 and value > bounds[index]:
                index += 1
            counts[index] += count
        return [(bound / 1000, count) for bound, count in zip(bounds, counts, strict=True)]
