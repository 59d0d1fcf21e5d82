"""What SQL capture costs, next to Flask-DebugToolbar's SQL panel, in one run.

    PYTHONPATH=. python benchmarks/capture.py [--requests 500] [--rounds 7]

A Flask-SQLAlchemy app on SQLite (in memory) whose view runs 10 queries
through SQLAlchemy and answers a small HTML page, called directly in a loop
with a prebuilt environ (no server, no HTTP):

- bare;
- ``TraceMiddleware(sink=None, capture=())``: the lifecycle traced, nothing
  captured beneath the hooks;
- ``TraceMiddleware(sink=None)``: plus SQL (and logging, HTTP, templates)
  capture: the 10 statements recorded with parameters and timings;
- ``TraceMiddleware(sink=<drop>)``: plus the whole record built (parameters
  redacted, the ``queries`` summary derived);
- Flask-DebugToolbar (if installed) on an identical app with its default
  panels (SQLAlchemy's included, ``SQLALCHEMY_RECORD_QUERIES`` on): the
  toolbar renders its HTML into every page.

Variants are interleaved round by round; each figure is the median over
rounds of the mean time per request in that round, each ratio against the
bare app's median from the same run.
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import sys
import typing as t
import warnings

from flask import Flask
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import select
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from werkzeug.test import EnvironBuilder

from wsgiscope.tracing import TraceMiddleware

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from overhead import _drop, runner  # the same request loop as overhead.py

App = t.Callable[..., t.Any]


def make_app(toolbar: bool = False) -> Flask:
    class Base(DeclarativeBase):
        pass

    db = SQLAlchemy(model_class=Base)

    class Item(db.Model):  # type: ignore[name-defined,misc]
        id: Mapped[int] = mapped_column(primary_key=True)
        name: Mapped[str]

    app = Flask("capture_bench")
    app.config["SQLALCHEMY_DATABASE_URI"] = "sqlite://"
    app.config["SECRET_KEY"] = "bench"
    db.init_app(app)
    with app.app_context():
        db.create_all()
        db.session.add_all(Item(name=f"item {n}") for n in range(20))
        db.session.commit()

    @app.get("/")
    def index() -> str:
        names = []
        for n in range(1, 11):  # 10 queries
            names.append(db.session.execute(select(Item.name).where(Item.id == n)).scalar_one())
        return f"<html><body><p>{', '.join(names)}</p></body></html>"

    if toolbar:
        from flask_debugtoolbar import DebugToolbarExtension

        app.debug = True
        app.config["SQLALCHEMY_RECORD_QUERIES"] = True
        app.config["DEBUG_TB_INTERCEPT_REDIRECTS"] = False
        DebugToolbarExtension(app)
    return app


def variants() -> dict[str, App]:
    app = make_app()
    out: dict[str, App] = {
        "bare": app,
        "TraceMiddleware sink=None capture=() (nothing beneath)": TraceMiddleware(
            app, sink=None, capture=()
        ),
        "TraceMiddleware sink=None (SQL captured)": TraceMiddleware(app, sink=None),
        "TraceMiddleware sink=callable (SQL captured, record built)": TraceMiddleware(
            app, sink=_drop
        ),
    }
    try:
        out["Flask-DebugToolbar (default panels, SQL recorded)"] = make_app(toolbar=True)
    except ImportError:
        print("(flask-debugtoolbar not installed: skipped)", file=sys.stderr)
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=500, help="requests per round")
    parser.add_argument("--rounds", type=int, default=7, help="rounds per variant")
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore")
    environ = EnvironBuilder("/").get_environ()
    apps = variants()
    runs = {label: runner(app, environ) for label, app in apps.items()}
    for label, run in runs.items():  # warm up
        run(max(args.requests // 10, 20))
        if isinstance(apps[label], TraceMiddleware):
            t.cast(TraceMiddleware, apps[label]).close()
    samples: dict[str, list[float]] = {label: [] for label in runs}
    gc.collect()
    for _ in range(args.rounds):
        for label, run in runs.items():
            samples[label].append(run(args.requests))
            wrapped = apps[label]
            if isinstance(wrapped, TraceMiddleware):
                wrapped.close()  # the other variants run uninstrumented
    bare = statistics.median(samples["bare"])
    print(
        f"Python {sys.version.split()[0]}, {args.rounds} rounds x {args.requests} requests,"
        " median of per-round means"
    )
    print("\nFlask-SQLAlchemy, 10 SQLite queries per request (GET /)")
    print(f"  {'variant':58} {'us/request':>10} {'ratio':>7}")
    for label, values in samples.items():
        median = statistics.median(values)
        print(f"  {label:58} {median * 1e6:10.1f} {median / bare:6.2f}x")


if __name__ == "__main__":
    main()
