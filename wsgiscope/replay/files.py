"""``replay --csv PREFIX`` and ``--hdr-log FILE``: the files load tools write.

- ``PREFIX_stats.csv`` and ``PREFIX_stats_history.csv`` have Locust's
  columns (``locust --csv``): one row per endpoint (method in ``Type``, the
  rule in ``Name``) then ``Aggregated``; times in milliseconds. The history
  has one ``Aggregated`` row per second of the run (requests/s, failures/s and
  running totals; the live percentiles are not kept, so they are ``N/A`` as
  Locust writes them before data exists) and a last row with the final figures.
- The HDR log is an HdrHistogram interval log (the ``.hlog`` format of
  HdrHistogram's ``HistogramLogWriter``, as wrk2's and HdrHistogram's tools read
  it): latencies in microseconds, one interval per mode covering the measured
  run (tagged with the mode under ``--compare``), each histogram in the
  V2 compressed encoding. :mod:`wsgiscope.replay.histogram` uses
  HdrHistogram's own counter layout (lowest value 1, three significant
  digits), so the counters are written as they are.
"""

from __future__ import annotations

import base64
import csv
import struct
import time
import typing as t
import zlib

from wsgiscope.replay.histogram import Histogram
from wsgiscope.replay.stats import DIGITS, HIGHEST_US

#: Locust's percentile columns (``PERCENTILES_TO_REPORT``).
PERCENTILES = (50, 66, 75, 80, 90, 95, 98, 99, 99.9, 99.99, 100)
_PERCENT_HEADS = [f"{p:g}%" for p in PERCENTILES]
STATS_COLUMNS = [
    "Type",
    "Name",
    "Request Count",
    "Failure Count",
    "Median Response Time",
    "Average Response Time",
    "Min Response Time",
    "Max Response Time",
    "Average Content Size",
    "Requests/s",
    "Failures/s",
    *_PERCENT_HEADS,
]
HISTORY_COLUMNS = [
    "Timestamp",
    "User Count",
    "Type",
    "Name",
    "Requests/s",
    "Failures/s",
    *_PERCENT_HEADS,
    "Total Request Count",
    "Total Failure Count",
    "Total Median Response Time",
    "Total Average Response Time",
    "Total Min Response Time",
    "Total Max Response Time",
    "Total Average Content Size",
]

#: V2 encodings of HdrHistogram (word size 8 in the low bits).
_V2_ENCODING_COOKIE = 0x1C849303 | 0x10
_V2_COMPRESSED_COOKIE = 0x1C849304 | 0x10


class History:
    """Progress samples (one a second at most) for the stats history; forwards
    each progress update to ``forward`` (the progress bar) when given."""

    def __init__(self, forward: t.Callable[[int, int], None] | None = None) -> None:
        self.forward = forward
        self.samples: list[tuple[float, int, int]] = []
        self._next = 0.0

    def __call__(self, done: int, errors: int) -> None:
        now = time.time()
        if now >= self._next:
            self._next = now + 1.0
            self.samples.append((now, done, errors))
        if self.forward is not None:
            self.forward(done, errors)


def write_csv(prefix: str, summaries: list[dict[str, t.Any]]) -> list[str]:
    """Write ``PREFIX_stats.csv`` and ``PREFIX_stats_history.csv``; their paths.

    Each summary is one mode; under ``--compare`` the mode label prefixes
    ``Name`` (``threads=8 GET /items``) so the rows stay apart.
    """
    labelled = len(summaries) > 1
    stats_path, history_path = f"{prefix}_stats.csv", f"{prefix}_stats_history.csv"
    with open(stats_path, "w", newline="", encoding="utf-8") as stream:
        writer = csv.writer(stream)
        writer.writerow(STATS_COLUMNS)
        for summary in summaries:
            head = f"{summary['label']} " if labelled else ""
            for row in summary.get("endpoint_stats", []):
                writer.writerow(_endpoint_row(row, head, summary))
            writer.writerow(_aggregated_row(summary, head))
    with open(history_path, "w", newline="", encoding="utf-8") as stream:
        writer = csv.writer(stream)
        writer.writerow(HISTORY_COLUMNS)
        for summary in summaries:
            _history_rows(writer, summary, f"{summary['label']} " if labelled else "")
    return [stats_path, history_path]


def _endpoint_row(row: dict[str, t.Any], head: str, summary: dict[str, t.Any]) -> list[t.Any]:
    duration = summary.get("duration_s") or 0.0
    # Per endpoint only p50/p95/p99/max are kept: the others are N/A.
    known: dict[float, float] = {
        50: row["p50_ms"],
        95: row["p95_ms"],
        99: row["p99_ms"],
        100: row["max_ms"],
    }
    return [
        row["method"],
        head + row["rule"],
        row["requests"],
        row["errors"],
        _ms(row["p50_ms"]),
        row["mean_ms"],
        _ms(row["min_ms"]),
        _ms(row["max_ms"]),
        "",
        row["rps"],
        round(row["errors"] / duration, 3) if duration else 0.0,
        *[_ms(known[p]) if p in known else "N/A" for p in PERCENTILES],
    ]


