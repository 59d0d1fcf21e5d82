"""Watching wrappers for ``wsgi.input`` and ``wsgi.errors``.

They pass every call through to the server's stream unchanged (anything they
do not know is delegated with ``__getattr__``) and only report misuse: reads
past ``CONTENT_LENGTH``, unusual arguments, ``close()``, non-str errors.
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

    def _overread(self, call: str, asked: str) -> None:
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
        # read() without a size is allowed: PEP 3333 makes servers bound it.
        if remaining is not None and size is not None and size > remaining:
            self._overread("read", str(size))
        return self._count(self._stream.read(*args, **kwargs))

    def readline(self, *args: t.Any, **kwargs: t.Any) -> t.Any:
        self._misuse("readline", args, kwargs)
        size = _size(args)
        if self.remaining == 0 and size != 0:
            self._overread("readline", "" if size is None else str(size))
        return self._count(self._stream.readline(*args, **kwargs))

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
        return getattr(self._stream, name)


class ErrorsWatcher:
    """``wsgi.errors`` as the app sees it while it is linted."""

    def __init__(self, stream: t.Any, findings: FindingList) -> None:
        self._stream = stream
        self._findings = findings

    def write(self, s: t.Any) -> t.Any:
        if not isinstance(s, str):
            self._findings.add(
                "WSGI603", f"wsgi.errors.write() got {type(s).__name__}, not str", "errors"
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
