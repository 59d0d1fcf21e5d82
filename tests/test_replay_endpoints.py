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
