"""serve's summary and the "raised" verdict on records read from a file,
checked against the plain definitions they shortcut.

``Summary.add`` builds the entry of a request (its decoded path) only when
it enters the slowest five, and ``record_raised`` looks only at the events
``judge`` reads (hooks and exceptions): the results are those of building
every entry and judging every event.
"""

from __future__ import annotations

import heapq
import itertools
import typing as t

from hypothesis import given
from hypothesis import strategies as st

from tests.test_hostile_tail import PATHS, REAL, _mutate, fuzz, json_values
from wsgiscope.outcome import judge, record_raised
from wsgiscope.serving.summary import Summary
from wsgiscope.tailing import record_path, record_status


def _every_entry_slowest(records: list[dict[str, t.Any]], keep: int = 5) -> list[t.Any]:
    """The slowest requests as Summary kept them before: an entry per record."""
    heap: list[t.Any] = []
    order = itertools.count()
    for record in records:
        duration = record.get("duration_ms")
        if isinstance(duration, (int, float)):
            request = record.get("request") or {}
            entry = {
                "duration_ms": float(duration),
                "method": request.get("method") or "?",
                "path": record_path(record),
                "status": record_status(record),
            }
            item = (float(duration), next(order), entry)
            if len(heap) < keep:
                heapq.heappush(heap, item)
            elif item[0] > heap[0][0]:
                heapq.heapreplace(heap, item)
    return [entry for _, _, entry in sorted(heap, reverse=True)]


durations = st.one_of(
    st.none(),
    st.sampled_from([0, 1, 1.0, 2.5, 2.5, 7]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(-5, 50),
    st.text(max_size=2),
)


@fuzz
@given(st.lists(st.tuples(durations, st.sampled_from(["/a", "/b", "/caf\xc3\xa9"])), max_size=40))
def test_the_slowest_are_those_of_an_entry_per_record(items: list[tuple[t.Any, str]]) -> None:
    records = [
        {**REAL, "duration_ms": duration, "id": str(n), "request": {**REAL["request"], "path": p}}
        for n, (duration, p) in enumerate(items)
    ]
    summary = Summary()
    for record in records:
        summary.add(record)
    assert summary.as_dict()["slowest"] == _every_entry_slowest(records)
    assert summary.requests == len(records)


@fuzz
@given(path=st.sampled_from(PATHS), value=json_values)
def test_record_raised_is_judge_of_every_event(path: tuple[t.Any, ...], value: t.Any) -> None:
    record = _mutate(REAL, path, value)
    record["error"] = None if path[:1] != ("error",) else record.get("error")
    events = record.get("events")
    assert record_raised(record) == judge(
        record.get("error"), events if isinstance(events, list) else ()
    )


def _verdict(events: list[t.Any]) -> tuple[str, str] | None:
    found = record_raised({"events": events})
    return None if found is None else (found.kind, found.message)


def test_a_raising_hook_among_many_events_is_found() -> None:
    hook = {"kind": "hook", "hook": "view", "function": "m.v", "raised": "E: boom"}
    teardown = {"kind": "hook", "hook": "teardown_request", "exception": "E: boom"}
    other = [{"kind": "signal", "name": "x", "raised": "not a hook"}, 5, None, {"kind": ["hook"]}]
    assert _verdict([*other, hook, *other, teardown]) == ("raised", "E: boom")
    assert _verdict([*other, teardown]) == ("teardown", "E: boom")
    assert _verdict(other) is None
    escaped = {"kind": "exception", "type": "E", "message": "in the body"}
    assert _verdict([*other, teardown, escaped]) == ("raised", "E: in the body")
