"""Where trace records go: JSON Lines files, callables, file-like objects.

:func:`make_sink` turns what ``TraceMiddleware(sink=...)`` accepts into one
callable taking a record:

- a path (``str`` or ``os.PathLike``): JSON Lines appended to that file. The
  file is opened with ``O_APPEND`` and every record, newline included, goes
  out in ONE ``os.write`` call, so records written by many threads and
  processes (gunicorn workers) never interleave: with ``O_APPEND`` the
  kernel moves to the end and writes the whole buffer as one step for a
  regular file, whatever its size. (Writing a record in two calls corrupted
  94% of lines in a 4-process test.) The file is (re)opened lazily in each
  process, so a descriptor inherited across ``fork`` is never shared by
  accident of timing. Rotation is followed: about once a second the sink
  checks that the path still names the file it writes to and, when the
  file was renamed or removed (logrotate without ``copytruncate``), opens
  the path anew (``copytruncate`` needs nothing: ``O_APPEND`` writes land
  at the new end).
- a file-like object (anything with ``write``): one ``write`` of the whole
  line plus ``flush``, under a lock.
- any other callable: called with the record (a JSON-ready ``dict``).
- ``None``: records are built for nobody (useful with ``checks`` or tests).

Records are encoded by :func:`encode_record`: orjson when its output is
ASCII, else the stdlib path of :func:`wsgiscope.render.jsonout.dumps_line`.

Whatever the sink, a failing one never breaks the request: the first
failure is logged once on the ``wsgiscope`` logger (which reaches stderr
when logging is not configured), and every record lost is counted
(:attr:`SafeSink.failures`, ``TraceMiddleware.dropped``). A file record is
written whole or not at all: a write cut short by a full disk is taken back
out of the file (or, when another process appended after it, the next
record starts on a fresh line) and counted as lost.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
import typing as t

try:
    import orjson
except ImportError:  # not installed where it has no wheel: every record takes the json path
    orjson = None  # type: ignore[assignment]

from wsgiscope.render.jsonout import dumps_line

Record = dict[str, t.Any]
Sink = t.Callable[[Record], None]

_logger = logging.getLogger("wsgiscope")


def _no_orjson(record: Record, option: int = 0) -> bytes:
    raise TypeError("orjson is not installed")


_orjson_dumps = orjson.dumps if orjson is not None else _no_orjson
#: Subclasses of str/int/dict/list, datetimes and dataclasses make orjson
#: raise (and so take the stdlib path, which encodes them as it always did)
#: instead of being serialized orjson's own way.
_ORJSON_OPTIONS = (
    orjson.OPT_APPEND_NEWLINE
    | orjson.OPT_PASSTHROUGH_SUBCLASS
    | orjson.OPT_PASSTHROUGH_DATETIME
    | orjson.OPT_PASSTHROUGH_DATACLASS
    if orjson is not None
    else 0
)


_pid = os.getpid()
_monotonic = time.monotonic
_NONBLOCK = getattr(os, "O_NONBLOCK", 0)


def _after_fork() -> None:
    global _pid
    _pid = os.getpid()


if hasattr(os, "register_at_fork"):
    # os.getpid() is a system call: asked once, and again in a forked child.
    os.register_at_fork(after_in_child=_after_fork)


def encode_record(record: Record) -> bytes:
    """One JSON Lines record, newline included, as ASCII bytes.

    orjson encodes a trace record about ten times faster than ``json.dumps``
    but has no ``ensure_ascii``: its output is used only when it is ASCII
    (the common case; no C1 control byte can then reach a terminal), and
    whatever orjson refuses (non-str keys, ints beyond 64 bits, sets, deep
    nesting, odd types) goes through the stdlib path too, which escapes all
    non-ASCII text and turns odd values into their ``repr``. Both give the
    same parsed content for the JSON-ready values a built record holds
    (str, int, finite float, bool, None, list, tuple, dict). The exceptions
    are values a built record never holds: orjson writes ``NaN`` and
    infinities as ``null`` and ``enum.Enum`` members and ``uuid.UUID`` as
    their value where the stdlib path writes ``NaN`` and their ``repr``.
    """
    try:
        data = _orjson_dumps(record, option=_ORJSON_OPTIONS)
    except Exception:  # anything orjson cannot encode exactly: the stdlib path
        pass
    else:
        if data.isascii():
            return data
    return (dumps_line(record) + "\n").encode("ascii")


class JsonLinesFile:
    """Append records to a JSON Lines file, one ``os.write`` per record.

    :param path: the file; created (mode 0644 before umask) if missing.
    :param check_every: seconds between checks that ``path`` still names the
        file being written (rotation); ``0`` checks before every record.
    """

    #: Seconds a descriptor replaced after a rotation stays open, so that a
    #: thread that read it just before the swap writes to it safely.
    RETIRE_AFTER = 10.0

    def __init__(self, path: str | os.PathLike[str], check_every: float = 1.0) -> None:
        self.path = os.fspath(path)
        self.check_every = check_every
        self._fd: int | None = None
        self._pid = -1
        self._identity: tuple[int, int] | None = None
        self._check_at = 0.0
        self._retired: list[tuple[float, int]] = []
        self._lock = threading.Lock()

    def _open(self) -> int:
        fd = self._fd
        if fd is not None and self._pid == _pid:
            if _monotonic() < self._check_at:
                return fd
            return self._follow_rotation(fd)
        with self._lock:
            if self._fd is None or self._pid != _pid:
                # (A descriptor inherited across fork is the parent's: left alone.)
                self._retired = []
                self._fd = self._open_path()
                self._pid = _pid
            return self._fd

    def _open_path(self) -> int:
        flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_CLOEXEC", 0)
        # O_NONBLOCK: a FIFO nobody reads fails (ENXIO) instead of blocking
        # the request forever; writes block as usual once it is open.
        fd = os.open(self.path, flags | _NONBLOCK, 0o644)
        if _NONBLOCK:
            import fcntl

            fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) & ~_NONBLOCK)
        info = os.fstat(fd)
        self._identity = (info.st_dev, info.st_ino)
        self._check_at = _monotonic() + self.check_every
        return fd

    def _follow_rotation(self, fd: int) -> int:
        with self._lock:
            if self._fd != fd:
                return t.cast(int, self._fd)  # another thread has just reopened
            now = _monotonic()
            self._check_at = now + self.check_every
            while self._retired and self._retired[0][0] <= now:
                os.close(self._retired.pop(0)[1])
            try:
                info = os.stat(self.path)
            except FileNotFoundError:
                pass
            else:
                if (info.st_dev, info.st_ino) == self._identity:
                    return fd
            # Renamed or removed: the path is a new file (or is made one now).
            self._fd = self._open_path()
            self._retired.append((now + self.RETIRE_AFTER, fd))
            return self._fd

    #: Whether a cut record of ours may still end the file (its removal
    #: failed): the next record then starts on a fresh line.
    _cut = False

    def __call__(self, record: Record) -> None:
        data = encode_record(record)
        fd = self._open()
        if self._cut:
            data = b"\n" + data
        written = os.write(fd, data)  # raises with nothing written (ENOSPC...)
        if written != len(data):
            self._finish_or_undo(fd, data, written)
        elif self._cut:
            self._cut = False

    def _finish_or_undo(self, fd: int, data: bytes, written: int) -> None:
        """A write cut short (a full disk, a file size limit, a signal): finish
        it, or take the cut record back out of the file (truncating it back
        when nothing was appended after it, else making the next record start
        on a fresh line) and raise: a record is written whole or not at all."""
        total = written
        try:
            while total < len(data):
                total += os.write(fd, memoryview(data)[total:])
            self._cut = False
            return
        except OSError as exc:
            failure = exc
        try:
            end = os.lseek(fd, 0, os.SEEK_CUR)  # O_APPEND: the end of our bytes
            if os.fstat(fd).st_size == end:
                os.ftruncate(fd, end - total)
                self._cut = False
            else:
                self._cut = True  # another writer appended since
        except OSError:
            self._cut = True
        raise OSError(
            failure.errno,
            f"{failure.strerror or failure} (a record cut after {total} of"
            f" {len(data)} bytes was taken back out)",
        ) from None

    def close(self) -> None:
        """Close the file descriptor (reopened on the next record)."""
        with self._lock:
            if self._pid == _pid:
                for _, retired in self._retired:
                    os.close(retired)
                if self._fd is not None:
                    os.close(self._fd)
            self._retired = []
            self._fd = None

    def __repr__(self) -> str:
        return f"JsonLinesFile({self.path!r})"


class FileLikeSink:
    """Write records as JSON Lines to an open text or binary file object."""

    def __init__(self, stream: t.Any) -> None:
        self.stream = stream
        self._lock = threading.Lock()
        self._binary = _is_binary(stream)

    def __call__(self, record: Record) -> None:
        data = encode_record(record)
        with self._lock:
            self.stream.write(data if self._binary else data.decode("ascii"))
            flush = getattr(self.stream, "flush", None)
            if flush is not None:
                flush()

    def __repr__(self) -> str:
        return f"FileLikeSink({self.stream!r})"


def _is_binary(stream: t.Any) -> bool:
    import io

    if isinstance(stream, (io.RawIOBase, io.BufferedIOBase)):
        return True
    if isinstance(stream, io.TextIOBase):
        return False
    mode = getattr(stream, "mode", "")
    return isinstance(mode, str) and "b" in mode


class SafeSink:
    """Call ``sink`` and swallow its failures, reporting the first one.

    :param sink: the callable records go to.
    """

    def __init__(self, sink: Sink) -> None:
        self.sink = sink
        #: Records lost because the sink failed to take them.
        self.failures = 0
        #: The last failure, as ``"Type: message"``.
        self.last_failure: str | None = None
        #: Called as ``on_failure(failures, last_failure)`` after each failure
        #: (``serve`` reports lost records with it); its own errors are ignored.
        self.on_failure: t.Callable[[int, str], None] | None = None

    def __call__(self, record: Record) -> None:
        try:
            self.sink(record)
        except Exception as exc:
            self.failures += 1
            self.last_failure = _describe(exc)
            if self.on_failure is not None:
                with contextlib.suppress(Exception):
                    self.on_failure(self.failures, self.last_failure)
            if self.failures == 1:
                _logger.exception(
                    "wsgiscope: the trace sink %r failed; the app keeps answering and"
                    " further sink failures are not reported",
                    self.sink,
                )

    def __repr__(self) -> str:
        return f"SafeSink({self.sink!r})"


def _describe(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    try:
        return f"{type(exc).__name__}: {exc}"
    except Exception:
        return type(exc).__name__


def make_sink(sink: t.Any) -> SafeSink | None:
    """The callable records are given to, for what ``TraceMiddleware`` accepts.

    :param sink: ``None``, a path, a file-like object or a callable.
    :raises TypeError: for anything else.
    """
    if sink is None:
        return None
    if isinstance(sink, SafeSink):
        return sink
    if isinstance(sink, (str, os.PathLike)):
        return SafeSink(JsonLinesFile(sink))
    if callable(getattr(sink, "write", None)):
        return SafeSink(FileLikeSink(sink))
    if callable(sink):
        return SafeSink(sink)
    raise TypeError(f"a trace sink must be a path, a file-like object or a callable, not {sink!r}")
