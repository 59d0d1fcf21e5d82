"""The worker loops: call the app directly with a freshly built environ.

Each distinct request is built once (:func:`prepare`, with werkzeug's
``EnvironBuilder`` through :func:`wsgiscope.request.build_environ`, so the
base URL is the one the framework's test client uses); every replay of it
is a shallow copy of that environ with a new ``wsgi.input`` and its own
:data:`~wsgiscope.replay.isolation.REQUEST_ID`.

Every worker (thread, greenlet) runs :func:`worker_loop`: its own loop over
a shared index (``itertools.count``, atomic under the GIL), its own
:class:`~wsgiscope.replay.stats.Stats`. One future or ``pool.map`` task per
request cost 40-67% of throughput where per-worker loops cost 1-14% (DESIGN,
"Known pitfalls"). With a rate, request *i* is due at ``t0 + i / rate`` and
its latency counts from then, however late a busy worker picks it up: a
stalled app shows as latency, not as fewer requests (no coordinated
omission).

:func:`run_local` runs sequential and thread modes in this process;
:func:`run_greenlets` runs a gevent pool (in a worker process, after it has
patched). Both return a :class:`LocalResult`.
"""

from __future__ import annotations

import dataclasses
import gc
import io
import itertools
import os
import threading
import time
import typing as t

from wsgiscope.redact import cap
from wsgiscope.replay import expect
from wsgiscope.replay.isolation import REQUEST_ID, ContextChecker, Findings, flask_apps
from wsgiscope.replay.stats import HIGHEST_US, Stats, new_histogram

if t.TYPE_CHECKING:
    from wsgiscope.replay.plan import Mode, ReplayPlan
    from wsgiscope.replay.sources import ReplayRequest

#: How often a worker process reports its progress, in seconds.
REPORT_EVERY = 0.2


class Entry:
    """One distinct request, ready to replay.

    :param expected: what the sequential baseline answered
        (:class:`~wsgiscope.replay.expect.Expected`), ``None`` when the
        request is not compared.
    """

    __slots__ = ("body", "environ", "expected", "request")

    def __init__(self, request: ReplayRequest, environ: dict[str, t.Any], body: bytes) -> None:
        self.request = request
        self.environ = environ
        self.body = body
        self.expected: expect.Expected | None = None


#: Characters kept of one ``wsgi.errors`` line (a logged 20 kB value is not a head).
HEAD_LINE_CAP = 500


class ErrorsSink:
    """``wsgi.errors`` for replayed requests: counted, not printed.

    A server hands the app its own error log; a replay of thousands of
    failing requests must not flood the terminal with the app's logged
    tracebacks (Flask logs to ``wsgi.errors``). The first few lines are kept.
    """

    def __init__(self, keep: int = 20) -> None:
        self.written = 0
        self.head: list[str] = []
        self._keep = keep

    def write(self, text: str) -> int:
        self.written += len(text)
        if len(self.head) < self._keep:
            lines = text.splitlines()[: self._keep - len(self.head)]
            self.head.extend(cap(line, HEAD_LINE_CAP) for line in lines)
        return len(text)

    def writelines(self, lines: t.Iterable[str]) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        return None


def prepare(requests: t.Sequence[ReplayRequest], app: t.Any) -> list[Entry]:
    """One :class:`Entry` per request; identical requests share one.

    Every environ gets the same :class:`ErrorsSink` as ``wsgi.errors``.
    """
    from wsgiscope.request import RequestSpec, build_environ

    sink = ErrorsSink()
    distinct: dict[ReplayRequest, Entry] = {}
    entries = []
    for request in requests:
        key = dataclasses.replace(request, origin="")
        entry = distinct.get(key)
        if entry is None:
            path = request.target
            if request.host:
                path = f"{request.scheme or 'http'}://{request.host}{path}"
            spec = RequestSpec(
                path=path,
                method=request.method,
                headers=list(request.headers),
                body=request.body
                if request.body or request.method not in ("GET", "HEAD")
                else None,
            )
            environ = build_environ(spec, app)
            body = environ["wsgi.input"].read()
            # Present in the template, so the per-request copy never resizes.
            environ[REQUEST_ID] = -1
            environ["wsgi.errors"] = sink
            entry = distinct[key] = Entry(request, environ, body)
        entries.append(entry)
    return entries


