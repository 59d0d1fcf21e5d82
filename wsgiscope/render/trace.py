"""Rich rendering of one trace record (``wsgiscope.trace/1``) as a tree.

:func:`render_trace` turns a record into a renderable: a header line
(method, path, status, duration, response size, app, worker), then the
sections a user asked for:

``contexts``/``hooks``
    the lifecycle (:mod:`wsgiscope.render.lifecycle`): each context push
    opens a branch, the hooks, signals and nested pushes that happen while
    it is current are its children, and its pop closes it. Teardowns show
    the exception they received, in red.
``environ``, ``response``/``body``
    the environ grouped, and the response with a body preview
    (:mod:`wsgiscope.render.http`).

A ``lint`` section lists the record's PEP 3333 findings, the app's
``wsgi.errors`` log follows the tree, and when the app raised, its traceback
comes last, rendered by rich with wsgiscope's own frames suppressed.
Everything taken from the record is data: it goes through
:func:`wsgiscope.render.console.label` (control characters escaped, never
markup), and a traceback's messages are escaped the same way.
"""

from __future__ import annotations

import dataclasses
import types
import typing as t

from rich.console import Group, RenderableType
from rich.text import Text
from rich.tree import Tree

from wsgiscope.render.capture import dropped_text, duplicates_tree, queries_text
from wsgiscope.render.console import label
from wsgiscope.render.http import (
    MESSAGE_LIMIT,
    cap,
    environ_tree,
    format_ms,
    format_size,
    response_tree,
    status_style,
    text_lines,
)
from wsgiscope.render.lifecycle import lifecycle_tree
from wsgiscope.render.lines import Fields
from wsgiscope.render.sections import DEFAULT_SECTIONS
from wsgiscope.render.text import TARGET_LIMIT, escape_control
from wsgiscope.wsgistr import request_target

if t.TYPE_CHECKING:
    # rich.traceback (with rich.pretty, attrs and pygments) costs tens of
    # milliseconds of start-up: imported only when a traceback is shown.
    from rich.traceback import Trace, Traceback

#: Lines of the app's log shown (all with verbose): its tracebacks repeat
#: the one shown below the tree.
LOG_LINES = 4


@dataclasses.dataclass
class RenderOptions:
    """What to show.

    :param sections: the sections to show (a subset of :data:`SECTIONS`).
    :param environ_whole: the whole environ instead of a summary.
    :param verbose: whole environ and every body line.
    :param app_label: how the app was named on the command line.
    :param max_body: the body capture cap the trace ran with, if known.
    :param log: what the app wrote to ``wsgi.errors``, shown after the tree.
    :param exc_info: the live exception, to render a rich traceback; a
        record read from a file has only its text.
    :param width: the width the traceback is drawn at (the console's).
    :param interrupted: whether a ``KeyboardInterrupt`` in the record was the
        user's Ctrl-C (``trace`` knows); ``None``: assume it was.
    """

    sections: frozenset[str] = DEFAULT_SECTIONS
    environ_whole: bool = False
    verbose: bool = False
    app_label: str | None = None
    max_body: int | None = None
    log: str = ""
    exc_info: tuple[type[BaseException], BaseException, types.TracebackType | None] | None = None
    width: int | None = None
    interrupted: bool | None = None
    #: the request body sent, for the ``request-body`` section (``--print B``)
    request_body: bytes | None = None


def render_trace(record: dict[str, t.Any], options: RenderOptions | None = None) -> Group:
    """The whole rendering of ``record`` (see the module doc)."""
    options = options or RenderOptions()
    # wrapped between its fields, never inside "app NAME" (render.lines.Fields)
    tree = Tree(Fields(header_line(record, options.app_label)), guide_style="dim")
    sections = options.sections
    if sections & {"contexts", "hooks", "sql", "logs", "outbound", "templates"}:
        tree.children.append(lifecycle_tree(record.get("events") or [], sections, options.verbose))
    if "sql" in sections and isinstance(record.get("queries"), dict):
        duplicates = duplicates_tree(record["queries"])
        if duplicates is not None:
            tree.children.append(duplicates)
    dropped = dropped_text(record)
    if dropped is not None:
        tree.children.append(Tree(dropped))
    if "environ" in sections:
        whole = options.environ_whole or options.verbose
        tree.children.append(environ_tree(record.get("environ") or {}, whole))
    if sections & {"request", "request-body"}:
        from wsgiscope.render.http import request_tree

        tree.children.append(
            request_tree(record.get("environ") or {}, sections, options.request_body)
        )
    if sections & {"response", "meta", "body"}:
        tree.children.append(
            response_tree(record.get("response") or {}, sections, options.verbose, options.max_body)
        )
    if record.get("lint"):
        tree.children.append(lint_tree(record["lint"]))
        refused = _server_refusals(record)
        if refused:
            tree.children.append(refusal_tree(refused))
    if record.get("capture_errors"):
        tree.children.append(capture_errors_tree(record["capture_errors"]))
    parts: list[RenderableType] = [tree]
    if options.log:
        parts.append(log_tree(options.log, options.verbose))
    error = record.get("error")
    if isinstance(error, str):  # a record may give it as one text (recordcheck allows it)
        error = {"type": error}
    if error:
        parts.append(Text())
        parts.append(error_heading(error, record.get("response") or {}, options.interrupted))
        parts.append(error_renderable(error, options))
    else:
        handled = handled_heading(record)
        if handled is not None:
            parts += [Text(), handled]
    return Group(*parts)


