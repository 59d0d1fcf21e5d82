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
    entries = engine.prepare(job["requests"], app)
    last = [0.0]

    def report(done: int, errors: int, force: bool = False) -> None:
        now = time.monotonic()
        if force or now - last[0] >= engine.REPORT_EVERY:
            last[0] = now
            os.write(fd, f"{done} {errors}\n".encode())

    if mode.kind == "greenlets":

        def created(shared: engine.Shared) -> None:
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
