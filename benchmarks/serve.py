"""Requests/s of a Flask app under gunicorn (2 workers): bare, traced, and ``wsgiscope serve``.

Run::

    PYTHONPATH=. /work/venv/bin/python benchmarks/serve.py [--seconds 3] [--rounds 7]

The same app runs under ``gunicorn -w 2`` three ways, measured with ``wrk``
over loopback in one run, in interleaved rounds so that drift on a shared
machine hits every variant alike:

- **bare**: the app alone;
- **traced**: the app wrapped in ``TraceMiddleware(app, sink="file.jsonl")``,
  every request appended to a JSON Lines file;
- **serve**: ``wsgiscope serve --server gunicorn --workers 2 --json``, which
  adds the terminal side (tailing the record file, printing every record).

It prints the median requests/s of each, their ratio to bare, and the
median of the per-round ratios (robust to the load of a shared machine
drifting between rounds); the goal is traced >= 80% of bare. Needs ``wrk``
(Debian: ``apt-get install wrk``).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import typing as t

from flask import Flask, jsonify

app = Flask(__name__)


@app.get("/items/<int:n>")
def item(n: int) -> t.Any:
    return jsonify(n=n, name=f"item {n}", tags=["a", "b"])


def traced() -> t.Any:
    """The app in TraceMiddleware, appending to $WSGISCOPE_BENCH_SINK."""
    from wsgiscope.tracing import TraceMiddleware

    return TraceMiddleware(app, sink=os.environ["WSGISCOPE_BENCH_SINK"])


HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_listening(port: int, proc: subprocess.Popen[bytes], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise SystemExit("server did not start")


def start(variant: str, port: int, sink: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": ROOT, "WSGISCOPE_BENCH_SINK": sink}
    if variant == "serve":
        command = [
            sys.executable, "-m", "wsgiscope", "serve", "benchmarks/serve.py:app",
            "--server", "gunicorn", "--workers", "2", "--port", str(port),
            "--record", sink, "--json",
        ]  # fmt: skip
    else:
        target = "serve:app" if variant == "bare" else "serve:traced()"
        command = [
            sys.executable, "-m", "gunicorn", "-w", "2", "-b", f"127.0.0.1:{port}",
            "--chdir", HERE, "--log-level", "warning", target,
        ]  # fmt: skip
    return subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )


def stop(proc: subprocess.Popen[bytes], variant: str) -> None:
    if proc.poll() is None:
        # Ctrl-C is how serve is stopped; gunicorn stops gracefully on SIGTERM
        proc.send_signal(signal.SIGINT if variant == "serve" else signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def measure(variant: str, seconds: int, connections: int, scratch: str) -> tuple[float, int]:
    """Requests/s of one run, and the records the sink holds afterwards."""
    port = free_port()
    sink = os.path.join(scratch, f"{variant}.jsonl")
    if os.path.exists(sink):
        os.remove(sink)
    proc = start(variant, port, sink)
    try:
        wait_listening(port, proc)
        subprocess.run(  # warm-up: imports, first requests
            ["wrk", "-t1", "-c4", "-d1s", f"http://127.0.0.1:{port}/items/1"],
            check=True, capture_output=True,
        )  # fmt: skip
        result = subprocess.run(
            ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", f"http://127.0.0.1:{port}/items/7"],
            check=True, capture_output=True, text=True,
        )  # fmt: skip
    finally:
        stop(proc, variant)
    found = re.search(r"Requests/sec:\s+([\d.]+)", result.stdout)
    if not found:
        raise SystemExit(f"cannot read wrk output:\n{result.stdout}")
    records = 0
    if os.path.exists(sink):
        with open(sink, "rb") as file:
            records = sum(1 for _ in file)
    return float(found.group(1)), records


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--connections", type=int, default=16)
    options = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is needed: apt-get install wrk (Debian) or brew install wrk")
    variants = ("bare", "traced", "serve")
    rates: dict[str, list[float]] = {v: [] for v in variants}
    scratch = tempfile.mkdtemp(prefix="wsgiscope-bench-")
    try:
        for round_ in range(options.rounds):
            # rotate the order so a variant is not always measured first
            shift = round_ % len(variants)
            for variant in variants[shift:] + variants[:shift]:
                rate, records = measure(variant, options.seconds, options.connections, scratch)
                rates[variant].append(rate)
                note = f", {records} records written" if variant != "bare" else ""
                print(f"round {round_ + 1}: {variant:6} {rate:9.1f} req/s{note}", flush=True)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    bare = statistics.median(rates["bare"])
    print()
    print(f"gunicorn, 2 sync workers, wrk -c{options.connections}, {options.rounds} rounds x "
          f"{options.seconds} s; medians (and of the per-round ratios to bare):")  # fmt: skip
    for variant in variants:
        median = statistics.median(rates[variant])
        paired = statistics.median(
            r / b for r, b in zip(rates[variant], rates["bare"], strict=True)
        )
        print(f"  {variant:6} {median:9.1f} req/s  {median / bare:6.1%} of bare  "
              f"(per round: {paired:6.1%})")  # fmt: skip


if __name__ == "__main__":
    main()
