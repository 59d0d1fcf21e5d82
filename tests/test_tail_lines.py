"""The one-line view of ``tail`` and ``serve`` prints what rich printed.

``print_request_lines`` writes the lines itself (the escape codes of each
style asked of rich once): here its output is compared, byte for byte, with
the code it replaced (kept below as the reference: a rich ``Text`` per line,
printed by ``console.print``), for fuzzed records and consoles of every
colour system and of widths that make rich crop trailing white space. One
change is intended: the SQL suffix (``3q 1.2 ms (2 dup)``) is escaped like
every other value of a record (the reference appended it raw, and rich
passes ESC through).
"""

from __future__ import annotations

import io
import typing as t

import pytest
from hypothesis import given
from hypothesis import strategies as st
from rich.console import Console
from rich.text import Text
from serve_fixtures import make_record

from tests.test_hostile_tail import PATHS, REAL, _mutate, fuzz, json_values
from wsgiscope.render.capture import tail_suffix
from wsgiscope.render.console import data, label, make_console
from wsgiscope.render.tail import (
    _STATUS_STYLE,
    format_duration,
    format_size,
    format_time,
    print_request_lines,
    request_line,
    worker_ident,
)
from wsgiscope.render.text import TARGET_LIMIT, cap, safe
from wsgiscope.tailing import record_error, record_path, record_status
from wsgiscope.wsgistr import display_query


