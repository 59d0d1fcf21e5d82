"""Read and follow JSON Lines trace files, and pick records out of them.

This module owns how ``wsgiscope tail`` and ``wsgiscope serve`` read the
``wsgiscope.trace/1`` records that :class:`~wsgiscope.tracing.TraceMiddleware`
appends to a file: :class:`TraceTail` finds the last *N* records (reading the
file backwards, so a large file costs only its end), then follows new ones
the way ``tail -F`` does, by polling the file's inode and size:

- a partial last line (a writer in the middle of its ``write()``) is kept
  back until its newline arrives, never parsed half-written;
- a line that is not a trace record is reported as a :class:`BadLine` with
  its line number, and skipped;
- a rotated file (renamed away, a new one created) is read to its end, then
  the new file is followed from its start; a truncated file is followed
  from its start again. Both are reported as a :class:`FileNotice`.

:class:`RecordFilter` holds the ``--status``, ``--method``, ``--path``,
``--slower-than``, ``--errors`` and ``--worker`` filters; the ``parse_*``
functions turn option values into them and raise :class:`ValueError` with a
message a user can act on. Nothing here prints.

Example::

    tail = TraceTail("traces.jsonl")
    for item in tail.backlog(10):
        ...
    for item in tail.follow():
        ...
"""

from __future__ import annotations

import dataclasses
import fnmatch
import json
import os
import re
import stat
import time
import typing as t

from wsgiscope.recordcheck import record_problem

#: The record format this module reads.
TRACE_FORMAT = "wsgiscope.trace/1"

_BLOCK = 1 << 16
_PREVIEW = 80


class NotARegularFileError(OSError):
    """The path is a pipe, a device or a directory, not a file to follow."""


@dataclasses.dataclass(frozen=True)
class TraceLine:
    """A complete line that holds a trace record.

    :param record: the decoded ``wsgiscope.trace/1`` object.
    :param raw: the line as written (without its newline and surrounding
        blanks), to pass a record through without encoding it again.
    """

    record: dict[str, t.Any]
    raw: bytes = dataclasses.field(default=b"", repr=False, compare=False)


@dataclasses.dataclass(frozen=True)
class BadLine:
    """A line that is not a trace record, skipped.

    :param line: its 1-based line number in the file being read.
    :param reason: why it was rejected, e.g. the JSON decoder's message.
    :param preview: its first characters, for the report.
    """

    line: int
    reason: str
    preview: str


@dataclasses.dataclass(frozen=True)
class FileNotice:
    """Something happened to the followed file.

    :param kind: ``"rotated"`` (a new file replaced it), ``"truncated"``,
        ``"missing"`` (it went away; waiting for it) or ``"appeared"``.
    :param path: the path being followed.
    """

    kind: t.Literal["rotated", "truncated", "missing", "appeared"]
    path: str


TailItem: t.TypeAlias = "TraceLine | BadLine | FileNotice"


_strict_loads: t.Callable[[bytes], t.Any] | None
try:  # a dependency where it ships wheels (setup.cfg); json elsewhere
    from orjson import loads as _strict_loads
except ImportError:  # pragma: no cover
    _strict_loads = None

#: Digits as NUL bytes, to find a run of 19: orjson reads an integer beyond
#: 64 bits as a float where json keeps it an int (and a record check refuses
#: it), so text holding one is left to json.
_DIGITS = bytes.maketrans(b"0123456789", b"\0" * 10)
_LONG_NUMBER = b"\0" * 19


