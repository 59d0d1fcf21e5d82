"""Cost of the lint checker per request, as ratios measured in one run.

For a plain WSGI app and for a small Flask app (``GET /`` returning JSON),
each request gets a fresh shallow copy of one prebuilt environ and is run to
``close()`` by the same minimal server loop:

* ``bare``: the app called directly;
* ``LintSession``: the transparent checker between server and app (what
  ``TraceLint`` adds to a trace);
* ``run_strict``: the strict server of ``wsgiscope lint`` (checker, own
  ``wsgi.errors``, caps), without the optional-key re-run.

Rounds alternate the variants; medians of per-request microseconds and the
ratios to ``bare`` are printed.

    PYTHONPATH=. python benchmarks/lint.py [REQUESTS] [ROUNDS]
"""

from __future__ import annotations

import io
import statistics
import sys
import time
import typing as t

from flask import Flask
from werkzeug.test import EnvironBuilder

from wsgiscope.lint import LintSession, run_strict


def plain_app(environ: dict[str, t.Any], start_response: t.Any) -> list[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "5")])
    return [b"hello"]


def flask_app() -> Flask:
    app = Flask("bench")

    @app.route("/")
    def index() -> dict[str, str]:
        return {"hello": "world"}

    return app


def _start_response(status: str, headers: list[t.Any], exc_info: t.Any = None) -> t.Any:
    return None


def bare(app: t.Any, environ: dict[str, t.Any]) -> None:
    body = app(environ, _start_response)
    try:
        for _ in body:
            pass
    finally:
        close = getattr(body, "close", None)
        if close is not None:
            close()


def session(app: t.Any, environ: dict[str, t.Any]) -> None:
    body = LintSession(environ).call(app, environ, _start_response)
    try:
        for _ in body:
            pass
    finally:
        body.close()


def strict(app: t.Any, environ: dict[str, t.Any]) -> None:
    run_strict(app, environ)


VARIANTS: dict[str, t.Callable[[t.Any, dict[str, t.Any]], None]] = {
    "bare": bare,
    "LintSession": session,
    "run_strict": strict,
}


def measure(app: t.Any, requests: int, rounds: int) -> dict[str, float]:
    template = EnvironBuilder("/").get_environ()
    per_request: dict[str, list[float]] = {name: [] for name in VARIANTS}
    for _ in range(rounds):
        for name, variant in VARIANTS.items():
            environs = []
            for _ in range(requests):
                environ = dict(template)
                environ["wsgi.input"] = io.BytesIO(b"")
                environs.append(environ)
            start = time.perf_counter()
            for environ in environs:
                variant(app, environ)
            per_request[name].append((time.perf_counter() - start) / requests * 1e6)
    return {name: statistics.median(values) for name, values in per_request.items()}


def main() -> None:
    requests = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 7
    for label, app in (("plain WSGI app", plain_app), ("Flask app", flask_app())):
        medians = measure(app, requests, rounds)
        print(f"{label}: {requests} requests x {rounds} rounds (median us/request)")
        for name, value in medians.items():
            print(f"  {name:12} {value:8.1f} us   x{value / medians['bare']:.2f}")


if __name__ == "__main__":
    main()
