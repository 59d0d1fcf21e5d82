"""Where the time of one ``wsgiscope trace`` goes, in one run.

For the demo's ``GET /catalog/?user=ada``, medians of ROUNDS rounds of LOOPS
calls each, interleaved:

- building the environ: ``parse_request`` + ``build_environ`` (framework
  base URL found through the middleware chain) against werkzeug's
  ``EnvironBuilder`` alone;
- calling the app with that environ, bare and through ``run_traced``;
- rendering the record as the tree (width 100, colour off) and as JSON.

    PYTHONPATH=. python benchmarks/trace_cli.py [ROUNDS] [LOOPS]
"""

from __future__ import annotations

import io
import statistics
import sys
import time
import typing as t

import wsgiscope.demo
from wsgiscope.render.console import make_console
from wsgiscope.render.jsonout import dumps
from wsgiscope.render.trace import render_trace
from wsgiscope.request import base_url, build_environ, parse_request
from wsgiscope.tracing import run_traced

APP = wsgiscope.demo.application
PATH = "/catalog/"
ITEMS = ["user==ada"]


def werkzeug_only() -> None:
    from werkzeug.test import EnvironBuilder

    builder = EnvironBuilder(path=PATH, query_string="user=ada")
    try:
        builder.get_environ()
    finally:
        builder.close()


def ours() -> None:
    build_environ(parse_request(PATH, ITEMS), APP)


BASE = base_url(APP)


def ours_known_base() -> None:
    build_environ(parse_request(PATH, ITEMS), base=BASE)


def bare() -> None:
    environ = build_environ(parse_request(PATH, ITEMS), APP)
    body = APP(environ, lambda status, headers, exc_info=None: None)
    b"".join(body)
    getattr(body, "close", lambda: None)()


def traced() -> None:
    run_traced(APP, build_environ(parse_request(PATH, ITEMS), APP))


RECORD = run_traced(APP, build_environ(parse_request(PATH, ITEMS), APP)).record


def tree() -> None:
    make_console("never", 100, io.StringIO()).print(render_trace(RECORD))


def as_json() -> None:
    dumps(RECORD)


CASES: dict[str, t.Callable[[], None]] = {
    "EnvironBuilder alone": werkzeug_only,
    "parse_request + build_environ": ours,
    "  ... with base= precomputed": ours_known_base,
    "app called bare (environ included)": bare,
    "run_traced (environ included)": traced,
    "render tree": tree,
    "render JSON": as_json,
}


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 15
    loops = int(sys.argv[2]) if len(sys.argv) > 2 else 50
    timings: dict[str, list[float]] = {name: [] for name in CASES}
    for _ in range(rounds):
        for name, case in CASES.items():
            start = time.perf_counter()
            for _ in range(loops):
                case()
            timings[name].append((time.perf_counter() - start) / loops)
    medians = {name: statistics.median(values) * 1e6 for name, values in timings.items()}
    print(f"median of {rounds} rounds x {loops} calls, interleaved (microseconds per call)")
    for name, value in medians.items():
        print(f"  {name:<38} {value:9.1f} us")
    print("ratios")
    print(
        "  build_environ / EnvironBuilder         "
        f"{medians['parse_request + build_environ'] / medians['EnvironBuilder alone']:9.2f}x"
    )
    bare_app = medians["app called bare (environ included)"]
    print(
        "  build_environ(base=) / EnvironBuilder  "
        f"{medians['  ... with base= precomputed'] / medians['EnvironBuilder alone']:9.2f}x"
    )
    print(
        "  run_traced / bare app                  "
        f"{medians['run_traced (environ included)'] / bare_app:9.2f}x"
    )
    print(
        "  render tree / run_traced               "
        f"{medians['render tree'] / medians['run_traced (environ included)']:9.2f}x"
    )


if __name__ == "__main__":
    main()