def parse_line(data: bytes, line: int) -> TraceLine | BadLine | None:
    """Decode one line (without its newline); ``None`` for a blank line.

    orjson decodes it when it can, about twice as fast as json: it is
    strict (no lone surrogates, no ``NaN``, no byte-order mark) and, on text
    with no run of 19 digits, gives what json would. Anything it refuses is
    read by json, as before, which decides and words the verdict.
    """
    text = data.strip()
    if not text:
        return None
    loads, strict, record = _strict_loads, False, None
    if loads is not None and _LONG_NUMBER not in text.translate(_DIGITS):
        try:
            record, strict = loads(text), True
        except ValueError:  # json decides, and words the reason
            record = None
    if not strict:
        record = _loads(text, line)
        if isinstance(record, BadLine):
            return record
    if not isinstance(record, dict):
        return BadLine(line, "not a JSON object", _preview(text))
    if record.get("format") != TRACE_FORMAT:
        found = record.get("format")
        reason = f"format is {found!r}, not {TRACE_FORMAT!r}" if found else "no 'format' field"
        return BadLine(line, f"not a trace record ({reason})", _preview(text))
    problem = record_problem(record, text, strict)
    if problem is not None:
        return BadLine(line, f"not a valid trace record ({problem})", _preview(text))
    return TraceLine(record, text)


def _loads(text: bytes, line: int) -> t.Any:
    """``json.loads``, or the :class:`BadLine` that says why not."""
    try:
        return json.loads(text)
    except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError
        reason = exc.msg if isinstance(exc, json.JSONDecodeError) else "not UTF-8"
        if not isinstance(exc, (json.JSONDecodeError, UnicodeDecodeError)):
            reason = "a number too long"  # int() refuses over 4300 digits
        return BadLine(line, f"not JSON ({reason})", _preview(text))
    except RecursionError:
        return BadLine(line, "not a trace record (nested too deep)", _preview(text))


def _preview(text: bytes) -> str:
    return text[:_PREVIEW].decode("utf-8", "replace")


#: The longest line read as a record (a record holds capped values: a line
#: longer than this is not one). Memory stays bounded by it.
MAX_LINE = 64 << 20


#: Marks an overlong line found reading backwards (never valid JSON).
_OVERLONG = b"\n<overlong>"


def _too_long(line: int, head: bytes) -> BadLine:
    return BadLine(
        line, f"not a trace record (a line longer than {MAX_LINE >> 20} MiB)", _preview(head)
    )


class _LineCounter:
    """Line numbers of byte offsets in one file, counted only when asked.

    Reading the last records backwards skips the start of the file, so the
    number of a line there is unknown until a bad line needs it; counting
    newlines then is cheap and rare.
    """

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.offset = 0
        self.count = 0

    def number_at(self, offset: int) -> int:
        if offset < self.offset:
            self.offset = self.count = 0
        while self.offset < offset:
            chunk = os.pread(self.fd, min(_BLOCK * 16, offset - self.offset), self.offset)
            if not chunk:
                break
            self.count += chunk.count(b"\n")
            self.offset += len(chunk)
        return self.count + 1


