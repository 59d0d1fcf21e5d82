"""wsgiscope's own latency histogram (replacing hdrhistogram): exact below
2048, within 1/1024 above, fixed size, percentiles as an HDR histogram
reports them (the highest value of the bucket)."""

from __future__ import annotations

import math
import random

from wsgiscope.replay.histogram import HIGHEST, Histogram, bucket_of, highest_in


def test_buckets_cover_every_value_within_a_thousandth() -> None:
    rng = random.Random(16)
    values = [*range(1, 5000), *(rng.randint(1, HIGHEST) for _ in range(20_000)), HIGHEST]
    for value in values:
        index = bucket_of(value)
        top = highest_in(index)
        assert value <= top <= value + value // 1024
        assert bucket_of(top) == index
    assert bucket_of(HIGHEST) == len(Histogram().counts) - 1


def test_percentiles_match_the_sorted_values() -> None:
    rng = random.Random(3)
    values = [min(HIGHEST, int(rng.lognormvariate(7, 2)) + 1) for _ in range(50_000)]
    histogram = Histogram()
    for value in values:
        histogram.record_value(value)
    ordered = sorted(values)
    for percentile in (0.1, 50, 90, 99, 99.9, 100):
        exact = ordered[max(1, math.ceil(round(percentile / 100 * len(values), 6))) - 1]
        found = histogram.get_value_at_percentile(percentile)
        assert exact <= found <= exact + exact // 1024, percentile
    assert histogram.get_max_value() >= ordered[-1]
    assert histogram.get_min_value() == ordered[0]  # exact below 2048
    assert histogram.total() == len(values)
    assert sum(count for _, count in histogram.values()) == len(values)


def test_merge_and_pairs_round_trip() -> None:
    one, two = Histogram(), Histogram()
    for value in (1, 5, 5, 3000):
        one.record_value(value)
    for value in (5, 10**9):
        two.record_value(value)
    restored = Histogram.from_pairs(two.to_pairs())
    one.add(restored)
    assert one.total() == 6
    assert one.get_value_at_percentile(50) == 5
    assert 10**9 <= one.get_max_value() <= 10**9 + 10**9 // 1024
    assert Histogram().get_value_at_percentile(50) == 0
    assert Histogram().get_max_value() == 0
