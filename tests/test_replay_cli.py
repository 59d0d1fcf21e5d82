"""``wsgiscope replay``: options, JSON schema, errors, rate, duration, Ctrl-C."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from replay_fixtures import APPS, DATA, ROOT, lines_file, replay

from wsgiscope.cli import cli

pytestmark = pytest.mark.flask  # also run under the next Flask (.ci/run)

KEYS = {
    "mode",
    "workers",
    "processes",
    "requests",
    "errors",
    "status",
    "duration_s",
    "throughput_rps",
    "latency_ms",
    "max_in_flight",
    "idents",
    "isolation",
}


def invoke(*args: str) -> Result:
    return CliRunner().invoke(cli, ["replay", *args])


def test_json_schema(apps_dir: Path, tmp_path: Path) -> None:
    source = lines_file(tmp_path, "GET /a?x=1", "GET /b")
    result = invoke("replay_plain", source, "--threads", "4", "-n", "500", "--json")
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert set(data) >= KEYS
    assert (data["mode"], data["workers"], data["processes"]) == ("threads", 4, 1)
    assert data["requests"] == 500
    assert data["status"] == {"2xx": 500}
    assert set(data["latency_ms"]) == {"min", "mean", "p50", "p90", "p95", "p99", "p999", "max"}
    assert set(data["isolation"]) >= {"checked", "leaks", "divergent", "examples"}
    assert data["isolation"]["checked"] == 500
    assert data["throughput_rps"] > 0
    assert 1 <= data["idents"] <= 4
    assert data["source"]["requests"] == 2
    assert "\x1b" not in result.stdout


def test_errors_by_status_class_and_exception(apps_dir: Path, tmp_path: Path) -> None:
    source = lines_file(tmp_path, "GET /ok", "GET /fail", "GET /boom", "GET /ok")
    result = invoke("replay_plain", source, "-n", "40", "--json")
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    assert data["status"] == {"2xx": 20, "5xx": 10}
    assert data["exceptions"] == {"RuntimeError": 10}
    assert data["errors"] == 20
    assert data["error_examples"][0] == "GET /boom: RuntimeError: boom"
    assert invoke("replay_plain", source, "-n", "8", "--fail-on-errors").exit_code == 1


def test_text_summary_with_histogram(apps_dir: Path, tmp_path: Path) -> None:
    source = lines_file(tmp_path, "GET /a")
    result = invoke("replay_plain", source, "-n", "200", "--width", "100")
    assert result.exit_code == 0
    out = result.stdout
    for label in ("mode", "throughput", "latency p99.9", "max in flight", "leaks / divergent"):
        assert label in out
    assert "█" in out
    assert "\x1b" not in out


def test_compare_side_by_side(apps_dir: Path, tmp_path: Path) -> None:
    source = lines_file(tmp_path, "GET /a", "GET /b")
    result = invoke(
        "replay_plain", source, "--compare", "sequential,threads=4", "-n", "300", "--width", "120"
    )
    assert result.exit_code == 0, result.stderr
    header = result.stdout.splitlines()[0]
    assert "sequential" in header
    assert "threads=4" in header
    assert "vs first" in result.stdout
    data = json.loads(
        invoke("replay_plain", source, "--compare", "sequential,threads=2", "--json").stdout
    )
    assert [run["label"] for run in data["compare"]] == ["sequential", "threads=2"]


def test_har_skipped_hosts_are_reported(apps_dir: Path) -> None:
    result = invoke("replay_echo:app", str(DATA / "replay_chrome.har"), "-n", "30")
    assert result.exit_code == 0, result.stderr
    assert "skipped 1 HAR entries for other hosts: cdn.example.net" in result.stdout
    data = json.loads(
        invoke(
            "replay_echo:app", str(DATA / "replay_chrome.har"), "--host-filter", "*", "--json"
        ).stdout
    )
    assert data["source"]["other_hosts"] == 0
    assert data["source"]["requests"] == 4


def test_malformed_source_exits_2_with_one_line(apps_dir: Path, tmp_path: Path) -> None:
    source = tmp_path / "bad.jsonl"
    source.write_text('{"method": "GET", "path": "/"}\n{oops\n')
    result = invoke("replay_plain", str(source))
    assert result.exit_code == 2
    lines = result.stderr.splitlines()
    assert lines[0].startswith(f"wsgiscope: error: {source}:2: invalid JSON")
    assert (
        lines[1] == "hint: fix the source, or pass --skip-invalid to replay the valid requests only"
    )
    assert "Traceback" not in result.output
    skipped = invoke("replay_plain", str(source), "--skip-invalid", "-n", "5", "--json")
    assert skipped.exit_code == 0
    assert json.loads(skipped.stdout)["source"]["invalid"] == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--threads", "2", "--greenlets", "3"], "--threads and --greenlets cannot be combined"),
        (["--compare", "sequential,fibers=3"], "unknown mode 'fibers=3'"),
        (["--compare", "threads=2", "--threads", "2"], "--compare lists the modes itself"),
        (["-n", "5", "--duration", "1s"], "-n/--requests and --duration cannot be combined"),
        (["--duration", "soon"], "invalid duration 'soon'"),
    ],
)
def test_usage_errors(apps_dir: Path, args: list[str], message: str) -> None:
    result = invoke("replay_plain", *args)
    assert result.exit_code == 2
    assert message in result.stderr


def test_no_source_replays_the_route_table(apps_dir: Path) -> None:
    # A plain app has one opaque route, "/*": GET / and HEAD /.
    result = invoke("replay_plain", "-n", "10", "--json")
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["source"]["kind"] == "routes"
    assert data["isolation"]["stable"] == 2
    assert data["status"] == {"2xx": 10}


def test_rate_counts_latency_from_the_intended_start(apps_dir: Path, tmp_path: Path) -> None:
    # 10 ms per request, one worker, asked for 500 requests/s: each request
    # starts later than intended, and that wait is part of its latency.
    source = lines_file(tmp_path, "GET /slow")
    result = invoke("replay_sleepy", source, "-n", "30", "--rate", "500", "--json")
    data = json.loads(result.stdout)
    assert data["requests"] == 30
    assert data["latency_ms"]["max"] > 150
    assert data["latency_ms"]["p50"] > 50
    closed = json.loads(invoke("replay_sleepy", source, "-n", "10", "--json").stdout)
    assert closed["latency_ms"]["max"] < 100


def test_a_stall_under_rate_delays_every_request_behind_it(apps_dir: Path, tmp_path: Path) -> None:
    # 100 requests/s, one worker: the 5th request stalls 0.5 s. The 45
    # requests due during the stall start late, and their latency counts
    # from when they were due (a closed loop would report one slow request
    # and a fast median: coordinated omission).
    source = lines_file(tmp_path, *["GET /fast"] * 4, "GET /stall", *["GET /fast"] * 45)
    result = invoke("replay_stall", source, "-n", "50", "--rate", "100", "--no-check", "--json")
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["requests"] == 50
    assert data["latency_ms"]["max"] >= 500
    assert data["latency_ms"]["p50"] >= 100
    closed = invoke("replay_stall", source, "-n", "50", "--no-check", "--json")
    assert json.loads(closed.stdout)["latency_ms"]["p50"] < 50


def test_idents_count_the_workers_that_served(apps_dir: Path, tmp_path: Path) -> None:
    source = lines_file(tmp_path, "GET /fast")
    result = invoke("replay_sleepy", source, "--threads", "8", "-n", "3", "--json")
    data = json.loads(result.stdout)
    assert data["requests"] == 3
    assert 1 <= data["idents"] <= 3


def test_duration_and_warmup(apps_dir: Path, tmp_path: Path) -> None:
    source = lines_file(tmp_path, "GET /a")
    result = invoke("replay_plain", source, "--duration", "300ms", "--warmup", "20", "--json")
    data = json.loads(result.stdout)
    assert data["requests"] > 100
    assert 0.3 <= data["duration_s"] < 2
    # warm-up requests run first and are not counted
    counted = json.loads(
        invoke("replay_plain", source, "-n", "50", "--warmup", "20", "--json").stdout
    )
    assert counted["requests"] == 50


def test_processes_merge_their_results(tmp_path: Path) -> None:
    source = lines_file(tmp_path, "GET /a", "GET /b", "GET /c")
    code, data, stderr = replay(
        "replay_plain", source, "--processes", "2", "--threads", "2", "-n", "501"
    )
    assert code == 0, stderr
    assert data is not None
    assert (data["mode"], data["processes"], data["requests"]) == ("threads", 2, 501)
    assert data["isolation"]["compared"] == 501
    assert data["idents"] >= 2


@pytest.mark.parametrize("mode", [["--threads", "4"], ["--greenlets", "20", "--processes", "2"]])
def test_django_app(tmp_path: Path, mode: list[str]) -> None:
    pytest.importorskip("django")
    source = lines_file(tmp_path, "GET /hello/ada", "POST /hello/bob", "GET /nope")
    code, data, stderr = replay("replay_django_site", source, *mode, "-n", "300")
    assert code == 0, stderr
    assert data is not None
    assert data["status"] == {"2xx": 200, "4xx": 100}
    assert data["isolation"]["divergent"] == 0


def _interrupt(
    marker: Path, *args: str, again_after: float | None = None, app: str = "replay_sleepy"
) -> tuple[int, str, str]:
    """Run ``replay APP ARGS`` until the app has created ``marker`` (it is
    serving: not still importing on a loaded machine), then a real SIGINT
    (Ctrl-C), and another one ``again_after`` seconds later if asked."""
    process = subprocess.Popen(
        [sys.executable, "-m", "wsgiscope", "replay", app, *args],
        cwd=APPS,
        env={**os.environ, "PYTHONPATH": str(ROOT), "REPLAY_MARKER": str(marker)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while not marker.exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert marker.exists(), "the replay never reached the app"
    time.sleep(0.3)  # the requests in flight next to it end
    process.send_signal(signal.SIGINT)
    if again_after is not None:
        time.sleep(again_after)
        process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=30)
    return process.returncode, stdout, stderr


@pytest.mark.parametrize(
    "mode", [["--threads", "2"], ["--processes", "2"], ["--greenlets", "4"]], ids=lambda m: m[0]
)
def test_a_second_ctrl_c_leaves_a_request_that_never_ends(tmp_path: Path, mode: list[str]) -> None:
    # 40 quick requests, then one the app takes 30 s over. The first Ctrl-C
    # waits for the request in hand; the second stops waiting for it, and the
    # summary has what the other requests measured.
    source = lines_file(tmp_path, *["GET /fast"] * 40, "GET /hang")
    args = [source, *mode, "-n", "41", "--no-check", "--json"]
    marker = tmp_path / "hang.started"
    code, stdout, stderr = _interrupt(marker, *args, again_after=1.5, app="replay_stall")
    started = marker.stat().st_mtime
    assert time.time() - started < 20  # not the 30 s the request would take
    assert code == 130, stderr
    data = json.loads(stdout)
    assert data["interrupted"] is True
    assert data["requests"] == 40
    assert data["status"] == {"2xx": 40}
    assert (
        f"{data['label']}: 1 worker was still in a request the app did not finish; "
        "it is not in the figures"
    ) in data["warnings"]
    assert "Traceback" not in stderr


@pytest.mark.parametrize("mode", [["--threads", "4"], ["--greenlets", "20"]])
def test_ctrl_c_prints_the_summary_so_far_and_exits_130(tmp_path: Path, mode: list[str]) -> None:
    source = lines_file(tmp_path, "GET /slow")
    code, stdout, stderr = _interrupt(
        tmp_path / "slow.started", source, *mode, "--duration", "60s", "--json"
    )
    assert code == 130, stderr
    data = json.loads(stdout)
    assert data["interrupted"] is True
    assert data["requests"] > 0
    assert data["duration_s"] < 30
    assert "Traceback" not in stderr


def test_ctrl_c_text_summary_with_processes_and_greenlets(tmp_path: Path) -> None:
    source = lines_file(tmp_path, "GET /slow")
    args = (source, "--processes", "2", "--greenlets", "10", "--duration", "60s", "--width", "100")
    code, stdout, stderr = _interrupt(tmp_path / "slow.started", *args)
    assert code == 130, stderr
    assert "mode               2x greenlets=10" in stdout
    assert "interrupted: the figures cover what ran" in stdout
    requests = next(line for line in stdout.splitlines() if line.startswith("requests"))
    assert int(requests.split()[1].replace(",", "")) > 0
    assert "Traceback" not in stderr + stdout


def test_help_imports_nothing_heavy() -> None:
    code = "import sys\nfrom wsgiscope.cli import main\ntry:\n    main(['replay', '--help'])\n"
    code += "except SystemExit:\n    pass\nsys.stderr.write(' '.join(sys.modules))\n"
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        timeout=60,
    )
    assert "--greenlets" in result.stdout
    heavy = ("rich", "werkzeug", "gevent", "greenlet", "flask", "hdrh", "concurrent.futures")
    assert [m for m in result.stderr.split() if m.startswith(heavy)] == []


def test_demo_route_table_internal_redirect_and_app_log() -> None:
    # The demo's /old/<sku> pushes a second request context (an internal
    # redirect): not a leak. Its /fail view logs a traceback to wsgi.errors:
    # counted, not printed. (A subprocess: pytest's log capture would stop
    # Flask from installing its wsgi.errors handler.)
    code, data, stderr = replay("wsgiscope.demo", "--threads", "2", "-n", "400")
    assert code == 0, stderr
    assert data is not None
    assert data["source"]["kind"] == "routes"
    assert data["isolation"]["leaks"] == 0
    assert data["isolation"]["context_checks"] > 400
    assert data["status"]["5xx"] > 0
    assert data["wsgi_errors"]["chars"] > 0
    assert any("RuntimeError" in line for line in data["wsgi_errors"]["head"])
    assert "Traceback" not in stderr


def test_progress_bar_on_a_terminal() -> None:
    import io

    from rich.console import Console

    from wsgiscope.render.replay import progress_bar

    stream = io.StringIO()
    console = Console(file=stream, force_terminal=True, width=100, color_system=None)
    with progress_bar(console, "threads=4", 100, None) as update:
        assert update is not None
        update(50, 3)
        update(100, 3)
    with progress_bar(console, "sequential", None, 0.5) as update:
        assert update is not None
        update(10, 0)
    output = stream.getvalue()
    assert "threads=4" in output
    assert "req/s" in output
    assert "3 errors" in output
    with progress_bar(console, "hidden", 10, None, show=False) as update:
        assert update is None


def test_unstable_answers_are_not_compared_and_said(apps_dir: Path, tmp_path: Path) -> None:
    source = lines_file(tmp_path, "GET /")
    result = invoke("replay_counter", source, "--threads", "4", "-n", "200", "--json")
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    assert (data["isolation"]["stable"], data["isolation"]["unstable"]) == (0, 1)
    assert data["isolation"]["compared"] == 0
    assert "divergence check compared nothing" in result.stderr


def test_progress_is_relayed_from_worker_processes(tmp_path: Path) -> None:
    from wsgiscope.loading import AppRef
    from wsgiscope.replay.plan import Mode, ReplayPlan
    from wsgiscope.replay.runner import AppHandle, run_mode
    from wsgiscope.replay.sources import ReplayRequest

    seen: list[tuple[int, int]] = []
    handle = AppHandle(AppRef("replay_sleepy", "argument", APPS))
    result = run_mode(
        handle,
        [ReplayRequest("GET", "/slow")],
        Mode("greenlets", 10, processes=2),
        ReplayPlan(requests=400),
        lambda done, errors: seen.append((done, errors)),
    )
    assert result.stats.count == 400
    assert len(seen) >= 2
    assert seen == sorted(seen)
    assert seen[-1] == (400, 0)
    assert "replay_sleepy" not in sys.modules  # loaded by the workers only


def test_first_readme_command_finds_the_app_and_replays_its_routes(tmp_path: Path) -> None:
    # `wsgiscope replay --greenlets 100` in a project directory: APP found by
    # discovery (app.py), requests from its route table, patched greenlets.
    shutil.copy(APPS / "replay_sleepy.py", tmp_path / "app.py")
    environment = {**os.environ, "PYTHONPATH": str(ROOT)}
    environment.pop("WSGISCOPE_APP", None)
    result = subprocess.run(
        [sys.executable, "-m", "wsgiscope", "replay", "--greenlets", "100", "--json"],
        cwd=tmp_path,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["source"]["kind"] == "routes"
    assert (data["mode"], data["workers"], data["patched"]) == ("greenlets", 100, True)
    assert data["requests"] == 1000
    # GET and HEAD of /slow, /fast and the static route's sample file (404)
    assert data["isolation"]["stable"] == 6
    assert data["status"]["2xx"] > 600
    assert data["max_in_flight"] > 50
    assert data["isolation"]["leaks"] == data["isolation"]["divergent"] == 0


def test_har_under_processes_and_greenlets_for_a_duration() -> None:
    # wsgiscope replay app:app session.har --processes 2 --greenlets 50 --duration 30s
    har = str(DATA / "replay_chrome.har")
    code, data, stderr = replay(
        "replay_echo:app", har, "--processes", "2", "--greenlets", "50", "--duration", "1s"
    )
    assert code == 0, stderr
    assert data is not None
    assert (data["mode"], data["workers"], data["processes"]) == ("greenlets", 50, 2)
    assert data["patched"] is True
    assert 1.0 <= data["duration_s"] < 5
    assert data["requests"] > 100
    assert data["status"] == {"2xx": data["requests"]}
    assert data["idents"] == 100  # 50 greenlets in each of 2 processes
    assert (data["source"]["requests"], data["source"]["other_hosts"]) == (3, 1)
    # the POST and the PUT change state: not compared unless --check-unsafe
    assert data["isolation"]["stable"] == 1
    assert data["isolation"]["excluded"][0]["requests"] == [
        "POST /cart/add",
        "PUT /api/cart/items/7",
    ]
    assert data["isolation"]["leaks"] == data["isolation"]["divergent"] == 0


def test_live_progress_bar_on_a_real_terminal(tmp_path: Path) -> None:
    import pty
    import select

    source = lines_file(tmp_path, "GET /slow")
    leader, follower = pty.openpty()
    process = subprocess.Popen(
        [
            *(sys.executable, "-m", "wsgiscope", "replay", "replay_sleepy", source),
            *("--threads", "2", "-n", "60", "--width", "100"),
        ],
        cwd=APPS,
        env={**os.environ, "PYTHONPATH": str(ROOT), "TERM": "xterm"},
        stdout=subprocess.PIPE,
        stderr=follower,
    )
    os.close(follower)
    drawn = b""
    while True:
        ready, _, _ = select.select([leader], [], [], 0.1)
        if ready:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # the terminal closed with the process
                break
            if not chunk:
                break
            drawn += chunk
        elif process.poll() is not None:
            break
    os.close(leader)
    stdout = process.communicate(timeout=30)[0].decode()
    assert process.returncode == 0
    text = drawn.decode("utf-8", "replace")
    assert "threads=2" in text
    assert "60/60" in text
    assert "req/s" in text
    assert "0 errors" in text
    assert "requests           60" in stdout  # the summary goes to stdout, after the bar
