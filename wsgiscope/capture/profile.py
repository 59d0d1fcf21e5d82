"""``trace --profile``: a CPU profile of the request, under the hook it belongs to.

The request runs under a pyinstrument ``Profiler`` (the optional extra
``wsgiscope[profile]``; :func:`require` names it when it is missing). Once
it is done, :func:`attach` finds, for each hook, view and middleware event
of the record, the profile's frames of the function the framework called
(by its code's file and first line) and hangs their call tree on the event
as ``profile``: ``{"function", "file", "line", "ms", "children": [...]}``,
the children most expensive first, cut at :data:`DEPTH` levels and at
:data:`MIN_SHARE` of the hook's time (what is cut is summed in an
``"(other)"`` node). The record gets a top-level ``profile`` with the
sampling ``interval_ms`` and the profiled ``duration_ms``.

:func:`write_profile` writes the whole session: speedscope JSON for a
``.json`` file, pyinstrument's HTML page for ``.html``.
"""

from __future__ import annotations

import contextlib
import inspect
import os
import typing as t

from wsgiscope.errors import UsageError

if t.TYPE_CHECKING:
    from wsgiscope.tracing.recorder import Recorder

#: Sampling interval in seconds (a request is short: finer than pyinstrument's 1 ms).
INTERVAL = 0.0002
#: Levels of calls kept under a hook.
DEPTH = 8
#: Calls taking less than this share of their hook's time are summed as "(other)".
MIN_SHARE = 0.05


def require() -> t.Any:
    """The ``pyinstrument`` module, or a usage error naming the extra."""
    try:
        import pyinstrument
    except ImportError:
        raise UsageError(
            "--profile needs pyinstrument, which is not installed",
            hint="install it with: pip install 'wsgiscope[profile]'",
        ) from None
    return pyinstrument


def check_output(path: str) -> None:
    """``--profile-out FILE``: a ``.json`` (speedscope) or ``.html`` file."""
    if not path.lower().endswith((".json", ".html", ".htm")):
        raise UsageError(
            f"--profile-out {path!r}: the file name must end in .json (speedscope) or .html",
            hint="e.g. --profile-out profile.html",
        )


def start() -> t.Any:
    """Start a profiler (see :func:`require`); returns it."""
    profiler = require().Profiler(interval=INTERVAL, async_mode="disabled")
    profiler.start()
    return profiler


def _code_of(func: t.Any) -> t.Any:
    if isinstance(func, type):
        func = vars(func).get("__call__", None) or func.__call__
    with contextlib.suppress(ValueError):
        func = inspect.unwrap(func)
    func = getattr(func, "__func__", func)
    return getattr(func, "__code__", None)


def _find(frame: t.Any, where: tuple[str, int], found: list[t.Any]) -> None:
    if frame.file_path == where[0] and frame.line_no == where[1]:
        found.append(frame)  # outermost only: a recursion is inside it
        return
    for child in frame.children:
        _find(child, where, found)


def _node(frame: t.Any, total: float, depth: int) -> dict[str, t.Any]:
    name = "(self)" if frame.is_synthetic_leaf else frame.function
    if frame.class_name and not frame.is_synthetic:
        name = f"{frame.class_name}.{name}"
    node: dict[str, t.Any] = {
        "function": name,
        "file": None if frame.is_synthetic else frame.file_path_short,
        "line": frame.line_no,
        "ms": round(frame.time * 1000, 3),
        "children": [],
    }
    if depth >= DEPTH:
        return node
    other = 0.0
    for child in sorted(frame.children, key=lambda c: -c.time):
        if child.is_synthetic_leaf:
            continue  # the time spent in the function itself: the rest of its time
        if total and child.time / total < MIN_SHARE:
            other += child.time
            continue
        node["children"].append(_node(child, total, depth + 1))
    if other and (not total or other / total >= MIN_SHARE):
        node["children"].append(
            {"function": "(other)", "file": None, "line": None, "ms": round(other * 1000, 3)}
        )
    return node


def attach(record: dict[str, t.Any], rec: Recorder, profiler: t.Any) -> None:
    """Hang each hook's call tree on its event; add the record's ``profile``."""
    if profiler.is_running:
        profiler.stop()
    session = profiler.last_session
    root = session.root_frame() if session is not None else None
    record["profile"] = {
        "interval_ms": INTERVAL * 1000,
        "duration_ms": round(session.duration * 1000, 3) if session is not None else 0.0,
        "samples": getattr(session, "sample_count", None),
    }
    if root is None:
        return
    rows = rec.settle()
    for event in record.get("events") or []:
        seq = event.get("seq")
        if event.get("kind") != "hook" or not isinstance(seq, int) or seq >= len(rows):
            continue
        code = _code_of(rows[seq][4][1])
        if code is None:
            continue
        found: list[t.Any] = []
        _find(root, (code.co_filename, code.co_firstlineno), found)
        if not found:
            continue
        frame = max(found, key=lambda f: f.time)
        event["profile"] = _node(frame, frame.time, 0)


def write_profile(profiler: t.Any, path: str) -> None:
    """Write the session: speedscope JSON (``.json``) or HTML (``.html``)."""
    from pyinstrument import renderers

    session = profiler.last_session
    renderer: t.Any = (
        renderers.SpeedscopeRenderer()
        if path.lower().endswith(".json")
        else renderers.HTMLRenderer()
    )
    text = renderer.render(session)
    try:
        with open(os.fspath(path), "w", encoding="utf-8") as file:
            file.write(text)
    except OSError as exc:
        raise UsageError(
            f"cannot write the profile to {path!r}: {exc.strerror or exc}",
            hint="check the directory exists and is writable",
        ) from None
