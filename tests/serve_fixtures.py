"""Shared helpers of the serve and tail tests: trace records, free ports, servers."""

from __future__ import annotations

import json
import os
import typing as t


def make_record(
    n: int = 0,
    *,
    method: str = "GET",
    path: str = "/",
    status: int = 200,
    duration_ms: float = 1.0,
    pid: int = 1000,
    error: dict[str, str] | None = None,
    teardown_exception: str | None = None,
) -> dict[str, t.Any]:
    """A ``wsgiscope.trace/1`` record shaped as DESIGN.md describes it."""
    events: list[dict[str, t.Any]] = []
    if teardown_exception is not None:
        events.append(
            {
                "seq": 1,
                "t_ms": 0.5,
                "kind": "hook",
                "depth": 1,
                "hook": "teardown_request",
                "function": "app.close_db",
                "exception": teardown_exception,
                "duration_ms": 0.01,
            }
        )
    return {
        "format": "wsgiscope.trace/1",
        "id": f"req-{n}",
        "started": "2026-01-02T03:04:05.678000+00:00",
        "duration_ms": duration_ms,
        "request": {
            "method": method,
            "path": path,
            "query_string": "",
            "script_name": "",
            "scheme": "http",
            "host": "127.0.0.1",
        },
        "environ": {},
        "events": events,
        "response": {
            "status": f"{status} {'OK' if status < 400 else 'ERROR'}",
            "status_code": status,
            "headers": [],
            "body_bytes": 12,
            "body_preview": "",
            "truncated": False,
        },
        "error": error,
        "lint": [],
        "worker": {
            "pid": pid,
            "thread": f"Thread-{n}",
            "thread_ident": 139_000_000 + n,
            "greenlet": None,
        },
    }


def record_line(record: dict[str, t.Any]) -> bytes:
    """One JSON Lines line for ``record``."""
    return json.dumps(record).encode() + b"\n"


def append(path: str | os.PathLike[str], data: bytes) -> None:
    """Append ``data`` to ``path`` in one ``O_APPEND`` write, as the sink does."""
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)


class ServeRun:
    """``wsgiscope serve ... --port 0`` in a subprocess; always stopped.

    stdout and stderr go to files (a pipe nobody reads would block the
    server after 64 KiB). Use as a context manager; :meth:`stop` sends
    Ctrl-C (SIGINT) and waits, killing on timeout.
    """

    def __init__(
        self,
        tmp_path,
        *args: str,
        app: str = "tests/apps/serve_flask.py:app",
        env: dict[str, str] | None = None,
        preexec_fn: t.Callable[[], None] | None = None,
    ) -> None:
        import subprocess
        import sys

        self.out_path = tmp_path / "serve.out"
        self.err_path = tmp_path / "serve.err"
        self._out = open(self.out_path, "wb")  # noqa: SIM115
        self._err = open(self.err_path, "wb")  # noqa: SIM115
        root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "wsgiscope", "serve", app, "--port", "0", *args],
            stdout=self._out,
            stderr=self._err,
            stdin=subprocess.DEVNULL,
            cwd=root,
            env={**os.environ, "PYTHONPATH": root, "NO_COLOR": "1", **(env or {})},
            preexec_fn=preexec_fn,
        )
        self.returncode: int | None = None

    @property
    def stderr(self) -> str:
        return self.err_path.read_text()

    @property
    def stdout(self) -> str:
        return self.out_path.read_text()

    def wait_ready(self, timeout: float = 30.0) -> str:
        """The server's base URL, once it printed it."""
        import re
        import time

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = re.search(r" on (http://\S+/) \(pid (\d+)\)", self.stderr)
            if found:
                self.server_pid = int(found.group(2))
                return found.group(1)
            if self.proc.poll() is not None:
                raise AssertionError(f"serve exited {self.proc.returncode}: {self.stderr}")
            time.sleep(0.05)
        raise AssertionError(f"serve did not get ready: {self.stderr}")

    def worker_pids(self) -> set[int]:
        import re

        return {int(p) for p in re.findall(r"worker (\d+) booted", self.stderr)}

    def stop(self, timeout: float = 30.0) -> int:
        """Ctrl-C, then wait for the summary and the exit."""
        import signal
        import subprocess

        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise
        self.returncode = self.proc.returncode
        return self.returncode

    def __enter__(self) -> ServeRun:
        return self

    def __exit__(self, *exc_info: object) -> None:
        try:
            if self.proc.poll() is None:
                self.stop()
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
            self._out.close()
            self._err.close()


def read_records(path: str | os.PathLike[str]) -> list[dict[str, t.Any]]:
    """Every line of a record file, each required to be a whole trace record."""
    with open(path, "rb") as file:
        data = file.read()
    assert data == b"" or data.endswith(b"\n")
    records = [json.loads(line) for line in data.splitlines()]
    assert all(r["format"] == "wsgiscope.trace/1" for r in records)
    return records


def request_plan(count: int) -> list[tuple[str, str]]:
    """``count`` requests: mostly GETs, with failures, 404s, POSTs and streams mixed in."""
    plan = []
    for i in range(count):
        if i % 50 == 7:
            plan.append(("GET", "/fail"))
        elif i % 40 == 3:
            plan.append(("GET", "/stream"))
        elif i % 30 == 1:
            plan.append(("GET", f"/nope/{i}"))
        elif i % 20 == 2:
            plan.append(("POST", "/items"))
        else:
            plan.append(("GET", f"/items/{i}"))
    return plan


def hammer(base_url: str, plan: list[tuple[str, str]], concurrency: int = 8) -> list[int]:
    """Send every request of ``plan`` from ``concurrency`` threads; the statuses, in order.

    Each thread loops over a shared index with its own client (one task per
    request would measure the harness more than the server).
    """
    import itertools
    import threading

    import httpx

    counter = itertools.count()
    statuses = [0] * len(plan)
    failures: list[BaseException] = []

    def work() -> None:
        try:
            with httpx.Client(base_url=base_url, timeout=30) as client:
                while (i := next(counter)) < len(plan):
                    method, path = plan[i]
                    response = client.request(method, path)
                    response.read()
                    statuses[i] = response.status_code
        except BaseException as exc:  # reported by the caller
            failures.append(exc)

    threads = [threading.Thread(target=work) for _ in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        raise failures[0]
    return statuses
