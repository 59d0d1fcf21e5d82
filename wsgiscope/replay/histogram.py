"""A fixed-size latency histogram: three significant digits, no dependency.

Values are integers (microseconds) from 1 to 2**32 - 1. Below 2048 every
value has its own counter; above, each power of two is split into 1024
equal sub-buckets, so a recorded value is known to within 1/1024 (0.1%,
three significant digits) whatever its size. That is 23,552 counters in
all (a list of about 190 KB), whatever the number of values recorded: a
ten-million-request replay uses the memory a ten-request one does. Values
read back (percentiles, the maximum) are the highest value of their bucket,
as an HDR histogram reports them.

This replaces the ``hdrhistogram`` package, whose releases require
``setuptools`` (and ``pbr``) at run time and so upgraded the setuptools a
project had pinned.
"""

from __future__ import annotations

import math
import typing as t

#: Values below this have a counter each.
_EXACT = 2048
#: Sub-buckets per power of two above :data:`_EXACT`.
_SUB = 1024
#: The largest value that can be recorded.
HIGHEST = 2**32 - 1
_SIZE = (HIGHEST.bit_length() - 11) * _SUB + 2 * _SUB


def bucket_of(value: int) -> int:
    """The counter index of ``value`` (1 <= value <= :data:`HIGHEST`)."""
    if value < _EXACT:
        return value
    shift = value.bit_length() - 11
    return shift * _SUB + (value >> shift)


def highest_in(index: int) -> int:
    """The highest value that lands in counter ``index``."""
    if index < _EXACT:
        return index
    shift, top = divmod(index, _SUB)  # index = (shift + 1) * 1024 + (top - 1024)
    shift -= 1
    top += _SUB
    return ((top + 1) << shift) - 1


class Histogram:
    """Counts of values in fixed buckets; :meth:`record_value` is the hot path."""

    __slots__ = ("counts",)

    def __init__(self) -> None:
        self.counts = [0] * _SIZE

    def record_value(self, value: int) -> None:
        """Count ``value`` (an int from 1 to :data:`HIGHEST`)."""
        if value < _EXACT:
            self.counts[value] += 1
        else:
            shift = value.bit_length() - 11
            self.counts[shift * _SUB + (value >> shift)] += 1

    def record_values(self, values: t.Iterable[int]) -> None:
        """:meth:`record_value` of each of ``values``, in one call."""
        counts = self.counts
        for value in values:
            if value < _EXACT:
                counts[value] += 1
            else:
                shift = value.bit_length() - 11
                counts[shift * _SUB + (value >> shift)] += 1

    def add(self, other: Histogram) -> None:
        """Add ``other``'s counts to these."""
        counts = self.counts
        for index, count in other.recorded():
            counts[index] += count

    def recorded(self) -> t.Iterator[tuple[int, int]]:
        """``(index, count)`` of every non-empty counter, lowest first."""
        return ((i, c) for i, c in enumerate(self.counts) if c)

    def total(self) -> int:
        """How many values were recorded."""
        return sum(self.counts)

    def to_pairs(self) -> list[tuple[int, int]]:
        """The non-empty counters, compact and picklable (see :meth:`from_pairs`)."""
        return list(self.recorded())

    @classmethod
    def from_pairs(cls, pairs: t.Iterable[t.Sequence[int]]) -> Histogram:
        """The histogram :meth:`to_pairs` described."""
        histogram = cls()
        for index, count in pairs:
            histogram.counts[index] += count
        return histogram

    def get_min_value(self) -> int:
        """The lowest recorded value (its bucket's highest value); 0 when empty."""
        return next((highest_in(i) for i, _ in self.recorded()), 0)

    def get_max_value(self) -> int:
        """The highest recorded value (its bucket's highest value); 0 when empty."""
        counts = self.counts
        for index in range(len(counts) - 1, -1, -1):
            if counts[index]:
                return highest_in(index)
        return 0

    def get_value_at_percentile(self, percentile: float) -> int:
        """The value below or at which ``percentile`` % of the values lie."""
        total = self.total()
        if not total:
            return 0
        wanted = max(1, math.ceil(min(percentile, 100.0) / 100 * total - 1e-9))
        seen = 0
        last = 0
        for index, count in self.recorded():
            seen += count
            last = index
            if seen >= wanted:
                break
        return highest_in(last)

    def values(self) -> t.Iterator[tuple[int, int]]:
        """``(value, count)`` of every non-empty bucket, lowest first."""
        return ((highest_in(i), c) for i, c in self.recorded())
