"""The load-tool report of ``replay``: endpoint rows, status codes, thresholds.

What hey, oha, wrk, k6 and Locust print and ``replay`` adds to its summary:

- :func:`endpoint_groups` names each source request by the rule that answers
  it (:func:`rule_name`, as the Locust users name it; once per distinct request, never
  per replayed request) and caps the groups at :data:`GROUP_CAP`; the worker
  loops count each group's latencies in a small histogram
  (:meth:`wsgiscope.replay.stats.Stats._count_group`), and
  :func:`endpoint_rows` turns them into Locust's main table;
- :func:`parse_threshold` / :func:`failed_thresholds`: k6-style
  ``--fail-if 'p95>50ms'`` checks over a summary;
- :func:`concurrency_warning`: the concurrency reached far below the one asked.

The CSV and HDR log files are :mod:`wsgiscope.replay.files`.
"""

from __future__ import annotations

import dataclasses
import math
import operator
import re
import typing as t

from wsgiscope.errors import UsageError
from wsgiscope.replay.engine import drain
from wsgiscope.replay.stats import Stats, group_bucket_high

if t.TYPE_CHECKING:
    from wsgiscope.replay.plan import Mode
    from wsgiscope.replay.sources import ReplayRequest

#: Endpoint groups counted separately; the requests of later ones are "(other)".
GROUP_CAP = 100
OTHER = "(other)"


def rule_name(app: t.Any, request: ReplayRequest) -> str:
    """The rule that answers ``request``, with its mount prefix; the path
    itself for an app without a route table (or one that cannot be matched)."""
    from wsgiscope.routing import match

    if app is None:
        return request.path
    try:
        resolution = match(app, request.method, request.path, request.host)
    except Exception:
        return request.path
    result = resolution.result
    if result is None:  # an opaque app: no rule to group by
        return request.path
    route = result.route
    if route is None:
        return f"(no route: {result.status})"
    return str(route.path)


def endpoint_groups(app: t.Any, requests: t.Sequence[ReplayRequest]) -> tuple[list[int], list[str]]:
    """``(group of each request, group names)``: ``"GET /items/<int:id>"``.

    The rule is resolved once per distinct (method, path, host); at most
    :data:`GROUP_CAP` groups, the rest share :data:`OTHER`.
    """
    by_request: dict[tuple[str, str, str | None], int] = {}
    by_name: dict[str, int] = {}
    names: list[str] = []
    groups: list[int] = []
    for request in requests:
        key = (request.method, request.path, request.host)
        group = by_request.get(key)
        if group is None:
            name = f"{request.method} {rule_name(app, request)}"
            group = by_name.get(name)
            if group is None:
                if len(names) >= GROUP_CAP:
                    name = OTHER
                    group = by_name.get(name)
                if group is None:
                    group = by_name[name] = len(names)
                    names.append(name)
            by_request[key] = group
        groups.append(group)
    return groups, names


def _percentile(buckets: dict[int, int], total: int, percentile: float, high: int) -> int:
    """The bucket's highest value, never above the exact maximum ``high``."""
    wanted = max(1, math.ceil(percentile / 100 * total - 1e-9))
    seen = 0
    last = 0
    for bucket in sorted(buckets):
        seen += buckets[bucket]
        last = bucket
        if seen >= wanted:
            break
    return min(group_bucket_high(last), high)


def endpoint_rows(stats: Stats, duration_s: float, limit: int = 50) -> list[dict[str, t.Any]]:
    """Per endpoint: requests, errors, rps, min/mean/p50/p95/p99/max (ms), busiest first."""
    rows = []
    for group, row in stats.per_group.items():
        count, errors, total, high, low, buckets = row
        if not count:
            continue
        method, _, rule = stats.group_names[group].partition(" ")
        rows.append(
            {
                "name": stats.group_names[group],
                "method": method if rule else "",
                "rule": rule or method,
                "requests": count,
                "errors": errors,
                "rps": round(count / duration_s, 1) if duration_s else 0.0,
                "min_ms": round(max(low, 0) / 1000, 3),
                "mean_ms": round(total / count / 1000, 3),
                "p50_ms": round(_percentile(buckets, count, 50, high) / 1000, 3),
                "p95_ms": round(_percentile(buckets, count, 95, high) / 1000, 3),
                "p99_ms": round(_percentile(buckets, count, 99, high) / 1000, 3),
                "max_ms": round(high / 1000, 3),
            }
        )
    rows.sort(key=lambda r: (-r["requests"], r["name"]))
    return rows[:limit]


