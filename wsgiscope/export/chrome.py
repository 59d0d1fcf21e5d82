"""``export chrome``: the records as Chrome trace-event JSON (Perfetto, chrome://tracing).

Follows the Trace Event Format (the JSON Object Format of Google's "Trace
Event Format" document, the one ``chrome://tracing`` and Perfetto's JSON
importer read): ``{"traceEvents": [...], "displayTimeUnit": "ms",
"otherData": {...}}``, timestamps ``ts`` and durations ``dur`` in
microseconds (``ts`` since the Unix epoch, from the record's ``started``).

- one process per worker pid (``pid`` as served, named ``wsgiscope worker
  PID`` by a ``process_name`` metadata event);
- one track (``tid``) per thread or greenlet that served requests: the
  64-bit thread idents and greenlet ids are remapped to small integers
  1, 2, ... per process (Perfetto rejects tids beyond 32 bits) and named by
  ``thread_name`` metadata (``MainThread``, ``Thread-3 greenlet 2``...);
  requests that overlap on one track (the same ident reused) go to a
  second track of the same name;
- each request is a complete (``"ph": "X"``) slice ``GET /path`` with its
  id, status and app as args; each context push..pop is a nested slice
  (``app context``, ``request context``), each hook a slice ``before_request
  module.func`` with its args (function, endpoint, view args, the exception
  it received and raised); events with a ``duration_ms`` (SQL, outbound
  HTTP from the capture work) are slices too;
- signals, ``start_response``, body chunks, ``close``, exceptions and any
  other event are thread-scoped instants (``"ph": "i", "s": "t"``).

Times are whole microseconds (the record's milliseconds have 3 decimals).
Slices on one track must nest: a child is clamped into its parent when the
record's rounding puts its end a microsecond past its parent's.
"""

from __future__ import annotations

import json
import typing as t

from wsgiscope.export import fields

if t.TYPE_CHECKING:
    from wsgiscope.export import ExportOptions, Record

#: The format written: the JSON Object Format of the Trace Event Format.
FORMAT_NAME = "Trace Event Format (JSON Object Format)"

_HOOK_ARGS = ("function", "app", "endpoint", "view_args", "exception", "raised")
_COMMON = frozenset({"seq", "t_ms", "kind", "depth", "parent"})


class _Tracks:
    """Small integer pids/tids for the workers, and their metadata events."""

    def __init__(self) -> None:
        self.processes: set[int] = set()
        self.tids: dict[tuple[int, t.Any, t.Any, t.Any, int], int] = {}
        self.next_tid: dict[int, int] = {}
        #: per (pid, ident, thread name, greenlet): the end (us) of the last request on each lane
        self.lanes: dict[tuple[int, t.Any, t.Any, t.Any], list[int]] = {}

    def track(
        self, record: t.Mapping[str, t.Any], start: int, end: int
    ) -> tuple[int, int, list[dict[str, t.Any]]]:
        worker = record.get("worker")
        worker = worker if isinstance(worker, dict) else {}
        pid = worker.get("pid")
        pid = pid if isinstance(pid, int) and 0 <= pid < 2**31 else 0
        ident = worker.get("thread_ident")
        greenlet = worker.get("greenlet")
        thread = worker.get("thread") if isinstance(worker.get("thread"), str) else None
        meta: list[dict[str, t.Any]] = []
        if pid not in self.processes:
            self.processes.add(pid)
            meta.append(_meta("process_name", pid, 0, f"wsgiscope worker {pid}"))
        # the name too: a new thread may get the ident of one that ended
        key = (pid, _hashable(ident), thread, _hashable(greenlet))
        lanes = self.lanes.setdefault(key, [])
        for lane, lane_end in enumerate(lanes):
            if lane_end <= start:
                lanes[lane] = end
                break
        else:
            lane = len(lanes)
            lanes.append(end)
        tid_key = (*key, lane)
        tid = self.tids.get(tid_key)
        if tid is None:
            tid = self.next_tid.get(pid, 1)
            self.next_tid[pid] = tid + 1
            self.tids[tid_key] = tid
            name = thread or (f"thread {ident}" if ident is not None else "thread")
            if greenlet is not None:
                # a thread's own (main) greenlet is the first seen: the thread's name
                greenlets = {k[3] for k in self.tids if k[:3] == key[:3] and k[3] is not None}
                if len(greenlets) > 1:
                    name += f" greenlet {len(greenlets)}"
            if lane:
                name += f" ({lane + 1})"
            meta.append(_meta("thread_name", pid, tid, name))
            meta.append(
                {"name": "thread_sort_index", "ph": "M", "pid": pid, "tid": tid,
                 "args": {"sort_index": tid}}
            )  # fmt: skip
        return pid, tid, meta


def _hashable(value: t.Any) -> t.Any:
    return value if isinstance(value, (int, str, float, type(None))) else repr(value)


def _meta(name: str, pid: int, tid: int, value: str) -> dict[str, t.Any]:
    return {"name": name, "ph": "M", "pid": pid, "tid": tid, "args": {"name": value}}


def _args(event: t.Mapping[str, t.Any], keys: t.Iterable[str] | None = None) -> dict[str, t.Any]:
    if keys is None:
        keys = [k for k in event if k not in _COMMON]
    return {key: event[key] for key in keys if key in event and event[key] is not None}


