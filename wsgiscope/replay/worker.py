"""The entry point of a replay worker process.

The runner starts each worker as a fresh interpreter whose *first* statement
is ``gevent.monkey.patch_all()`` for patched greenlet mode (see
:data:`BOOTSTRAP`), before the app, ``concurrent.futures`` or anything that
starts a thread is imported (gunicorn issue 3482); then :func:`main` reads
the job (a pickle written by the runner: app reference, requests, mode,
plan, this worker's share of the request numbers), loads the app itself,
runs, and writes its result (a pickle) back. Progress goes to an inherited
pipe as ``done errors`` lines. The first SIGINT (Ctrl-C) only sets the
stop flag, so the loops finish the request in hand and the partial result
is still written; a second one stops waiting for workers stuck in a request
(they are counted as abandoned) and writes the result of the others.
"""

from __future__ import annotations

import os
import pickle
import signal
import sys
import threading
import time
import typing as t

#: ``python -c`` programs that run a worker: patched greenlets patch first.
BOOTSTRAP = {
    True: (
        "from gevent import monkey; monkey.patch_all()\n"
        "import sys; from wsgiscope.replay.worker import main; sys.exit(main(sys.argv[1:]))"
    ),
    False: "import sys; from wsgiscope.replay.worker import main; sys.exit(main(sys.argv[1:]))",
}


def main(argv: list[str]) -> int:
    """``JOB RESULT FD``: run the job, write the result; exit status 0.

    A job without a mode only lists the route table's requests (the
    runner's ``routes_in_worker``).
    """
    job_path, result_path, fd = argv[0], argv[1], int(argv[2])
    with open(job_path, "rb") as file:
        job = pickle.load(file)
    try:
        result = _run(job, fd)
    except Exception as exc:
        from wsgiscope.errors import WsgiscopeError

        if isinstance(exc, WsgiscopeError):
            result = {"error": exc.message, "hint": exc.hint, "exit_code": int(exc.exit_code)}
        else:
            result = {"error": f"replay worker failed: {type(exc).__name__}: {exc}", "hint": None}
    with open(result_path, "wb") as file:
        pickle.dump(result, file)
    from wsgiscope.loading import leave_app_threads

    leave_app_threads(0)  # threads the app started must not keep the worker alive
    return 0


def _run(job: dict[str, t.Any], fd: int) -> dict[str, t.Any]:
    from wsgiscope.loading import load_app
    from wsgiscope.replay import engine

    loaded = load_app(job["ref"])
    mode, plan = job["mode"], job["plan"]
    if mode is None:
        from wsgiscope.replay.sources import requests_from_routes
        from wsgiscope.routing import discover_routes

        return {"requests": requests_from_routes(discover_routes(loaded.app))}
    app, counter = loaded.app, None
    if getattr(plan, "queries", False):  # replay --queries
        from wsgiscope.capture.counting import counting

        app, counter = counting(app)
    from wsgiscope.replay.report import Interrupting, endpoint_groups

    if mode.kind == "greenlets" and getattr(plan, "timeout", None):
        app = Interrupting(app, plan.timeout)  # -t: the greenlet moves on
    entries = engine.prepare(job["requests"], app)

    groups = endpoint_groups(loaded.app, job["requests"])
    last = [0.0]

    def report(done: int, errors: int, force: bool = False) -> None:
        now = time.monotonic()
        if force or now - last[0] >= engine.REPORT_EVERY:
            last[0] = now
            os.write(fd, f"{done} {errors}\n".encode())

    share = job.get("share")

    def shared_numbers(shared: engine.Shared) -> None:
        if share is not None:
            numbers = ClaimedNumbers(share["path"], share["chunk"], share["total"])
            shared.counter, shared.offset, shared.stride = numbers, 0, 1
            shared.ready = numbers.wait_for(share["processes"])

    if mode.kind == "greenlets":

        def created(shared: engine.Shared) -> None:
            shared.groups = groups
            shared_numbers(shared)
            signal.signal(
                signal.SIGINT,
                _on_ctrl_c(lambda: setattr(shared, "stop", True), lambda: shared.stop),
            )

        result = engine.run_greenlets(
            app,
            entries,
            mode,
            plan,
            job["offset"],
            job["stride"],
            report=report,
            created=created,
        )
    else:
        run = engine.LocalRun(app, entries, mode, plan, job["offset"], job["stride"])
        run.shared.groups = groups
        shared_numbers(run.shared)
        signal.signal(signal.SIGINT, _on_ctrl_c(run.stop, lambda: run.interrupted))
        run.start()
        try:
            while not run.wait(engine.REPORT_EVERY):
                report(*run.progress())
        except KeyboardInterrupt:  # the second Ctrl-C: leave the stuck workers
            result = run.result(wait=False)
        else:
            result = run.result()
    report(result.stats.count, result.stats.errors, force=True)
    return {
        "stats": result.stats.to_payload(),
        "findings": result.findings.to_payload(),
        "duration_s": result.duration_s,
        "interrupted": result.interrupted,
        "abandoned": result.abandoned,
        "patched": "gevent.monkey" in sys.modules
        and sys.modules["gevent.monkey"].is_module_patched("threading"),
        "queries": None if counter is None else counter.to_payload(),
    }


