"""Run one replay mode and summarise it: the core of ``wsgiscope replay``.

:func:`run_mode` runs sequential and thread modes in this process (worker
threads, watched from the calling thread) and greenlet and multi-process
modes in fresh worker processes (:mod:`wsgiscope.replay.worker`), each
loading the app itself; their results are merged. Progress is handed to a
callback as ``(done, errors)`` about ten times a second. Ctrl-C stops the
workers, and the result of what ran comes back with ``interrupted`` set.
:func:`summarize` turns a :class:`ModeResult` into the documented JSON
object.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import pickle
import selectors
import signal
import subprocess
import sys
import tempfile
import threading
import time
import typing as t
from pathlib import Path

from wsgiscope.errors import WsgiscopeError
from wsgiscope.replay.isolation import Findings
from wsgiscope.replay.stats import Stats

if t.TYPE_CHECKING:
    from wsgiscope.loading import AppRef, LoadedApp
    from wsgiscope.replay.plan import Mode, ReplayPlan
    from wsgiscope.replay.sources import ReplayRequest

Progress = t.Callable[[int, int], None]

#: How often progress is reported, in seconds.
POLL = 0.1


class WorkerError(WsgiscopeError):
    """A replay worker process failed before it could report."""


class AppHandle:
    """The app to replay: its reference, loaded in this process only if needed.

    Greenlet and multi-process modes load the app in their worker processes
    only, so an app that monkey-patches when imported (as gevent apps often
    do) never patches the process that draws the progress bar.
    """

    def __init__(self, ref: AppRef, loaded: LoadedApp | None = None) -> None:
        self.ref = ref
        self._loaded = loaded

    @property
    def loaded(self) -> LoadedApp:
        """The app, imported on first use."""
        if self._loaded is None:
            from wsgiscope.loading import load_app

            self._loaded = load_app(self.ref)
        return self._loaded


@dataclasses.dataclass
class ModeResult:
    """One mode's merged measurements."""

    mode: Mode
    stats: Stats
    findings: Findings
    duration_s: float
    interrupted: bool = False
    patched: bool | None = None
    warnings: list[str] = dataclasses.field(default_factory=list)
    #: The most requests in flight at once inside any one process
    #: (``stats.max_in_flight`` adds the processes' peaks up).
    process_peak: int | None = None
    #: Workers left in a request that did not end (a second Ctrl-C).
    abandoned: int = 0
    #: ``--queries``: per-endpoint SQL statement counts (see wsgiscope.capture.counting).
    queries: dict[str, list[float]] | None = None
    #: Per distinct request: requests, errors, mean and max latency.
    endpoints: list[dict[str, t.Any]] = dataclasses.field(default_factory=list)
    #: The plan it ran (``--timeout`` is judged against the latencies).
    plan: ReplayPlan | None = None
    #: CPU time this process spent in the run (in-process modes only).
    cpu_s: float | None = None


def run_mode(
    target: AppHandle,
    requests: t.Sequence[ReplayRequest],
    mode: Mode,
    plan: ReplayPlan,
    progress: Progress | None = None,
) -> ModeResult:
    """Replay ``requests`` against the app in ``mode``.

    :raises WorkerError: when a worker process dies or cannot load the app.
    """
    if mode.in_subprocess:
        result = _run_processes(target.ref, requests, mode, plan, progress)
    else:
        result = _run_here(target.loaded, requests, mode, plan, progress)
    stats = result.stats
    result.plan = plan
    result.endpoints = stats.endpoints(lambda index: requests[index].describe())
    if result.abandoned:
        result.warnings.append(
            f"{mode.label}: {result.abandoned} "
            + ("worker was" if result.abandoned == 1 else "workers were")
            + " still in a request the app did not finish; "
            + ("it is" if result.abandoned == 1 else "they are")
            + " not in the figures"
        )
    if mode.kind == "greenlets" and mode.workers > 1 and stats.count > 1:
        _warn_no_concurrency(result)
    _warn_low_concurrency(result)
    if plan.check and stats.count and not result.findings.stable:
        result.warnings.append(
            f"{mode.label}: no request had an answer to judge it by (each was excluded, "
            "see the report), so the divergence check compared nothing"
        )
    return result


