"""``replay --json`` ``endpoints``: per distinct request counts and latencies, merged
across threads and worker processes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from wsgiscope.cli import cli

APPS = Path(__file__).parent / "apps"


@pytest.mark.slow
@pytest.mark.parametrize("mode", [["--threads", "3"], ["--processes", "2"]])
def test_endpoints_add_up_to_the_requests(mode, tmp_path):
    source = tmp_path / "requests.txt"
    source.write_text("GET /\nGET /missing?token=s3cret\nGET /\n")
    args = ["replay", str(APPS / "replay_plain.py"), str(source), "-n", "30", *mode, "--json"]
    result = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    endpoints = {e["request"]: e for e in document["endpoints"]}
    # identical requests are one row; secrets in the query stay redacted
    assert sorted(endpoints) == ["GET /", "GET /missing?token=[redacted]"]
    assert endpoints["GET /"]["requests"] == 20
    assert endpoints["GET /missing?token=[redacted]"]["requests"] == 10
    assert sum(e["requests"] for e in document["endpoints"]) == document["requests"] == 30
    for row in document["endpoints"]:
        assert 0 <= row["mean_ms"] <= row["max_ms"]
        assert row["errors"] == 0


def test_a_worker_counts_at_most_entry_cap_distinct_requests():
    from wsgiscope.replay.stats import ENTRY_CAP, Stats

    stats = Stats()
    for index in range(ENTRY_CAP + 10):
        stats.count_entry(index, 1000, index % 2 == 0)
    stats.count_entry(3, 3000, False)  # a request already counted keeps its row
    assert len(stats.per_entry) == ENTRY_CAP + 1
    rows = {e["request"]: e for e in stats.endpoints(lambda i: f"GET /{i}", limit=ENTRY_CAP + 1)}
    assert rows["(other requests)"]["requests"] == 10
    assert rows["(other requests)"]["errors"] == 5
    assert rows["GET /3"] == {
        "request": "GET /3", "requests": 2, "errors": 0, "mean_ms": 2.0, "max_ms": 3.0,
    }  # fmt: skip
    assert sum(r["requests"] for r in rows.values()) == ENTRY_CAP + 11
