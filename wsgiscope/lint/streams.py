"""Watching wrappers for ``wsgi.input`` and ``wsgi.errors``.

They pass every call through to the server's stream unchanged (anything they
do not know is delegated with ``__getattr__``) and only report misuse: reads
past ``CONTENT_LENGTH``, calls a server need not support, ``close()``,
non-str errors.
"""

from __future__ import annotations

import contextlib
import typing as t

from wsgiscope.lint.findings import FindingList


def _size(args: tuple[t.Any, ...]) -> int | None:
    """The size argument of a read call; ``None`` for "all"."""
    if not args or args[0] is None:
        return None
    size = args[0]
    if isinstance(size, int) and size >= 0:
        return size
    return None


class InputWatcher:
    """``wsgi.input`` as the app sees it while it is linted.

    :param stream: the server's input stream.
    :param findings: where to report.
    :param limit: ``CONTENT_LENGTH`` (``None`` when the input is terminated,
        i.e. reading to EOF is safe).
    """

    def __init__(self, stream: t.Any, findings: FindingList, limit: int | None) -> None:
        self._stream = stream
        self._findings = findings
        self._limit = limit
        self._consumed = 0

    @property
    def remaining(self) -> int | None:
        """Bytes left under CONTENT_LENGTH (``None``: no limit)."""
        if self._limit is None:
            return None
        return max(self._limit - self._consumed, 0)

    def _misuse(self, call: str, args: tuple[t.Any, ...], kwargs: dict[str, t.Any]) -> None:
        if kwargs or len(args) > 1:
            self._findings.add(
                "WSGI604",
                f"wsgi.input.{call} called with {len(args)} arguments"
                f"{' and keywords' if kwargs else ''}",
                "input",
            )
        elif call == "read" and _size(args) is None and self._limit is not None:
            # PEP 3333: a server "should" allow it, so one may not; with
            # wsgi.input_terminated reading to EOF is the contract.
            self._findings.add(
                "WSGI604",
                "wsgi.input.read() without a size, which a server need not support; "
                f"read(CONTENT_LENGTH) instead (CONTENT_LENGTH {self._limit})",
                "input",
            )
        elif call == "readline" and _size(args) is not None:
            self._findings.add(
                "WSGI604",
                f"wsgi.input.readline({args[0]}) with a size, which a server may omit support for",
                "input",
            )

    def _line_end(self, call: str, line: t.Any) -> None:
        """A line that stops at the body's end without a newline: on a socket
        the server hands over unbounded, readline() would have gone on
        reading past CONTENT_LENGTH to find one. (Iteration needs no such
        check: its last readline() always asks past the end.)"""
        if (
            self.remaining == 0
            and isinstance(line, (bytes, bytearray))
            and line
            and not line.endswith(b"\n")
        ):
            self._overread(call, "", "reached the body's end without a newline")

    def _overread(self, call: str, asked: str, where: str | None = None) -> None:
        if where is None:
            where = "after the body was read" if self.remaining == 0 else "past the body's end"
        self._findings.add(
            "WSGI601",
            f"wsgi.input.{call}({asked}) {where} (CONTENT_LENGTH {self._limit})",
            "input",
        )

    def _count(self, data: t.Any) -> t.Any:
        with contextlib.suppress(TypeError):
            self._consumed += len(data)
        return data

    def read(self, *args: t.Any, **kwargs: t.Any) -> t.Any:
        self._misuse("read", args, kwargs)
        size = _size(args)
        remaining = self.remaining
        # read() without a size is reported by _misuse (WSGI604), not here.
        if remaining is not None and size is not None and size > remaining:
            self._overread("read", str(size))
        return self._count(self._stream.read(*args, **kwargs))

    def readline(self, *args: t.Any, **kwargs: t.Any) -> t.Any:
        self._misuse("readline", args, kwargs)
        size = _size(args)
        if self.remaining == 0 and size != 0:
            self._overread("readline", "" if size is None else str(size))
            return self._count(self._stream.readline(*args, **kwargs))
        line = self._count(self._stream.readline(*args, **kwargs))
        if size is None or size > len(line):
            self._line_end("readline", line)
        return line

    def _readinto(self, buffer: t.Any) -> t.Any:
        # Not part of PEP 3333's input interface: werkzeug uses it when the
        # stream has it (hasattr), so it exists here only when the server's
        # stream has it, and its reads count like read(len(buffer)).
        try:
            size = len(buffer)
        except TypeError:
            size = None
        remaining = self.remaining
        if remaining is not None and size is not None and size > remaining:
            self._overread("readinto", f"<{size}-byte buffer>")
        count = self._stream.readinto(buffer)
        if isinstance(count, int):
            self._consumed += count
        return count

    def readlines(self, *args: t.Any, **kwargs: t.Any) -> t.Any:
        self._misuse("readlines", args, kwargs)
        if self.remaining == 0:
            self._overread("readlines", "")
        lines = self._stream.readlines(*args, **kwargs)
        for line in lines:
            self._count(line)
        return lines

    def __iter__(self) -> t.Iterator[t.Any]:
        while True:
            if self.remaining == 0:
                self._findings.add(
                    "WSGI601",
                    f"iterated wsgi.input after all CONTENT_LENGTH {self._limit} bytes were read",
                    "input",
                )
            line = self._stream.readline()
            if not line:
                return
            yield self._count(line)

    def close(self) -> None:
        self._findings.add("WSGI602", "the application called wsgi.input.close()", "input")
        self._stream.close()

    def __getattr__(self, name: str) -> t.Any:
        value = getattr(self._stream, name)
        if name == "readinto":
            return self._readinto
        return value


class ErrorsWatcher:
    """``wsgi.errors`` as the app sees it while it is linted."""

    def __init__(self, stream: t.Any, findings: FindingList) -> None:
        self._stream = stream
        self._findings = findings

    def write(self, s: t.Any) -> t.Any:
        if type(s) is not str:
            kind = " (a str subclass)" if isinstance(s, str) else ""
            self._findings.add(
                "WSGI603", f"wsgi.errors.write() got {type(s).__name__}{kind}, not str", "errors"
            )
        return self._stream.write(s)

    def writelines(self, seq: t.Iterable[t.Any]) -> None:
        for line in seq:
            self.write(line)

    def flush(self) -> t.Any:
        return self._stream.flush()

    def close(self) -> None:
        self._findings.add("WSGI602", "the application called wsgi.errors.close()", "errors")
        self._stream.close()

    def __getattr__(self, name: str) -> t.Any:
        return getattr(self._stream, name)