def _aggregated_row(summary: dict[str, t.Any], head: str) -> list[t.Any]:
    latency = summary["latency_ms"]
    duration = summary.get("duration_s") or 0.0
    return [
        "",
        head + "Aggregated",
        summary["requests"],
        summary["errors"],
        _ms(latency["p50"]),
        latency["mean"],
        _ms(latency["min"]),
        _ms(latency["max"]),
        "",
        summary.get("throughput_rps", 0.0),
        round(summary["errors"] / duration, 3) if duration else 0.0,
        *_percentiles(summary),
    ]


def _percentiles(summary: dict[str, t.Any]) -> list[t.Any]:
    pairs = summary.get("_hist")
    if not summary["requests"] or pairs is None:
        return ["N/A"] * len(PERCENTILES)
    histogram = Histogram.from_pairs(pairs)
    return [_ms(histogram.get_value_at_percentile(p) / 1000) for p in PERCENTILES]


def _history_rows(writer: t.Any, summary: dict[str, t.Any], head: str) -> None:
    samples = list(summary.get("_history") or [])
    users = summary.get("workers", 1) * summary.get("processes", 1)
    previous: tuple[float, int, int] | None = None
    for now, done, errors in samples:
        rps = fails = 0.0
        if previous is not None and now > previous[0]:
            rps = (done - previous[1]) / (now - previous[0])
            fails = (errors - previous[2]) / (now - previous[0])
        previous = (now, done, errors)
        row: list[t.Any] = [int(now), users, "", head + "Aggregated", f"{rps:.2f}"]
        row.append(f"{fails:.2f}")
        row.extend(["N/A"] * len(PERCENTILES))
        row.extend([done, errors, "N/A", "N/A", "N/A", "N/A", ""])
        writer.writerow(row)
    latency = summary["latency_ms"]
    duration = summary.get("duration_s") or 0.0
    writer.writerow(
        [
            int(summary.get("_ended", time.time())),
            users,
            "",
            head + "Aggregated",
            f"{summary.get('throughput_rps', 0.0):.2f}",
            f"{(summary['errors'] / duration) if duration else 0.0:.2f}",
            *_percentiles(summary),
            summary["requests"],
            summary["errors"],
            _ms(latency["p50"]),
            latency["mean"],
            _ms(latency["min"]),
            _ms(latency["max"]),
            "",
        ]
    )


def _ms(value: float) -> int | float:
    """Locust prints whole milliseconds above 1 ms; below, keep the fraction."""
    return round(value) if value >= 1 else round(value, 3)


# -- HdrHistogram --------------------------------------------------------------


def _varint(value: int, out: bytearray) -> None:
    """HdrHistogram's ZigZag LEB128 (at most 9 bytes, the 9th holds 8 bits)."""
    value = ((value << 1) ^ (value >> 63)) & 0xFFFFFFFFFFFFFFFF
    for _ in range(8):
        if value < 0x80:
            out.append(value)
            return
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value & 0xFF)


def encode_histogram(histogram: Histogram) -> str:
    """The V2 compressed, base64 encoding of ``histogram`` (as
    ``AbstractHistogram.encodeIntoCompressedByteBuffer``)."""
    counts = histogram.counts
    last = max((index for index, _ in histogram.recorded()), default=-1)
    payload = bytearray()
    index = 0
    while index <= last:
        count = counts[index]
        if count:
            _varint(count, payload)
            index += 1
            continue
        zeros = 1
        while index + zeros <= last and not counts[index + zeros]:
            zeros += 1
        _varint(-zeros if zeros > 1 else 0, payload)
        index += zeros
    header = struct.pack(
        ">iiiiqqd", _V2_ENCODING_COOKIE, len(payload), 0, DIGITS, 1, HIGHEST_US, 1.0
    )
    compressed = zlib.compress(header + bytes(payload))
    wrapped = struct.pack(">ii", _V2_COMPRESSED_COOKIE, len(compressed)) + compressed
    return base64.b64encode(wrapped).decode("ascii")


def write_hdr_log(path: str, summaries: list[dict[str, t.Any]]) -> None:
    """Write one interval per mode (latencies in microseconds) to ``path``."""
    started = min((s.get("_started", time.time()) for s in summaries), default=time.time())
    tagged = len(summaries) > 1
    lines = [
        "#[Histogram log format version 1.3]",
        f"#[StartTime: {started:.3f} (seconds since epoch), "
        f"{time.strftime('%a %b %d %H:%M:%S %Z %Y', time.localtime(started))}]",
        f"#[BaseTime: {started:.3f} (seconds since epoch)]",
        "#[wsgiscope replay: latencies in microseconds]",
        '"StartTimestamp","Interval_Length","Interval_Max","Interval_Compressed_Histogram"',
    ]
    for summary in summaries:
        histogram = Histogram.from_pairs(summary.get("_hist") or [])
        begin = summary.get("_started", started) - started
        tag = "Tag=" + summary["label"].replace(",", ";").replace(" ", "_") + "," if tagged else ""
        lines.append(
            f"{tag}{begin:.3f},{summary.get('duration_s', 0.0):.3f},"
            f"{histogram.get_max_value() / 1_000_000:.6f},{encode_histogram(histogram)}"
        )
    with open(path, "w", encoding="ascii") as stream:
        stream.write("\n".join(lines) + "\n")