def handled_heading(record: dict[str, t.Any]) -> Text | None:
    """One line for an exception one of the app's functions raised and the
    framework turned into a response (Flask's ``abort(400)``, Django's
    ``DisallowedHost``): raised, as ``tail --errors`` counts it."""
    from wsgiscope.outcome import record_raised

    found = record_raised(record)
    if found is None or found.kind != "raised":
        return None
    text = label(("the app raised ", "bold red"), (cap(found.message, MESSAGE_LIMIT), "red"))
    if found.function:
        text.append_text(label(" (in ", (found.function, ""), ")"))
    status = (record.get("response") or {}).get("status")
    if status:
        text.append_text(label(("; the framework answered ", ""), (status, status_style(status))))
    return text


def capture_errors_tree(failures: list[t.Any]) -> Tree:
    """What wsgiscope could not capture of this request (a degraded record)."""
    node = Tree(Text("not captured (the request itself was not affected)", style="yellow"))
    for failure in failures[:20]:
        if isinstance(failure, dict):
            node.add(
                label(
                    (failure.get("field") or "?", "yellow"), "  ", (failure.get("error") or "", "")
                )
            )
    return node


# -- header ---------------------------------------------------------------------


def _app_name(record: dict[str, t.Any], app_label: str | None) -> str | None:
    if app_label:
        return app_label
    if record.get("app"):
        return str(record["app"])
    for event in record.get("events") or []:
        if event.get("kind") == "push" and event.get("app"):
            return str(event["app"])
    return None


def header_line(record: dict[str, t.Any], app_label: str | None = None) -> Text:
    """``GET /path?q → 200 OK · 1.20 ms · 12 B · app X · pid 1 thread T``."""
    request = record.get("request") or {}
    response = record.get("response") or {}
    path = request_target(request)  # decoded as the framework reads it
    status = response.get("status")
    parts: list[tuple[object, str] | str] = [
        (request.get("method") or "?", "bold"),
        " ",
        (cap(path, TARGET_LIMIT) or "/", "bold cyan"),
        " → ",
        (status or "no response", status_style(status)),
        "  ",
        (format_ms(record.get("duration_ms")), "yellow"),
        "  ",
        (_response_size(response), ""),
    ]
    app = _app_name(record, app_label)
    if app:
        parts += ["  app ", (app, "magenta")]
    worker = record.get("worker") or {}
    if worker:
        parts += ["  ", (_worker(worker), "dim")]
    queries = queries_text(record.get("queries"))
    if queries:
        parts += ["  ", (queries, "bold yellow" if record["queries"].get("duplicated") else "blue")]
    return label(*parts)


def _response_size(response: dict[str, t.Any]) -> str:
    size = format_size(response.get("body_bytes"))
    return f"{size} (truncated)" if response.get("truncated") else size


def _worker(worker: dict[str, t.Any]) -> str:
    parts = [f"pid {worker.get('pid', '?')}"]
    if worker.get("thread") is not None:
        parts.append(str(worker["thread"]))
    greenlet = worker.get("greenlet")
    if greenlet is not None:
        parts.append(
            f"greenlet {greenlet:#x}" if isinstance(greenlet, int) else f"greenlet {greenlet}"
        )
    return " ".join(parts)


# -- lint, log and error ----------------------------------------------------------


def lint_tree(findings: list[dict[str, t.Any]]) -> Tree:
    """The record's PEP 3333 findings."""
    tree = Tree(label(("lint", "bold yellow"), (f"  {len(findings)}", "dim")), guide_style="dim")
    for finding in findings:
        tree.add(
            label((finding.get("rule") or "?", "yellow"), "  ", (finding.get("message") or "", ""))
        )
    return tree


