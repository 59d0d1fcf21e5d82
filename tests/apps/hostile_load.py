"""An app module that misbehaves at import, chosen by ``HOSTILE_LOAD``:
``exit`` calls ``os._exit(7)``; ``segv`` dies of a segfault; ``thread`` starts a non-daemon thread that
never ends; anything else loads normally."""

from __future__ import annotations

import os
import threading
import time
import typing as t

_mode = os.environ.get("HOSTILE_LOAD", "")

if _mode == "exit":
    os._exit(7)

if _mode == "segv":
    import signal

    os.kill(os.getpid(), signal.SIGSEGV)

if _mode == "thread":

    def _forever() -> None:
        while True:
            time.sleep(0.05)

    threading.Thread(target=_forever, name="app-poller").start()


def app(environ: dict[str, t.Any], start_response: t.Callable[..., t.Any]) -> list[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"ok"]
