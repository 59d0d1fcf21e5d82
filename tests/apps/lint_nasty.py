"""Apps that misbehave in ways a checker must survive (never crash on)."""

import os
import signal
import sys
import time


class _CloseProperty:
    def __iter__(self):
        return iter([b"x"])

    @property
    def close(self):
        raise RuntimeError("close property boom")


def close_property_raises(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return _CloseProperty()


class _NotAnIterator:
    def __iter__(self):
        return [b"x"]  # a list, not an iterator


def iter_returns_list(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return _NotAnIterator()


def exits(environ, start_response):
    sys.exit(3)


def yields_none(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [None, 5, b"ok"]


def status_none_headers_none(environ, start_response):
    start_response(None, None)
    return [b"x"]


def header_triples(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain", "extra"), "X-Str"])
    return [b"x"]


def no_arguments(environ, start_response):
    start_response()
    return [b"x"]


class _Everything:
    """Raises from every dunder a server might touch."""

    def __iter__(self):
        raise MemoryError("not really")

    def __len__(self):
        raise RuntimeError("len boom")

    def __repr__(self):
        raise RuntimeError("repr boom")

    def close(self):
        raise RuntimeError("close boom")


def everything_raises(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return _Everything()


def bad_repr_return(environ, start_response):
    class Bad:
        def __repr__(self):
            raise RuntimeError("repr boom")

    start_response("200 OK", [])
    return Bad()


def huge_header(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain"), ("X-Big", "\n" * 100_000)])
    return [b"x"]


def generator_exit_body(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])

    def body():
        yield b"a"
        raise GeneratorExit

    return body()


NASTY = [
    close_property_raises,
    iter_returns_list,
    exits,
    yields_none,
    status_none_headers_none,
    header_triples,
    no_arguments,
    everything_raises,
    bad_repr_return,
    huge_header,
    generator_exit_body,
]


def ctrl_c_on_second(environ, start_response):
    """The user presses Ctrl-C (a real SIGINT) during the second request."""
    if environ["PATH_INFO"] == "/second":
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(5)  # the signal's handler raises before this ends
    start_response("200 OK", [("Connection", "close"), ("Content-Type", "text/plain")])
    return [b"x"]


def raises_keyboard_interrupt(environ, start_response):
    """An app that raises KeyboardInterrupt itself: its error, not a Ctrl-C."""
    if environ["PATH_INFO"] == "/second":
        raise KeyboardInterrupt("raised by the app")
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"x"]