def _on_ctrl_c(stop: t.Callable[[], None], stopped: t.Callable[[], bool]) -> t.Any:
    """A SIGINT handler: the first signal calls ``stop`` (the loops end after
    the request in hand); the next raises ``KeyboardInterrupt`` to stop
    waiting for a request that does not end."""

    from wsgiscope.replay.engine import note_ctrl_c, notes_ctrl_c

    notes_ctrl_c()

    def handler(signum: int, frame: t.Any) -> None:
        note_ctrl_c()
        if stopped():
            raise KeyboardInterrupt
        stop()

    return handler


#: How long a worker process waits for the others to be ready to measure.
READY_WAIT = 10.0


class ClaimedNumbers:
    """The global request numbers of one worker process, claimed in chunks
    from a counter that the worker processes of one mode share (a small
    file, locked with ``flock`` while a chunk is taken).

    A fixed share per process (``offset + i * stride``) makes the mode's
    time that of the slowest process: one slowed down by anything else on
    the machine left the others idle at the end (10-15% of a two-process
    run on a loaded machine). Claimed in chunks, the processes end together,
    and every number in ``0..total-1`` is still served exactly once.
    After the last, every call returns ``total`` (the loops stop there).
    Thread-safe (the threads of a process share it).
    """

    #: Bytes of the file: the next unclaimed number, then the processes ready.
    _NEXT, _READY = 0, 8

    def __init__(self, path: str, chunk: int, total: int) -> None:
        self._fd = os.open(path, os.O_RDWR)
        self._chunk = chunk
        self._total = total
        self._next = self._end = 0
        self._lock = threading.Lock()

    def __iter__(self) -> ClaimedNumbers:
        return self

    def __next__(self) -> int:
        with self._lock:
            if self._next >= self._end:
                start = self._add(self._NEXT, self._chunk)
                self._next, self._end = start, min(start + self._chunk, self._total)
                if start >= self._total:
                    return self._total
            number = self._next
            self._next += 1
            return number

    def _add(self, where: int, amount: int) -> int:
        """Add ``amount`` to the counter at ``where``; its value before."""
        import fcntl

        fcntl.flock(self._fd, fcntl.LOCK_EX)
        try:
            value = int.from_bytes(os.pread(self._fd, 8, where), "little")
            os.pwrite(self._fd, (value + amount).to_bytes(8, "little"), where)
        finally:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
        return value

    def gone(self) -> None:
        """Count one more process as ready (one that exited), and close."""
        try:
            self._add(self._READY, 1)
        finally:
            os.close(self._fd)

    def wait_for(self, processes: int) -> t.Callable[[t.Any], None]:
        """A :attr:`Shared.ready <wsgiscope.replay.engine.Shared.ready>`:
        say this process is ready, then wait (at most :data:`READY_WAIT`
        seconds, or until stopped) until ``processes`` are, so that they
        measure side by side rather than one after another."""

        def ready(shared: t.Any) -> None:
            self._add(self._READY, 1)
            limit = time.monotonic() + READY_WAIT
            while not shared.stop and time.monotonic() < limit:
                if self._add(self._READY, 0) >= processes:
                    return
                time.sleep(0.001)

        return ready


def share_file(path: str) -> None:
    """Create the counters :class:`ClaimedNumbers` reads (both zero)."""
    with open(path, "wb") as file:
        file.write(bytes(16))


def release(path: str) -> None:
    """Count a worker process that exited as ready: the others stop waiting
    for it (the runner calls it when a worker's pipe closes)."""
    ClaimedNumbers(path, 1, 0).gone()