def _warn_low_concurrency(result: ModeResult) -> None:
    """Threads (or greenlets that overlapped a little): far fewer in flight than asked."""
    from wsgiscope.replay.report import concurrency_warning

    mode = result.mode
    peak = result.stats.max_in_flight if result.process_peak is None else result.process_peak
    if mode.kind == "greenlets" and peak <= 1:
        return  # _warn_no_concurrency said it
    plan = result.plan
    cores = None
    if result.cpu_s is not None and result.duration_s > 0:
        cores = result.cpu_s / result.duration_s
    warning = concurrency_warning(
        mode, peak, result.stats.count, cores, paced=bool(plan is not None and plan.rate)
    )
    if warning:
        result.warnings.append(warning)


def _warn_no_concurrency(result: ModeResult) -> None:
    mode = result.mode
    peak = result.stats.max_in_flight if result.process_peak is None else result.process_peak
    if peak <= 1:
        why = (
            "greenlets only switch where the app yields to gevent, and --no-patch "
            "left blocking calls blocking"
            if not mode.patch
            else "nothing the app does yields to gevent (CPU-bound, or blocking C calls)"
        )
        result.warnings.append(
            f"{mode.label}: no effective concurrency (at most 1 request in flight"
            + (" per process" if mode.processes > 1 else "")
            + "): "
            f"{why}; the isolation checks saw no overlap"
        )


def _run_here(
    loaded: LoadedApp,
    requests: t.Sequence[ReplayRequest],
    mode: Mode,
    plan: ReplayPlan,
    progress: Progress | None,
) -> ModeResult:
    from wsgiscope.replay import engine

    app, counter = _counting(loaded.app, plan)
    entries = engine.prepare(requests, app)
    run = engine.LocalRun(app, entries, mode, plan)
    run.shared.groups = _groups(loaded.app, requests)
    cpu = time.process_time()
    # The baseline and the warm-up run before the workers, in a thread of
    # their own, so that --duration and Ctrl-C end them too (an app that
    # deadlocks would hold the main thread forever).
    begun = threading.Event()
    failed: list[BaseException] = []

    def begin() -> None:
        try:
            run.start()
        except BaseException as exc:  # handed to the main thread below
            failed.append(exc)
        finally:
            begun.set()

    began = time.monotonic()
    limit = None if plan.duration is None else plan.duration + max(1.0, plan.duration / 10)
    threading.Thread(target=begin, name="replay-baseline", daemon=True).start()
    try:
        while not begun.wait(POLL):
            if limit is not None and time.monotonic() - began > limit:
                return _stuck(mode, "before the measured run (the baseline and warm-up)", plan)
    except KeyboardInterrupt:
        run.stop()
        if not begun.wait(POLL):
            return ModeResult(mode, Stats(), Findings(), 0.0, True, abandoned=1)
    if failed:
        raise failed[0]
    measured = time.monotonic()
    try:
        while not run.wait(POLL):
            if progress is not None:
                progress(*run.progress())
            if limit is not None and time.monotonic() - measured > limit:
                run.stop()  # workers stuck in a request: --duration is over
                break
    except KeyboardInterrupt:
        run.stop()
    stuck = not run.wait(0)
    result = run.result(wait=not stuck)  # a second Ctrl-C in it leaves the stuck workers
    cpu = time.process_time() - cpu
    if counter is not None:
        counter.release()
    if progress is not None:
        progress(result.stats.count, result.stats.errors)
    return ModeResult(
        mode,
        result.stats,
        result.findings,
        result.duration_s,
        result.interrupted or False,
        abandoned=result.abandoned,
        queries=None if counter is None else counter.to_payload(),
        cpu_s=cpu,
    )


def _groups(app: t.Any, requests: t.Sequence[ReplayRequest]) -> tuple[list[int], list[str]]:
    """Each request's endpoint group (the rule answering it), for the endpoint rows."""
    from wsgiscope.replay.report import endpoint_groups

    return endpoint_groups(app, requests)


def _counting(app: t.Any, plan: ReplayPlan) -> tuple[t.Any, t.Any]:
    """``(app, counter)``: the app wrapped in a QueryCounter with ``--queries``."""
    if not getattr(plan, "queries", False):
        return app, None
    from wsgiscope.capture.counting import counting

    return counting(app)