def reference_line(record: t.Mapping[str, t.Any]) -> Text:
    """request_line as it was (the SQL suffix escaped)."""
    request = record.get("request") or {}
    target = record_path(record)
    if request.get("query_string"):
        target = f"{target}?{display_query(request['query_string'])}"
    status = record_status(record)
    status_text = str(status) if status is not None else "---"
    status_style = _STATUS_STYLE.get((status or 0) // 100, "bold red")
    response = record.get("response") or {}
    line = label(
        (format_time(record.get("started")), "dim"),
        "  ",
        (worker_ident(record), "blue"),
        "  ",
        (request.get("method") or "?", "bold"),
        " ",
        (cap(target, TARGET_LIMIT), ""),
        "  ",
        (status_text, status_style),
        "  ",
        (format_duration(record.get("duration_ms")), "magenta"),
        "  ",
        (format_size(response.get("body_bytes") if isinstance(response, dict) else None), "dim"),
    )
    queries = tail_suffix(record)
    if queries is not None:
        line.append(safe(f"  {queries}"), style="blue")
    error = record_error(record)
    if error is not None:
        kind, message = error
        line.append("  ")
        if kind == "raised":
            line.append_text(data("RAISED ", "bold red") + data(message, "red", limit=120))
        else:
            line.append_text(data("teardown saw ", "yellow") + data(message, "yellow", limit=120))
    return line


def reference_print(console: Console, records: list[t.Mapping[str, t.Any]]) -> None:
    lines = [reference_line(record) for record in records]
    if console.color_system is None:
        console.file.write("".join(f"{line.plain}\n" for line in lines))
        return
    console.print(Text("\n").join(lines), soft_wrap=True)


def _console(kind: str, width: int) -> Console:
    out = io.StringIO()
    if kind == "never":
        return make_console("never", width, out)
    if kind == "always":
        return make_console("always", width, out)
    system, _, no_color = kind.partition("-")
    return Console(
        file=out, width=width, color_system=system, force_terminal=True,  # type: ignore[arg-type]
        no_color=bool(no_color), emoji=False, markup=False, highlight=False, soft_wrap=False,
    )  # fmt: skip


CONSOLES = ["never", "always", "standard", "256", "truecolor", "truecolor-nocolor"]


def _same_output(records: list[t.Mapping[str, t.Any]], kind: str, width: int) -> None:
    mine, theirs = _console(kind, width), _console(kind, width)
    print_request_lines(mine, records)
    reference_print(theirs, records)
    assert mine.file.getvalue() == theirs.file.getvalue()  # type: ignore[attr-defined]
    assert [request_line(r).plain for r in records] == [reference_line(r).plain for r in records]


def _records() -> list[dict[str, t.Any]]:
    long_message = {"type": "ValueError", "message": "x" * 300, "traceback": ""}
    spaced = {"type": "E", "message": "ends in spaces   \u3000", "traceback": ""}
    records = [
        make_record(1),
        make_record(2, method="POST", path="/items", status=201, duration_ms=1234.5),
        make_record(3, path="/caf\u00c3\u00a9", status=404, duration_ms=0.01),
        make_record(4, path="/fail", status=500, error=long_message),
        make_record(5, status=302, teardown_exception="OperationalError: gone  "),
        make_record(6, status=503, error=spaced),
        make_record(7, path="/\x1b]0;pwn\x07" + "y" * 400, status=199),
        make_record(8, method="\u202egnp.exe", status=600),
    ]
    records[0]["queries"] = {"count": 3, "total_ms": 1.25, "duplicated": 2}
    records[1]["queries"] = {"count": 1, "total_ms": 0.5, "duplicated": "\x1b[2J"}
    records[2]["request"]["query_string"] = "q=na%C3%AFve&x=%1b"
    records[3]["worker"] = {"pid": "\x1b[31m", "greenlet": 2**40 + 5}
    records[4]["started"] = "not a time\x1b"
    del records[5]["response"]
    return records


@pytest.mark.parametrize("width", [40, 80, 100, 500])
@pytest.mark.parametrize("kind", CONSOLES)
def test_lines_are_printed_as_rich_printed_them(kind: str, width: int) -> None:
    _same_output(_records(), kind, width)
    _same_output(_records()[3:4], kind, width)


@fuzz
@given(
    path=st.sampled_from(PATHS),
    value=json_values,
    kind=st.sampled_from(CONSOLES),
    width=st.sampled_from([40, 120]),
)
def test_a_mutated_record_prints_as_rich_printed_it(
    path: tuple[t.Any, ...], value: t.Any, kind: str, width: int
) -> None:
    record = _mutate(REAL, path, value)
    try:
        reference_line(record)
    except Exception:  # what the readers refuse (recordcheck) never reaches a line
        return
    _same_output([record, REAL], kind, width)


def test_a_terminal_sees_the_escaped_sql_suffix() -> None:
    record = make_record(1)
    record["queries"] = {"count": 1, "total_ms": 0.5, "duplicated": "\x1b[2J"}
    console = _console("truecolor", 100)
    print_request_lines(console, [record])
    printed = console.file.getvalue()  # type: ignore[attr-defined]
    assert "\\x1b[2J dup" in printed
    assert "\x1b[2J" not in printed


def _stamps() -> st.SearchStrategy[str]:
    digits = st.text("0123456789", min_size=1, max_size=8)
    offset = st.sampled_from(["", "Z", "+00:00", "-05:00", "+05:30", "+14:00", "-23:59", "Zx"])
    day = st.sampled_from(
        ["2026-12-07", "2026-03-29", "2026-10-25", "2026-03-08", "2026-11-01", "0001-01-01",
         "9999-12-31", "2026-13-45", "2026-02-30", "2024-02-29"]
    )  # fmt: skip
    clock = st.sampled_from(
        ["00:00:00", "01:59:59", "02:00:00", "02:30:00", "03:00:00", "23:59:59", "24:00:00",
         "99:99:99", "12:00:61"]
    )  # fmt: skip
    built = st.builds(lambda d, c, f, o: f"{d}T{c}.{f}{o}", day, clock, digits, offset)
    return built | st.text(max_size=30)


@fuzz
@given(stamps=st.lists(_stamps(), max_size=8), zone=st.sampled_from(["UTC", "Europe/Paris",
       "America/New_York", "Asia/Kolkata", "Australia/Lord_Howe"]))  # fmt: skip
def test_the_time_of_a_line_is_the_one_it_was(stamps: list[str], zone: str) -> None:
    import os
    import time

    from wsgiscope.render import tail

    saved = os.environ.get("TZ")
    os.environ["TZ"] = zone
    time.tzset()
    tail._SECONDS.clear()
    try:
        for stamp in stamps * 2:  # the second time from the cache
            try:
                expected = tail._format_time(stamp)
            except (OverflowError, ValueError) as exc:  # the year 1 moved before UTC's
                with pytest.raises(type(exc)):
                    format_time(stamp)
                continue
            assert format_time(stamp) == expected, stamp
    finally:
        if saved is None:
            del os.environ["TZ"]
        else:
            os.environ["TZ"] = saved
        time.tzset()
        tail._SECONDS.clear()


def test_one_second_with_other_offsets_is_another_time() -> None:
    from wsgiscope.render import tail

    second = "2026-12-07T12:00:00"
    stamps = [f"{second}.123456{o}" for o in ("Z", "+05:30", "", "-05:00", "+00:00", "Z")]
    stamps.append(f"{second}.999999Z")
    assert [format_time(s) for s in stamps] == [tail._format_time(s) for s in stamps]


def test_a_record_whose_error_is_text_shows_as_a_tree() -> None:
    # recordcheck lets a record give its error as one text; the one-line view
    # said RAISED with it, the tree (tail -v, serve -v) failed on it
    from wsgiscope.render.trace import render_trace

    record = make_record(1, status=500)
    record["error"] = "ValueError: boom \x1b[2J"
    console = _console("never", 100)
    console.print(render_trace(record))
    printed = console.file.getvalue()  # type: ignore[attr-defined]
    assert "the app raised ValueError: boom \\x1b[2J" in printed
    print_request_lines(console, [record])
    assert "RAISED ValueError: boom \\x1b[2J" in console.file.getvalue()  # type: ignore[attr-defined]
