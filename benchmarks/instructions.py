"""Instructions per request (callgrind): tracing's cost as a count the load does not move.

    PYTHONPATH=. python benchmarks/instructions.py [--apps hello,hooks] [--variants ...]

Time on a shared 2-core machine moves by 10-20% between runs; the number of
instructions a request executes does not. For each app of
``benchmarks/overhead.py`` (hello world, the app with hooks) and each variant
(the bare app, ``TraceMiddleware(sink=None)``, ``sink=callable``,
``sink=/dev/null``), a child interpreter runs under
``valgrind --tool=callgrind`` twice, with 1,200 and with 200 measured
requests; the difference over 1,000 is the cost of one request, start-up
and imports cancelled out. ``PYTHONHASHSEED=0`` fixes dict layouts, and the
heap is frozen after a warm-up (``gc.freeze``), so that a full collection of
the whole heap does not land in one window and not the other. Each run
takes 20-60 s. Needs valgrind (Debian: ``apt-get install valgrind``).

What the count leaves out is what time adds on top of it: cache misses
(a traced request runs more distinct code than the bare one, and its ratio
in time is higher than in instructions).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import typing as t

HERE = os.path.dirname(os.path.abspath(__file__))
VARIANTS = ("bare", "events", "record", "jsonl")


def child(app_name: str, variant: str, count: int) -> None:
    """Run ``count`` requests of one variant after a warm-up (under callgrind)."""
    import gc

    sys.path.insert(0, HERE)
    from overhead import _drop, hello_app, hooks_app, runner
    from werkzeug.test import EnvironBuilder

    from wsgiscope.tracing import TraceMiddleware

    app: t.Any = hello_app() if app_name == "hello" else hooks_app()
    path = "/" if app_name == "hello" else "/en/item/7"
    sinks: dict[str, t.Any] = {"events": None, "record": _drop, "jsonl": os.devnull}
    if variant != "bare":
        app = TraceMiddleware(app, sink=sinks[variant])
    run = runner(app, EnvironBuilder(path).get_environ())
    run(50)
    gc.collect()
    gc.freeze()
    run(count)


def instructions(app_name: str, variant: str, count: int) -> int:
    """Instructions callgrind counted for a child running ``count`` requests."""
    return callgrind_count(__file__, "--child", app_name, variant, str(count))


def callgrind_count(script: str, *arguments: str) -> int:
    """Instructions callgrind counted for ``python script ARGUMENTS``
    (``PYTHONHASHSEED=0``: the same dict layouts every run)."""
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    command = [
        "valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null",
        sys.executable, os.path.abspath(script), *arguments,
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, env=env, check=True)
    found = re.search(r"Collected : (\d+)", done.stderr)
    if not found:
        raise SystemExit(f"no callgrind summary in:\n{done.stderr[-2000:]}")
    return int(found.group(1))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--apps", default="hello,hooks", help="hello, hooks")
    parser.add_argument("--variants", default=",".join(VARIANTS), help=", ".join(VARIANTS))
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        app_name, variant, count = args.child
        child(app_name, variant, int(count))
        return
    if shutil.which("valgrind") is None:
        raise SystemExit("valgrind is needed: apt-get install valgrind (Debian)")
    labels = {
        "bare": "bare",
        "events": "TraceMiddleware sink=None (events only)",
        "record": "TraceMiddleware sink=callable (record built)",
        "jsonl": "TraceMiddleware sink=/dev/null (JSON Lines)",
    }
    for app_name in args.apps.split(","):
        print(f"Flask app {app_name}: instructions per request (1,200 - 200 requests)")
        bare = None
        for variant in args.variants.split(","):
            many, few = instructions(app_name, variant, 1200), instructions(app_name, variant, 200)
            per = (many - few) // 1000
            if variant == "bare":
                bare = per
            ratio = f"{per / bare:6.2f}x" if bare else ""
            print(f"  {labels[variant]:46} {per:10,} {ratio}", flush=True)


if __name__ == "__main__":
    main()
