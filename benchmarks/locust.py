"""In-process replay against the network path and Locust, in one run.

The same hello-world Flask app and the same request, measured as requests
per second, each for DURATION seconds:

- ``wsgiscope replay`` sequential, in-process (isolation checks on);
- Locust (headless, one process = one worker) with ``wsgiscope.locust.WsgiUser``:
  the same in-process replay, through Locust's scheduler and statistics;
- Locust with ``HttpReplayUser`` against gunicorn (1 sync worker) on loopback;
- ``wrk`` against the same gunicorn (when installed).

The ratios of in-process replay to each are printed: what replaying
in-process saves, and what Locust's engine costs.

    PYTHONPATH=. python benchmarks/locust.py [DURATION]
"""

from __future__ import annotations

import csv
import os
import re
import shutil
import socket
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
"""

LOCUSTFILE = """
from wsgiscope.locust import {base}


class Bench({base}):
    app = "bench_hello:app"
    sources = [{source!r}]
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _bin(name: str) -> str:
    return str(Path(sys.executable).with_name(name))


def replay_rate(workdir: Path, seconds: float) -> float:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "wsgiscope",
            "replay",
            "bench_hello:app",
            str(workdir / "requests.txt"),
            "--duration",
            f"{seconds}s",
            "--json",
        ],
        cwd=workdir,
        capture_output=True,
        text=True,
        check=True,
    )
    match = re.search(r'"throughput_rps": ([\d.]+)', done.stdout)
    assert match, done.stdout
    return float(match.group(1))


def locust_rate(workdir: Path, base: str, seconds: float, host: str | None = None) -> float:
    locustfile = workdir / f"{base}.py"
    locustfile.write_text(LOCUSTFILE.format(base=base, source=str(workdir / "requests.txt")))
    prefix = workdir / f"{base}_stats"
    args = [
        _bin("locust"),
        "-f",
        str(locustfile),
        "--headless",
        "-u",
        "4",
        "-r",
        "4",
        "-t",
        f"{int(seconds)}s",
        "--csv",
        str(prefix),
        "--only-summary",
    ]
    if host:
        args += ["--host", host]
    subprocess.run(args, cwd=workdir, capture_output=True, text=True, check=False)
    with open(f"{prefix}_stats.csv", newline="") as file:
        for row in csv.DictReader(file):
            if row["Name"] == "Aggregated":
                return float(row["Requests/s"])
    raise RuntimeError("no Aggregated row in Locust's stats")


def gunicorn(workdir: Path) -> tuple[subprocess.Popen[bytes], int]:
    port = _free_port()
    process = subprocess.Popen(
        [_bin("gunicorn"), "-w", "1", "-b", f"127.0.0.1:{port}", "bench_hello:app"],
        cwd=workdir,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    for _ in range(100):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.1):
                return process, port
        except OSError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError("gunicorn did not start")


def wrk_rate(port: int, seconds: float) -> float | None:
    wrk = shutil.which("wrk")
    if wrk is None:
        return None
    out = subprocess.run(
        [wrk, "-t1", "-c4", f"-d{int(seconds)}s", f"http://127.0.0.1:{port}/"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    match = re.search(r"Requests/sec:\s+([\d.]+)", out)
    return float(match.group(1)) if match else None


def main() -> None:
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 10.0
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        (workdir / "bench_hello.py").write_text(APP)
        (workdir / "requests.txt").write_text("GET /\n")
        os.environ["PYTHONPATH"] = os.pathsep.join(
            [str(Path(__file__).resolve().parent.parent), str(workdir)]
        )
        print(f"hello-world Flask app, GET /, {seconds:g} s each, load {os.getloadavg()[0]:.1f}")
        replayed = replay_rate(workdir, seconds)
        print(f"  {'wsgiscope replay, in-process':<44} {replayed:>10,.0f} req/s   1.00x")
        rows = [("Locust WsgiUser, 1 process, 4 users", locust_rate(workdir, "WsgiUser", seconds))]
        server, port = gunicorn(workdir)
        try:
            rows.append(
                (
                    "Locust HttpReplayUser -> gunicorn 1 worker",
                    locust_rate(workdir, "HttpReplayUser", seconds, f"http://127.0.0.1:{port}"),
                )
            )
            rate = wrk_rate(port, seconds)
            if rate is not None:
                rows.append(("wrk -c4 -> gunicorn 1 worker", rate))
            else:
                print("  (wrk not installed: skipped)")
        finally:
            server.terminate()
            server.wait(10)
        for label, rate in rows:
            print(f"  {label:<44} {rate:>10,.0f} req/s   replay is {replayed / rate:.2f}x")


if __name__ == "__main__":
    main()