def _stuck(mode: Mode, where: str, plan: ReplayPlan) -> ModeResult:
    """The result of a mode whose app did not answer within --duration."""
    result = ModeResult(mode, Stats(), Findings(), plan.duration or 0.0, False)
    result.warnings.append(
        f"{mode.label}: the app did not answer within --duration {where}; nothing was"
        " measured (a deadlock?)"
    )
    return result


@dataclasses.dataclass
class _Worker:
    process: subprocess.Popen[bytes]
    read_fd: int
    result_path: Path
    log_path: Path
    done: int = 0
    errors: int = 0
    buffer: bytes = b""
    #: Killed by us: still in a request when --duration had long passed.
    stuck: bool = False


def _child_env() -> dict[str, str]:
    """This environment, with wsgiscope importable whatever the child's cwd."""
    root = str(Path(__file__).resolve().parent.parent.parent)
    paths = [root] + [
        os.path.abspath(p) for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p
    ]
    return {**os.environ, "PYTHONPATH": os.pathsep.join(dict.fromkeys(paths))}


def _run_processes(
    ref: AppRef,
    requests: t.Sequence[ReplayRequest],
    mode: Mode,
    plan: ReplayPlan,
    progress: Progress | None,
) -> ModeResult:
    from wsgiscope.replay.worker import BOOTSTRAP, release, share_file

    patch = mode.kind == "greenlets" and mode.patch
    with tempfile.TemporaryDirectory(prefix="wsgiscope-replay-") as directory:
        workers: list[_Worker] = []
        share: dict[str, t.Any] | None = None
        if (
            mode.processes > 1
            and plan.duration is None
            and plan.requests is not None
            and not plan.rate
        ):
            # A count to serve, unpaced: the processes claim request numbers
            # in chunks (see worker.ClaimedNumbers), about 64 per process.
            path = str(Path(directory) / "numbers")
            share_file(path)
            chunk = max(1, min(1024, plan.requests // (mode.processes * 64)))
            share = {
                "path": path,
                "chunk": chunk,
                "total": plan.requests,
                "processes": mode.processes,
            }
        try:
            for index in range(mode.processes):
                workers.append(
                    _spawn(
                        Path(directory), index, ref, requests, mode, plan, BOOTSTRAP[patch], share
                    )
                )
            limit = None if plan.duration is None else plan.duration + max(5.0, plan.duration / 10)
            if share is None:
                interrupted = _watch(workers, progress, limit)
            else:
                gone = functools.partial(release, share["path"])
                interrupted = _watch(workers, progress, limit, gone)
        finally:
            for worker in workers:
                if worker.process.poll() is None:
                    worker.process.kill()
                    worker.process.wait()
                os.close(worker.read_fd)
        return _merge(mode, workers, interrupted, plan)


def _spawn(
    directory: Path,
    index: int,
    ref: AppRef,
    requests: t.Sequence[ReplayRequest],
    mode: Mode | None,
    plan: ReplayPlan | None,
    program: str,
    share: dict[str, t.Any] | None = None,
) -> _Worker:
    job = {
        "ref": ref,
        "requests": list(requests),
        "mode": mode,
        "plan": plan,
        "offset": index,
        "stride": mode.processes if mode is not None else 1,
        "share": share,
    }
    job_path = directory / f"job-{index}.pickle"
    job_path.write_bytes(pickle.dumps(job))
    result_path = directory / f"result-{index}.pickle"
    log_path = directory / f"log-{index}.txt"
    read_fd, write_fd = os.pipe()
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-c", program, str(job_path), str(result_path), str(write_fd)],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            pass_fds=(write_fd,),
            env=_child_env(),
            cwd=str(ref.base_dir),
        )
    os.close(write_fd)
    os.set_blocking(read_fd, False)
    return _Worker(process, read_fd, result_path, log_path)


def _watch(
    workers: list[_Worker],
    progress: Progress | None,
    limit: float | None = None,
    gone: t.Callable[[], None] = lambda: None,
) -> bool:
    """Relay progress until every worker exits; ``True`` if interrupted.

    :param limit: seconds after which the workers are asked to stop (SIGINT),
        and five more after which those still stuck in a request are killed
        (``--duration`` is over for every phase, baseline included).
    :param gone: called when a worker's pipe closes (it exited): the others
        stop waiting for it to be ready (see ``worker.ClaimedNumbers``).
    """
    interrupted = False
    began = time.monotonic()
    asked = False
    selector = selectors.DefaultSelector()
    for worker in workers:
        selector.register(worker.read_fd, selectors.EVENT_READ, worker)
    open_count = len(workers)
    try:
        while open_count:
            try:
                for key, _ in selector.select(POLL):
                    worker = key.data
                    chunk = os.read(worker.read_fd, 65536)
                    if not chunk:
                        selector.unregister(worker.read_fd)
                        open_count -= 1
                        gone()
                        continue
                    _parse_progress(worker, chunk)
                if progress is not None:
                    progress(sum(w.done for w in workers), sum(w.errors for w in workers))
                if limit is not None and time.monotonic() - began > limit:
                    for worker in workers:
                        if worker.process.poll() is None:
                            if asked and time.monotonic() - began > limit + 5:
                                worker.stuck = True
                                worker.process.kill()
                            elif not asked:
                                worker.process.send_signal(signal.SIGINT)
                    asked = True
            except KeyboardInterrupt:
                interrupted = True
                for worker in workers:
                    if worker.process.poll() is None:
                        worker.process.send_signal(signal.SIGINT)
    finally:
        selector.close()
    for worker in workers:
        worker.process.wait()
    return interrupted


def _parse_progress(worker: _Worker, chunk: bytes) -> None:
    worker.buffer += chunk
    *lines, worker.buffer = worker.buffer.split(b"\n")
    if lines:
        done, errors = lines[-1].split()
        worker.done, worker.errors = int(done), int(errors)


def _result(index: int, worker: _Worker) -> dict[str, t.Any]:
    """A worker's result; its error raised as a :class:`WorkerError`."""
    if not worker.result_path.exists():
        log = worker.log_path.read_text("utf-8", "replace").strip().splitlines()
        tail = log[-1] if log else "no output"
        raise WorkerError(
            f"replay worker {index} exited with status {worker.process.returncode} "
            f"without a result: {tail}"
        )
    result: dict[str, t.Any] = pickle.loads(worker.result_path.read_bytes())
    if "error" in result:
        error = WorkerError(result["error"], result.get("hint"))
        if "exit_code" in result:
            error.exit_code = type(error.exit_code)(result["exit_code"])
        raise error
    return result


def routes_in_worker(ref: AppRef, patch: bool) -> list[ReplayRequest]:
    """GET/HEAD for every buildable route, discovered in a worker process.

    Used when every mode runs in worker processes, so that this process
    never imports the app (see :class:`AppHandle`).
    """
    from wsgiscope.replay.worker import BOOTSTRAP

    with tempfile.TemporaryDirectory(prefix="wsgiscope-replay-") as directory:
        worker = _spawn(Path(directory), 0, ref, [], None, None, BOOTSTRAP[patch])
        try:
            worker.process.wait()
        finally:
            os.close(worker.read_fd)
        requests: list[ReplayRequest] = _result(0, worker)["requests"]
        return requests


def _merge(
    mode: Mode, workers: list[_Worker], interrupted: bool, plan: ReplayPlan | None = None
) -> ModeResult:
    stats = Stats()
    findings = Findings()
    duration = 0.0
    patched: bool | None = None
    peaks = []
    abandoned = 0
    queries: list[dict[str, list[float]]] = []
    lost: list[str] = []
    for index, worker in enumerate(workers):
        code = worker.process.returncode
        if code is not None and code < 0 and not worker.result_path.exists():
            # killed by a signal (a segfault in the app, or by us: stuck past
            # --duration): the others' results stay
            why = "stuck past --duration" if worker.stuck else _signal_name(-code)
            lost.append(f"worker {index} ({why})")
            continue
        result = _result(index, worker)
        if result.get("queries") is not None:
            queries.append(result["queries"])
        stats.merge(Stats.from_payload(result["stats"]))
        findings.merge(Findings.from_payload(result["findings"]))
        duration = max(duration, result["duration_s"])
        interrupted = interrupted or result["interrupted"]
        patched = result["patched"]
        peaks.append(result["stats"]["max_in_flight"])
        abandoned += result["abandoned"]
    if lost and all(worker.stuck for worker in workers) and plan is not None:
        return _stuck(mode, "in the worker processes", plan)
    if lost and len(lost) == len(workers):
        raise WorkerError(
            f"every replay worker process died: {', '.join(lost)}",
            hint="the app crashed the interpreter; run it sequentially to see where",
        )
    # Requests in flight at once across processes: each process's own peak,
    # added up (they ran side by side).
    stats.max_in_flight = sum(peaks)
    merged = ModeResult(
        mode,
        stats,
        findings,
        duration,
        interrupted,
        patched,
        process_peak=max(peaks, default=0),
        abandoned=abandoned,
        queries=_merged_queries(queries),
    )
    if lost:
        merged.warnings.append(
            f"{mode.label}: replay {'worker process' if len(lost) == 1 else 'worker processes'}"
            f" killed by a signal, {', '.join(lost)}: "
            f"{'its' if len(lost) == 1 else 'their'} requests are not in the figures"
        )
    return merged


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def _merged_queries(payloads: list[dict[str, list[float]]]) -> dict[str, list[float]] | None:
    if not payloads:
        return None
    from wsgiscope.capture.counting import merge_payloads

    return merge_payloads(payloads)


def summarize(result: ModeResult) -> dict[str, t.Any]:
    """The documented ``replay --json`` object for one mode."""
    stats = result.stats
    findings = result.findings
    mode = result.mode
    return {
        "mode": mode.kind,
        "label": mode.label,
        "workers": mode.workers,
        "processes": mode.processes,
        "patched": (result.patched if result.patched is not None else mode.patch)
        if mode.kind == "greenlets"
        else None,
        "requests": stats.count,
        "errors": stats.errors,
        "status": stats.status_classes(),
        **_load_report(result),
        "exceptions": stats.exceptions,
        "error_examples": stats.examples,
        "wsgi_errors": {"chars": stats.wsgi_errors, "head": stats.wsgi_errors_head},
        "duration_s": round(result.duration_s, 6),
        "throughput_rps": round(stats.count / result.duration_s, 1) if result.duration_s else 0.0,
        "latency_ms": {k: round(v, 3) for k, v in stats.latency_ms().items()},
        "histogram": [[round(bound, 3), count] for bound, count in stats.histogram()],
        "endpoints": result.endpoints,
        "max_in_flight": stats.max_in_flight,
        "idents": len(stats.idents),
        "isolation": {
            "checked": findings.checked + findings.compared,
            "context_checks": findings.checked,
            "compared": findings.compared,
            "stable": findings.stable,
            "unstable": findings.unstable,
            "excluded": [
                {"reason": reason, "count": count, "requests": requests}
                for reason, (count, requests) in findings.excluded.items()
            ],
            "varied": findings.varied,
            "unjudged": findings.unjudged,
            "leaks": findings.leaks,
            "divergent": findings.divergent,
            "examples": findings.examples,
        },
        "interrupted": result.interrupted,
        "warnings": result.warnings,
        **_queries_summary(result),
    }


def _load_report(result: ModeResult) -> dict[str, t.Any]:
    """Exact status codes, per-endpoint rows, timeouts (:mod:`wsgiscope.replay.report`)."""
    from wsgiscope.replay.report import endpoint_rows, status_codes

    stats = result.stats
    timeout = getattr(result.plan, "timeout", None) if result.plan is not None else None
    timeouts = None
    if timeout is not None:
        limit_us = timeout * 1_000_000
        timeouts = sum(count for value, count in stats.hist.values() if value > limit_us)
    return {
        "status_codes": status_codes(stats),
        "endpoint_stats": endpoint_rows(stats, result.duration_s),
        "timeout_s": timeout,
        "timeouts": timeouts,
    }


def _queries_summary(result: ModeResult) -> dict[str, t.Any]:
    if result.queries is None:
        return {}
    from wsgiscope.capture.counting import summary

    return {"queries": summary(result.queries)}
