"""Django traced in a subprocess (its settings are process-global)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("django")

ROOT = Path(__file__).parent.parent

SCRIPT = """
import json, logging, sys
logging.disable(logging.CRITICAL)
from werkzeug.test import EnvironBuilder
from tests.apps.trace_django_site import application
from wsgiscope.tracing import instrument, run_traced
import django.utils.deprecation as deprecation
before = dict(vars(deprecation.MiddlewareMixin))
out = {}
for path in ("/hello/5/", "/broken/"):
    result = run_traced(application, EnvironBuilder(path).get_environ())
    out[path] = {"record": result.record, "exc": result.exc_info and result.exc_info[0].__name__}
out["restored"] = dict(vars(deprecation.MiddlewareMixin)) == before and not instrument.active()
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def traces() -> dict:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    env.pop("DJANGO_SETTINGS_MODULE", None)
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def _steps(record: dict) -> list[tuple]:
    return [
        (
            e["kind"],
            e.get("hook") or e.get("name"),
            e.get("function", "").rsplit(".", 1)[-1],
            e["depth"],
        )
        for e in record["events"]
        if e["kind"] in ("hook", "signal")
    ]


def test_middleware_chain_in_order_and_the_view(traces: dict) -> None:
    record = traces["/hello/5/"]["record"]
    assert _steps(record) == [
        ("signal", "request_started", "", 0),
        ("hook", "middleware", "SecurityMiddleware", 1),
        ("hook", "middleware", "CommonMiddleware", 2),
        ("hook", "middleware", "TimingMiddleware", 3),
        ("hook", "view", "hello", 3),
        ("signal", "request_finished", "", 0),
    ]
    events = record["events"]
    middleware = [e for e in events if e.get("hook") == "middleware"]
    view = next(e for e in events if e.get("hook") == "view")
    assert [m["parent"] for m in middleware[1:]] == [m["seq"] for m in middleware[:-1]]
    assert view["parent"] == middleware[-1]["seq"]
    assert view["endpoint"] == "hello"
    assert view["view_args"] == {"n": "5"}
    assert view["function"] == "tests.apps.trace_django_site.hello"
    assert record["response"]["status"] == "200 OK"
    assert ["X-Timing", "1"] in record["response"]["headers"]
    kinds = [e["kind"] for e in events]
    # request_finished is sent when the response is closed: inside the trace.
    assert kinds[-2:] == ["signal", "close"]


def test_failing_view(traces: dict) -> None:
    result = traces["/broken/"]
    record = result["record"]
    view = next(e for e in record["events"] if e.get("hook") == "view")
    assert view["raised"] == "ValueError: django view failed"
    signal = next(e for e in record["events"] if e.get("name") == "got_request_exception")
    assert signal["exception"] == "ValueError: django view failed"
    assert record["response"]["status_code"] == 500
    assert record["error"]["type"] == "ValueError"
    assert result["exc"] == "ValueError"


def test_instrumentation_removed(traces: dict) -> None:
    assert traces["restored"] is True
