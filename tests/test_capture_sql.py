"""SQL beneath the hooks: real SQLAlchemy, Django and sqlite3 on SQLite.

Each statement's place in the lifecycle (the hook, view or template render
that ran it), the derived ``queries`` summary with its likely N+1, redacted
parameters, the capture selection and caps, and nothing left installed.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import logging
import os
import sqlite3
import subprocess
import sys
import typing as t
from pathlib import Path

import pytest
from click.testing import CliRunner
from werkzeug.test import EnvironBuilder

import wsgiscope.capture
from wsgiscope.capture.sql import param_names, redact_params, redact_statement
from wsgiscope.cli import cli
from wsgiscope.tracing import TraceMiddleware, instrument, run_traced

pytest.importorskip("flask_sqlalchemy")

ROOT = Path(__file__).parent.parent
BLOG = str(ROOT / "tests" / "apps" / "beneath_flask_blog.py")
TUTORIAL = str(ROOT / "tests" / "apps" / "beneath_sqlite_tutorial.py")


@pytest.fixture(scope="module")
def blog() -> t.Any:
    sys.path.insert(0, str(ROOT))
    try:
        return importlib.import_module("tests.apps.beneath_flask_blog").create_app()
    finally:
        sys.path.remove(str(ROOT))


@pytest.fixture(scope="module")
def tutorial() -> t.Any:
    sys.path.insert(0, str(ROOT))
    try:
        return importlib.import_module("tests.apps.beneath_sqlite_tutorial").app
    finally:
        sys.path.remove(str(ROOT))


def traced(app: t.Any, path: str, method: str = "GET", **kwargs: t.Any) -> dict[str, t.Any]:
    result = run_traced(app, EnvironBuilder(path, method=method).get_environ(), **kwargs)
    return result.record


def owner(record: dict[str, t.Any], event: dict[str, t.Any]) -> dict[str, t.Any]:
    return next(e for e in record["events"] if e["seq"] == event["parent"])


def sql(record: dict[str, t.Any]) -> list[dict[str, t.Any]]:
    return [e for e in record["events"] if e["kind"] == "sql"]


def test_flask_sqlalchemy_n_plus_one_in_a_template(blog: t.Any) -> None:
    record = traced(blog, "/authors")
    queries = sql(record)
    assert [q["source"] for q in queries] == ["sqlalchemy"] * 6
    # the current user, loaded by before_request
    first = owner(record, queries[0])
    assert (first["kind"], first["hook"]) == ("hook", "before_request")
    assert first["function"].endswith("load_user")
    assert queries[0]["parameters"] == {"pk_1": "1"}
    assert queries[0]["database"] == "sqlite://"
    # the authors, by the view
    view = owner(record, queries[1])
    assert (view["hook"], view["endpoint"]) == ("view", "authors")
    assert "FROM author" in queries[1]["statement"]
    # each author's books, lazily loaded while the template renders
    template = owner(record, queries[2])
    assert (template["kind"], template["name"], template["engine"]) == (
        "template",
        "authors.html",
        "jinja2",
    )
    assert template["parent"] == view["seq"]
    assert template["duration_ms"] >= sum(q["duration_ms"] for q in queries[2:])
    assert {owner(record, q)["seq"] for q in queries[2:]} == {template["seq"]}
    assert [q["parameters"] for q in queries[2:]] == [{"param_1": str(n)} for n in (1, 2, 3, 4)]
    # each statement is timed, and sits in time inside its owner
    for query in queries:
        assert query["duration_ms"] >= 0
        assert owner(record, query)["t_ms"] <= query["t_ms"]
    summary = record["queries"]
    assert summary["count"] == 6
    assert summary["duplicated"] == 4
    assert summary["total_ms"] == pytest.approx(sum(q["duration_ms"] for q in queries), abs=0.01)
    (duplicate,) = summary["duplicates"]
    assert duplicate["count"] == 4
    assert "FROM book" in duplicate["statement"]
    assert duplicate["issued_by"] == [
        "template authors.html in view tests.apps.beneath_flask_blog.create_app.<locals>.authors"
    ]
    json.dumps(record)  # JSON-ready


def test_n_plus_one_in_the_view_and_the_redacted_insert(blog: t.Any) -> None:
    record = traced(blog, "/api/authors")
    (duplicate,) = record["queries"]["duplicates"]
    assert duplicate["issued_by"] == [
        "view tests.apps.beneath_flask_blog.create_app.<locals>.api_authors"
    ]
    record = traced(blog, "/users", method="POST")
    (insert,) = [q for q in sql(record) if q["statement"].startswith("INSERT")]
    assert insert["parameters"]["password_hash"] == "[redacted]"
    assert insert["parameters"]["name"] == "'grace'"
    assert insert["rowcount"] == 1
    assert "very-secret" not in json.dumps(record)
    shown = traced(blog, "/users", method="POST", redact=False)
    assert "very-secret" in json.dumps(shown)


def test_plain_sqlite3_like_the_flask_tutorial(tutorial: t.Any) -> None:
    record = traced(tutorial, "/")
    queries = sql(record)
    assert [q["source"] for q in queries] == ["sqlite3"] * 4
    assert all(owner(record, q)["hook"] == "view" for q in queries)
    assert queries[0]["database"].startswith("sqlite3:")
    assert queries[0]["database"].endswith("flaskr.sqlite")
    assert record["queries"]["duplicated"] == 3
    assert [q["parameters"] for q in queries[1:]] == [["1"], ["2"], ["1"]]
    record = traced(tutorial, "/login", method="POST")
    (query,) = sql(record)
    assert query["parameters"] == ["'ada'", "[redacted]"]


def test_sqlite3_sees_connections_made_while_tracing_only(tmp_path: Path) -> None:
    before = sqlite3.connect(":memory:")

    def app(environ: dict[str, t.Any], start_response: t.Any) -> list[bytes]:
        before.execute("SELECT 1").fetchall()  # made before tracing: not seen
        inside = sqlite3.connect(":memory:")
        inside.execute("CREATE TABLE t (token TEXT, n INTEGER)")
        inside.executemany("INSERT INTO t (token, n) VALUES (?, ?)", [("a", 1), ("b", 2)])
        inside.execute("SELECT n FROM t WHERE token = 'a'").fetchall()
        with contextlib.suppress(sqlite3.OperationalError):
            inside.execute("SELECT nope FROM t")
        environ["made"] = inside
        start_response("200 OK", [])
        return [b"ok"]

    environ = EnvironBuilder("/").get_environ()
    record = run_traced(app, environ).record
    statements = [(q["statement"], q["many"], q["rowcount"], q["error"]) for q in sql(record)]
    assert statements == [
        ("CREATE TABLE t (token TEXT, n INTEGER)", False, None, None),
        ("INSERT INTO t (token, n) VALUES (?, ?)", True, 2, None),
        ("SELECT n FROM t WHERE token = '[redacted]'", False, None, None),
        ("SELECT nope FROM t", False, None, "OperationalError: no such column: nope"),
    ]
    assert sql(record)[1]["parameters"] == ["[redacted]", "1"]
    # afterwards: connect is the original again, and the connection made
    # while tracing records nothing outside a traced request
    assert sqlite3.connect is getattr(sqlite3.connect, "__wrapped__", sqlite3.connect)
    assert type(sqlite3.connect(":memory:")) is sqlite3.Connection
    assert environ["made"].execute("SELECT count(*) FROM t").fetchone() == (2,)


def test_nothing_left_installed(blog: t.Any) -> None:
    import http.client

    from flask import signals
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    from wsgiscope.capture import sql as capture_sql

    saved = (
        sqlite3.connect,
        vars(logging.Logger).get("callHandlers"),
        vars(http.client.HTTPConnection).get("putrequest"),
        vars(http.client.HTTPConnection).get("getresponse"),
    )
    receivers = (
        len(signals.before_render_template.receivers),
        len(signals.template_rendered.receivers),
    )
    traced(blog, "/authors")
    assert not instrument.active()
    for name, func in (
        ("before_cursor_execute", capture_sql._sa_before),
        ("after_cursor_execute", capture_sql._sa_after),
        ("handle_error", capture_sql._sa_error),
    ):
        assert not event.contains(Engine, name, func)
    assert saved == (
        sqlite3.connect,
        vars(logging.Logger).get("callHandlers"),
        vars(http.client.HTTPConnection).get("putrequest"),
        vars(http.client.HTTPConnection).get("getresponse"),
    )
    assert receivers == (
        len(signals.before_render_template.receivers),
        len(signals.template_rendered.receivers),
    )
    # and an untraced request through the same engine records nothing anywhere
    with blog.test_client() as client:
        assert client.get("/authors").status_code == 200


def test_middleware_capture_selection_and_caps(
    blog: t.Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    records: list[dict[str, t.Any]] = []
    for capture in ((), ("logging",), ("sql",), None):
        with (
            TraceMiddleware(blog.wsgi_app, sink=records.append, capture=capture) as mw,
            blog.test_client() as client,
        ):
            blog.wsgi_app = mw
            try:
                assert client.get("/api/authors").status_code == 200
            finally:
                blog.wsgi_app = mw.app
    kinds = [{e["kind"] for e in r["events"]} & {"sql", "log"} for r in records]
    assert kinds == [set(), {"log"}, {"sql"}, {"sql", "log"}]
    assert ["queries" in r for r in records] == [False, False, True, True]
    with pytest.raises(ValueError, match="unknown capture 'sq1'"):
        TraceMiddleware(blog.wsgi_app, capture=("sq1",))
    monkeypatch.setattr(wsgiscope.capture, "MAX_EVENTS", 2)
    record = traced(blog, "/api/authors")
    assert len(sql(record)) == 2
    assert record["capture_dropped"] == {"sql": 4}
    monkeypatch.setattr(wsgiscope.capture, "MAX_EVENTS", 1000)
    monkeypatch.setattr(wsgiscope.capture, "MAX_BYTES", 150)
    record = traced(blog, "/api/authors")
    assert 0 < len(sql(record)) < 6
    assert record["capture_dropped"]["sql"] == 6 - len(sql(record))


def test_trace_cli_shows_queries_in_place(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    result = CliRunner().invoke(
        cli, ["trace", BLOG, "/authors", "-p", "kst", "--width", "200"], catch_exceptions=False
    )
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert "6 queries" in lines[0]
    assert "4 duplicated" in lines[0]
    text = "\n".join(lines)
    template = next(i for i, line in enumerate(lines) if "template authors.html" in line)
    indent = lines[template].index("template")
    below = [line for line in lines[template + 1 : template + 5] if "sql SELECT book" in line]
    assert len(below) == 4
    assert all(line.index("sql") > indent for line in below)
    assert "likely N+1" in text
    assert (
        "4x SELECT book.id, book.title, book.author_id FROM book WHERE ? = book.author_id" in text
    )
    # --print without s: no SQL lines
    result = CliRunner().invoke(cli, ["trace", BLOG, "/authors", "-p", "k"])
    assert "sql SELECT" not in result.stdout
    assert "likely N+1" not in result.stdout
    result = CliRunner().invoke(cli, ["trace", BLOG, "/authors", "--json"])
    record = json.loads(result.stdout)
    assert record["queries"]["count"] == 6


def test_parameter_names_and_redaction() -> None:
    statement = "UPDATE user SET password = ?, name = ? WHERE id = ?"
    assert param_names(statement, 3) == ["password", "name", "id"]
    assert redact_params(statement, ["'x'", "'ada'", "1"]) == ["[redacted]", "'ada'", "1"]
    insert = 'INSERT INTO "user" ("name", "api_key") VALUES (?, ?), (?, ?)'
    assert param_names(insert, 4) == ["name", "api_key", "name", "api_key"]
    # fail closed: a secret-named column and a parameter whose column is unknown
    assert redact_params("SELECT f(?) FROM user WHERE token IS NOT NULL", ["'t'"]) == ["[redacted]"]
    assert redact_params("SELECT f(?) FROM user", ["'t'"]) == ["'t'"]
    named = "SELECT * FROM user WHERE password = %(p)s AND name = %(name)s"
    assert redact_params(named, {"p": "'x'", "name": "'a'"}) == {
        "p": "[redacted]",
        "name": "'a'",
    }
    assert redact_statement("SELECT 1 FROM u WHERE secret = 'abc' AND name = 'x'") == (
        "SELECT 1 FROM u WHERE secret = '[redacted]' AND name = 'x'"
    )


DJANGO = """
import json, logging, sys
from werkzeug.test import EnvironBuilder
from tests.apps.beneath_django_site import application
from django.db import connection
from wsgiscope.tracing import run_traced
import django.template.base as base
render = base.Template.render
out = {}
for path in ("/shelves/", "/shelves.json"):
    out[path] = run_traced(application, EnvironBuilder(path).get_environ()).record
