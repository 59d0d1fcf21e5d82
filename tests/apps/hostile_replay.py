"""A plain WSGI app whose views fault the way ``replay`` must survive:
``KeyboardInterrupt`` and ``SystemExit`` raised by a view, a view that
deadlocks, a view that kills its process with a signal."""

from __future__ import annotations

import os
import signal
import sys
import threading
import typing as t

_lock = threading.Lock()


def app(environ: dict[str, t.Any], start_response: t.Callable[..., t.Any]) -> list[bytes]:
    path = environ.get("PATH_INFO", "/")
    if path == "/kbi":
        raise KeyboardInterrupt
    if path == "/exit":
        sys.exit(4)
    if path == "/deadlock":
        _lock.acquire()  # the second request waits forever
    marker = os.environ.get("HOSTILE_SEGV_MARKER")
    if path == "/segv" and marker and "wsgiscope.replay.worker" in sys.modules:
        try:  # the first worker process to get here dies of a segfault
            os.close(os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
        except FileExistsError:
            pass
        else:
            os.kill(os.getpid(), signal.SIGSEGV)
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"ok"]