class _Reader:
    """One open file: the read position and a line still being written."""

    def __init__(self, path: str) -> None:
        # O_NONBLOCK: opening a FIFO must not wait for a writer (it is refused below)
        self.fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        info = os.fstat(self.fd)
        if not stat.S_ISREG(info.st_mode):
            # positions, sizes and rotation only mean something for a file
            os.close(self.fd)
            raise NotARegularFileError(path)
        self.identity = (info.st_dev, info.st_ino)
        self.pos = 0
        self.buffer = b""
        self.counter = _LineCounter(self.fd)

    def close(self) -> None:
        os.close(self.fd)

    def restart(self) -> None:
        """Read from the first byte again (the file was truncated)."""
        self.pos = 0
        self.buffer = b""
        self.counter = _LineCounter(self.fd)

    def size(self) -> int:
        return os.fstat(self.fd).st_size

    def last_line_end(self, size: int) -> int:
        """The offset just after the last newline before ``size``."""
        end = size
        while end > 0:
            begin = max(0, end - _BLOCK)
            chunk = os.pread(self.fd, end - begin, begin)
            index = chunk.rfind(b"\n")
            if index >= 0:
                return begin + index + 1
            end = begin
        return 0

    def numbered(self, offset: int, item: TraceLine | BadLine) -> TraceLine | BadLine:
        if isinstance(item, BadLine):
            return dataclasses.replace(item, line=self.counter.number_at(offset))
        return item

    def lines_backwards(self, end: int) -> t.Iterator[tuple[int, bytes]]:
        """``(offset, line)`` of the lines before ``end`` (just after a newline), last first."""
        if end <= 0:
            return
        position = end - 1  # the last line's newline is not part of it
        carry = b""
        while True:
            begin = max(0, position - _BLOCK)
            data = os.pread(self.fd, position - begin, begin) + carry
            parts = data.split(b"\n")
            offset = begin + len(data)
            for part in reversed(parts[1:]):
                offset -= len(part)
                yield offset, part
                offset -= 1
            # the first piece may continue in the block before this one
            carry = parts[0]
            if len(carry) > MAX_LINE:
                # not a record: find where it starts without holding it
                start = self._line_start(begin)
                yield start, carry[:_PREVIEW] + _OVERLONG
                if start == 0:
                    return
                position, carry = start - 1, b""
                continue
            if begin == 0:
                yield 0, carry
                return
            position = begin

    def _line_start(self, before: int) -> int:
        """The offset just after the last newline before ``before`` (0: none)."""
        return self.last_line_end(before)

    #: The start of an overlong line being skipped (its bytes are not kept).
    skipping: bytes | None = None

    def read_lines(self, limit: int | None = None) -> list[TailItem]:
        """Read from the position (up to ``limit``) and parse the complete lines."""
        return list(self.iter_lines(limit))

    def iter_lines(self, limit: int | None = None) -> t.Iterator[TailItem]:
        """:meth:`read_lines` one item at a time: memory stays bounded by a
        block and the longest line (:data:`MAX_LINE`), whatever the file."""
        while True:
            want = _BLOCK * 16 if limit is None else min(_BLOCK * 16, limit - self.pos)
            if want <= 0:
                break
            chunk = os.pread(self.fd, want, self.pos)
            if not chunk:
                break
            line_start = self.pos - len(self.buffer)
            self.pos += len(chunk)
            if self.skipping is not None:
                newline = chunk.find(b"\n")
                if newline < 0:
                    continue
                head, self.skipping = self.skipping, None
                line_start = self.pos - len(chunk) + newline + 1
                yield self.numbered(line_start - 1, _too_long(0, head))
                chunk = chunk[newline + 1 :]
            lines = (self.buffer + chunk).split(b"\n")
            self.buffer = lines.pop()
            if len(self.buffer) > MAX_LINE:
                self.skipping, self.buffer = self.buffer[:_PREVIEW], b""
            for line in lines:
                item = parse_line(line, 0)
                if item is not None:
                    yield self.numbered(line_start, item)
                line_start += len(line) + 1

    def finish_buffer(self) -> list[TailItem]:
        """Parse a last line that never got its newline."""
        data, self.buffer = self.buffer, b""
        item = parse_line(data, 0)
        if item is None:
            return []
        if isinstance(item, BadLine):
            item = BadLine(0, "incomplete last line (a writer stopped mid-record?)", item.preview)
        return [self.numbered(self.pos - len(data), item)]