#: In a replay worker process, whose own SIGINT handler calls
#: :func:`note_ctrl_c`: whether a Ctrl-C arrived (see :func:`is_ctrl_c`).
_ctrl_c = threading.Event()
_noting = False


def note_ctrl_c() -> None:
    """Say a Ctrl-C arrived (a worker process's SIGINT handler calls it)."""
    global _noting
    _noting = True
    _ctrl_c.set()


def notes_ctrl_c() -> None:
    """Say this process's SIGINT handler calls :func:`note_ctrl_c`."""
    global _noting
    _noting = True


def is_ctrl_c(exc: BaseException) -> bool:
    """Whether ``exc``, raised while the app ran, is the user's Ctrl-C rather
    than the app's own ``KeyboardInterrupt`` (or ``SystemExit``): that
    request's error. A signal only reaches the main thread; there, a
    worker process's handler or :func:`wsgiscope.interrupts.watching_ctrl_c`
    says whether a Ctrl-C arrived."""
    if not isinstance(exc, KeyboardInterrupt):
        return False
    if threading.current_thread() is not threading.main_thread():
        return False
    if _noting:
        return _ctrl_c.is_set()
    from wsgiscope.interrupts import is_ctrl_c as pressed

    return pressed(exc)


def call_app(
    app: t.Any, environ: dict[str, t.Any], captured: list[t.Any] | None = None
) -> tuple[str, bytes]:
    """Run one request: ``(status line, body)``; the iterable is closed.

    :param captured: a one-item list; its item becomes the response headers.
    """
    statuses: list[str] = []
    written: list[bytes] = []

    def start_response(status: str, headers: t.Any, exc_info: t.Any = None) -> t.Any:
        if exc_info is not None and statuses:
            raise exc_info[1].with_traceback(exc_info[2])
        statuses.append(status)
        if captured is not None:
            captured[0] = headers
        return written.append

    body = drain(app(environ, start_response))
    if written:
        body = b"".join(written) + body
    return (statuses[-1] if statuses else ""), body


def drain(result: t.Iterable[bytes]) -> bytes:
    """A WSGI response iterable's body, joined; its ``close()`` called (PEP 3333)
    whatever the iteration did."""
    try:
        return b"".join(result)
    finally:
        close = getattr(result, "close", None)
        if close is not None:
            close()


@dataclasses.dataclass
class Shared:
    """What the worker loops of one process share.

    Global request numbers are ``offset + i * stride`` for the ``i``-th
    request this process takes, so ``P`` processes cover ``0..total-1``
    between them without talking to each other.
    """

    app: t.Any
    entries: list[Entry]
    total: int | None
    deadline: float | None = None
    interval: float | None = None
    offset: int = 0
    stride: int = 1
    check: bool = True
    #: One worker in one process: a mismatch is run-to-run variation, not a divergence.
    sequential: bool = False
    candidates: expect.Candidates = dataclasses.field(default_factory=expect.Candidates)
    checker: ContextChecker | None = None
    findings: Findings = dataclasses.field(default_factory=Findings)
    counter: t.Iterator[int] = dataclasses.field(default_factory=itertools.count)
    stop: bool = False
    t0: float = 0.0
    in_flight: int = 0
    max_in_flight: int = 0
    track: bool = True
    lock: t.Any = dataclasses.field(default_factory=threading.Lock)
    report: t.Callable[[], None] | None = None
    next_report: float = 0.0
    #: The latency histogram every worker of this process adds to, and its lock
    #: (not ``lock``: the in-flight count must not wait for a batch).
    latencies: t.Any = None
    latencies_lock: t.Any = dataclasses.field(default_factory=threading.Lock)
    #: Per request index its endpoint group, and the groups' names
    #: (:func:`wsgiscope.replay.report.endpoint_groups`).
    groups: tuple[list[int], list[str]] | None = None
    #: Called once this process is ready to measure (baseline and warm-up
    #: done): the worker processes of one mode wait there for each other.
    ready: t.Callable[[Shared], None] | None = None


