"""Replay statistics: percentiles, merging across workers, bounded memory."""

from __future__ import annotations

import gc
import tracemalloc

from wsgiscope.replay.stats import Stats


def test_percentiles_status_classes_and_errors() -> None:
    stats = Stats()
    for ms in range(1, 101):
        stats.record(ms / 1000, 200 if ms <= 90 else 503)
    stats.record_exception(0.5, ValueError("bad"), "GET /x")
    assert stats.count == 101
    assert stats.errors == 11
    assert stats.status_classes() == {"2xx": 90, "5xx": 10}
    assert stats.exceptions == {"ValueError": 1}
    assert stats.examples == ["GET /x: ValueError: bad"]
    latency = stats.latency_ms()
    assert 49.5 <= latency["p50"] <= 51.5
    assert 89.5 <= latency["p90"] <= 91.5
    assert 99.5 <= latency["p99"] <= 100.5
    assert 499 <= latency["max"] <= 501
    buckets = stats.histogram(8)
    assert len(buckets) == 8
    assert sum(count for _, count in buckets) == 101
    assert buckets[-1][0] >= 499


def test_merge_and_payload_round_trip() -> None:
    one, two = Stats(), Stats()
    one.record(0.001, 200)
    one.idents.add((1, 10))
    two.record(0.003, 404)
    two.record_exception(0.002, KeyError("k"), "GET /k")
    two.idents.add((2, 10))
    two.max_in_flight = 7
    restored = Stats.from_payload(two.to_payload())
    assert restored.count == 2
    assert restored.idents == {(2, 10)}
    one.merge(restored)
    assert one.count == 3
    assert one.errors == 1
    assert one.status_classes() == {"2xx": 1, "4xx": 1}
    assert one.idents == {(1, 10), (2, 10)}
    assert one.max_in_flight == 7
    assert 2.99 <= one.latency_ms()["max"] <= 3.01


def _allocated_after(requests: int) -> int:
    gc.collect()
    tracemalloc.start()
    try:
        stats = Stats()
        for index in range(requests):
            stats.record((index % 5000) / 1_000_000 + 0.0001, 200)
        current, _ = tracemalloc.get_traced_memory()
        assert stats.count == requests
        return current
    finally:
        tracemalloc.stop()


def test_memory_does_not_grow_with_the_request_count() -> None:
    small = _allocated_after(1_000)
    large = _allocated_after(100_000)
    # a list of 100,000 latencies alone would take 800 KB or more
    assert large - small < 16_000


def test_a_whole_replay_does_not_grow_with_the_request_count() -> None:
    # The whole engine (environ copies, checks, in-flight tracking, merging),
    # not the histogram alone: ten times the requests, the same peak memory.
    from replay_fixtures import APPS

    from wsgiscope.loading import AppRef
    from wsgiscope.replay.plan import Mode, ReplayPlan
    from wsgiscope.replay.runner import AppHandle, run_mode
    from wsgiscope.replay.sources import ReplayRequest

    handle = AppHandle(AppRef("replay_plain", "argument", APPS))
    requests = [ReplayRequest("GET", "/a", "x=1"), ReplayRequest("GET", "/b")]
    mode = Mode("threads", 2)

    def peak(count: int) -> int:
        gc.collect()
        tracemalloc.start()
        try:
            result = run_mode(handle, requests, mode, ReplayPlan(requests=count))
            assert result.stats.count == count
            return tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()

    peak(500)  # imports and first-use caches
    small, large = peak(2_000), peak(20_000)
    # 18,000 more requests kept anywhere would take megabytes
    assert large - small < 64_000