class TraceTail:
    """One trace file, read from a position and followed like ``tail -F``.

    Call :meth:`backlog` (or :meth:`seek_end`) once, then :meth:`poll` or
    :meth:`follow`; :meth:`finish` reads a last line that has no newline.

    After a rotation the old file stays open for :attr:`linger` seconds and
    is read on every poll: writers in other processes move to the new file
    one by one, and what they append to the old one meanwhile is theirs to
    see too.

    :param path: the JSON Lines file.
    :param wait: when the file does not exist yet, wait for it to appear
        instead of raising :class:`FileNotFoundError`.
    """

    #: Seconds a rotated-away file is still read.
    linger = 5.0

    def __init__(self, path: str | os.PathLike[str], *, wait: bool = False) -> None:
        self.path = os.fspath(path)
        self._file: _Reader | None = None
        self._retired: list[tuple[_Reader, float]] = []
        self._missing_reported = False
        try:
            self._file = _Reader(self.path)
        except FileNotFoundError:
            if not wait:
                raise

    @property
    def exists(self) -> bool:
        """Whether a file is open (false while waiting for it to appear)."""
        return self._file is not None

    def close(self) -> None:
        """Close the files; the tail can no longer be read."""
        for reader, _ in self._retired:
            reader.close()
        self._retired = []
        if self._file is not None:
            self._file.close()
            self._file = None

    def __enter__(self) -> TraceTail:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def seek_end(self) -> None:
        """Skip everything the file holds now but a partial last line."""
        if self._file is not None:
            self._file.pos = self._file.last_line_end(self._file.size())
            self._file.buffer = b""

    def backlog(
        self, count: int | None, match: t.Callable[[dict[str, t.Any]], bool] | None = None
    ) -> list[TailItem]:
        """The last ``count`` matching records now in the file (all with ``None``).

        Bad lines among the lines read are returned too, in file order. The
        tail is left just after the last complete line, ready to
        :meth:`poll`; a partial last line is left to be completed.
        """
        reader = self._file
        if reader is None:
            return []
        end = reader.last_line_end(reader.size())
        reader.buffer = b""
        if count is None:
            return list(self.stream_all(match))
        reader.pos = end
        found: list[tuple[int, TraceLine | BadLine]] = []
        matched = 0
        for offset, data in reader.lines_backwards(end):
            if matched >= count:
                break
            if data.endswith(_OVERLONG):
                found.append((offset, _too_long(0, data[: -len(_OVERLONG)])))
                continue
            item = parse_line(data, 0)
            if item is None:
                continue
            if isinstance(item, TraceLine):
                if match is not None and not match(item.record):
                    continue
                matched += 1
            found.append((offset, item))
        found.reverse()
        return [reader.numbered(offset, item) for offset, item in found]

    def stream_all(
        self, match: t.Callable[[dict[str, t.Any]], bool] | None = None
    ) -> t.Iterator[TailItem]:
        """Every matching record now in the file, and the bad lines, in file
        order, one at a time (``backlog(None)`` without holding them all):
        the first comes at once and memory stays bounded. Leaves the tail
        as :meth:`backlog` does."""
        reader = self._file
        if reader is None:
            return
        end = reader.last_line_end(reader.size())
        reader.buffer = b""
        reader.pos = 0
        for item in reader.iter_lines(end):
            if not isinstance(item, TraceLine) or match is None or match(item.record):
                yield item

    def poll(self) -> list[TailItem]:
        """Everything completed since the last call; follows rotation and truncation."""
        items = self._poll_retired()
        if self._file is None:
            try:
                self._file = _Reader(self.path)
            except FileNotFoundError:
                return items
            items.append(FileNotice("appeared", self.path))
        reader = self._file
        items.extend(reader.read_lines())
        try:
            info = os.stat(self.path)
        except FileNotFoundError:
            if not self._missing_reported:
                self._missing_reported = True
                items.append(FileNotice("missing", self.path))
            return items
        self._missing_reported = False
        if (info.st_dev, info.st_ino) != reader.identity:
            try:
                self._file = _Reader(self.path)
            except FileNotFoundError:
                return items
            self._retired.append((reader, time.monotonic() + self.linger))
            items.append(FileNotice("rotated", self.path))
            items.extend(self._file.read_lines())
        elif info.st_size < reader.pos:
            reader.restart()
            items.append(FileNotice("truncated", self.path))
            items.extend(reader.read_lines())
        return items

    def _poll_retired(self) -> list[TailItem]:
        items: list[TailItem] = []
        now = time.monotonic()
        keep = []
        for reader, until in self._retired:
            items.extend(reader.read_lines())
            if now < until:
                keep.append((reader, until))
            else:
                items.extend(reader.finish_buffer())
                reader.close()
        self._retired = keep
        return items

    def finish(self) -> list[TailItem]:
        """The rest of the files, last lines without newline included."""
        items: list[TailItem] = []
        for reader, _ in self._retired:
            items.extend([*reader.read_lines(), *reader.finish_buffer()])
        if self._file is not None:
            items.extend([*self._file.read_lines(), *self._file.finish_buffer()])
        return items

    def follow(
        self, interval: float = 0.1, stop: t.Callable[[], bool] | None = None
    ) -> t.Iterator[TailItem]:
        """Yield items as they are written, until ``stop()`` is true (forever without)."""
        for batch in self.follow_batches(interval, stop):
            yield from batch

    def follow_batches(
        self, interval: float = 0.1, stop: t.Callable[[], bool] | None = None
    ) -> t.Iterator[list[TailItem]]:
        """Like :meth:`follow`, one non-empty list per poll that found something."""
        while stop is None or not stop():
            items = self.poll()
            if items:
                yield items
            else:
                time.sleep(interval)


