"""CPU time of ``wsgiscope serve``'s parent process per record it shows.

Run::

    PYTHONPATH=. .venv/bin/python benchmarks/serve_parent.py [--seconds 5] [--rounds 3]

``serve --server gunicorn --workers 2 --record FILE`` runs ``serve.py``'s
app while ``wrk`` loads it; the parent (the process that tails the record
file and prints every record) is measured from ``/proc/PID/stat`` (user +
system time) once it has caught up after a warm-up and again once it has
caught up after the load, and the difference is divided by the records
written meanwhile. CPU time is what the load of a shared machine moves
least; the requests/s are printed too, and the CPU time of the server's
processes (gunicorn's arbiter and workers) per record, so that the parent's
share of all that ``serve`` spends per request is known. Output modes: ``--json``, the
default one-line view without colour (stdout is a file) and with
``--color always``. Needs ``wrk`` and Linux's ``/proc``.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)

from serve import free_port, wait_listening  # noqa: E402

MODES = {
    "json": ["--json"],
    "lines": ["--color", "never"],
    "color": ["--color", "always"],
}
TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as file:
        fields = file.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime, stime


def descendants(pid: int) -> list[int]:
    """Every process under ``pid`` (the server, gunicorn's arbiter and workers)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as file:
                    ppid = int(file.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry))
    found, todo = [], list(children.get(pid, []))
    while todo:
        child = todo.pop()
        found.append(child)
        todo.extend(children.get(child, []))
    return found


def tree_seconds(pids: list[int]) -> float:
    total = 0.0
    for pid in pids:
        with contextlib.suppress(OSError, IndexError, ValueError):  # gone meanwhile
            total += cpu_seconds(pid)
    return total


def count_lines(path: str) -> int:
    with open(path, "rb") as file:
        return sum(chunk.count(b"\n") for chunk in iter(lambda: file.read(1 << 20), b""))


def caught_up(sink: str, out: str, timeout: float = 60) -> int:
    """Wait until the parent has printed a line for every record; the count."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        records = count_lines(sink)
        if count_lines(out) >= records:
            time.sleep(0.3)  # the poll after the last batch
            if count_lines(sink) == records:
                return records
        time.sleep(0.1)
    raise SystemExit("serve's parent did not catch up")


def measure(
    mode: str, seconds: int, connections: int, scratch: str
) -> tuple[float, float, int, float]:
    """(the parent's CPU us per record, requests/s, records, the server's
    processes' CPU us per record) of one run."""
    port = free_port()
    sink = os.path.join(scratch, f"{mode}.jsonl")
    out = os.path.join(scratch, f"{mode}.out")
    for path in (sink, out):
        if os.path.exists(path):
            os.remove(path)
    command = [
        sys.executable, "-m", "wsgiscope", "serve", "benchmarks/serve.py:app",
        "--server", "gunicorn", "--workers", "2", "--port", str(port),
        "--record", sink, *MODES[mode],
    ]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": ROOT}
    with open(out, "wb") as stdout:
        proc = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=stdout, stderr=subprocess.DEVNULL
        )
    try:
        wait_listening(port, proc)
        subprocess.run(
            ["wrk", "-t1", "-c4", "-d1s", f"http://127.0.0.1:{port}/items/1"],
            check=True, capture_output=True,
        )  # fmt: skip
        before = caught_up(sink, out)
        server = descendants(proc.pid)
        cpu_before, server_before = cpu_seconds(proc.pid), tree_seconds(server)
        result = subprocess.run(
            ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", f"http://127.0.0.1:{port}/items/7"],
            check=True, capture_output=True, text=True,
        )  # fmt: skip
        after = caught_up(sink, out)
        cpu_after, server_after = cpu_seconds(proc.pid), tree_seconds(server)
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    rate = float(result.stdout.split("Requests/sec:")[1].split()[0])
    records = after - before
    served = (server_after - server_before) / records * 1e6
    return (cpu_after - cpu_before) / records * 1e6, rate, records, served


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--modes", default=",".join(MODES))
    options = parser.parse_args()
    modes = options.modes.split(",")
    results: dict[str, list[tuple[float, float, int, float]]] = {m: [] for m in modes}
    with tempfile.TemporaryDirectory(prefix="wsgiscope-bench-") as scratch:
        for round_ in range(options.rounds):
            for mode in modes[round_ % len(modes) :] + modes[: round_ % len(modes)]:
                found = measure(mode, options.seconds, options.connections, scratch)
                results[mode].append(found)
                print(
                    f"round {round_ + 1}: {mode:5} {found[0]:7.1f} us CPU/record "
                    f"(the server's processes {found[3]:6.1f}) {found[1]:8.1f} req/s  "
                    f"{found[2]} records",
                    flush=True,
                )
    print(f"\nload average {os.getloadavg()[0]:.2f}; medians:")
    for mode in modes:
        cpu = [r[0] for r in results[mode]]
        rate = [r[1] for r in results[mode]]
        share = [r[0] / (r[0] + r[3]) for r in results[mode]]
        print(
            f"  {mode:5} {statistics.median(cpu):7.1f} us CPU/record "
            f"({min(cpu):.1f}-{max(cpu):.1f}), {statistics.median(rate):8.1f} req/s; "
            f"the parent is {statistics.median(share):.1%} of serve's CPU per request "
            f"(server {statistics.median(r[3] for r in results[mode]):.1f} us)"
        )


if __name__ == "__main__":
    main()
