"""The parent side of ``serve``: start the server process, hear from it, stop it.

The child runs in its own session, so a Ctrl-C in the terminal reaches only
``serve``, which then stops the child gracefully (SIGTERM: requests in flight
finish and are recorded) instead of every process dying at once. On Linux the
child also gets SIGTERM if ``serve`` itself is killed (``PR_SET_PDEATHSIG``),
so no server outlives it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import select
import signal
import socket
import subprocess
import sys
import threading
import time
import typing as t

from wsgiscope.errors import AppLoadError, ExitCode, UsageError, WsgiscopeError
from wsgiscope.serving import ERROR, READY, ServePlan, host_port

#: ``python -c`` programs of the child. For gevent the very first statement
#: patches, before wsgiscope, the app or ``concurrent.futures`` are imported.
BOOT = {
    "gevent": (
        "from gevent import monkey; monkey.patch_all()\n"
        "from wsgiscope.serving.child import main; main()"
    ),
    "default": "from wsgiscope.serving.child import main; main()",
}


class ServerError(WsgiscopeError):
    """The server process failed or stopped on its own."""


def check_port_free(host: str, port: int) -> None:
    """Fail early, with one line, when ``host:port`` cannot be bound.

    gunicorn would retry for five seconds; the dev servers would fail with
    a traceback-shaped message. A race with another program remains possible
    and is then reported by the child.
    """
    if port == 0:
        return
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise UsageError(
                f"cannot listen on {host_port(host, port)}: {exc.strerror or exc}",
                hint="choose another --port, or --port 0 for a free one",
            ) from None


def _child_env() -> dict[str, str]:
    """The environment of the child: ours, with wsgiscope importable."""
    import wsgiscope

    env = dict(os.environ)
    env["PYTHONUNBUFFERED"] = "1"  # the server's output is relayed as it comes
    root = os.path.dirname(os.path.dirname(os.path.abspath(wsgiscope.__file__)))
    # a source checkout (PYTHONPATH=. or a test run) must reach the child too;
    # an installed wsgiscope is found anyway, and adding site-packages in
    # front of the standard library could shadow it
    if "site-packages" not in root and "dist-packages" not in root:
        env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
    return env


def relay_escaped(stream: t.IO[bytes] | None, out: t.TextIO | None = None) -> None:
    """Copy the server's output to our stderr line by line, every character
    a terminal would act on (escape sequences, OSC 52, zero-width ones)
    escaped; until the server closes it."""
    from wsgiscope.render.text import escape_control

    if stream is None:
        return
    with contextlib.suppress(OSError, ValueError), stream:
        for line in iter(lambda: stream.readline(1 << 16), b""):
            text = line.decode("utf-8", "replace")
            ending = "\n" if text.endswith("\n") else ""
            target = out or sys.stderr
            with contextlib.suppress(OSError, ValueError):
                target.write(escape_control(text[: len(text) - len(ending)]) + ending)
                target.flush()


def _die_with_parent() -> t.Callable[[], None] | None:
    if not sys.platform.startswith("linux"):
        return None
    import ctypes

    try:
        libc = ctypes.CDLL(None, use_errno=True)
    except OSError:
        return None
    prctl = libc.prctl

    def preexec() -> None:
        prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG

    return preexec


@dataclasses.dataclass
class ServerProcess:
    """A running server child and its control pipe.

    Use :meth:`start`, then :meth:`wait_ready`, :meth:`messages` while it
    runs, and :meth:`stop` (also on the way out of a ``with`` block).
    """

    plan: ServePlan
    proc: subprocess.Popen[bytes]
    control: int
    _buffer: bytes = b""
    _eof: bool = False
    _fd_open: bool = True
    _relay: threading.Thread | None = None
    #: gunicorn workers that booted, and how many died before booting in a row.
    booted: set[int] = dataclasses.field(default_factory=set)
    boot_failures: int = 0

    @classmethod
    def start(cls, plan: ServePlan) -> ServerProcess:
        """Start the child for ``plan``."""
        read_end, write_end = os.pipe()
        plan = dataclasses.replace(plan, control_fd=write_end)
        boot = BOOT.get(plan.server, BOOT["default"])
        try:
            proc = subprocess.Popen(
                [sys.executable, "-c", boot, plan.to_json()],
                pass_fds=(write_end,),
                start_new_session=True,
                preexec_fn=_die_with_parent(),  # safe: serve starts no threads
                env=_child_env(),
                stdin=subprocess.DEVNULL,
                # what the app and the server print (the app's logger, its
                # tracebacks, wsgi.errors, gunicorn's log) is relayed to our
                # stderr escaped: a client must not reach the terminal through
                # a logged value. It must not mix with serve's stdout either
                # (JSON Lines with --json).
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
            )
        except BaseException:
            os.close(read_end)
            raise
        finally:
            os.close(write_end)
        server = cls(plan, proc, read_end)
        server._relay = threading.Thread(
            target=relay_escaped, args=(proc.stdout,), name="wsgiscope-relay", daemon=True
        )
        server._relay.start()
        return server

    def __enter__(self) -> ServerProcess:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        """Whether the child is still running."""
        return self.proc.poll() is None

    def messages(self, timeout: float = 0.0) -> list[dict[str, t.Any]]:
        """Control messages received within ``timeout`` seconds (maybe none)."""
        if self._eof or not self._fd_open:
            if timeout and b"\n" not in self._buffer:
                time.sleep(timeout)
            return self._parse()
        ready, _, _ = select.select([self.control], [], [], timeout)
        if ready:
            chunk = os.read(self.control, 65536)
            if not chunk:
                # every holder of the write end (child, workers) has gone
                self._eof = True
            self._buffer += chunk
        return self._parse()

    def _parse(self) -> list[dict[str, t.Any]]:
        lines = self._buffer.split(b"\n")
        self._buffer = lines.pop()
        found = []
        for line in lines:
            with contextlib.suppress(ValueError):
                found.append(json.loads(line))
        return found

    def wait_ready(
        self, timeout: float = 60.0, cancel: t.Callable[[], bool] | None = None
    ) -> dict[str, t.Any]:
        """The READY message; raises what the child reported instead.

        ``cancel()`` returning true (Ctrl-C) stops the child and raises
        :class:`KeyboardInterrupt`.

        :raises WsgiscopeError: the child's error (the app did not load,
            the port is taken), or :class:`ServerError` when it exited or
            did not get ready in time.
        """
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if cancel is not None and cancel():
                self.stop()
                raise KeyboardInterrupt
            for found in self.messages(0.1):
                if found.get("event") == READY:
                    return found
                raise_reported(found)
            if not self.running and self._eof:
                break
        if self.running:
            self.stop()
            raise ServerError(f"the server did not start listening within {timeout:.0f} s")
        raise ServerError(
            f"the server exited with code {self.proc.returncode} before it was ready",
            hint="its messages are above",
        )

    def stop(self, grace: float = 15.0, wait_first: float = 0.0) -> int:
        """Stop the child gracefully (SIGTERM), killing it after ``grace`` seconds.

        :param wait_first: seconds to let a child that is already on its
            way out exit by itself before it is sent SIGTERM.
        """
        if wait_first and self.running:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(wait_first)
        if self.running:
            with contextlib.suppress(ProcessLookupError):
                if self.plan.reload:
                    # werkzeug's reloader runs the server in a child of its own
                    os.killpg(self.proc.pid, signal.SIGTERM)
                else:
                    self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(grace)
            except (subprocess.TimeoutExpired, KeyboardInterrupt):
                # a second Ctrl-C, or a server that would not stop
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        if self._relay is not None:
            self._relay.join(5)  # the server's last words, up to its exit
        if self._fd_open:
            # what the child said on its way out stays readable (messages())
            with contextlib.suppress(OSError):
                while not self._eof and select.select([self.control], [], [], 0)[0]:
                    chunk = os.read(self.control, 65536)
                    self._eof = not chunk
                    self._buffer += chunk
            self._fd_open = False
            os.close(self.control)
        return self.proc.returncode


def raise_reported(found: t.Mapping[str, t.Any]) -> None:
    """Raise the error an ERROR control message describes (others are ignored)."""
    if found.get("event") != ERROR:
        return
    kinds: dict[str, type[WsgiscopeError]] = {"UsageError": UsageError}
    error = kinds.get(str(found.get("type")), AppLoadError)(
        str(found.get("message")), hint=found.get("hint")
    )
    with contextlib.suppress(ValueError):
        error.exit_code = ExitCode(found.get("exit_code", ExitCode.USAGE))
    raise error