# -- what a record says ----------------------------------------------------


def record_queries(record: t.Mapping[str, t.Any]) -> int:
    """How many SQL statements a record's request ran (0 without ``queries``)."""
    queries = record.get("queries")
    count = queries.get("count") if isinstance(queries, dict) else None
    return count if isinstance(count, int) and not isinstance(count, bool) else 0


def record_status(record: t.Mapping[str, t.Any]) -> int | None:
    """The response status code (``None`` when no response started)."""
    response = record.get("response") or {}
    if not isinstance(response, dict):
        return None
    status = response.get("status_code", response.get("status"))
    if isinstance(status, int):
        return status
    if isinstance(status, str):
        head = status.split(" ", 1)[0]
        if head.isdigit():
            return int(head)
    return None


def record_path(record: t.Mapping[str, t.Any], raw: bool = False) -> str:
    """The full request path: ``SCRIPT_NAME`` + ``PATH_INFO``, decoded as the
    framework reads them (``/café``, see :mod:`wsgiscope.wsgistr`); ``raw``:
    the WSGI strings as recorded (``/cafÃ©``)."""
    from wsgiscope.wsgistr import display_path

    request = record.get("request") or {}
    if not isinstance(request, dict):
        return "/"
    script, path = request.get("script_name") or "", request.get("path") or ""
    if raw:
        return f"{script}{path}" or "/"
    return f"{display_path(script)}{display_path(path)}" or "/"


def record_error(record: t.Mapping[str, t.Any]) -> tuple[str, str] | None:
    """``("raised", "Type: message")`` when the app or one of its functions
    raised (even when the framework turned it into a 4xx), ``("teardown",
    ...)`` when only a teardown saw an exception, else ``None``: the one
    definition of :mod:`wsgiscope.outcome`."""
    from wsgiscope.outcome import record_raised

    found = record_raised(record)
    return None if found is None else (found.kind, found.message)


def record_worker_pid(record: t.Mapping[str, t.Any]) -> int | None:
    """The pid of the process that served the request."""
    worker = record.get("worker") or {}
    pid = worker.get("pid") if isinstance(worker, dict) else None
    return pid if isinstance(pid, int) else None


# -- filters -----------------------------------------------------------------

_STATUS_ITEM = re.compile(r"^([1-5])xx$|^([1-5]\d\d)$", re.IGNORECASE)


def parse_statuses(values: t.Iterable[str]) -> tuple[tuple[int, int], ...]:
    """``["5xx,404"]`` -> ``((500, 599), (404, 404))``.

    :raises ValueError: for an item that is neither ``Nxx`` nor a code.
    """
    ranges: list[tuple[int, int]] = []
    for value in values:
        for item in value.split(","):
            item = item.strip()
            found = _STATUS_ITEM.match(item)
            if not found:
                raise ValueError(f"{item!r} is not a status class like 5xx or a code like 404")
            if found.group(1):
                low = int(found.group(1)) * 100
                ranges.append((low, low + 99))
            else:
                code = int(found.group(2))
                ranges.append((code, code))
    return tuple(ranges)


