"""Replay throughput against the limit: a plain loop calling the app directly.

On a hello-world Flask app, in one run: a plain loop that calls the app with
a copy of a built environ (the limit), then ``replay`` in each mode
(sequential, threads, patched and unpatched greenlets, two processes; with
the isolation checks on, and sequential without them), RUNS times each,
interleaved, each mode right after a plain-loop run; the median throughput,
the median ratio of each pair and the median ratio to sequential replay in
the same round are printed.
Then sequential replay with the checks against the plain loop over 1, 100
and 10,000 distinct requests (``GET /?i=N``: the checks' bookkeeping is
per distinct request), each pair interleaved, the median ratio printed.
Then the same on a CPU-bound view (threads and greenlets should not be
slower than sequential), and the hello-world app over loopback HTTP to
gunicorn driven by ``wrk`` (when installed), with the ratio of in-process
replay to it, to show what in-process replay saves.

    PYTHONPATH=. python benchmarks/replay.py [RUNS] [REQUESTS] [PARTS]

PARTS: a comma-separated subset of ``hello,distinct,cpu,http`` (default: all;
``http`` needs ``hello``).
"""

from __future__ import annotations

import io
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import typing as t
from pathlib import Path

APP = """
from flask import Flask

app = Flask(__name__)


@app.get("/")
def hello():
    return "Hello, World!"


@app.get("/cpu")
def cpu():
    return str(sum(i * i for i in range(3000)))
"""


def plain_loop(app: object, environ: dict[str, object], count: int) -> float:
    """Requests per second of the bare loop: copy the environ, call, join, close."""
    return plain_loop_many(app, [environ], count)


def plain_loop_many(app: object, environs: list[dict[str, object]], count: int) -> float:
    """:func:`plain_loop` cycling over several distinct environs."""

    def start_response(status: str, headers: object, exc_info: object = None) -> None:
        return None

    size = len(environs)
    start = time.perf_counter()
    for number in range(count):
        env = environs[number % size].copy()
        env["wsgi.input"] = io.BytesIO(b"")
        result = app(env, start_response)  # type: ignore[operator]
        b"".join(result)
        close = getattr(result, "close", None)
        if close is not None:
            close()
    return count / (time.perf_counter() - start)


def distinct_requests(size: int) -> list[t.Any]:
    """``size`` distinct requests to the hello-world view: ``GET /?i=N``."""
    from wsgiscope.replay.sources import ReplayRequest

    return [ReplayRequest("GET", "/", f"i={i}") for i in range(size)]


#: Distinct request counts the checks' bookkeeping is measured at.
DISTINCT = (1, 100, 10_000)


def by_distinct(directory: Path, runs: int, count: int) -> None:
    """Sequential replay with the checks vs the plain loop, by distinct requests."""
    from wsgiscope.loading import AppRef, load_app
    from wsgiscope.replay.engine import prepare
    from wsgiscope.replay.plan import ReplayPlan
    from wsgiscope.replay.runner import AppHandle, run_mode

    ref = AppRef("bench_hello:app", "argument", directory)
    loaded = load_app(ref)
    handle = AppHandle(ref, loaded)
    plan = ReplayPlan(requests=count, warmup=200)
    sources = {size: distinct_requests(size) for size in DISTINCT}
    environs = {
        size: [entry.environ for entry in prepare(requests, loaded.app)]
        for size, requests in sources.items()
    }
    ratios: dict[int, list[float]] = {size: [] for size in DISTINCT}
    rates: dict[int, list[float]] = {size: [] for size in DISTINCT}
    plain_loop_many(loaded.app, environs[1], 200)
    for _ in range(runs):
        for size in DISTINCT:
            limit = plain_loop_many(loaded.app, environs[size], count)
            result = run_mode(handle, sources[size], parse("sequential"), plan)
            rate = result.stats.count / result.duration_s
            rates[size].append(rate)
            ratios[size].append(rate / limit)
    for size in DISTINCT:
        spread = f"{min(ratios[size]):.2f}-{max(ratios[size]):.2f}"
        print(
            f"  {f'{size:,} distinct':<34} {statistics.median(rates[size]):>10,.0f} req/s"
            f"  {statistics.median(ratios[size]):5.2f}x  (runs {spread})"
        )


def parse(text: str) -> t.Any:
    """A mode label as ``replay`` prints it: ``2x threads=4``, ``greenlets=100 (unpatched)``."""
    from wsgiscope.replay.plan import parse_mode

    text = text.removesuffix(" (no checks)")
    processes, _, rest = text.rpartition("x ") if text[0].isdigit() else ("1", "", text)
    patch = not rest.endswith(" (unpatched)")
    return parse_mode(rest.removesuffix(" (unpatched)"), int(processes), patch)


