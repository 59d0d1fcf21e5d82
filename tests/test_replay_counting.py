"""The worker loop counts its requests in batches: the same figures as one by one."""

from __future__ import annotations

import random

import pytest

from wsgiscope.replay.stats import ENTRY_CAP, Stats


def _one_by_one(groups: list[int] | None, requests: list[tuple[int, int, int]]) -> Stats:
    stats = Stats()
    stats.groups = groups
    stats.group_names = ["GET /a", "GET /b", "GET /c"]
    for index, micros, code in requests:
        stats.record((micros + 0.5) / 1_000_000, code)
        stats.count_entry(index, micros, code >= 500)
    return stats


def _batched(groups: list[int] | None, requests: list[tuple[int, int, int]]) -> Stats:
    stats = Stats()
    stats.groups = groups
    stats.group_names = ["GET /a", "GET /b", "GET /c"]
    for start in range(0, len(requests), 64):
        for index, micros, code in requests[start : start + 64]:
            stats.count += 1
            if code >= 500:
                stats.errors += 1
            line = stats.lines.setdefault(f"{code} X", [code, 0])
            line[1] += 1
            stats.kept_indices.append(~index if code >= 500 else index)
            stats.kept_latencies.append(micros)
        if start + 64 < len(requests):  # the last batch is left to settle()
            stats.count_batch(stats.kept_indices, stats.kept_latencies)
            stats.hist.record_values([max(1, micros) for micros in stats.kept_latencies])
            stats.kept_indices.clear()
            stats.kept_latencies.clear()
    return stats


@pytest.mark.parametrize(
    ("sources", "groups", "failing"),
    [
        (1, None, 1),
        (1, "one", 0),
        (1, "one", 1),
        (100, "one", 0),
        (100, "three", 1),
        (3000, "three", 1),
    ],
)
def test_batches_count_what_one_by_one_counts(
    sources: int, groups: str | None, failing: int
) -> None:
    rng = random.Random(sources)
    by_index = {
        None: None,
        "one": [0] * sources,
        "three": [index % 3 for index in range(sources)],
    }[groups]
    requests = [
        (
            number % sources,
            rng.choice([0, 5, 63, 64, 100, 2049, 70_000]),
            rng.choice([200] * 9 + [503] * failing),
        )
        for number in range(sources * 2 + 37)
    ]
    expected, got = _one_by_one(by_index, requests), _batched(by_index, requests)
    merged, reference = Stats(), Stats()
    merged.merge(got)  # settles the requests still kept
    reference.merge(expected)
    expected = reference
    assert merged.count == expected.count
    assert merged.errors == expected.errors
    assert merged.per_entry == expected.per_entry
    assert len(merged.per_entry) <= ENTRY_CAP + 1
    assert merged.per_group == expected.per_group
    assert merged.codes == expected.codes
    assert merged.status == expected.status
    assert merged.hist.to_pairs() == expected.hist.to_pairs()


def test_an_unparsable_status_is_one_error_with_one_latency() -> None:
    from wsgiscope.replay import engine
    from wsgiscope.replay.plan import Mode, ReplayPlan
    from wsgiscope.replay.sources import ReplayRequest

    def app(environ: dict[str, object], start_response: object) -> list[bytes]:
        start_response("abc", [])  # type: ignore[operator]
        return [b""]

    entries = engine.prepare([ReplayRequest("GET", "/")], app)
    plan = ReplayPlan(requests=5, check=False)
    shared = engine.make_shared(app, entries, Mode(), plan)
    engine.start(shared, plan)
    stats = Stats()
    engine.worker_loop(shared, stats, 1)
    result = engine.finish(shared, [stats], False)
    assert result.stats.count == 5
    assert result.stats.errors == 5
    assert result.stats.exceptions == {"ValueError": 5}
    assert result.stats.hist.total() == 5
    assert result.stats.per_entry[0][:2] == [5, 5]
    assert result.stats.codes == {}


def test_the_setup_garbage_is_collected_before_the_clock_starts(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A full collection of what the baseline left must not fall in the
    # measured run: start() collects after the baseline and the warm-up.
    import gc

    from wsgiscope.replay import engine
    from wsgiscope.replay.plan import Mode, ReplayPlan
    from wsgiscope.replay.sources import ReplayRequest

    events: list[str] = []

    def app(environ: dict[str, object], start_response: object) -> list[bytes]:
        events.append("request")
        start_response("200 OK", [])  # type: ignore[operator]
        return [b"ok"]

    monkeypatch.setattr(gc, "collect", lambda *args: events.append("collect") or 0)
    entries = engine.prepare([ReplayRequest("GET", "/")], app)
    plan = ReplayPlan(requests=1, warmup=1)
    shared = engine.make_shared(app, entries, Mode(), plan)
    shared.ready = lambda shared: events.append("ready")
    engine.start(shared, plan)
    # two baseline answers and one warm-up request, then the collection
    assert events == ["request", "request", "request", "collect", "ready"]
