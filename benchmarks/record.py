"""What building and writing one trace record costs, step by step, in one run.

    PYTHONPATH=. /work/venv/bin/python benchmarks/record.py [--loops 2000] [--rounds 15]

The app of ``benchmarks/serve.py`` (``GET /items/7``, a ``jsonify`` view) is
traced once by ``TraceMiddleware`` with an environ as gunicorn builds it
(werkzeug's ``EnvironBuilder`` plus ``SERVER_SOFTWARE``, ``RAW_URI``,
``REMOTE_ADDR``, ``REMOTE_PORT``, ``gunicorn.socket``,
``wsgi.input_terminated``; the socket a connection accepted on 127.0.0.1);
then, for that finished request, each step the JSON Lines sink takes at
``close()`` is timed on its own:

- ``build_record``: the ``wsgiscope.trace/1`` dict (environ stringified,
  secrets redacted, every event turned into its record form);
- ``  repr(gunicorn.socket)``: the part of ``build_record`` spent on the
  ``repr`` of the connection's socket (the environ shows it; two system
  calls and Python code in the ``socket`` module);
- ``encode (stdlib json)``: the record as ASCII JSON Lines through
  ``json.dumps`` (``wsgiscope.render.jsonout.dumps_line``), what the sinks
  did before orjson;
- ``encode (encode_record)``: what the sinks use now
  (``wsgiscope.tracing.sinks.encode_record``);
- ``os.write``: the line appended to a temporary file opened with
  ``O_APPEND``.

Steps are interleaved round by round; each figure is the median over rounds
of the mean microseconds per call in that round.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import socket
import statistics
import sys
import tempfile
import time
import typing as t

from serve import app
from werkzeug.test import EnvironBuilder

from wsgiscope.render.jsonout import dumps_line
from wsgiscope.tracing import TraceMiddleware
from wsgiscope.tracing.record import build_record
from wsgiscope.tracing.sinks import encode_record


def gunicorn_environ(path: str, sock: socket.socket) -> dict[str, t.Any]:
    """The environ of a plain ``GET`` as gunicorn's sync worker builds it."""
    environ = EnvironBuilder(
        path,
        base_url="http://127.0.0.1:8000",
        headers={"Host": "127.0.0.1:8000"},  # all wrk sends
    ).get_environ()
    environ.update(
        {
            "SERVER_SOFTWARE": "gunicorn/23.0.0",
            "RAW_URI": path,
            "REMOTE_ADDR": "127.0.0.1",
            "REMOTE_PORT": "51234",
            "gunicorn.socket": sock,
            "wsgi.input_terminated": True,
            "wsgi.multiprocess": True,
            "wsgi.multithread": False,
        }
    )
    return environ


def _start_response(status: str, headers: list[t.Any], exc_info: t.Any = None) -> None:
    return None


def traced_request(environ: dict[str, t.Any]) -> t.Any:
    """Run one request through ``TraceMiddleware`` and return its finished trace."""
    records: list[dict[str, t.Any]] = []
    middleware = TraceMiddleware(app, sink=records.append)
    try:
        result = t.cast("t.Any", middleware(dict(environ), _start_response))
        for _chunk in result:
            pass
        result.close()
    finally:
        middleware.close()
    assert len(records) == 1, "the middleware gave no record"
    return result.trace


def stdlib_encode(record: dict[str, t.Any]) -> bytes:
    """The sinks' encoding before orjson: stdlib ``json.dumps``, ASCII."""
    return (dumps_line(record) + "\n").encode("ascii")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--loops", type=int, default=2000, help="calls per round and step")
    parser.add_argument("--rounds", type=int, default=15, help="rounds per step")
    args = parser.parse_args(argv)

    with (
        socket.create_server(("127.0.0.1", 0)) as server,
        tempfile.TemporaryDirectory() as scratch,
    ):
        # The environ carries the accepted connection, as gunicorn's does.
        client = socket.create_connection(server.getsockname())
        sock, _address = server.accept()
        with client, sock:
            run(sock, scratch, args.loops, args.rounds)


def run(sock: socket.socket, scratch: str, loops: int, rounds: int) -> None:
    """Trace one request, time each step, print the table."""
    trace = traced_request(gunicorn_environ("/items/7", sock))
    record = build_record(trace)
    line = encode_record(record)
    # Same content whichever way it is encoded (the bytes may differ: orjson
    # writes some floats its own way).
    assert json.loads(stdlib_encode(record)) == json.loads(line)
    flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT
    fd = os.open(os.path.join(scratch, "records.jsonl"), flags, 0o644)
    try:
        steps: dict[str, t.Callable[[], object]] = {
            "build_record": lambda: build_record(trace),
            "  repr(gunicorn.socket)": lambda: repr(sock),
            "encode (stdlib json)": lambda: stdlib_encode(record),
            "encode (encode_record)": lambda: encode_record(record),
            "os.write": lambda: os.write(fd, line),
        }
        samples = measure(steps, loops, rounds)
    finally:
        os.close(fd)

    print(
        f"Python {sys.version.split()[0]}; GET /items/7 of benchmarks/serve.py, "
        f"{len(record['events'])} events, {len(record['environ'])} environ keys, "
        f"{len(line)} bytes per line"
    )
    print(f"{rounds} rounds x {loops} calls, median of per-round means\n")
    print(f"  {'step':28} {'us/record':>10}")
    medians = {name: statistics.median(values) * 1e6 for name, values in samples.items()}
    for name, us in medians.items():
        print(f"  {name:28} {us:10.2f}")
    old = medians["build_record"] + medians["encode (stdlib json)"]
    new = medians["build_record"] + medians["encode (encode_record)"]
    print(f"\n  {'build + stdlib encode':28} {old:10.2f}")
    print(f"  {'build + encode_record':28} {new:10.2f}")


def measure(
    steps: dict[str, t.Callable[[], object]], loops: int, rounds: int
) -> dict[str, list[float]]:
    """Seconds per call of each step: one mean per round, steps interleaved."""
    for step in steps.values():  # warm up caches
        for _ in range(max(loops // 10, 50)):
            step()
    samples: dict[str, list[float]] = {name: [] for name in steps}
    gc.collect()
    for _ in range(rounds):
        for name, step in steps.items():
            start = time.perf_counter()
            for _ in range(loops):
                step()
            samples[name].append((time.perf_counter() - start) / loops)
    return samples


if __name__ == "__main__":
    main()
