"""Start-up time: ``wsgiscope --help`` against ``flask --help``, in one run.

Both run as ``python -m ...`` in a fresh interpreter from an empty directory,
alternating, RUNS times each; the medians and their ratio are printed.

    python benchmarks/startup.py [RUNS]
"""

from __future__ import annotations

import os
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
    "python -c pass": [sys.executable, "-c", "pass"],
}

PLAIN_APP = "def application(environ, start_response):\n    return [b'']\n"


#: Run against this checkout even when wsgiscope is not installed.
ENV = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}


def measure(runs: int) -> dict[str, float]:
    timings: dict[str, list[float]] = {name: [] for name in COMMANDS}
    with tempfile.TemporaryDirectory() as directory:
        with open(f"{directory}/bench_plain.py", "w") as file:
            file.write(PLAIN_APP)
        for _ in range(runs):
            for name, command in COMMANDS.items():
                start = time.perf_counter()
                subprocess.run(command, cwd=directory, capture_output=True, check=True, env=ENV)
                timings[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) * 1000 for name, values in timings.items()}


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 15
    medians = measure(runs)
    flask = medians["flask --help"]
    print(f"median of {runs} runs each, interleaved")
    for name, ms in medians.items():
        print(f"  {name:28} {ms:7.1f} ms   {ms / flask:5.2f}x flask --help")


if __name__ == "__main__":
    main()
