"""Instructions per request of sequential replay vs the plain loop (callgrind).

    PYTHONPATH=. python benchmarks/replay_instructions.py [--distinct 1,100,10000]
        [--variants plain,unchecked,checked] [--many 4000] [--few 2000]

The load-independent counterpart of ``benchmarks/replay_cpu.py``: on the
hello-world Flask app of ``benchmarks/replay.py``, over 1, 100 and 10,000
distinct requests (``GET /?i=N``), a child interpreter runs under
``valgrind --tool=callgrind`` once with ``--many`` and once with ``--few``
measured requests; the difference over ``many - few`` is one request's
cost, start-up, imports, the baseline and the warm-up (all per distinct
request) cancelled out. Variants: the plain loop calling the app
(``plain_loop_many``, the limit), sequential replay as ``replay.py`` runs it
(``run_mode``: endpoint groups included) without the isolation checks and
with them. ``PYTHONHASHSEED=0`` fixes dict layouts, and the heap is frozen
(``gc.freeze``) once the baseline and the warm-up are done, as in
``benchmarks/instructions.py``. The ratio printed is plain / variant, i.e.
the throughput ratio if time followed instructions (cache misses, which grow
with distinct requests, are what it leaves out).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import typing as t
from pathlib import Path

HERE = os.path.dirname(os.path.abspath(__file__))
VARIANTS = ("plain", "unchecked", "checked")


def child(variant: str, distinct: int, count: int) -> None:
    """Run ``count`` requests of one variant over ``distinct`` requests."""
    import gc

    sys.path.insert(0, HERE)
    from replay import APP, distinct_requests, plain_loop_many

    from wsgiscope.loading import AppRef, load_app
    from wsgiscope.replay import engine
    from wsgiscope.replay.plan import Mode, ReplayPlan
    from wsgiscope.replay.runner import AppHandle, run_mode

    directory = Path(tempfile.mkdtemp(prefix="wsgiscope-bench-"))
    (directory / "bench_hello.py").write_text(APP)
    ref = AppRef("bench_hello:app", "argument", directory)
    loaded = load_app(ref)
    requests = distinct_requests(distinct)
    if variant == "plain":
        environs = [entry.environ for entry in engine.prepare(requests, loaded.app)]
        plain_loop_many(loaded.app, environs, 200)
        gc.collect()
        gc.freeze()
        plain_loop_many(loaded.app, environs, count)
        return
    begin = engine.start

    def frozen(shared: t.Any, plan: t.Any) -> None:
        begin(shared, plan)
        gc.collect()
        gc.freeze()

    engine.start = frozen  # type: ignore[assignment]
    plan = ReplayPlan(requests=count, warmup=200, check=variant == "checked")
    result = run_mode(AppHandle(ref, loaded), requests, Mode(), plan)
    assert result.stats.count == count
    assert not result.findings.problems


def instructions(variant: str, distinct: int, count: int) -> int:
    """Instructions callgrind counted for a child running ``count`` requests."""
    sys.path.insert(0, HERE)
    from instructions import callgrind_count

    return callgrind_count(__file__, "--child", variant, str(distinct), str(count))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--distinct", default="1,100,10000")
    parser.add_argument("--variants", default=",".join(VARIANTS), help=", ".join(VARIANTS))
    parser.add_argument("--many", type=int, default=4000)
    parser.add_argument("--few", type=int, default=2000)
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        variant, distinct, count = args.child
        child(variant, int(distinct), int(count))
        return
    if shutil.which("valgrind") is None:
        raise SystemExit("valgrind is needed: apt-get install valgrind (Debian)")
    measured = args.many - args.few
    print(f"hello-world Flask app: instructions per request ({args.many:,} - {args.few:,})")
    for distinct in (int(x) for x in args.distinct.split(",")):
        plain = None
        for variant in args.variants.split(","):
            many = instructions(variant, distinct, args.many)
            few = instructions(variant, distinct, args.few)
            per = (many - few) // measured
            if variant == "plain":
                plain = per
            ratio = f"{plain / per:6.3f}x" if plain else ""
            print(f"  {f'{distinct:,} distinct, {variant}':<34} {per:10,} {ratio}", flush=True)


if __name__ == "__main__":
    main()
