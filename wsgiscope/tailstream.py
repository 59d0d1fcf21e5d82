"""``wsgiscope tail -``: trace records from standard input or a named pipe.

``kubectl logs -f pod | wsgiscope tail -`` reads JSON Lines as they arrive
and passes them through the same filters as a file: every line goes through
:func:`wsgiscope.tailing.parse_line`, so a record shows, a non-record line
is reported (with its line number) and skipped, a blank line is ignored.

A stream has no "end of the file" to count back from while it runs: when
following (the default), every record is shown as its line arrives; with
``--no-follow`` the input is read to its end and the last ``-n`` matching
records are shown, as ``tail -n N -`` does. Memory stays bounded either way:
a line is read up to :data:`MAX_LINE` bytes (a longer one is reported and
skipped up to its newline), and ``--no-follow`` keeps only ``N`` records.
"""

from __future__ import annotations

import collections
import typing as t

from wsgiscope.tailing import BadLine, TailItem, TraceLine, parse_line

#: The longest line read whole; a longer one is skipped and reported.
MAX_LINE = 16 * 1024 * 1024


def stream_items(stream: t.BinaryIO) -> t.Iterator[TailItem]:
    """Every record (or bad line) of ``stream``, as each line arrives."""
    number = 0
    while True:
        line = stream.readline(MAX_LINE + 1)
        if not line:
            return
        number += 1
        if len(line) > MAX_LINE and not line.endswith(b"\n"):
            while True:  # drop the rest of the line, a chunk at a time
                rest = stream.readline(MAX_LINE)
                if not rest or rest.endswith(b"\n"):
                    break
            yield BadLine(number, f"line longer than {MAX_LINE} bytes", repr(line[:40])[2:-1])
            continue
        item = parse_line(line.rstrip(b"\r\n"), number)
        if item is not None:
            yield item


def last_items(
    stream: t.BinaryIO, count: int | None, match: t.Callable[[t.Mapping[str, t.Any]], bool]
) -> t.Iterator[TailItem]:
    """Bad lines as they come, then the last ``count`` matching records (all: ``None``)."""
    kept: collections.deque[TraceLine] = collections.deque(maxlen=count)
    for item in stream_items(stream):
        if isinstance(item, TraceLine):
            if match(item.record):
                kept.append(item)
        else:
            yield item
    yield from kept
