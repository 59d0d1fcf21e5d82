"""``--since`` on ``tail`` and ``export`` (the filters they share)."""

from __future__ import annotations

import datetime
import json
from pathlib import Path

from click.testing import CliRunner

from wsgiscope.cli import cli
from wsgiscope.tracing import TraceMiddleware

STAMP = "%Y-%m-%dT%H:%M:%S.%fZ"


def hello(environ: dict, start_response: object) -> list[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain")])  # type: ignore[operator]
    return [b"hi"]


def _records(tmp_path: Path) -> Path:
    """Three real records, re-dated an hour apart (the last one now)."""
    from werkzeug.test import Client

    path = tmp_path / "traces.jsonl"
    with TraceMiddleware(hello, sink=str(path)) as traced:
        client = Client(traced)
        for name in ("a", "b", "c"):
            client.get(f"/{name}")
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    now = datetime.datetime.now(datetime.timezone.utc)
    for record, hours in zip(lines, (2, 1), strict=False):
        record["started"] = (now - datetime.timedelta(hours=hours)).strftime(STAMP)
    path.write_text("".join(json.dumps(r) + "\n" for r in lines))
    return path


def _paths(output: str) -> list[str]:
    return [json.loads(line)["request"]["path"] for line in output.splitlines()]


def test_since_a_time_and_a_duration(tmp_path: Path) -> None:
    path = _records(tmp_path)
    tail = ["tail", str(path), "--no-follow", "-n", "all", "--json"]
    now = datetime.datetime.now(datetime.timezone.utc)
    ninety = (now - datetime.timedelta(minutes=90)).strftime("%Y-%m-%dT%H:%M:%SZ")
    result = CliRunner().invoke(cli, [*tail, "--since", ninety])
    assert result.exit_code == 0, result.output
    assert _paths(result.stdout) == ["/b", "/c"]
    result = CliRunner().invoke(cli, [*tail, "--since", "10m"])
    assert _paths(result.stdout) == ["/c"]
    offset = (now - datetime.timedelta(minutes=150)).astimezone(
        datetime.timezone(datetime.timedelta(hours=2))
    )
    result = CliRunner().invoke(cli, [*tail, "--since", offset.isoformat(timespec="seconds")])
    assert _paths(result.stdout) == ["/a", "/b", "/c"]


def test_export_takes_since(tmp_path: Path) -> None:
    path = _records(tmp_path)
    out = tmp_path / "out.har"
    result = CliRunner().invoke(cli, ["export", "har", str(path), "--since", "10m", "-o", str(out)])
    assert result.exit_code == 0, result.output
    entries = json.loads(out.read_text())["log"]["entries"]
    assert [e["request"]["url"].rsplit("/", 1)[1] for e in entries] == ["c"]


def test_since_bad_value_is_one_line(tmp_path: Path) -> None:
    path = _records(tmp_path)
    result = CliRunner().invoke(cli, ["tail", str(path), "--no-follow", "--since", "yesterday"])
    assert result.exit_code == 2
    assert "'yesterday' is neither a time" in result.output
    assert "Traceback" not in result.output
