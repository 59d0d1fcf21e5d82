"""Isolation is proven in both directions, in every mode.

A module global leaks under threads and patched greenlets; a
``threading.local`` leaks only under unpatched greenlets; ``flask.g`` never
leaks. Greenlet modes run in a subprocess (the CLI starts fresh worker
processes anyway); the pytest process is never patched.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from replay_fixtures import USERS, lines_file, replay
from werkzeug.exceptions import NotFound

from wsgiscope.cli import cli

pytestmark = pytest.mark.flask  # also run under the next Flask (.ci/run)


def run_here(*args: str) -> tuple[int, dict[str, object]]:
    result = CliRunner().invoke(cli, ["replay", *args, "--json"])
    assert result.stdout, result.stderr
    return result.exit_code, json.loads(result.stdout)


def test_module_global_leaks_under_threads(apps_dir: Path, tmp_path: Path) -> None:
    source = lines_file(tmp_path, *USERS)
    code, data = run_here("replay_user_global", source, "--threads", "8", "-n", "300")
    assert code == 1
    isolation = data["isolation"]
    assert isolation["divergent"] > 0
    assert isolation["stable"] == 3
    example = isolation["examples"][0]
    assert example["kind"] == "divergent"
    assert example["request"].startswith("GET /whoami?user=")
    assert example["expected"]["body"] != example["got"]["body"]
    assert example["got"]["body"].startswith("user=")
    assert isinstance(example["worker"], int)
    assert data["max_in_flight"] > 1


def test_module_global_is_consistent_sequentially(apps_dir: Path, tmp_path: Path) -> None:
    source = lines_file(tmp_path, *USERS)
    code, data = run_here("replay_user_global", source, "-n", "60")
    assert code == 0
    assert data["isolation"]["divergent"] == 0
    assert data["isolation"]["compared"] == 60


def test_module_global_leaks_under_patched_greenlets(tmp_path: Path) -> None:
    source = lines_file(tmp_path, *USERS)
    code, data, _ = replay("replay_user_global", source, "--greenlets", "100", "-n", "300")
    assert code == 1
    assert data is not None
    assert data["patched"] is True
    assert data["isolation"]["divergent"] > 0
    assert data["max_in_flight"] > 50


def test_threading_local_is_isolated_sequentially_and_under_threads(
    apps_dir: Path, tmp_path: Path
) -> None:
    source = lines_file(tmp_path, *USERS)
    code, data = run_here(
        "replay_user_local", source, "--compare", "sequential,threads=8", "-n", "300"
    )
    assert code == 0
    sequential, threads = data["compare"]
    for run in (sequential, threads):
        assert run["isolation"]["divergent"] == 0
        assert run["isolation"]["compared"] == 300
    assert threads["max_in_flight"] > 1


def test_threading_local_leaks_only_under_unpatched_greenlets(tmp_path: Path) -> None:
    source = lines_file(tmp_path, *USERS)
    code, data, _ = replay("replay_user_local", source, "--greenlets", "100", "-n", "300")
    assert data is not None
    assert (code, data["isolation"]["divergent"]) == (0, 0)
    assert data["max_in_flight"] > 50
    code, data, _ = replay(
        "replay_user_local", source, "--greenlets", "100", "--no-patch", "-n", "300"
    )
    assert data is not None
    assert code == 1
    assert data["patched"] is False
    assert data["isolation"]["divergent"] > 0
    # unpatched, every greenlet is the same thread to get_ident()
    assert data["idents"] == 1


def test_flask_g_never_leaks_in_any_mode(apps_dir: Path, tmp_path: Path) -> None:
    source = lines_file(tmp_path, *USERS)
    code, here = run_here(
        "replay_user_g", source, "--compare", "sequential,threads=8,greenlets=100", "-n", "600"
    )
    assert code == 0
    code, patched, _ = replay(
        "replay_user_g", source, "--compare", "greenlets=100,threads=4", "--processes", "2"
    )
    assert code == 0
    assert patched is not None
    code, unpatched, _ = replay(
        "replay_user_g", source, "--greenlets", "100", "--no-patch", "-n", "600"
    )
    assert code == 0
    assert unpatched is not None
    runs = [*here["compare"], *patched["compare"], unpatched]
    assert [r["label"] for r in runs] == [
        "sequential",
        "threads=8",
        "greenlets=100",
        "2x greenlets=100",
        "2x threads=4",
        "greenlets=100 (unpatched)",
    ]
    for run in runs:
        isolation = run["isolation"]
        assert (isolation["leaks"], isolation["divergent"]) == (0, 0), run["label"]
        # the app's before_request, the view, the app's teardown_request
        assert isolation["context_checks"] == 3 * run["requests"] >= 1800, run["label"]
    assert all(r["max_in_flight"] > 1 for r in runs[1:])


def test_sleeping_view_effective_concurrency(tmp_path: Path) -> None:
    source = lines_file(tmp_path, "GET /slow")
    code, data, stderr = replay("replay_sleepy", source, "--greenlets", "100", "-n", "300")
    assert code == 0
    assert data is not None
    assert data["max_in_flight"] >= 90
    assert data["idents"] == 100
    assert "no effective concurrency" not in stderr
    code, data, stderr = replay(
        "replay_sleepy", source, "--greenlets", "100", "--no-patch", "-n", "60"
    )
    assert code == 0
    assert data is not None
    assert data["max_in_flight"] == 1
    assert data["warnings"]
    assert "no effective concurrency" in stderr
    # Two processes side by side are two in flight, yet no greenlet overlapped.
    code, data, stderr = replay(
        "replay_sleepy", source, "--greenlets", "100", "--no-patch", "--processes", "2", "-n", "40"
    )
    assert code == 0
    assert data is not None
    assert data["max_in_flight"] == 2
    assert "no effective concurrency (at most 1 request in flight per process)" in stderr


def test_greenlet_workers_patch_before_anything_else(tmp_path: Path) -> None:
    # The app refuses to import unless gevent patched first and neither rich
    # nor concurrent.futures was imported before it.
    code, data, stderr = replay("replay_patch_order", "--greenlets", "10", "-n", "50")
    assert code == 0, stderr
    assert data is not None
    assert data["status"] == {"2xx": 50}


def test_patch_order_app_refuses_an_unpatched_process(apps_dir: Path) -> None:
    result = CliRunner().invoke(cli, ["replay", "replay_patch_order", "--threads", "2"])
    assert result.exit_code == 2
    assert "imported in the wrong order" in result.stderr


def test_greenlet_replay_never_patches_this_process(apps_dir: Path, tmp_path: Path) -> None:
    source = lines_file(tmp_path, "GET /fast")
    result = CliRunner().invoke(
        cli, ["replay", "replay_sleepy", source, "--greenlets", "5", "-n", "20", "--json"]
    )
    assert result.exit_code == 0, result.stderr
    monkey = sys.modules.get("gevent.monkey")
    assert monkey is None or not monkey.saved
    # nor does it import the app here: it may patch when imported
    assert "replay_sleepy" not in sys.modules


def test_context_checker_reports_both_requests(apps_dir: Path) -> None:
    import flask

    from wsgiscope.loading import AppRef, load_app
    from wsgiscope.replay.engine import Entry
    from wsgiscope.replay.isolation import REQUEST_ID, ContextChecker, Findings
    from wsgiscope.replay.sources import ReplayRequest

    app = load_app(AppRef("replay_user_g:app", "argument", apps_dir)).app
    findings = Findings()
    checker = ContextChecker([app], findings)
    slot = checker.slot(ident=42)
    slot.request_id = 1
    slot.entry = Entry(ReplayRequest("GET", "/whoami", "user=alice"), {}, b"")
    environ = {REQUEST_ID: 1, "QUERY_STRING": "user=alice"}
    with app.test_request_context("/whoami?user=alice", environ_base=environ):
        checker.check("before_request", "tests.hook")
    assert findings.leaks == 0
    # a context that belongs to request 2 while this worker serves request 1
    with app.test_request_context("/whoami?user=bob", environ_base={REQUEST_ID: 2}):
        checker.check("teardown_request", "tests.hook")
    checker.release()
    assert findings.leaks == 1
    leak = findings.examples[0]
    assert leak["what"] == "request"
    assert leak["hook"] == "teardown_request"
    assert leak["request"] == {"id": 1, "request": "GET /whoami?user=alice"}
    assert leak["seen"] == {"id": 2, "request": "GET /whoami?user=bob"}
    assert leak["worker"] == 42
    # a g that another replayed request started with is a leak too
    with app.test_request_context("/whoami", environ_base={REQUEST_ID: 1}):
        checker.slot(ident=42).request_id = 1
        flask.g._wsgiscope_replay_id = 3
        checker.check("after_request", "tests.hook")
    assert findings.leaks == 2
    assert findings.examples[1]["what"] == "g"
    assert findings.examples[1]["seen"] == {"id": 3}


def test_context_checker_installs_and_uninstalls(apps_dir: Path) -> None:
    from wsgiscope.loading import AppRef, load_app
    from wsgiscope.replay.isolation import ContextChecker, Findings

    app = load_app(AppRef("replay_user_g:app", "argument", apps_dir)).app
    before = (
        dict(app.before_request_funcs),
        dict(app.teardown_request_funcs),
        list(app.teardown_appcontext_funcs),
        dict(app.view_functions),
    )
    checker = ContextChecker([app], Findings())
    checker.install()
    assert app.view_functions["whoami"] is not before[3]["whoami"]
    assert app.view_functions["whoami"].__wrapped__ is before[3]["whoami"]
    assert app.before_request_funcs[None][0].__wrapped__ is before[0][None][0]
    checker.uninstall()
    after = (
        dict(app.before_request_funcs),
        dict(app.teardown_request_funcs),
        list(app.teardown_appcontext_funcs),
        dict(app.view_functions),
    )
    assert after == before


@pytest.mark.parametrize("mode", ["--threads", "--greenlets"])
def test_plain_wsgi_global_diverges(tmp_path: Path, mode: str) -> None:
    source = lines_file(tmp_path, "GET /?a", "GET /?b", "GET /?c")
    code, data, _ = replay("replay_plain_global", source, mode, "8", "-n", "200")
    assert code == 1
    assert data is not None
    assert data["isolation"]["divergent"] > 0
    assert data["isolation"]["context_checks"] == 0  # no Flask: divergence only


def test_a_shared_session_is_a_leak_reported_with_both_requests(tmp_path: Path) -> None:
    source = lines_file(tmp_path, "GET /visit?user=alice", "GET /visit?user=bob")
    code, data, stderr = replay("replay_shared_session", source, "--threads", "4", "-n", "200")
    assert code == 1, stderr
    assert data is not None
    isolation = data["isolation"]
    assert isolation["divergent"] == 0  # the answers are right: only the check sees it
    assert isolation["leaks"] > 0
    leak = isolation["examples"][0]
    assert (leak["kind"], leak["what"]) == ("leak", "session")
    assert leak["hook"] == "view"
    assert leak["function"] == "replay_shared_session.visit"
    mine, theirs = leak["request"], leak["seen"]
    assert mine["id"] != theirs["id"]
    for request in (mine, theirs):
        assert request["request"] == f"GET /visit?user={('alice', 'bob')[request['id'] % 2]}"
    assert isinstance(leak["worker"], int)


def test_context_check_runs_in_every_kind_of_hook(apps_dir: Path, tmp_path: Path) -> None:
    from wsgiscope.loading import AppRef, load_app
    from wsgiscope.replay.isolation import ContextChecker, Findings

    source = lines_file(tmp_path, "GET /shop/fr/page", "GET /missing")
    code, data = run_here("replay_hooks", source, "--threads", "2", "-n", "100")
    assert code == 0
    assert data["status"] == {"2xx": 50, "4xx": 50}
    assert (data["isolation"]["leaks"], data["isolation"]["divergent"]) == (0, 0)
    # /shop/fr/page: url_value_preprocessor, before_request, view, context
    # processor, after_request, teardown_request, teardown_appcontext (7);
    # /missing: the error handler, after_request and both teardowns (4)
    assert data["isolation"]["context_checks"] == 50 * 7 + 50 * 4
    app = load_app(AppRef("replay_hooks:app", "argument", apps_dir)).app
    before = repr(
        (
            app.url_value_preprocessors,
            app.template_context_processors,
            app.error_handler_spec,
        )
    )
    checker = ContextChecker([app], Findings())
    checker.install()
    assert app.error_handler_spec[None][404][NotFound].__wrapped__ is not None
    checker.uninstall()
    after = repr(
        (
            app.url_value_preprocessors,
            app.template_context_processors,
            app.error_handler_spec,
        )
    )
    assert after == before