def status_codes(stats: Stats) -> dict[str, int]:
    """``{"200": 7, "404": 1}``, by code (``"none"`` for a response without one)."""
    return {(str(code) if code else "none"): n for code, n in sorted(stats.codes.items())}


# -- thresholds ---------------------------------------------------------------

_LATENCY = {
    "p50": "p50",
    "median": "p50",
    "p90": "p90",
    "p95": "p95",
    "p99": "p99",
    "p99.9": "p999",
    "p999": "p999",
    "max": "max",
    "min": "min",
    "mean": "mean",
    "avg": "mean",
}
_OTHER = ("errors", "timeouts", "rps", "requests")
_OPS: dict[str, t.Callable[[float, float], bool]] = {
    ">=": operator.ge,
    "<=": operator.le,
    ">": operator.gt,
    "<": operator.lt,
    "==": operator.eq,
}
_EXPR = re.compile(r"^\s*([a-z0-9.]+)\s*(>=|<=|==|>|<)\s*(.+?)\s*$", re.IGNORECASE)


@dataclasses.dataclass(frozen=True)
class Threshold:
    """``metric op value``: the run fails when it holds (``p95>50ms``)."""

    text: str
    metric: str
    op: str
    #: Milliseconds for latencies, a count or a percentage, requests/s.
    value: float
    percent: bool = False

    def actual(self, summary: dict[str, t.Any]) -> float:
        """The summary's value of the metric, in the threshold's unit."""
        if self.metric in _LATENCY:
            return float(summary["latency_ms"][_LATENCY[self.metric]])
        if self.metric == "rps":
            return float(summary.get("throughput_rps", 0.0))
        count = float(summary.get(self.metric, 0) or 0)
        if self.percent:
            total = summary.get("requests") or 0
            return 100.0 * count / total if total else 0.0
        return count

    def describe(self, actual: float) -> str:
        """``p95>50ms (p95 was 73.20ms)``."""
        from wsgiscope.units import format_duration

        if self.metric in _LATENCY:
            shown = format_duration(actual)
        elif self.percent:
            shown = f"{actual:.2f}%"
        else:
            shown = f"{actual:g}"
        return f"{self.text} ({self.metric} was {shown})"


def parse_threshold(text: str) -> Threshold:
    """``p95>50ms``, ``errors>1%``, ``errors>0``, ``rps<100``, ``max>=1s``.

    :raises UsageError: for anything else (one line, exit 2).
    """
    from wsgiscope.units import parse_duration

    hint = "e.g. --fail-if 'p95>50ms' --fail-if 'errors>1%' --fail-if 'rps<100'"
    found = _EXPR.match(text)
    if not found:
        raise UsageError(f"invalid --fail-if {text!r}: expected METRIC OP VALUE", hint=hint)
    metric, op, raw = found.group(1).lower(), found.group(2), found.group(3)
    if metric not in _LATENCY and metric not in _OTHER:
        known = ", ".join([*sorted(set(_LATENCY) - {"median", "avg", "p999"}), *_OTHER])
        raise UsageError(f"invalid --fail-if {text!r}: unknown metric {metric!r}", hint=known)
    if metric in _LATENCY:
        if re.fullmatch(r"\d+(\.\d*)?|\.\d+", raw):
            raise UsageError(
                f"invalid --fail-if {text!r}: a latency needs a unit", hint=f"e.g. {metric}>50ms"
            )
        try:
            value = parse_duration(raw) * 1000
        except ValueError:
            raise UsageError(
                f"invalid --fail-if {text!r}: {raw!r} is not a duration", hint="e.g. 50ms, 1.5s"
            ) from None
        return Threshold(text.strip(), metric, op, value)
    percent = raw.endswith("%")
    number = raw[:-1].strip() if percent else raw
    try:
        value = float(number)
    except ValueError:
        raise UsageError(
            f"invalid --fail-if {text!r}: {raw!r} is not a number"
            + (" or a percentage" if metric in ("errors", "timeouts") else ""),
            hint=hint,
        ) from None
    if percent and metric not in ("errors", "timeouts"):
        raise UsageError(f"invalid --fail-if {text!r}: only errors and timeouts take a %")
    if not math.isfinite(value) or value < 0:
        raise UsageError(f"invalid --fail-if {text!r}: {raw!r} must be a positive number")
    return Threshold(text.strip(), metric, op, value, percent)


