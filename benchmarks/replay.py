"""Replay throughput against the limit: a plain loop calling the app directly.

On a hello-world Flask app, in one run: a plain loop that calls the app with
a copy of a built environ (the limit), then ``replay`` in each mode (with
the isolation checks on, and sequential without them), RUNS times each,
interleaved, each mode right after a plain-loop run; the median throughput
and the median ratio of each pair are printed.
Then the same on a CPU-bound view (threads and greenlets should not be
slower than sequential), and the hello-world app over loopback HTTP to
gunicorn driven by ``wrk`` (when installed) to show what in-process replay
saves.

    PYTHONPATH=. python benchmarks/replay.py [RUNS] [REQUESTS]
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

    def start_response(status: str, headers: object, exc_info: object = None) -> None:
        return None

    start = time.perf_counter()
    for _ in range(count):
        env = environ.copy()
        env["wsgi.input"] = io.BytesIO(b"")
        result = app(env, start_response)  # type: ignore[operator]
        b"".join(result)
        close = getattr(result, "close", None)
        if close is not None:
            close()
    return count / (time.perf_counter() - start)


def measure(directory: Path, runs: int, count: int, path: str, modes: list[str]) -> None:
    from wsgiscope.loading import AppRef, load_app
    from wsgiscope.replay.engine import prepare
    from wsgiscope.replay.plan import ReplayPlan, parse_mode
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
    plain_loop(loaded.app, environ, 200)
    for _ in range(runs):
        for text in modes:
            # The plain loop runs right before each mode: the ratio of the
            # pair is robust to the machine's load changing during the run.
            limit = plain_loop(loaded.app, environ, count)
            results["plain loop (the limit)"].append(limit)
            ratios["plain loop (the limit)"].append(1.0)
            mode = parse_mode(text.removesuffix(" (no checks)"))
            chosen = unchecked if text.endswith("(no checks)") else plan
            result = run_mode(handle, requests, mode, chosen)
            rate = result.stats.count / result.duration_s
            results.setdefault(f"replay {text}", []).append(rate)
            ratios.setdefault(f"replay {text}", []).append(rate / limit)
    print(f"  {'':<34} {'median':>10}        {'median ratio to the plain loop run just before'}")
    for name, values in results.items():
        median = statistics.median(values)
        ratio = statistics.median(ratios[name])
        print(f"  {name:<34} {median:>10,.0f} req/s  {ratio:5.2f}x")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def over_http(directory: Path, seconds: int) -> None:
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
        rate = next(line for line in output.splitlines() if line.startswith("Requests/sec"))
        print(f"  {label + ' + wrk -c4':<34} {float(rate.split()[1]):>10,.0f} req/s")


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    count = int(sys.argv[2]) if len(sys.argv) > 2 else 20_000
    with tempfile.TemporaryDirectory() as name:
        directory = Path(name)
        (directory / "bench_hello.py").write_text(APP)
        # Worker processes (greenlets) import the app from this directory.
        os.environ["PYTHONPATH"] = os.pathsep.join(
            [str(directory), os.environ.get("PYTHONPATH", "")]
        )
        print(f"hello-world Flask app, {count:,} requests, median of {runs} runs, interleaved")
        measure(
            directory,
            runs,
            count,
            "/",
            ["sequential", "sequential (no checks)", "threads=8", "greenlets=100"],
        )
        print(f"CPU-bound view (/cpu), {count // 4:,} requests, median of {runs} runs")
        measure(directory, runs, count // 4, "/cpu", ["sequential", "threads=8", "greenlets=100"])
        print("the hello-world app over loopback HTTP (5 s each)")
        over_http(directory, 5)


if __name__ == "__main__":
    main()