def _us(milliseconds: t.Any) -> int:
    """Whole microseconds (records keep milliseconds to 3 decimals), never negative."""
    return max(round(fields.number(milliseconds) * 1000), 0)


def _instant_name(event: t.Mapping[str, t.Any]) -> str:
    kind = str(event.get("kind") or "event")
    if kind == "signal":
        return str(event.get("name") or "signal")
    if kind == "start_response":
        return f"start_response {event.get('status') or ''}".strip()
    if kind == "body":
        return f"body {fields.number(event.get('size')):.0f} bytes"
    if kind == "exception":
        return f"exception {event.get('type') or ''}".strip()
    if kind == "dispatch":
        return f"dispatch {event.get('mount') or '/'} -> {event.get('app') or '?'}"
    return kind


def request_events(
    record: t.Mapping[str, t.Any], pid: int, tid: int, start: int
) -> list[dict[str, t.Any]]:
    """The trace events of one record: its slices (nested) and instants."""
    duration = _us(record.get("duration_ms"))
    request = fields.request_of(record)
    code = fields.status_code(record)
    slices: list[dict[str, t.Any]] = [
        {
            "name": f"{fields.method(record)} {fields.target(record)}",
            "cat": "request",
            "ph": "X",
            "ts": start,
            "dur": duration,
            "pid": pid,
            "tid": tid,
            "args": {
                "id": record.get("id"),
                "status": code,
                "app": record.get("app"),
                "host": request.get("host"),
                "error": record.get("error"),
            },
        }
    ]
    instants: list[dict[str, t.Any]] = []
    pushed: list[tuple[str, int, dict[str, t.Any]]] = []
    end = start + duration

    def at(event: t.Mapping[str, t.Any]) -> int:
        return start + _us(event.get("t_ms"))

    for event in fields.events(record):
        kind = event.get("kind")
        if kind == "push":
            pushed.append((str(event.get("context")), at(event), dict(event)))
        elif kind == "pop":
            context = str(event.get("context"))
            for index in range(len(pushed) - 1, -1, -1):
                if pushed[index][0] == context:
                    _, began, push = pushed.pop(index)
                    slices.append(_context_slice(push, event, began, at(event), pid, tid))
                    break
        elif kind == "hook" or "duration_ms" in event:
            began = at(event)
            name = event.get("hook") or kind
            label = event.get("function") or event.get("name") or ""
            slices.append(
                {
                    "name": f"{name} {label}".strip(),
                    "cat": "hook" if kind == "hook" else str(kind),
                    "ph": "X",
                    "ts": began,
                    "dur": _us(event.get("duration_ms")),
                    "pid": pid,
                    "tid": tid,
                    "args": _args(event, _HOOK_ARGS if kind == "hook" else None),
                }
            )
        else:
            instants.append(
                {
                    "name": _instant_name(event),
                    "cat": str(kind or "event"),
                    "ph": "i",
                    "s": "t",
                    "ts": min(at(event), end),
                    "pid": pid,
                    "tid": tid,
                    "args": _args(event),
                }
            )
    for _, began, push in reversed(pushed):  # never popped: open until the end
        slices.append(_context_slice(push, None, began, end, pid, tid))
    return _nest(slices) + instants


def _context_slice(
    push: dict[str, t.Any],
    pop: dict[str, t.Any] | None,
    began: int,
    ended: int,
    pid: int,
    tid: int,
) -> dict[str, t.Any]:
    args = {"app": push.get("app"), "path": push.get("path")}
    if pop is not None:
        args.update(g=pop.get("g"), session=pop.get("session"))
    else:
        args["popped"] = False
    return {
        "name": f"{push.get('context')} context",
        "cat": "context",
        "ph": "X",
        "ts": began,
        "dur": max(ended - began, 0),
        "pid": pid,
        "tid": tid,
        "args": {k: v for k, v in args.items() if v is not None},
    }


def _nest(slices: list[dict[str, t.Any]]) -> list[dict[str, t.Any]]:
    """Clamp each slice into the one enclosing it (rounding must not cross borders)."""
    ordered = sorted(slices, key=lambda s: (s["ts"], -s["dur"]))
    stack: list[dict[str, t.Any]] = []
    for item in ordered:
        while stack and item["ts"] >= stack[-1]["ts"] + stack[-1]["dur"]:
            stack.pop()
        if stack:
            parent = stack[-1]
            limit = parent["ts"] + parent["dur"]
            item["dur"] = max(min(item["dur"], limit - item["ts"]), 0)
        stack.append(item)
    return ordered


def write(records: t.Iterable[Record], out: t.TextIO, options: ExportOptions) -> int:
    """Write ``records`` as one trace-event JSON document, record by record."""
    from wsgiscope import __version__

    tracks = _Tracks()
    out.write('{"traceEvents": [\n')
    first = True
    count = 0
    for record in records:
        start = fields.started_us(record) or 0
        duration = _us(record.get("duration_ms"))
        pid, tid, meta = tracks.track(record, start, start + duration)
        for event in meta + request_events(record, pid, tid, start):
            out.write(("" if first else ",\n") + json.dumps(event, ensure_ascii=True))
            first = False
        count += 1
    other = {"producer": "wsgiscope", "version": __version__, "records": count}
    out.write(f'\n], "displayTimeUnit": "ms", "otherData": {json.dumps(other)}}}\n')
    return count
