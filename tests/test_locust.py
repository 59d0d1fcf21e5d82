"""wsgiscope on Locust: a real headless master and two worker processes on
loopback, with the in-process user and with the HTTP user against a server
started by the test."""

from __future__ import annotations

import csv
import importlib.util
import os
import re
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

if importlib.util.find_spec("locust") is None:  # importing it would monkey-patch this process
    pytest.skip(
        "Locust is not installed (pip install 'wsgiscope[locust]')", allow_module_level=True
    )

APPS = Path(__file__).parent / "apps"
REQUESTS = Path(__file__).parent / "data" / "locust_requests.txt"

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _locust() -> str:
    return str(Path(sys.executable).with_name("locust"))


def run_distributed(
    locustfile: Path, tmp_path: Path, *extra: str, users: int = 8
) -> tuple[int, str, dict[str, int]]:
    """A headless master and two workers; ``(master exit code, master output,
    the Aggregated row of Locust's stats CSV)``."""
    port = _free_port()
    env = {**os.environ, "PYTHONPATH": str(APPS), "NO_COLOR": "1"}
    env.pop("WSGISCOPE_APP", None)
    prefix = tmp_path / "stats"
    master = subprocess.Popen(
        [
            _locust(),
            "-f",
            str(locustfile),
            "--master",
            "--headless",
            "--expect-workers",
            "2",
            "-u",
            str(users),
            "-r",
            str(users),
            "-t",
            "5s",
            "--master-bind-host",
            "127.0.0.1",
            "--master-bind-port",
            str(port),
            "--csv",
            str(prefix),
            "--only-summary",
            *extra,
        ],
        cwd=APPS,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    workers = [
        subprocess.Popen(
            [
                _locust(),
                "-f",
                str(locustfile),
                "--worker",
                "--master-host",
                "127.0.0.1",
                "--master-port",
                str(port),
            ],
            cwd=APPS,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(2)
    ]
    try:
        out, _ = master.communicate(timeout=90)
    finally:
        for process in [master, *workers]:
            if process.poll() is None:
                process.kill()
            process.wait(timeout=30)
    with open(f"{prefix}_stats.csv", newline="") as file:
        rows = {row["Name"]: row for row in csv.DictReader(file)}
    aggregated = rows["Aggregated"]
    counts = {"requests": int(aggregated["Request Count"])}
    counts.update({name: int(row["Request Count"]) for name, row in rows.items()})
    return master.returncode, out, counts


def _served(out: str) -> list[int]:
    return [int(n.replace(",", "")) for n in re.findall(r"worker pid \d+, ([\d,]+) requests", out)]


def test_wsgi_user_clean_app_exits_0(tmp_path: Path) -> None:
    locustfile = tmp_path / "locustfile.py"
    locustfile.write_text(
        "from wsgiscope.locust import WsgiUser\n\n"
        "class Shop(WsgiUser):\n"
        '    app = "locust_shop:app"\n'
        f"    sources = [{str(REQUESTS)!r}]\n"
    )
    code, out, counts = run_distributed(locustfile, tmp_path)
    assert code == 0, out
    served = _served(out)
    assert len(served) == 2, out  # one line per worker
    assert counts["requests"] == sum(served) > 0
    assert out.count("no isolation problem") == 2
    # named by rule, not by raw path
    assert {"/catalog/<sku>", "/catalog/", "/"} <= set(counts)
    assert not any("SKU-1" in name for name in counts)


def test_wsgi_user_leak_is_reported_by_each_worker(tmp_path: Path) -> None:
    locustfile = tmp_path / "locustfile.py"
    locustfile.write_text(
        "from wsgiscope.locust import WsgiUser\n\n"
        "class Leaky(WsgiUser):\n"
        '    app = "replay_user_global:app"\n'
        '    sources = ["' + str(tmp_path / "who.txt") + '"]\n'
    )
    (tmp_path / "who.txt").write_text("GET /whoami?user=ada\nGET /whoami?user=bob\n")
    code, out, counts = run_distributed(locustfile, tmp_path)
    assert code == 1, out
    leaks = re.findall(r"worker pid \d+, [\d,]+ requests: ([\d,]+) leaks, ([\d,]+) divergent", out)
    assert len(leaks) == 2, out
    assert all(int(divergent.replace(",", "")) > 0 for _, divergent in leaks)
    assert "divergent GET /whoami?user=" in out
    assert counts["requests"] == sum(_served(out))


class _Counting:
    """A WSGI app that counts what reaches it (the server's own count)."""

    def __init__(self, app: object) -> None:
        self.app = app
        self.count = 0
        self.lock = threading.Lock()

    def __call__(self, environ: dict, start_response: object) -> object:
        with self.lock:
            self.count += 1
        return self.app(environ, start_response)  # type: ignore[operator]


def test_http_replay_user_against_a_real_server(tmp_path: Path) -> None:
    from werkzeug.serving import WSGIRequestHandler, make_server

    class Quiet(WSGIRequestHandler):
        def log_request(self, *args: object, **kwargs: object) -> None:
            pass

    sys.path.insert(0, str(APPS))
    try:
        from locust_shop import app
    finally:
        sys.path.remove(str(APPS))
    counting = _Counting(app)
    server = make_server("127.0.0.1", 0, counting, threaded=True, request_handler=Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        locustfile = tmp_path / "locustfile.py"
        locustfile.write_text(
            "from wsgiscope.locust import HttpReplayUser\n\n"
            "class OverHttp(HttpReplayUser):\n"
            '    app = "locust_shop:app"\n'
            f"    sources = [{str(REQUESTS)!r}]\n"
        )
        code, out, counts = run_distributed(
            locustfile, tmp_path, "--host", f"http://127.0.0.1:{server.server_port}", users=4
        )
    finally:
        server.shutdown()
        thread.join(10)
    assert code == 0, out
    # A request in flight when Locust stops its users reached the server but
    # is not in Locust's statistics: at most one per user (4).
    assert counting.count - 4 <= counts["requests"] <= counting.count
    assert counts["requests"] > 0
    assert "/catalog/<sku>" in counts


def test_replay_writes_a_locustfile_that_runs(tmp_path: Path) -> None:
    locustfile = tmp_path / "generated.py"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "wsgiscope",
            "replay",
            "locust_shop:app",
            str(REQUESTS),
            "--locust-file",
            str(locustfile),
        ],
        cwd=APPS,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert f"wrote {locustfile}" in done.stderr
    text = locustfile.read_text()
    assert 'app = "locust_shop:app"' in text
    start = time.perf_counter()
    code, out, counts = run_distributed(locustfile, tmp_path)
    assert code == 0, out
    assert counts["requests"] == sum(_served(out)) > 0
    assert time.perf_counter() - start < 80


def test_missing_locust_names_the_extra(tmp_path: Path) -> None:
    blocker = tmp_path / "locust.py"
    blocker.write_text("raise ImportError('No module named locust')\n")
    done = subprocess.run(
        [sys.executable, "-c", "import wsgiscope.locust"],
        env={**os.environ, "PYTHONPATH": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    assert "pip install 'wsgiscope[locust]'" in done.stderr


def test_locust_file_bad_inputs(tmp_path: Path) -> None:
    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "wsgiscope", "replay", "locust_shop:app", *args],
            cwd=APPS,
            capture_output=True,
            text=True,
            timeout=60,
        )

    missing_dir = tmp_path / "no" / "such" / "dir" / "f.py"
    done = run("--locust-file", str(missing_dir))
    assert done.returncode == 2
    assert done.stderr.startswith(f"wsgiscope: error: cannot write the locustfile {missing_dir}")
    assert "Traceback" not in done.stderr
    bad = tmp_path / "bad.txt"
    bad.write_text("FETCH\n")
    done = run(str(bad), "--locust-file", str(tmp_path / "f.py"))
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "f.py").exists()