def _server_refusals(record: dict[str, t.Any]) -> list[dict[str, str]]:
    from wsgiscope.lint.refusals import server_refusals

    return server_refusals(record.get("lint") or [])


def refusal_tree(refused: list[dict[str, str]]) -> Tree:
    """What werkzeug's and gunicorn's servers do with this response
    (:mod:`wsgiscope.lint.refusals`): the trace read it leniently."""
    tree = Tree(
        label(
            ("a real server would not send this response as shown", "bold red"),
            ("  (the trace read it leniently)", "dim"),
        ),
        guide_style="dim",
    )
    for item in refused:
        branch = tree.add(label((item["rule"], "red"), "  ", (item["message"], "")))
        branch.add(label(("werkzeug  ", "bold"), (item["werkzeug"], "")))
        branch.add(label(("gunicorn  ", "bold"), (item["gunicorn"], "")))
    return tree


def log_tree(log: str, verbose: bool = False) -> Tree:
    """What the app wrote to ``wsgi.errors`` (its logger's output)."""
    tree = Tree(Text("app log (wsgi.errors)", style="bold"), guide_style="dim")
    tree.add(text_lines(log, verbose, LOG_LINES))
    return tree


def error_heading(
    error: dict[str, t.Any], response: dict[str, t.Any], interrupted: bool | None = None
) -> Text:
    """One line: what the app raised and what became of it (``interrupted``:
    see :class:`RenderOptions`)."""
    message = error.get("message")
    exception = f"{error.get('type') or '?'}: {message}" if message else error.get("type") or "?"
    if error.get("type") == "KeyboardInterrupt" and interrupted is not False:
        # Ctrl-C reached the app: not its fault, but where it was matters.
        return label(
            ("interrupted (Ctrl-C) while the app ran", "bold yellow"),
            ("; the teardowns above saw KeyboardInterrupt", ""),
        )
    text = label(("the app raised ", "bold red"), (cap(exception, MESSAGE_LIMIT), "red"))
    if error.get("propagated") is False and response.get("status"):
        text.append_text(
            label(
                ("; the framework answered ", ""),
                (response["status"], status_style(response["status"])),
            )
        )
    elif error.get("propagated"):
        text.append("; it propagated out of the app (a server answers 500)")
    return text


def error_renderable(error: dict[str, t.Any], options: RenderOptions) -> RenderableType:
    """The app's traceback: rich's rendering of the live exception, or its text."""
    if options.exc_info is not None:
        return app_traceback(options.exc_info, width=options.width)
    text = Text()
    lines = str(error.get("traceback") or "").rstrip("\n").split("\n")
    for index, line in enumerate(lines):
        if index:
            text.append("\n")
        text.append(escape_control(cap(line, MESSAGE_LIMIT)))
    return text


def app_traceback(
    exc_info: tuple[type[BaseException], BaseException, types.TracebackType | None],
    width: int | None = None,
) -> Traceback:
    """The app's exception rendered by rich, wsgiscope's frames suppressed.

    Exception messages and notes are escaped first: rich prints them as text
    but passes control characters through. A message is capped at
    :data:`~wsgiscope.render.http.MESSAGE_LIMIT` characters.
    """
    from rich.traceback import Traceback

    exc_type, exc_value, tb = exc_info
    trace = Traceback.extract(exc_type, exc_value, tb)
    _escape_trace(trace)
    return Traceback(trace, suppress=own_paths(), width=width or 100, max_frames=40)


def own_paths() -> list[str]:
    """wsgiscope's own source paths, for rich to suppress in tracebacks.

    The whole package except the demo app, whose frames are the app's.
    """
    import os

    import wsgiscope

    root = os.path.dirname(os.path.abspath(wsgiscope.__file__))
    return [
        os.path.join(root, name)
        for name in sorted(os.listdir(root))
        if name not in ("demo.py", "__pycache__")
    ]


def _escape_trace(trace: Trace) -> None:
    for stack in trace.stacks:
        stack.exc_type = escape_control(stack.exc_type)
        stack.exc_value = escape_control(cap(stack.exc_value, MESSAGE_LIMIT))
        if hasattr(stack, "notes"):  # rich 13.8+
            stack.notes = [escape_control(note) for note in stack.notes]
        if stack.syntax_error is not None:
            stack.syntax_error.msg = escape_control(stack.syntax_error.msg)
            stack.syntax_error.line = escape_control(stack.syntax_error.line)
        for frame in stack.frames:
            frame.name = escape_control(frame.name)
            frame.filename = escape_control(frame.filename)
        for group in getattr(stack, "exceptions", ()):  # rich 14+: exception groups
            _escape_trace(group)