def worker_loop(shared: Shared, stats: Stats, ident: int) -> None:  # noqa: C901 (the hot path, inlined on purpose)
    """Serve requests until the count, the deadline or a stop is reached."""
    app = shared.app
    entries = shared.entries
    size = len(entries)
    counter = shared.counter
    total = shared.total
    deadline = shared.deadline
    paced = shared.interval is not None
    offset, stride = shared.offset, shared.stride
    check = shared.check
    track = shared.track
    lock = shared.lock
    perf = time.perf_counter
    # Each request's latency and source request index (``~index`` for an
    # error) are kept in ``stats`` (Stats.kept_*) and counted in batches of
    # LATENCY_BATCH (_flush): the latencies into the one histogram of this
    # process (``shared.latencies``, ~190 KB), so 10,000 threads cost no
    # 10,000 histograms. Status codes are counted per status line
    # (Stats.lines), for the few distinct lines an app answers with.
    latencies = stats.kept_latencies
    keep_latency = latencies.append
    keep_index = stats.kept_indices.append
    lines = stats.lines
    if shared.groups is not None:
        stats.groups, stats.group_names = shared.groups
    bytes_io = io.BytesIO
    slot = shared.checker.slot(ident) if shared.checker is not None else None
    # call_app, inlined with one start_response for all of this worker's
    # requests (a closure and two lists per request cost ~1 us): ``answer``
    # holds the status and headers of the request in hand, reset before each.
    answer: list[t.Any] = [_NO_STATUS, None]
    written: list[bytes] = []
    write = written.append

    def start_response(status: str, headers: t.Any, exc_info: t.Any = None) -> t.Any:
        if exc_info is not None and answer[0] is not _NO_STATUS:
            raise exc_info[1].with_traceback(exc_info[2])
        answer[0] = status
        answer[1] = headers
        return write

    compared = 0
    entry = None
    try:
        # A for loop over the counter, not ``while not stop: next(counter)``:
        # 0.5 us (5,000 instructions) less per request on CPython 3.11.
        for i in counter:
            if shared.stop:
                break
            number = offset + i * stride
            if total is not None and number >= total:
                break
            index = number % size
            entry = entries[index]
            start = _due(shared, i) if paced else perf()
            environ = entry.environ.copy()
            environ["wsgi.input"] = bytes_io(entry.body)
            environ[REQUEST_ID] = number
            if slot is not None:
                slot.request_id, slot.entry, slot.g = number, entry, None
            if track:
                with lock:
                    shared.in_flight += 1
                    if shared.in_flight > shared.max_in_flight:
                        shared.max_in_flight = shared.in_flight
            answer[0], answer[1] = _NO_STATUS, None
            try:
                body = drain(app(environ, start_response))
                if written:
                    body = b"".join(written) + body
                    written.clear()
                status = answer[0]
                if status is _NO_STATUS:
                    status = ""
                end = perf()
                line = lines.get(status)
                if line is None:
                    line = _status_line(status, lines)
                line[1] += 1
                keep_latency(int((end - start) * 1_000_000))
                if line[0] >= 500:
                    stats.errors += 1
                    keep_index(~index)
                else:
                    keep_index(index)
                stats.count += 1
            except (Exception, SystemExit, KeyboardInterrupt) as exc:
                # the app's own sys.exit() or KeyboardInterrupt too: this request's error
                if is_ctrl_c(exc):
                    raise
                end = perf()
                written.clear()
                stats.record_exception(end - start, exc, entry.request.describe(), latency=False)
                keep_latency(max(1, min(int((end - start) * 1_000_000), HIGHEST_US)))
                keep_index(~index)
                status, body = "", b""
            if track:
                with lock:
                    shared.in_flight -= 1
            expected = entry.expected
            if check and expected is not None:
                compared += 1
                headers = answer[1]
                if (
                    expected.body_hash != hash(body)
                    or expected.status != status
                    or expected.headers != headers
                ):
                    compared -= _mismatch(shared, entry, status, headers, body, ident, number)
            if len(latencies) >= LATENCY_BATCH:
                _flush(shared, stats)
            if deadline is not None and end >= deadline:
                break
            if shared.report is not None and end >= shared.next_report:
                shared.next_report = end + REPORT_EVERY
                shared.report()
    finally:
        _flush(shared, stats)
        stats.count_codes(lines.values())
        _worker_ended(shared, stats, ident, entry is not None, compared, slot)