out["clean"] = connection.execute_wrappers == [] and base.Template.render is render
print(json.dumps(out))
"""


@pytest.mark.slow
def test_django_orm_n_plus_one() -> None:
    pytest.importorskip("django")
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    env.pop("DJANGO_SETTINGS_MODULE", None)
    done = subprocess.run(
        [sys.executable, "-c", DJANGO], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["clean"]
    record = out["/shelves/"]
    queries = sql(record)
    assert [q["source"] for q in queries] == ["django"] * 4
    assert queries[0]["database"] == "default (sqlite)"
    template = owner(record, queries[0])
    assert (template["kind"], template["name"], template["engine"]) == (
        "template",
        "shelves.html",
        "django",
    )
    assert owner(record, template)["hook"] == "view"
    assert {owner(record, q)["seq"] for q in queries} == {template["seq"]}
    assert [q["parameters"] for q in queries[1:]] == [["1"], ["2"], ["3"]]
    (log,) = [e for e in record["events"] if e["kind"] == "log"]
    assert (log["logger"], log["level"], log["message"]) == (
        "library",
        "WARNING",
        "listing shelves",
    )
    assert owner(record, log)["hook"] == "view"
    assert record["queries"]["duplicated"] == 3
    record = out["/shelves.json"]
    (duplicate,) = record["queries"]["duplicates"]
    assert duplicate["count"] == 3
    assert duplicate["issued_by"] == ["view tests.apps.beneath_django_site.shelves_json"]


def test_a_statement_that_never_ends_still_makes_a_record() -> None:
    # a statement whose end is never seen (a greenlet killed mid-query, a
    # listener the driver never calls back) is recorded without a duration
    from wsgiscope.capture.sql import start
    from wsgiscope.tracing.recorder import _current

    def app(environ: dict[str, t.Any], start_response: t.Any) -> list[bytes]:
        rec = _current.get()
        assert rec is not None
        start(rec, "sqlite3", "SELECT 1", ["'x'"], False, "sqlite3")
        start_response("200 OK", [])
        return [b"ok"]

    record = run_traced(app, EnvironBuilder("/").get_environ()).record
    (query,) = sql(record)
    assert query["duration_ms"] is None
    assert record["queries"]["count"] == 1


def test_named_parameters_judged_by_their_column() -> None:
    insert = "INSERT INTO member (team_id, api_token) VALUES (%(team_id)s, %(api_token)s)"
    assert redact_params(insert, {"team_id": "1", "api_token": "'t'"}) == {
        "team_id": "1",
        "api_token": "[redacted]",
    }
    compared = "SELECT * FROM member WHERE member.api_token = %(param_1)s AND id = %(id_1)s"
    assert redact_params(compared, {"param_1": "'t'", "id_1": "2"}) == {
        "param_1": "[redacted]",
        "id_1": "2",
    }
    # SQLAlchemy's names for a qmark statement's parameters, in order
    qmark = "SELECT * FROM member WHERE secret = ? AND team_id = ?"
    assert redact_params(qmark, {"secret_1": "'s'", "team_id_1": "1"}) == {
        "secret_1": "[redacted]",
        "team_id_1": "1",
    }
    assert redact_params("SELECT f(%(param_1)s) FROM t WHERE token IS NULL", {"param_1": "1"}) == {
        "param_1": "[redacted]"
    }


def test_concurrent_requests_keep_their_own_statements(tutorial: t.Any) -> None:
    import threading

    records: list[dict[str, t.Any]] = []
    lock = threading.Lock()

    def sink(record: dict[str, t.Any]) -> None:
        with lock:
            records.append(record)

    with TraceMiddleware(tutorial.wsgi_app, sink=sink) as mw:

        def one(user: int) -> None:
            for _ in range(5):
                environ = EnvironBuilder(f"/user/{user}/posts").get_environ()
                result = mw(environ, lambda *a: None)
                list(result)
                result.close()  # type: ignore[attr-defined]

        threads = [threading.Thread(target=one, args=(n % 2 + 1,)) for n in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert len(records) == 20
    for record in records:
        user = record["request"]["path"].split("/")[2]
        queries = sql(record)
        assert len(queries) == (3 if user == "1" else 2)
        assert {q["parameters"][0] for q in queries} == {user}
