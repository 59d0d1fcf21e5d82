"""What ``serve --json`` and ``tail --json`` print of each record line.

A record line of plain ASCII is printed as the bytes it was written as; a
line with other characters is encoded again (ASCII escapes), as before; a
``--keep-secrets`` file's records are redacted on screen, never passed
through. Every record is printed, in file order.
"""

from __future__ import annotations

import json
import typing as t

import orjson
import pytest
from click.testing import CliRunner
from serve_fixtures import ServeRun, make_record

from wsgiscope.cli import cli
from wsgiscope.cli.serve import _shown
from wsgiscope.cli.tail import RecordPrinter
from wsgiscope.render.jsonout import dumps_line
from wsgiscope.tailing import TraceLine, parse_line
from wsgiscope.tracing.kept import redact_record


def _expected(lines: list[bytes]) -> bytes:
    """The --json output of these record lines."""
    out = []
    for line in lines:
        text = line.strip()
        out.append(text if text.isascii() else dumps_line(json.loads(text)).encode())
    return b"".join(part + b"\n" for part in out)


def _lines() -> list[bytes]:
    plain = make_record(1)
    spaced = make_record(2)
    accented = make_record(3, path="/caf\u00c3\u00a9")
    escaped = make_record(4, path="/\x1b[31m")
    return [
        orjson.dumps(plain),
        json.dumps(spaced, indent=None, separators=(", ", ": ")).encode(),
        orjson.dumps(accented),  # UTF-8 as orjson writes it
        json.dumps(accented).encode(),  # the same, ASCII-escaped
        orjson.dumps(escaped),
        b"  " + json.dumps(make_record(5), separators=(",\t", ":\r")).encode() + b" \t",
    ]


def test_tail_json_prints_ascii_lines_as_written(tmp_path: t.Any) -> None:
    path = tmp_path / "t.jsonl"
    lines = _lines()
    path.write_bytes(b"\n".join(lines) + b"\n")
    result = CliRunner().invoke(cli, ["tail", str(path), "-n", "all", "--no-follow", "--json"])
    assert result.exit_code == 0, result.output
    assert result.stdout_bytes == _expected(lines)
    assert result.stdout_bytes.isascii()


def _printed(items: list[t.Any], capsys: t.Any) -> bytes:
    printer = RecordPrinter("f.jsonl", lambda record: True, True, False, None)
    printer.show(items)
    return capsys.readouterr().out.encode()


def test_serve_passes_a_line_through_unless_secrets_were_kept(capsys: t.Any) -> None:
    record = make_record(1)
    record["environ"] = {"HTTP_COOKIE": "session=s3cr3t", "HTTP_ACCEPT": "*/*"}
    record["request"]["query_string"] = "token=s3cr3t&page=2"
    raw = orjson.dumps(record)
    item = parse_line(raw, 1)
    assert isinstance(item, TraceLine)
    # a redacting worker wrote it: shown as written
    assert _printed(_shown([item], False), capsys) == raw + b"\n"
    # written with --keep-secrets: redacted on screen, as before
    shown = _printed(_shown([item], True), capsys)
    assert b"s3cr3t" not in shown
    assert shown == dumps_line(redact_record(record)).encode() + b"\n"
    assert json.loads(shown)["environ"]["HTTP_COOKIE"] == "[redacted]"


def test_a_batch_is_every_record_in_order(capsys: t.Any) -> None:
    lines = [orjson.dumps(make_record(n)) for n in range(1000)]
    items = [parse_line(line, n) for n, line in enumerate(lines)]
    assert _printed(items, capsys) == b"".join(line + b"\n" for line in lines)


@pytest.mark.slow
def test_serve_json_prints_the_record_file_line_for_line(tmp_path: t.Any) -> None:
    import httpx

    record = tmp_path / "rec.jsonl"
    with ServeRun(tmp_path, "--record", str(record), "--json") as run:
        base = run.wait_ready()
        with httpx.Client(base_url=base) as client:
            for path in ("/", "/items/3", "/caf%C3%A9", "/fail", "/stream", "/?q=%1b"):
                client.get(path)
        assert run.stop() == 130
    lines = record.read_bytes().splitlines()
    assert len(lines) == 6
    assert run.out_path.read_bytes() == _expected(lines)
