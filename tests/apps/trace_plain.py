"""Plain WSGI apps probing the tracing middleware's transparency."""

from __future__ import annotations

import sys
import threading
import typing as t

Environ = dict[str, t.Any]


def hello(environ: Environ, start_response: t.Callable[..., t.Any]) -> list[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "5")])
    return [b"hello"]


class Streaming:
    """A generator app that records how far the server has read and its closes."""

    def __init__(self) -> None:
        self.produced = 0
        self.closes = 0
        self.release = threading.Event()

    def __call__(self, environ: Environ, start_response: t.Callable[..., t.Any]) -> t.Any:
        start_response("200 OK", [("Content-Type", "text/plain")])
        return StreamBody(self)


class StreamBody:
    def __init__(self, app: Streaming) -> None:
        self.app = app
        self.i = 0

    def __iter__(self) -> StreamBody:
        return self

    def __next__(self) -> bytes:
        if self.i == 3:
            raise StopIteration
        self.i += 1
        self.app.produced += 1
        return f"chunk{self.i}\n".encode()

    def close(self) -> None:
        self.app.closes += 1


class FailingBody:
    """Yields one chunk, then raises; counts close() calls."""

    def __init__(self) -> None:
        self.closes = 0

    def __call__(self, environ: Environ, start_response: t.Callable[..., t.Any]) -> t.Any:
        start_response("200 OK", [("Content-Type", "text/plain")])
        return self._body()

    def _body(self) -> t.Any:
        outer = self

        class Body:
            def __init__(self) -> None:
                self.n = 0

            def __iter__(self) -> t.Any:
                return self

            def __next__(self) -> bytes:
                self.n += 1
                if self.n == 1:
                    return b"first"
                raise ValueError("broken body")

            def close(self) -> None:
                outer.closes += 1

        return Body()


def writer(environ: Environ, start_response: t.Callable[..., t.Any]) -> list[bytes]:
    write = start_response("200 OK", [("Content-Type", "text/plain")])
    write(b"written ")
    return [b"returned"]


def file_app(environ: Environ, start_response: t.Callable[..., t.Any]) -> t.Any:
    import io

    start_response("200 OK", [("Content-Type", "application/octet-stream")])
    return environ["wsgi.file_wrapper"](io.BytesIO(b"0123456789" * 10), 7)


def error_after_start(environ: Environ, start_response: t.Callable[..., t.Any]) -> list[bytes]:
    """Starts a response, fails, and starts an error response with exc_info."""
    start_response("200 OK", [("Content-Type", "text/plain")])
    try:
        raise KeyError("missing")
    except KeyError:
        start_response(
            "500 Internal Server Error", [("Content-Type", "text/plain")], sys.exc_info()
        )
    return [b"error"]


def raising(environ: Environ, start_response: t.Callable[..., t.Any]) -> list[bytes]:
    raise LookupError("no such thing")


def secrets(environ: Environ, start_response: t.Callable[..., t.Any]) -> list[bytes]:
    start_response(
        "200 OK",
        [("Content-Type", "text/plain"), ("Set-Cookie", "sid=abc; HttpOnly"), ("X-Api-Key", "k")],
    )
    return [b"ok"]
