"""Replay's own cost in CPU time, robust to a loaded machine.

``benchmarks/replay.py`` measures wall-clock throughput, which other
processes on a shared machine distort. This measures CPU time
(``time.process_time``) of the same work, interleaved:

* the hello-world Flask app: a plain loop calling it directly vs sequential
  replay with the isolation checks on and off (ratio = plain loop CPU time
  / replay CPU time, i.e. the throughput ratio on an idle machine);
* the same with the checks on, over 1, 100 and 10,000 distinct requests
  (``GET /?i=N``), against the plain loop cycling over the same environs;
* a trivial WSGI app (no framework): replay's per-request overhead in
  microseconds, with and without the checks.

The baseline (each distinct request run twice before the measured run) and
the warm-up are not counted: they are per distinct request, not per request;
the merge after the run is.

    PYTHONPATH=. python benchmarks/replay_cpu.py [RUNS] [REQUESTS]
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
import typing as t
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from replay import APP, DISTINCT, distinct_requests, plain_loop, plain_loop_many

HEADERS = [("Content-Type", "text/plain"), ("Content-Length", "2")]


def trivial(environ: dict[str, t.Any], start_response: t.Any) -> list[bytes]:
    start_response("200 OK", list(HEADERS))
    return [b"ok"]


def replay_cpu(app: t.Any, count: int, check: bool, requests: list[t.Any] | None = None) -> float:
    """CPU seconds of a sequential replay of ``requests`` (``GET /``),
    ``count`` requests in all; the baseline and the warm-up not counted."""
    from wsgiscope.replay import engine
    from wsgiscope.replay.plan import Mode, ReplayPlan
    from wsgiscope.replay.sources import ReplayRequest

    entries = engine.prepare(requests or [ReplayRequest("GET", "/")], app)
    run = engine.LocalRun(app, entries, Mode(), ReplayPlan(requests=count, check=check))
    setup: list[float] = []
    begin = engine.start

    def timed(shared: t.Any, plan: t.Any) -> None:
        started = time.process_time()
        begin(shared, plan)
        setup.append(time.process_time() - started)

    engine.start = timed  # type: ignore[assignment]
    try:
        start = time.process_time()
        run.start()
        run.wait(3600)
        run.result()
        return time.process_time() - start - sum(setup)
    finally:
        engine.start = begin  # type: ignore[assignment]


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 7
    count = int(sys.argv[2]) if len(sys.argv) > 2 else 10_000
    from wsgiscope.loading import AppRef, load_app
    from wsgiscope.replay.engine import prepare
    from wsgiscope.replay.sources import ReplayRequest

    directory = Path(tempfile.mkdtemp(prefix="wsgiscope-bench-"))
    (directory / "bench_hello.py").write_text(APP)
    app = load_app(AppRef("bench_hello:app", "argument", directory)).app
    environ = prepare([ReplayRequest("GET", "/")], app)[0].environ
    ratios: dict[bool, list[float]] = {True: [], False: []}
    replay_cpu(app, 500, True)
    for _ in range(runs):
        for check in (True, False):
            start = time.process_time()
            plain_loop(app, environ, count)
            plain = time.process_time() - start
            ratios[check].append(plain / replay_cpu(app, count, check))
    print(f"hello-world Flask app, {count:,} requests, CPU time, median of {runs} runs")
    print(f"  replay sequential / plain loop        {statistics.median(ratios[True]):.3f}x")
    print(f"  replay sequential (no checks)         {statistics.median(ratios[False]):.3f}x")
    sources = {size: distinct_requests(size) for size in DISTINCT}
    environs = {
        size: [entry.environ for entry in prepare(requests, app)]
        for size, requests in sources.items()
    }
    by_size: dict[int, list[float]] = {size: [] for size in DISTINCT}
    for _ in range(runs):
        for size in DISTINCT:
            start = time.process_time()
            plain_loop_many(app, environs[size], count)
            plain = time.process_time() - start
            by_size[size].append(plain / replay_cpu(app, count, True, sources[size]))
    print(f"  with the checks, by distinct requests (GET /?i=N), median of {runs} runs")
    for size in DISTINCT:
        values = by_size[size]
        print(
            f"    {f'{size:,} distinct':<34}  {statistics.median(values):.3f}x"
            f"  (runs {min(values):.3f}-{max(values):.3f})"
        )
    overhead = {
        check: statistics.median(replay_cpu(trivial, count * 5, check) for _ in range(runs))
        / (count * 5)
        * 1e6
        for check in (True, False)
    }
    print("trivial WSGI app: replay's own cost per request (CPU)")
    print(f"  with the checks                       {overhead[True]:.2f} us")
    print(f"  without                               {overhead[False]:.2f} us")


if __name__ == "__main__":
    main()
