"""Telling the user's Ctrl-C from an app that raises ``KeyboardInterrupt``.

Both reach wsgiscope as the same exception. A Ctrl-C must stop the command
(exit 130, results so far kept); an app that raises ``KeyboardInterrupt``
itself (a bare ``raise KeyboardInterrupt`` in a view, a library turning a
signal into one) is the app's error, to be reported like any other.

While :func:`watching_ctrl_c` is active, SIGINT goes through a handler that
notes it before raising ``KeyboardInterrupt`` as Python's default handler
does, so :func:`is_ctrl_c` knows which one it is looking at. Outside it (or
when SIGINT is not Python's default handler, e.g. ignored by ``nohup``, or
off the main thread) every ``KeyboardInterrupt`` counts as a Ctrl-C, which
is what Python itself assumes.
"""

from __future__ import annotations

import contextlib
import signal
import threading
import types
import typing as t

_watching = False
_pressed = False


def _note_ctrl_c(signum: int, frame: types.FrameType | None) -> None:
    global _pressed
    _pressed = True
    signal.default_int_handler(signum, frame)


@contextlib.contextmanager
def watching_ctrl_c() -> t.Iterator[None]:
    """Note every SIGINT until the block ends (then the previous handler is back)."""
    global _watching, _pressed
    if (
        _watching
        or threading.current_thread() is not threading.main_thread()
        or signal.getsignal(signal.SIGINT) is not signal.default_int_handler
    ):
        yield
        return
    signal.signal(signal.SIGINT, _note_ctrl_c)
    _watching, _pressed = True, False
    try:
        yield
    finally:
        _watching = False
        signal.signal(signal.SIGINT, signal.default_int_handler)


def is_ctrl_c(exc: BaseException | None) -> bool:
    """Whether ``exc`` is the user's Ctrl-C (not an app's own ``KeyboardInterrupt``)."""
    return isinstance(exc, KeyboardInterrupt) and (_pressed or not _watching)
