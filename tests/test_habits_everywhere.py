"""``tail -`` from a pipe, FORCE_COLOR/NO_COLOR, and the one units module (issue #16)."""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import typing as t
from pathlib import Path

import pytest

from wsgiscope.units import format_duration, format_size, parse_duration, parse_size

ROOT = Path(__file__).parent.parent
APPS = ROOT / "tests" / "apps"


def command(*args: str) -> list[str]:
    script = Path(sys.executable).parent / "wsgiscope"
    return [str(script) if script.exists() else sys.executable, *([] if script.exists() else
            ["-m", "wsgiscope"]), *args]  # fmt: skip


def environment(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR")}
    env.pop("WSGISCOPE_APP", None)
    env.update(PYTHONPATH=str(ROOT), **extra)
    return env


@pytest.fixture(scope="module")
def records(tmp_path_factory: pytest.TempPathFactory) -> list[bytes]:
    """Three real trace records (200, 500, 200) as JSON Lines."""
    pytest.importorskip("flask")
    saved = tmp_path_factory.mktemp("records") / "t.jsonl"
    for path in ("/catalog/", "/fail", "/admin/"):
        subprocess.run(
            command("trace", "wsgiscope.demo", path, "--save", str(saved), "--json"),
            capture_output=True, cwd=APPS, env=environment(), timeout=60, check=False,
        )  # fmt: skip
    lines = saved.read_bytes().splitlines(keepends=True)
    assert len(lines) == 3
    return lines


def read_line(stream: t.IO[bytes], timeout: float = 20) -> bytes:
    ready, _, _ = select.select([stream], [], [], timeout)
    assert ready, "no output within the timeout: the record was not streamed"
    return stream.readline()


@pytest.mark.slow
def test_tail_dash_streams_records_from_a_pipe_as_they_arrive(records: list[bytes]) -> None:
    # as `kubectl logs -f pod | wsgiscope tail -`: each record shows while the
    # writer is still running, through the same filters as a file
    with subprocess.Popen(
        command("tail", "-f", "-", "--json", "--status", "2xx"),
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        env=environment(), cwd=APPS,
    ) as proc:  # fmt: skip
        assert proc.stdin is not None
        assert proc.stdout is not None
        assert proc.stderr is not None
        try:
            proc.stdin.write(records[0])
            proc.stdin.flush()
            first = json.loads(read_line(proc.stdout))
            assert first["request"]["path"] == "/catalog/"
            proc.stdin.write(records[1] + b"not a record\n" + records[2])
            proc.stdin.flush()
            second = json.loads(read_line(proc.stdout))
            assert second["request"]["path"] == "/admin/"  # the 500 was filtered out
            assert proc.poll() is None  # still following the pipe
            proc.stdin.close()
            assert proc.wait(20) == 0
            assert "stdin:3: skipped, not JSON" in proc.stderr.read().decode()
        finally:
            if proc.poll() is None:
                proc.kill()


@pytest.mark.slow
def test_tail_dash_no_follow_shows_the_last_n(records: list[bytes]) -> None:
    result = subprocess.run(
        command("tail", "-", "--no-follow", "-n", "1"), input=b"".join(records),
        capture_output=True, env=environment(NO_COLOR="1"), cwd=APPS, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    (line,) = result.stdout.decode().splitlines()
    assert "GET /admin/  200" in line


# -- FORCE_COLOR and NO_COLOR ----------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize(
    ("env", "coloured"),
    [
        ({}, False),  # a pipe
        ({"FORCE_COLOR": "1"}, True),
        ({"FORCE_COLOR": "0"}, False),  # rich would force colour here
        ({"FORCE_COLOR": "1", "NO_COLOR": "1"}, False),  # NO_COLOR wins
    ],
    ids=lambda value: (
        " ".join(f"{k}={v}" for k, v in value.items()) or "pipe"
        if isinstance(value, dict)
        else None
    ),
)
def test_force_color_is_honoured_and_no_color_wins(env: dict[str, str], coloured: bool) -> None:
    result = subprocess.run(
        command("routes", "wsgiscope.demo"), capture_output=True, text=True, cwd=APPS,
        env=environment(**env), timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert ("\x1b[" in result.stdout) is coloured
    if coloured:  # --json never carries ANSI codes, whatever forces colour
        as_json = subprocess.run(
            command("routes", "wsgiscope.demo", "--json"), capture_output=True, text=True,
            cwd=APPS, env=environment(**env), timeout=60,
        )  # fmt: skip
        assert "\x1b" not in as_json.stdout
        # --color never wins over FORCE_COLOR
        never = subprocess.run(
            command("routes", "wsgiscope.demo", "--color", "never"), capture_output=True,
            text=True, cwd=APPS, env=environment(**env), timeout=60,
        )  # fmt: skip
        assert "\x1b" not in never.stdout


# -- units -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("30", 30.0), ("1.5s", 1.5), ("250ms", 0.25), ("250us", 0.00025), ("2m", 120.0),
     ("1h", 3600.0), (" 5 s ", 5.0), (".5", 0.5)],
)  # fmt: skip
def test_a_bare_number_is_seconds_in_every_duration(text: str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


def test_duration_options_read_the_same() -> None:
    from wsgiscope.replay.plan import parse_duration as replay_duration
    from wsgiscope.tailing import parse_duration_ms

    for text in ("2", "2s", "150ms"):
        assert replay_duration(text) == pytest.approx(parse_duration_ms(text) / 1000)
    with pytest.raises(ValueError, match="a bare number is seconds"):
        parse_duration("soon")


@pytest.mark.parametrize(
    ("text", "size"),
    [("65536", 65536), ("64k", 65536), ("64KiB", 65536), ("1M", 1024**2), ("1.5k", 1536)],
)
def test_sizes_parse(text: str, size: int) -> None:
    assert parse_size(text) == size


def test_sizes_and_durations_print_one_way() -> None:
    from wsgiscope.render.http import format_ms
    from wsgiscope.render.http import format_size as trace_size
    from wsgiscope.render.tail import format_duration as tail_duration
    from wsgiscope.render.tail import format_size as tail_size

    for size in (0, 999, 1536, 5 * 1024**2):
        assert trace_size(size) == tail_size(size) == format_size(size)
    assert [format_size(s) for s in (512, 1536, 3 * 1024**2)] == ["512 B", "1.5 KiB", "3.0 MiB"]
    for ms in (0.28, 12.44, 250.0, 1520.0):
        assert format_ms(ms) == tail_duration(ms) == format_duration(ms)
    assert [format_duration(v) for v in (0.28, 12.44, 250.0, 1520.0)] == [
        "0.28ms",
        "12.4ms",
        "250ms",
        "1.52s",
    ]
    assert tail_size(None) == tail_duration(None) == "-"


@pytest.mark.slow
def test_tail_slower_than_reads_a_bare_number_as_seconds(
    records: list[bytes], tmp_path: Path
) -> None:
    source = tmp_path / "t.jsonl"
    source.write_bytes(b"".join(records))
    for value, shown in (("0", 3), ("1", 0), ("0.000001", 3)):
        result = subprocess.run(
            command("tail", str(source), "--no-follow", "--slower-than", value),
            capture_output=True, text=True, env=environment(NO_COLOR="1"), cwd=APPS, timeout=60,
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
        assert len(result.stdout.splitlines()) == shown, value