def parse_duration_ms(value: str) -> float:
    """``"100ms"``, ``"1.5s"``, ``"250us"``, ``"2m"`` or a bare number of seconds -> ms
    (:func:`wsgiscope.units.parse_duration`: one reading for every duration option).

    :raises ValueError: for anything else.
    """
    from wsgiscope.units import parse_duration

    return parse_duration(value) * 1000


@dataclasses.dataclass(frozen=True)
class RecordFilter:
    """Which records to show; every given condition must hold.

    :param statuses: inclusive status ranges, any may match.
    :param methods: upper-case methods, any may match.
    :param path: a glob (:mod:`fnmatch`) the full path must match.
    :param slower_than_ms: the minimum duration.
    :param errors: only requests where the app raised or a teardown saw an
        exception.
    :param workers: pids, any may match.
    :param queries_over: only requests that ran more SQL statements (the
        record's ``queries.count``, 0 without one).
    :param since: only requests whose ``started`` is at this time (seconds
        since the epoch) or later; a record without a readable one is left out.
    """

    statuses: tuple[tuple[int, int], ...] = ()
    methods: frozenset[str] = frozenset()
    path: str | None = None
    slower_than_ms: float | None = None
    errors: bool = False
    workers: frozenset[int] = frozenset()
    queries_over: int | None = None
    since: float | None = None

    @property
    def active(self) -> bool:
        """Whether any condition is set."""
        return self != RecordFilter()

    def __call__(self, record: t.Mapping[str, t.Any]) -> bool:
        """Whether ``record`` passes."""
        if self.statuses:
            status = record_status(record)
            if status is None or not any(lo <= status <= hi for lo, hi in self.statuses):
                return False
        if self.methods:
            method = str((record.get("request") or {}).get("method") or "").upper()
            if method not in self.methods:
                return False
        if self.path is not None and not (
            fnmatch.fnmatchcase(record_path(record), self.path)
            or fnmatch.fnmatchcase(record_path(record, raw=True), self.path)
        ):
            return False
        if self.slower_than_ms is not None:
            duration = record.get("duration_ms")
            if not isinstance(duration, (int, float)) or duration < self.slower_than_ms:
                return False
        if self.errors and record_error(record) is None:
            return False
        if self.queries_over is not None and record_queries(record) <= self.queries_over:
            return False
        if self.since is not None:
            started = record_started(record)
            if started is None or started < self.since:
                return False
        return not self.workers or record_worker_pid(record) in self.workers


def record_started(record: t.Mapping[str, t.Any]) -> float | None:
    """When the request started (seconds since the epoch), or ``None``."""
    started = record.get("started")
    if not isinstance(started, str):
        return None
    try:
        return _timestamp(started)
    except ValueError:
        return None


def _timestamp(text: str) -> float:
    """An ISO-8601 time as seconds since the epoch; local time without an offset."""
    import datetime

    text = text.strip()
    if text[-1:] in ("Z", "z"):  # Python 3.10's fromisoformat takes no Z
        text = text[:-1] + "+00:00"
    when = datetime.datetime.fromisoformat(text)
    return when.timestamp()


def parse_since(text: str) -> float:
    """``--since``: a time (``2026-12-07T09:30:00Z``) or a duration back from
    now (``10m``), as seconds since the epoch.

    :raises ValueError: for anything else.
    """
    import time

    from wsgiscope.units import parse_duration

    try:
        return time.time() - parse_duration(text)
    except ValueError:
        pass
    try:
        return _timestamp(text)
    except ValueError:
        raise ValueError(
            f"{text!r} is neither a time (2026-12-07T09:30:00Z) nor a duration (10m, 2h)"
        ) from None