def _mismatch(
    shared: Shared,
    entry: Entry,
    status: str,
    headers: list[tuple[str, str]],
    body: bytes,
    ident: int,
    number: int,
) -> int:
    """An answer that is not the exact baseline one: judged by its template.

    Returns 1 for an error (a 5xx or an exception: never a divergence, and
    not compared), else 0.
    """
    if not "" < status < "5":
        return 1
    expected = entry.expected
    assert expected is not None
    doc = expect.document(status, headers, body)
    if expected.accepts_doc(doc):
        return 0
    if shared.sequential:
        with shared.lock:
            shared.findings.varied += 1
    else:
        shared.candidates.add(entry, doc, ident, number)
    return 0


#: Requests a worker keeps (latency, index) before counting them.
LATENCY_BATCH = 64
#: Distinct status lines a worker keeps the code of.
STATUS_LINES = 64
#: ``start_response`` was not called (yet) in the request in hand.
_NO_STATUS: t.Any = object()


def _status_line(status: str, lines: dict[str | int, list[int]]) -> list[int]:
    """The ``[code, requests]`` row of :attr:`Stats.lines` a status line not
    seen yet is counted in: its own among the first STATUS_LINES, then its
    code's. An unparsable status raises (ValueError): that request's exception."""
    code = int(status[:3] or 0)
    if len(lines) < STATUS_LINES:
        line = lines[status] = [code, 0]
        return line
    return lines.setdefault(code, [code, 0])


def _flush(shared: Shared, stats: Stats) -> None:
    """Count the requests a worker kept (:meth:`Stats.count_kept`), their
    latencies into the process's histogram."""

    def into_shared(latencies: list[int]) -> None:
        with shared.latencies_lock:
            if shared.latencies is None:
                shared.latencies = new_histogram()
            shared.latencies.record_values(latencies)

    stats.count_kept(into_shared)


def _worker_ended(
    shared: Shared, stats: Stats, ident: int, served: bool, compared: int, slot: t.Any
) -> None:
    """A worker's loop ended: count it (if it served a request) and its checks."""
    if served:
        stats.idents.add((os.getpid(), ident))
    with shared.lock:
        shared.findings.compared += compared
        if slot is not None:
            shared.findings.checked += slot.checks
    if shared.checker is not None:
        shared.checker.release()


def _due(shared: Shared, i: int) -> float:
    """Wait until request ``i`` is due (open loop); its intended start time."""
    assert shared.interval is not None
    due = shared.t0 + i * shared.interval
    delay = due - time.perf_counter()
    # Sleep in short steps so a stop (Ctrl-C) is noticed at a low rate too.
    while delay > 0 and not shared.stop:
        time.sleep(min(delay, 0.1))
        delay = due - time.perf_counter()
    return due


def baseline(
    app: t.Any, entries: t.Sequence[Entry], findings: Findings, check_unsafe: bool = False
) -> None:
    """The sequential answers each request is judged against (see
    :func:`wsgiscope.replay.expect.baseline`)."""
    expect.baseline(app, entries, findings, check_unsafe)