def failed_thresholds(thresholds: t.Sequence[Threshold], summary: dict[str, t.Any]) -> list[str]:
    """The thresholds ``summary`` crosses, each described with its actual value."""
    failed = []
    for threshold in thresholds:
        actual = threshold.actual(summary)
        if _OPS[threshold.op](actual, threshold.value):
            failed.append(threshold.describe(actual))
    return failed


# -- concurrency --------------------------------------------------------------


#: CPU cores (process time / wall time) from which thread mode is GIL-bound.
GIL_BOUND = 0.8


def concurrency_warning(
    mode: Mode, peak: int, count: int, cores: float | None = None, paced: bool = False
) -> str | None:
    """A warning when the concurrency reached is far below the one asked for,
    with the likely reason: at most a quarter of the workers were ever busy at
    once (8 threads, 2 in flight), or (threads in this process, ``cores`` the
    CPU time over the wall time) the run kept one core busy: the views take
    turns on the GIL."""
    if mode.kind == "sequential" or mode.workers < 4 or count < mode.workers * 4:
        return None
    if cores is not None and mode.kind == "threads" and cores >= GIL_BOUND:
        return (
            f"{mode.label}: the run kept {cores:.2f} CPU cores busy: the views are CPU-bound "
            "and take turns on the GIL, so one runs at a time and more threads add no load "
            "(--processes N does)"
        )
    if paced:  # -q: few in flight is what a low rate gives
        return None
    if peak > mode.workers // 4:
        return None
    if mode.kind == "threads":
        why = (
            "the views are CPU-bound and take turns on the GIL, a lock serializes "
            "them, or each request ends before the next thread starts one"
        )
    elif not mode.patch:
        why = "--no-patch left blocking I/O blocking: greenlets only switch where the app yields"
    else:
        why = "the views do not yield to gevent (CPU-bound, a lock, or I/O gevent cannot patch)"
    per = " per process" if mode.processes > 1 else ""
    return (
        f"{mode.label}: at most {peak} of {mode.workers} requests were in flight at once{per}: "
        f"{why}; more workers will not add load"
    )


class RequestTimeout(Exception):
    """A request interrupted by ``-t/--timeout`` (greenlet mode)."""


class Interrupting:
    """``app`` with each call (and its body) cut at ``seconds`` by a
    ``gevent.Timeout``: the greenlet moves on to its next request and the
    request counts as a :class:`RequestTimeout` exception. Greenlets only:
    a thread cannot be interrupted, so thread and sequential modes count a
    late request as a timeout when it ends. ``.app`` is the wrapped app (the
    isolation checks find the Flask apps through it)."""

    def __init__(self, app: t.Any, seconds: float) -> None:
        self.app = app
        self.seconds = seconds

    def __call__(self, environ: dict[str, t.Any], start_response: t.Any) -> list[bytes]:
        import gevent

        timer = gevent.Timeout(self.seconds)
        timer.start()
        try:
            return [drain(self.app(environ, start_response))]
        except gevent.Timeout as exc:
            if exc is not timer:
                raise
            raise RequestTimeout(f"no response within {self.seconds:g}s") from None
        finally:
            timer.close()
