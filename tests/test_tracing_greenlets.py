"""Concurrent greenlets each see only their own request (subprocess: gevent patches)."""

from __future__ import annotations

import datetime
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("gevent")
pytest.importorskip("flask")

from tests.tracing_fixtures import merged_flask

pytestmark = pytest.mark.flask  # also run under the next Flask (.ci/run)

ROOT = Path(__file__).parent.parent

SCRIPT = """
from gevent import monkey
monkey.patch_all()
import json
import gevent
from flask import Flask, g, request
from werkzeug.test import EnvironBuilder
from wsgiscope import TraceMiddleware

app = Flask("green")

@app.before_request
def remember():
    g.name = request.path

@app.get("/<name>")
def view(name):
    gevent.sleep(0.02)  # the other greenlets run their requests meanwhile
    return name

records = []
mw = TraceMiddleware(app, sink=records.append)

def one(name):
    result = mw(EnvironBuilder("/" + name).get_environ(), lambda s, h, e=None: None)
    body = b"".join(result)
    result.close()
    return body.decode()

jobs = [gevent.spawn(one, n) for n in ("a", "b", "c")]
gevent.joinall(jobs)
mw.close()
print(json.dumps({"bodies": [j.value for j in jobs], "records": records}))
"""


def test_greenlets_record_only_their_own_events() -> None:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["bodies"] == ["a", "b", "c"]
    records = out["records"]
    assert len(records) == 3
    greenlets = {r["worker"]["greenlet"] for r in records}
    assert len(greenlets) == 3
    assert None not in greenlets
    for record in records:
        name = record["request"]["path"].strip("/")
        views = [e for e in record["events"] if e.get("hook") == "view"]
        assert [v["view_args"] for v in views] == [{"name": repr(name)}]
        kinds = [e["kind"] for e in record["events"]]
        # (an app and a request context; one merged context on Flask 3.2)
        contexts = 1 if merged_flask() else 2
        assert kinds.count("push") == contexts
        assert kinds.count("pop") == contexts
        assert record["response"]["body_preview"] == name
        pop = next(e for e in record["events"] if e["kind"] == "pop")
        assert pop["g"] == {"name": repr("/" + name)}
    # They overlapped: the last one started before the first one ended.
    starts = [datetime.datetime.fromisoformat(r["started"].replace("Z", "+00:00")) for r in records]
    ends = [
        s + datetime.timedelta(milliseconds=r["duration_ms"])
        for s, r in zip(starts, records, strict=True)
    ]
    assert max(starts) < min(ends)