def warm_up(app: t.Any, entries: t.Sequence[Entry], count: int) -> None:
    """Run ``count`` requests, sequentially and unmeasured."""
    for number in range(count):
        entry = entries[number % len(entries)]
        environ = entry.environ.copy()
        environ["wsgi.input"] = io.BytesIO(entry.body)
        environ[REQUEST_ID] = -1
        # An error here is counted in the measured run if it happens again.
        try:
            call_app(app, environ)
        except (Exception, SystemExit, KeyboardInterrupt) as exc:
            if is_ctrl_c(exc):
                raise


@dataclasses.dataclass
class LocalResult:
    """What one process measured."""

    stats: Stats
    findings: Findings
    duration_s: float
    interrupted: bool = False
    #: Workers still in a request when the run stopped waiting for them.
    abandoned: int = 0


def make_shared(
    app: t.Any,
    entries: list[Entry],
    mode: Mode,
    plan: ReplayPlan,
    offset: int = 0,
    stride: int = 1,
) -> Shared:
    """The shared state for one process's part of the run (not started yet)."""
    total = None if plan.duration is not None else plan.requests
    shared = Shared(app, entries, total, offset=offset, stride=stride, check=plan.check)
    shared.sequential = mode.kind == "sequential" and mode.processes == 1
    if plan.rate:
        shared.interval = stride / plan.rate
    shared.track = mode.kind != "sequential"
    if plan.check:
        apps = flask_apps(app)
        if apps:
            shared.checker = ContextChecker(
                apps,
                shared.findings,
                lambda number: entries[number % len(entries)].request.describe(),
            )
    return shared


def start(shared: Shared, plan: ReplayPlan) -> None:
    """Baseline and warm up, then set the clock (and the deadline)."""
    if plan.check:
        baseline(shared.app, shared.entries, shared.findings, plan.check_unsafe)
    if plan.warmup:
        warm_up(shared.app, shared.entries, plan.warmup)
    if shared.checker is not None:
        shared.checker.install()
    # What the baseline and the warm-up left (thousands of distinct requests'
    # answers and templates) collected now, before the clock starts: a full
    # collection of a heap that large fell in the measured run (45 ms at
    # 10,000 distinct requests), and the next one waits for the heap to grow
    # by a quarter.
    gc.collect()
    if shared.ready is not None:
        shared.ready(shared)
    shared.t0 = time.perf_counter()
    shared.next_report = shared.t0 + REPORT_EVERY
    if plan.duration is not None:
        shared.deadline = shared.t0 + plan.duration


def finish(shared: Shared, stats: list[Stats], interrupted: bool) -> LocalResult:
    """Merge the workers' stats; undo the instrumentation."""
    duration = time.perf_counter() - shared.t0
    if shared.checker is not None:
        shared.checker.uninstall()
    # Judged once the run ended, against one more sequential answer each.
    shared.candidates.judge(shared.app, shared.findings, recheck=not interrupted)
    merged = Stats()
    for item in stats:
        merged.merge(item)
    if shared.latencies is not None:
        merged.hist.add(shared.latencies)
    merged.max_in_flight = shared.max_in_flight if shared.track else min(1, merged.count)
    sink = shared.entries[0].environ.get("wsgi.errors") if shared.entries else None
    if isinstance(sink, ErrorsSink):
        merged.wsgi_errors = sink.written
        merged.wsgi_errors_head = list(sink.head)
    return LocalResult(merged, shared.findings, duration, interrupted)


