"""Start-up time: wsgiscope's commands against the same work without it, in one run.

- ``wsgiscope --help`` against ``flask --help``;
- ``wsgiscope routes`` on a 10-rule Flask app against ``flask routes``;
- ``wsgiscope trace APP GET /`` against a one-line script doing one
  test-client request on the same app.

Each runs as ``python -m ...`` (or ``python -c``) in a fresh interpreter from
a temporary directory, interleaved, RUNS times each; medians, the spread
(lowest-highest) and the ratios are printed, by wall clock and by CPU time
of the child process (``RUSAGE_CHILDREN``: what a loaded machine moves least).

    python benchmarks/startup.py [RUNS]
"""

from __future__ import annotations

import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

COMMANDS = {
    "wsgiscope --help": [sys.executable, "-m", "wsgiscope", "--help"],
    "wsgiscope info (plain app)": [sys.executable, "-m", "wsgiscope", "info", "bench_plain"],
    "flask --help": [sys.executable, "-m", "flask", "--help"],
    "wsgiscope routes (10 rules)": [sys.executable, "-m", "wsgiscope", "routes", "bench_app10"],
    "flask routes (10 rules)": [sys.executable, "-m", "flask", "--app", "bench_app10", "routes"],
    "wsgiscope trace APP GET /": [
        sys.executable,
        "-m",
        "wsgiscope",
        "trace",
        "bench_app10",
        "GET",
        "/",
    ],
    "one test-client request": [
        sys.executable,
        "-c",
        "from bench_app10 import app; app.test_client().get('/').close()",
    ],
    "python -c pass": [sys.executable, "-c", "pass"],
}

PLAIN_APP = "def application(environ, start_response):\n    return [b'']\n"

APP10 = """from flask import Flask

app = Flask(__name__)


@app.route("/")
def index():
    return "hello"


for number in range(9):
    app.add_url_rule(f"/items{number}/<int:item>", f"item{number}", lambda item: str(item))
"""

#: Each wsgiscope command and what it is compared with.
PAIRS = {
    "wsgiscope --help": "flask --help",
    "wsgiscope routes (10 rules)": "flask routes (10 rules)",
    "wsgiscope trace APP GET /": "one test-client request",
}


#: Run against this checkout even when wsgiscope is not installed. Bytecode
#: is cached (the warm-up run writes it), as for an installed package: with
#: PYTHONDONTWRITEBYTECODE set, every run would compile wsgiscope's source
#: while Flask's comes precompiled from its wheel.
ENV = {
    **{name: value for name, value in os.environ.items() if name != "PYTHONDONTWRITEBYTECODE"},
    "PYTHONPATH": str(Path(__file__).resolve().parent.parent),
}


def _cpu_ms() -> float:
    """CPU time (user + system) of the finished child processes so far, in ms."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (usage.ru_utime + usage.ru_stime) * 1000


def measure(runs: int) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
    """Wall-clock and CPU milliseconds of each command, per round."""
    timings: dict[str, list[float]] = {name: [] for name in COMMANDS}
    cpu: dict[str, list[float]] = {name: [] for name in COMMANDS}
    with tempfile.TemporaryDirectory() as directory:
        with open(f"{directory}/bench_plain.py", "w") as file:
            file.write(PLAIN_APP)
        with open(f"{directory}/bench_app10.py", "w") as file:
            file.write(APP10)
        for command in COMMANDS.values():  # warm-up (bytecode caches)
            subprocess.run(command, cwd=directory, capture_output=True, check=True, env=ENV)
        for _ in range(runs):
            for name, command in COMMANDS.items():
                start, start_cpu = time.perf_counter(), _cpu_ms()
                subprocess.run(command, cwd=directory, capture_output=True, check=True, env=ENV)
                timings[name].append((time.perf_counter() - start) * 1000)
                cpu[name].append(_cpu_ms() - start_cpu)
    return timings, cpu


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 15
    timings, cpu = measure(runs)
    # Wall clock is what a user waits; CPU time (of the whole child process)
    # is what a loaded, shared machine distorts least.
    for title, figures in (("wall clock", timings), ("CPU time", cpu)):
        medians = {name: statistics.median(values) for name, values in figures.items()}
        print(f"{title}: median of {runs} runs each, interleaved (lowest-highest)")
        for name, values in figures.items():
            print(f"  {name:28} {medians[name]:7.1f} ms  ({min(values):.0f}-{max(values):.0f})")
        print(f"{title}: ratios of medians; per-round ratios lowest-highest")
        for ours, theirs in PAIRS.items():
            rounds = sorted(a / b for a, b in zip(figures[ours], figures[theirs], strict=True))
            print(
                f"  {ours} / {theirs}: {medians[ours] / medians[theirs]:.2f}x"
                f"  ({rounds[0]:.2f}-{rounds[-1]:.2f}, middle {statistics.median(rounds):.2f})"
            )


if __name__ == "__main__":
    main()