def measure(
    directory: Path, runs: int, count: int, path: str, modes: list[str]
) -> dict[str, float]:
    """Print each mode's median throughput and ratios; return the medians."""
    from wsgiscope.loading import AppRef, load_app
    from wsgiscope.replay.engine import prepare
    from wsgiscope.replay.plan import ReplayPlan
    from wsgiscope.replay.runner import AppHandle, run_mode
    from wsgiscope.replay.sources import ReplayRequest

    ref = AppRef("bench_hello:app", "argument", directory)
    loaded = load_app(ref)
    handle = AppHandle(ref, loaded)
    requests = [ReplayRequest("GET", path)]
    environ = prepare(requests, loaded.app)[0].environ
    plan = ReplayPlan(requests=count, warmup=200)
    unchecked = ReplayPlan(requests=count, warmup=200, check=False)
    results: dict[str, list[float]] = {"plain loop (the limit)": []}
    ratios: dict[str, list[float]] = {"plain loop (the limit)": []}
    #: Each mode's throughput over sequential replay's in the same round.
    versus: dict[str, list[float]] = {}
    plain_loop(loaded.app, environ, 200)
    for _ in range(runs):
        round_rates: dict[str, float] = {}
        for text in modes:
            # The plain loop runs right before each mode: the ratio of the
            # pair is robust to the machine's load changing during the run.
            limit = plain_loop(loaded.app, environ, count)
            results["plain loop (the limit)"].append(limit)
            ratios["plain loop (the limit)"].append(1.0)
            chosen = unchecked if text.endswith("(no checks)") else plan
            result = run_mode(handle, requests, parse(text), chosen)
            rate = result.stats.count / result.duration_s
            round_rates[text] = rate
            results.setdefault(f"replay {text}", []).append(rate)
            ratios.setdefault(f"replay {text}", []).append(rate / limit)
        for text, rate in round_rates.items():
            versus.setdefault(f"replay {text}", []).append(rate / round_rates["sequential"])
    print(
        f"  {'':<34} {'median':>10}        ratio to the plain loop run just before,"
        " to sequential replay (medians)"
    )
    medians = {}
    for name, values in results.items():
        medians[name] = median = statistics.median(values)
        ratio = statistics.median(ratios[name])
        against = f"{statistics.median(versus[name]):5.2f}x" if name in versus else ""
        print(f"  {name:<34} {median:>10,.0f} req/s  {ratio:5.2f}x  {against}")
    return medians


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def over_http(directory: Path, seconds: int, replayed: dict[int, tuple[str, float]]) -> None:
    """gunicorn (1 and 2 sync workers) driven by wrk; ``replayed``: per worker
    count, the in-process replay mode and throughput to compare with."""
    wrk = shutil.which("wrk")
    gunicorn = Path(sys.executable).with_name("gunicorn")
    if wrk is None or not gunicorn.exists():
        print("  (wrk or gunicorn not installed: skipped)")
        return
    for workers, label in ((1, "gunicorn sync, 1 worker"), (2, "gunicorn sync, 2 workers")):
        port = free_port()
        server = subprocess.Popen(
            [str(gunicorn), "-w", str(workers), "-b", f"127.0.0.1:{port}", "bench_hello:app"],
            cwd=directory,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env={**os.environ, "PYTHONPATH": str(directory)},
        )
        try:
            for _ in range(100):
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
                    break
                except OSError:
                    time.sleep(0.05)
            output = subprocess.run(
                [wrk, "-t1", "-c4", f"-d{seconds}s", f"http://127.0.0.1:{port}/"],
                capture_output=True,
                text=True,
                check=True,
            ).stdout
        finally:
            server.terminate()
            server.wait()
        line = next(line for line in output.splitlines() if line.startswith("Requests/sec"))
        rate = float(line.split()[1])
        mode, in_process = replayed[workers]
        print(
            f"  {label + ' + wrk -c4':<34} {rate:>10,.0f} req/s"
            f"  (in-process replay {mode}: {in_process / rate:.1f}x that)"
        )


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    count = int(sys.argv[2]) if len(sys.argv) > 2 else 20_000
    parts = set((sys.argv[3] if len(sys.argv) > 3 else "hello,distinct,cpu,http").split(","))
    with tempfile.TemporaryDirectory() as name:
        directory = Path(name)
        (directory / "bench_hello.py").write_text(APP)
        # Worker processes (greenlets) import the app from this directory.
        os.environ["PYTHONPATH"] = os.pathsep.join(
            [str(directory), os.environ.get("PYTHONPATH", "")]
        )
        if "hello" in parts:
            print(f"hello-world Flask app, {count:,} requests, median of {runs} runs, interleaved")
            hello = measure(
                directory,
                runs,
                count,
                "/",
                [
                    "sequential",
                    "sequential (no checks)",
                    "threads=8",
                    "greenlets=100",
                    "greenlets=100 (unpatched)",
                    "2x sequential",
                    "2x threads=4",
                ],
            )
        if "distinct" in parts:
            print(
                f"sequential replay with the checks / the plain loop, by distinct requests,"
                f" {count:,} requests, median of {runs} runs"
            )
            by_distinct(directory, runs, count)
        if "cpu" in parts:
            print(f"CPU-bound view (/cpu), {count // 4:,} requests, median of {runs} runs")
            measure(
                directory,
                runs,
                count // 4,
                "/cpu",
                [
                    "sequential",
                    "threads=8",
                    "greenlets=100",
                    "greenlets=100 (unpatched)",
                    "2x sequential",
                ],
            )
        if "http" in parts and "hello" in parts:
            print("the hello-world app over loopback HTTP (5 s each)")
            over_http(
                directory,
                5,
                {
                    1: ("sequential", hello["replay sequential"]),
                    2: ("2x sequential", hello["replay 2x sequential"]),
                },
            )


if __name__ == "__main__":
    main()