class LocalRun:
    """Sequential or thread mode in this process, watched from the caller.

    :meth:`start` launches the worker threads (sequential is one worker);
    the caller polls :meth:`progress` and :meth:`wait`, calls :meth:`stop`
    on Ctrl-C, then :meth:`result`, which merges once every worker ended.

    The end of the workers is an event they set, not ``Thread.join``: a join
    interrupted by Ctrl-C can leave a thread that still runs marked as ended
    (CPython gh-90882), and its last requests would miss the merge.
    """

    def __init__(
        self,
        app: t.Any,
        entries: list[Entry],
        mode: Mode,
        plan: ReplayPlan,
        offset: int = 0,
        stride: int = 1,
    ) -> None:
        self.mode = mode
        self.plan = plan
        self.shared = make_shared(app, entries, mode, plan, offset, stride)
        self.stats = [Stats() for _ in range(mode.workers)]
        self.threads: list[threading.Thread] = []
        self.interrupted = False
        self._running = mode.workers
        self._running_lock = threading.Lock()
        self._ended = threading.Event()

    def start(self) -> None:
        start(self.shared, self.plan)
        for index, stats in enumerate(self.stats):
            thread = threading.Thread(
                target=self._work, args=(stats,), name=f"replay-{index}", daemon=True
            )
            self.threads.append(thread)
        for thread in self.threads:
            thread.start()

    def _work(self, stats: Stats) -> None:
        try:
            worker_loop(self.shared, stats, threading.get_ident())
        finally:
            with self._running_lock:
                self._running -= 1
                if not self._running:
                    self._ended.set()

    def wait(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds; ``True`` once every worker ended."""
        return self._ended.wait(timeout)

    def progress(self) -> tuple[int, int]:
        """``(done, errors)`` so far."""
        return sum(s.count for s in self.stats), sum(s.errors for s in self.stats)

    def stop(self) -> None:
        self.interrupted = True
        self.shared.stop = True

    def result(self, wait: bool = True) -> LocalResult:
        """The merged result, once every worker ended (``wait``). A Ctrl-C
        while waiting, or ``wait=False``, leaves the workers still stuck in a
        request behind: :attr:`LocalResult.abandoned` counts them, and their
        request is not in the figures."""
        if wait:
            try:
                self._ended.wait()
            except KeyboardInterrupt:
                self.stop()
        with self._running_lock:
            abandoned = self._running
        result = finish(self.shared, self.stats, self.interrupted)
        result.abandoned = abandoned
        return result


def run_greenlets(
    app: t.Any,
    entries: list[Entry],
    mode: Mode,
    plan: ReplayPlan,
    offset: int = 0,
    stride: int = 1,
    report: t.Callable[[int, int], None] | None = None,
    created: t.Callable[[Shared], None] | None = None,
) -> LocalResult:
    """A gevent pool of ``mode.workers`` greenlets, each running its own loop.

    Call it in a worker process that patched first (unless ``--no-patch``).
    Setting ``stop`` ends the loops after the request in hand; a
    ``KeyboardInterrupt`` (a second Ctrl-C) also kills, after 5 s, the
    greenlets still stuck in a request. Either way what was measured comes
    back; ``created`` is given the :class:`Shared` state (to set ``stop``
    from a signal handler).
    """
    import gevent  # type: ignore[import-untyped]
    from gevent.pool import Pool  # type: ignore[import-untyped]

    shared = make_shared(app, entries, mode, plan, offset, stride)
    # Greenlets never preempt each other between two bytecodes: the in-flight
    # counter needs no lock (a real lock would also be patched into a
    # greenlet lock, which is fine, just slower).
    shared.lock = _NoLock()
    if created is not None:
        created(shared)
    # One Stats for all greenlets: they cannot switch inside record() (no
    # I/O there), and 100 histograms would cost 19 MB.
    stats = Stats()
    if report is not None:
        shared.report = lambda: report(stats.count, stats.errors)
    start(shared, plan)
    pool = Pool(mode.workers)
    for _ in range(mode.workers):
        pool.spawn(_greenlet_worker, shared, stats)
    interrupted = False
    abandoned = 0
    try:
        pool.join(raise_error=True)
    except KeyboardInterrupt:
        interrupted = True
        shared.stop = True
        pool.join(timeout=5)
        abandoned = len(pool)  # still in a request: killed, not counted
        pool.kill(block=True, timeout=1)
    gevent.sleep(0)
    result = finish(shared, [stats], interrupted)
    result.abandoned = abandoned
    return result


def _greenlet_worker(shared: Shared, stats: Stats) -> None:
    # Patched, get_ident() is the greenlet's own id; unpatched, every greenlet
    # reports the one thread they share, which is exactly what to show.
    worker_loop(shared, stats, threading.get_ident())


class _NoLock:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *args: t.Any) -> None:
        return None
