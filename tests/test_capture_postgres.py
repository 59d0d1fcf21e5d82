"""SQL capture against a real PostgreSQL, started by the test itself.

Skipped, with the reason, where PostgreSQL's server binaries (``initdb``,
``pg_ctl``) or the psycopg driver are missing or the server cannot start.
As root (CI), the server runs as the ``postgres`` user.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import typing as t
from pathlib import Path

import pytest
from werkzeug.test import EnvironBuilder

from wsgiscope.tracing import run_traced

pytestmark = pytest.mark.slow


def _command(*args: str) -> list[str]:
    if os.geteuid() == 0:
        runuser = shutil.which("runuser")
        if runuser is None:
            pytest.skip("PostgreSQL refuses to run as root and runuser is missing")
        return [runuser, "-u", "postgres", "--", *args]
    return list(args)


@pytest.fixture(scope="module")
def postgres() -> t.Iterator[str]:
    pytest.importorskip("psycopg", reason="the psycopg driver is not installed")
    initdb, pg_ctl = shutil.which("initdb"), shutil.which("pg_ctl")
    for directory in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        initdb = initdb or str(directory / "initdb") if (directory / "initdb").exists() else initdb
        pg_ctl = pg_ctl or str(directory / "pg_ctl") if (directory / "pg_ctl").exists() else pg_ctl
    if not (initdb and pg_ctl):
        pytest.skip("PostgreSQL server binaries (initdb, pg_ctl) are not installed")
    root = Path(tempfile.mkdtemp(prefix="wsgiscope-pg-"))
    root.chmod(0o777)
    data, sockets = root / "data", root / "run"
    sockets.mkdir()
    sockets.chmod(0o777)
    if os.geteuid() == 0:
        shutil.chown(root, "postgres")
        shutil.chown(sockets, "postgres")
    done = subprocess.run(
        _command(initdb, "-D", str(data), "-U", "postgres", "-A", "trust"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    if done.returncode:
        shutil.rmtree(root, ignore_errors=True)
        pytest.skip(f"initdb failed: {done.stderr.strip().splitlines()[-1:]}")
    options = f"-k {sockets} -c listen_addresses='' -p 54329"
    done = subprocess.run(
        # -l: the server must not hold this process's pipes open
        [*_command(pg_ctl, "-D", str(data), "-o", options, "-l", str(root / "log")), "-w", "start"],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=60,
    )
    if done.returncode:
        shutil.rmtree(root, ignore_errors=True)
        pytest.skip(f"PostgreSQL did not start: {(done.stderr or done.stdout).strip()[-200:]}")
    try:
        yield f"postgresql+psycopg://postgres@/postgres?host={sockets}&port=54329"
    finally:
        subprocess.run(
            _command(pg_ctl, "-D", str(data), "-m", "immediate", "stop"),
            capture_output=True,
            timeout=60,
        )
        shutil.rmtree(root, ignore_errors=True)


def test_sqlalchemy_on_postgresql(postgres: str) -> None:
    from flask import Flask
    from sqlalchemy import (
        Column,
        ForeignKey,
        Integer,
        MetaData,
        String,
        Table,
        create_engine,
        select,
    )

    engine = create_engine(postgres)
    meta = MetaData()
    teams = Table("team", meta, Column("id", Integer, primary_key=True), Column("name", String))
    members = Table(
        "member",
        meta,
        Column("id", Integer, primary_key=True),
        Column("team_id", ForeignKey("team.id")),
        Column("api_token", String),
    )
    meta.drop_all(engine)
    meta.create_all(engine)
    app = Flask("pg")

    @app.post("/")
    def index() -> str:
        with engine.begin() as conn:
            conn.execute(teams.insert(), [{"id": n, "name": f"team {n}"} for n in (1, 2, 3)])
            conn.execute(members.insert().values(team_id=1, api_token="tok-secret"))
            for team in conn.execute(select(teams.c.id)).all():  # an N+1
                conn.execute(select(members).where(members.c.team_id == team.id)).all()
        return "ok"

    record = run_traced(app, EnvironBuilder("/", method="POST").get_environ()).record
    queries = [e for e in record["events"] if e["kind"] == "sql"]
    assert {q["source"] for q in queries} == {"sqlalchemy"}
    assert queries[0]["database"].startswith("postgresql+psycopg://postgres@/postgres")
    assert queries[0]["many"] is True
    insert = next(q for q in queries if "INSERT INTO member" in q["statement"])
    assert insert["parameters"]["api_token"] == "[redacted]"
    assert insert["parameters"]["team_id"] == "1"
    selects = [q for q in queries if q["statement"].startswith("SELECT member")]
    assert [q["rowcount"] for q in selects] == [1, 0, 0]  # psycopg counts selected rows
    assert record["queries"]["duplicated"] == 3
    assert "tok-secret" not in json.dumps(record)
    engine.dispose()
