"""Rich rendering of one trace record (``wsgiscope.trace/1``) as a tree.

:func:`render_trace` turns a record into a renderable: a header line
(method, path, status, duration, response size, app, worker), then the
sections a user asked for:

``contexts``/``hooks``
    the lifecycle: each context push opens a branch, the hooks, signals and
    nested pushes that happen while it is current are its children, and its
    pop closes it. Teardowns show the exception they received, in red.
``environ``
    the environ grouped into the request line and CGI variables, HTTP
    headers, ``wsgi.*`` and server/other keys: summarised, or whole.
``response``/``body``
    status, headers, size, a body preview (text decoded, JSON
    pretty-printed, binary as a hex dump) and where capture was truncated.

A ``lint`` section lists the record's PEP 3333 findings, and when the app
raised, its traceback follows the tree, rendered by rich with wsgiscope's own
frames suppressed. Everything taken from the record is data: it goes through
:func:`wsgiscope.render.console.data` (control characters escaped, never
markup), and a traceback's messages are escaped the same way.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import types
import typing as t

from rich.console import Group, RenderableType
from rich.text import Text
from rich.traceback import Trace, Traceback
from rich.tree import Tree

from wsgiscope.render.console import label
from wsgiscope.render.sections import SECTIONS
from wsgiscope.render.text import escape_control

#: Environ keys of the request line and CGI variables, in display order.
REQUEST_KEYS = (
    "REQUEST_METHOD",
    "SCRIPT_NAME",
    "PATH_INFO",
    "QUERY_STRING",
    "REQUEST_URI",
    "RAW_URI",
    "SERVER_PROTOCOL",
    "CONTENT_TYPE",
    "CONTENT_LENGTH",
    "REMOTE_ADDR",
    "REMOTE_PORT",
    "REMOTE_USER",
    "AUTH_TYPE",
    "PATH_TRANSLATED",
    "GATEWAY_INTERFACE",
)
#: Keys the summary shows from the request group.
SUMMARY_REQUEST_KEYS = ("REQUEST_METHOD", "SCRIPT_NAME", "PATH_INFO", "QUERY_STRING")

#: Characters of one value shown in a summary and in full output.
SUMMARY_VALUE_LIMIT = 120
FULL_VALUE_LIMIT = 4000
#: Lines of body preview shown (all with verbose).
BODY_LINES = 40
#: Lines of the app's log shown (all with verbose): its tracebacks repeat
#: the one shown below the tree.
LOG_LINES = 4
#: Bytes shown by the hex dump of a binary body.
HEX_BYTES = 128

_HOOK_KINDS = frozenset({"hook", "signal", "start_response", "body", "close", "exception"})
_TEARDOWNS = frozenset({"teardown_request", "teardown_appcontext"})


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
    """

    sections: frozenset[str] = frozenset(SECTIONS)
    environ_whole: bool = False
    verbose: bool = False
    app_label: str | None = None
    max_body: int | None = None
    log: str = ""
    exc_info: tuple[type[BaseException], BaseException, types.TracebackType | None] | None = None
    width: int | None = None


def render_trace(record: dict[str, t.Any], options: RenderOptions | None = None) -> Group:
    """The whole rendering of ``record`` (see the module doc)."""
    options = options or RenderOptions()
    tree = Tree(header_line(record, options.app_label), guide_style="dim")
    sections = options.sections
    if sections & {"contexts", "hooks"}:
        tree.children.append(lifecycle_tree(record.get("events") or [], sections))
    if "environ" in sections:
        whole = options.environ_whole or options.verbose
        tree.children.append(environ_tree(record.get("environ") or {}, whole))
    if sections & {"response", "body"}:
        tree.children.append(response_tree(record.get("response") or {}, sections, options))
    if record.get("lint"):
        tree.children.append(lint_tree(record["lint"]))
    parts: list[RenderableType] = [tree]
    if options.log:
        parts.append(log_tree(options.log, options.verbose))
    error = record.get("error")
    if error:
        parts.append(Text())
        parts.append(error_heading(error, record.get("response") or {}))
        parts.append(error_renderable(error, options))
    return Group(*parts)


# -- header ---------------------------------------------------------------------


def format_size(size: int | float | None) -> str:
    """``1536`` -> ``"1.5 KiB"``."""
    if size is None:
        return "?"
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{int(value)} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def format_ms(value: float | None) -> str:
    """Milliseconds with a precision that suits their size.

    No space before the unit: a wrapped line never separates them.
    """
    if value is None:
        return "?"
    if value >= 100:
        return f"{value:.0f}ms"
    if value >= 10:
        return f"{value:.1f}ms"
    return f"{value:.2f}ms"


def status_style(status: str | None) -> str:
    """The colour of an HTTP status line."""
    code = (status or "")[:1]
    return {"2": "green", "3": "cyan", "4": "yellow", "5": "bold red"}.get(code, "bold red")


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
    path = f"{request.get('script_name') or ''}{request.get('path') or ''}"
    if request.get("query_string"):
        path += f"?{request['query_string']}"
    status = response.get("status")
    parts: list[tuple[object, str] | str] = [
        (request.get("method") or "?", "bold"),
        " ",
        (path or "/", "bold cyan"),
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
    return label(*parts)


def _response_size(response: dict[str, t.Any]) -> str:
    size = format_size(response.get("body_bytes"))
    return f"{size} (truncated)" if response.get("truncated") else size


def _worker(worker: dict[str, t.Any]) -> str:
    parts = [f"pid {worker.get('pid', '?')}"]
    if worker.get("thread") is not None:
        parts.append(str(worker["thread"]))
    if worker.get("greenlet") is not None:
        parts.append(f"greenlet {worker['greenlet']}")
    return " ".join(parts)


# -- lifecycle -----------------------------------------------------------------


def lifecycle_tree(events: list[dict[str, t.Any]], sections: frozenset[str]) -> Tree:
    """The events as a tree: pushes open branches, pops close them.

    An event's ``parent`` (the ``seq`` of the push or hook call it happened
    in) places it; records without ``parent`` nest by push/pop order. With
    ``contexts`` off, pushes and pops are left out and their children move up;
    with ``hooks`` off, only pushes and pops (and nested ones) remain.
    """
    tree = Tree(Text("lifecycle", style="bold"), guide_style="dim")
    nest = "contexts" in sections
    show_hooks = "hooks" in sections
    # seq -> the node its children go under (a hidden event maps to its own).
    nodes: dict[t.Any, Tree] = {}
    # Open pushes, innermost last: (context, app, node).
    stack: list[tuple[str | None, str | None, Tree]] = []
    for event in _collapse_body_events(events):
        kind = event.get("kind")
        if "parent" in event:
            parent = nodes.get(event["parent"], tree) if event["parent"] is not None else tree
        else:
            parent = stack[-1][2] if stack and nest else tree
        if kind == "push":
            node = parent.add(_push_label(event), guide_style="dim") if nest else parent
            nodes[event.get("seq")] = node
            stack.append((event.get("context"), event.get("app"), node))
        elif kind == "pop":
            index = _find_open(stack, event)
            owner = stack[index][2] if index is not None else parent
            if index is not None:
                del stack[index:]
            if nest:
                pop = owner.add(_pop_label(event, unmatched=index is None))
                for detail in event_details(event):
                    pop.add(detail)
        elif show_hooks or kind not in _HOOK_KINDS:
            node = parent.add(event_label(event))
            for detail in event_details(event):
                node.add(detail)
            nodes[event.get("seq")] = node
        else:
            nodes[event.get("seq")] = parent
    if not tree.children:
        tree.add(Text("no events recorded", style="dim"))
    return tree


def _find_open(
    stack: list[tuple[str | None, str | None, Tree]], event: dict[str, t.Any]
) -> int | None:
    for index in range(len(stack) - 1, -1, -1):
        context, app, _ = stack[index]
        if context == event.get("context") and app == event.get("app"):
            return index
    return None


def _collapse_body_events(events: list[dict[str, t.Any]]) -> t.Iterator[dict[str, t.Any]]:
    """Runs of ``body`` events become one (a stream may have thousands)."""
    run: list[dict[str, t.Any]] = []
    for event in events:
        if event.get("kind") == "body":
            run.append(event)
            continue
        if run:
            yield _body_run(run)
            run = []
        yield event
    if run:
        yield _body_run(run)


def _body_run(run: list[dict[str, t.Any]]) -> dict[str, t.Any]:
    if len(run) == 1:
        return run[0]
    sizes = [_chunk_size(e) for e in run]
    return {
        "kind": "body",
        "t_ms": run[0].get("t_ms"),
        "t_end_ms": run[-1].get("t_ms"),
        "chunks": len(run),
        "size": sum(sizes),
    }


def _chunk_size(event: dict[str, t.Any]) -> int:
    for key in ("size", "bytes", "chunk_size", "length"):
        if isinstance(event.get(key), int):
            return int(event[key])
    sizes = event.get("sizes") or event.get("chunks")
    if isinstance(sizes, list):
        return sum(s for s in sizes if isinstance(s, int))
    return 0


def _context_name(event: dict[str, t.Any]) -> str:
    context = event.get("context") or "?"
    return f"{context} context"


def _at(event: dict[str, t.Any]) -> tuple[str, str]:
    return (f"  @{format_ms(event.get('t_ms'))}", "dim")


def _push_label(event: dict[str, t.Any]) -> Text:
    return label(
        ("▶ push ", "bold blue"),
        (_context_name(event), "bold"),
        " ",
        (event.get("app") or "?", "magenta"),
        _at(event),
    )


def _pop_label(event: dict[str, t.Any], unmatched: bool = False) -> Text:
    text = label(
        ("◀ pop ", "blue"),
        (_context_name(event), ""),
        " ",
        (event.get("app") or "?", "magenta"),
        _at(event),
    )
    if unmatched:
        text.append("  (no matching push)", style="yellow")
    return text


def event_label(event: dict[str, t.Any]) -> Text:
    """One line for a non-context event."""
    kind = event.get("kind")
    if kind == "hook":
        return _hook_label(event)
    if kind == "signal":
        return label(("signal ", "dim"), (event.get("name") or "?", "cyan"), _at(event))
    if kind == "start_response":
        return _start_response_label(event)
    if kind == "body":
        return _body_label(event)
    if kind == "close":
        return label(("close()", "dim"), _at(event))
    if kind == "exception":
        where = f" in {event['where']}" if event.get("where") else ""
        return label(
            (f"exception{where} ", "bold red"), (_exception_text(event), "red"), _at(event)
        )
    if kind == "dispatch":
        return _dispatch_label(event)
    return _generic_label(event)


def _hook_label(event: dict[str, t.Any]) -> Text:
    hook = event.get("hook") or "?"
    text = label((hook, "bold green" if hook == "view" else "green"), " ")
    if hook == "view" and event.get("endpoint"):
        text.append_text(label((event["endpoint"], "bold cyan")))
        if event.get("view_args"):
            text.append_text(label(" ", (_inline(event["view_args"]), "cyan")))
        text.append(" → ", style="dim")
    text.append_text(label((event.get("function") or "?", "")))
    if event.get("duration_ms") is not None:
        text.append_text(label("  ", (format_ms(event["duration_ms"]), "yellow")))
    text.append_text(label(_at(event)))
    return text


def event_details(event: dict[str, t.Any]) -> list[Text]:
    """Lines under an event: exceptions received or raised, ``g`` and session."""
    kind = event.get("kind")
    details: list[Text] = []
    if kind == "hook":
        hook = event.get("hook")
        received, raised = event.get("exception"), event.get("raised")
        if received:
            verb = "handling " if hook == "errorhandler" else "received "
            details.append(label((verb, "red"), (received, "bold red")))
        elif hook in _TEARDOWNS:
            details.append(Text("received no exception", style="dim"))
        if raised:
            details.append(label(("raised ", "red"), (raised, "bold red")))
    elif kind == "signal" and event.get("exception"):
        details.append(label(("exception ", "red"), (event["exception"], "red")))
    elif kind == "pop":
        for name in ("g", "session"):
            values = event.get(name)
            if values:
                details.append(label((f"{name}  ", "bold"), (_pairs(values), "")))
    elif kind == "dispatch":
        changed = event.get("changed")
        if changed:
            environ = event.get("environ") or {}
            details.append(
                label(
                    ("environ as this app saw it: ", "dim"),
                    (_pairs({k: environ.get(k, "?") for k in changed}), ""),
                )
            )
    return details


def _pairs(values: t.Any) -> str:
    if not isinstance(values, dict):
        return _short(values)
    text = ", ".join(f"{key}={_short(value)}" for key, value in values.items())
    return _cap(text, SUMMARY_VALUE_LIMIT * 2)


def _dispatch_label(event: dict[str, t.Any]) -> Text:
    mount = event.get("mount") or "/ (default)"
    return label(
        ("dispatch ", "dim"),
        (mount, "green bold"),
        " → ",
        (event.get("app") or "?", "magenta"),
        ("  SCRIPT_NAME=", "dim"),
        _value(event.get("script_name") or ""),
        (" PATH_INFO=", "dim"),
        _value(event.get("path_info") or ""),
        _at(event),
    )


def _start_response_label(event: dict[str, t.Any]) -> Text:
    headers = event.get("headers")
    text = label(
        ("start_response ", "dim"),
        (event.get("status") or "?", status_style(event.get("status"))),
    )
    if isinstance(headers, list):
        text.append(f"  {len(headers)} headers", style="dim")
    if event.get("exc_info"):
        text.append_text(label("  exc_info ", (event["exc_info"], "red")))
    text.append_text(label(_at(event)))
    return text


def _body_label(event: dict[str, t.Any]) -> Text:
    if "chunks" in event and isinstance(event["chunks"], int):
        span = f"  @{format_ms(event.get('t_ms'))}..{format_ms(event.get('t_end_ms'))}"
        return label(
            ("body ", "dim"),
            (f"{event['chunks']} chunks, {format_size(event.get('size'))}", ""),
            (span, "dim"),
        )
    return label(("body ", "dim"), (f"chunk {format_size(_chunk_size(event))}", ""), _at(event))


def _exception_text(event: dict[str, t.Any]) -> str:
    if event.get("exception"):
        return str(event["exception"])
    kind, message = event.get("type"), event.get("message")
    return f"{kind}: {message}" if message else str(kind or "?")


_SKIP_KEYS = frozenset({"kind", "seq", "t_ms", "depth", "parent"})


def _generic_label(event: dict[str, t.Any]) -> Text:
    fields = {k: v for k, v in event.items() if k not in _SKIP_KEYS}
    return label(
        (event.get("kind") or "event", "cyan"),
        " ",
        (_inline(fields, limit=SUMMARY_VALUE_LIMIT), ""),
        _at(event),
    )


def _inline(value: t.Any, limit: int = 0) -> str:
    if isinstance(value, dict):
        text = " ".join(f"{k}={_short(v)}" for k, v in value.items())
    else:
        text = _short(value)
    return text if not limit or len(text) <= limit else text[:limit] + "…"


def _short(value: t.Any) -> str:
    if isinstance(value, str):
        return value
    try:
        return json.dumps(value, ensure_ascii=False, default=repr)
    except (TypeError, ValueError):
        return repr(value)


# -- environ -------------------------------------------------------------------


def group_environ(environ: dict[str, t.Any]) -> dict[str, list[tuple[str, t.Any]]]:
    """Environ items by group: ``request``, ``headers``, ``wsgi``, ``other``."""
    groups: dict[str, list[tuple[str, t.Any]]] = {
        "request": [],
        "headers": [],
        "wsgi": [],
        "other": [],
    }
    order = {key: index for index, key in enumerate(REQUEST_KEYS)}
    for key, value in environ.items():
        if key in order:
            groups["request"].append((key, value))
        elif key.startswith("HTTP_"):
            groups["headers"].append((key, value))
        elif key.startswith("wsgi."):
            groups["wsgi"].append((key, value))
        else:
            groups["other"].append((key, value))
    groups["request"].sort(key=lambda item: order[item[0]])
    groups["headers"].sort()
    groups["wsgi"].sort()
    groups["other"].sort()
    return groups


_GROUP_TITLES = {
    "request": "request line and CGI variables",
    "headers": "HTTP headers",
    "wsgi": "wsgi.*",
    "other": "server and other",
}


def environ_tree(environ: dict[str, t.Any], whole: bool) -> Tree:
    """The environ grouped; ``whole`` shows every key, else a summary."""
    title = "environ" if whole else "environ (summary; -v or --print environ for all)"
    tree = Tree(Text(title, style="bold"), guide_style="dim")
    groups = group_environ(environ)
    limit = FULL_VALUE_LIMIT if whole else SUMMARY_VALUE_LIMIT
    for name, items in groups.items():
        if not items:
            continue
        heading = label((_GROUP_TITLES[name], "bold"), (f"  {len(items)}", "dim"))
        if not whole and name in ("wsgi", "other"):
            # The summary names these keys only: their values are rarely the
            # question, and reprs of streams are long.
            names = _cap(", ".join(key for key, _ in items), limit)
            tree.add(
                label((_GROUP_TITLES[name], "bold"), (f"  {len(items)}  ", "dim"), (names, "dim"))
            )
            continue
        branch = tree.add(heading)
        shown = items
        if not whole and name == "request":
            shown = [item for item in items if item[0] in SUMMARY_REQUEST_KEYS]
        for key, value in shown:
            branch.add(_key_value(key, value, limit))
        if len(shown) < len(items):
            branch.add(Text(f"… {len(items) - len(shown)} more", style="dim"))
    if not environ:
        tree.add(Text("not recorded", style="dim"))
    return tree


def _key_value(key: str, value: t.Any, limit: int) -> Text:
    return label((key, "cyan"), " = ", _value(value, limit))


def _value(value: t.Any, limit: int = FULL_VALUE_LIMIT) -> tuple[str, str]:
    """A value and its style: secrets and empty strings stand out as such."""
    if value == "":
        return '""', "dim"
    if value == "[redacted]":
        return "[redacted]", "dim italic"
    return _cap(_short(value), limit), ""


def _cap(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… [{len(text) - limit} more characters]"


# -- response ------------------------------------------------------------------


def response_tree(
    response: dict[str, t.Any], sections: frozenset[str], options: RenderOptions
) -> Tree:
    """Status, headers, size and body preview."""
    status = response.get("status")
    title = label(("response ", "bold"), (status or "no response", status_style(status)))
    tree = Tree(title, guide_style="dim")
    headers = response.get("headers") or []
    if "response" in sections:
        branch = tree.add(label(("headers", "bold"), (f"  {len(headers)}", "dim")))
        for header in headers:
            name, value = (header[0], header[1]) if len(header) >= 2 else (header, "")
            branch.add(label((name, "cyan"), ": ", _value(value)))
        tree.add(label(("size ", "bold"), (_size_line(response), "")))
    if response.get("truncated"):
        tree.add(_truncated_line(response, options.max_body))
    if "body" in sections:
        preview = body_preview(response, options.verbose)
        if preview is not None:
            tree.add(preview)
    return tree


def _size_line(response: dict[str, t.Any]) -> str:
    size = response.get("body_bytes")
    text = format_size(size)
    if isinstance(size, int) and size >= 1024:
        text += f" ({size} bytes)"
    return text


def _truncated_line(response: dict[str, t.Any], max_body: int | None) -> Text:
    if max_body is not None:
        # In-process runs (trace, replay) stop reading at the cap.
        message = (
            f"truncated at {format_size(max_body)} (--max-body): reading stopped there "
            "and the iterable was closed"
        )
    else:
        message = "truncated: the body preview stops at the recorder's cap"
    return Text(message, style="bold yellow")


def _header(headers: list[t.Any], name: str) -> str | None:
    for header in headers:
        if len(header) >= 2 and str(header[0]).lower() == name:
            return str(header[1])
    return None


def _preview_bytes(response: dict[str, t.Any]) -> tuple[bytes | None, str | None]:
    """The preview as bytes when it is binary, or as text."""
    preview = response.get("body_preview")
    encoding = response.get("body_encoding")
    if isinstance(preview, str) and encoding in ("base64", "hex"):
        preview = {"encoding": encoding, "data": preview}
    if isinstance(preview, dict):
        encoding = preview.get("encoding")
        payload = preview.get("data") or ""
        if encoding == "base64":
            import base64

            return base64.b64decode(payload), None
        if encoding == "hex":
            return bytes.fromhex(payload), None
        return None, str(payload)
    if preview is None:
        return None, None
    return None, str(preview)


def body_preview(response: dict[str, t.Any], verbose: bool = False) -> Text | None:
    """The body preview: JSON pretty-printed, text decoded, binary as hex."""
    raw, text = _preview_bytes(response)
    content_type = (_header(response.get("headers") or [], "content-type") or "").lower()
    if raw is None and text is None:
        return Text("body not recorded", style="dim") if response.get("body_bytes") else None
    if raw is None and text is not None and _looks_binary(text, content_type):
        raw = text.encode("latin-1", "replace")
    if raw is not None and _is_textual(content_type):
        try:
            text = raw.decode(_charset(content_type) or "utf-8")
            raw = None
        except (UnicodeDecodeError, LookupError):
            pass
    if raw is not None:
        return _hex_dump(raw, response.get("body_bytes"))
    assert text is not None
    if not text:
        return Text("empty body", style="dim")
    if "json" in content_type:
        with contextlib.suppress(ValueError):
            text = json.dumps(json.loads(text), indent=2, ensure_ascii=False)
    return _text_lines(text, verbose)


def _charset(content_type: str) -> str | None:
    for part in content_type.split(";")[1:]:
        key, _, value = part.strip().partition("=")
        if key == "charset":
            return value.strip('"')
    return None


def _is_textual(content_type: str) -> bool:
    mime = content_type.split(";")[0].strip()
    return (
        not mime
        or mime.startswith("text/")
        or mime.endswith(("json", "xml", "javascript", "+json", "+xml"))
        or mime in ("application/x-www-form-urlencoded", "application/ecmascript")
    )


def _looks_binary(text: str, content_type: str) -> bool:
    if content_type and not _is_textual(content_type):
        return True
    return "\x00" in text


def _text_lines(text: str, verbose: bool, limit: int = BODY_LINES) -> Text:
    lines = text.split("\n")
    if len(lines) > 1 and not lines[-1]:
        lines.pop()  # the final newline ends the last line, it adds none
    shown = lines if verbose else lines[:limit]
    body = Text()
    for index, line in enumerate(shown):
        if index:
            body.append("\n")
        body.append(escape_control(line))
    if len(shown) < len(lines):
        body.append(f"\n… {len(lines) - len(shown)} more lines (-v for all)", style="dim")
    return body


def _hex_dump(raw: bytes, total: int | None) -> Text:
    dump = Text()
    head = raw[:HEX_BYTES]
    dump.append(f"binary, {format_size(total if total is not None else len(raw))}", style="dim")
    for offset in range(0, len(head), 16):
        chunk = head[offset : offset + 16]
        hexes = " ".join(f"{byte:02x}" for byte in chunk)
        ascii_ = "".join(chr(b) if 0x20 <= b < 0x7F else "." for b in chunk)
        dump.append(f"\n{offset:08x}  {hexes:<47}  |{ascii_}|")
    if len(raw) > len(head):
        dump.append(f"\n… {len(raw) - len(head)} more bytes in the preview", style="dim")
    return dump


# -- lint and error ------------------------------------------------------------


def lint_tree(findings: list[dict[str, t.Any]]) -> Tree:
    """The record's PEP 3333 findings."""
    tree = Tree(label(("lint", "bold yellow"), (f"  {len(findings)}", "dim")), guide_style="dim")
    for finding in findings:
        tree.add(
            label((finding.get("rule") or "?", "yellow"), "  ", (finding.get("message") or "", ""))
        )
    return tree


def log_tree(log: str, verbose: bool = False) -> Tree:
    """What the app wrote to ``wsgi.errors`` (its logger's output)."""
    tree = Tree(Text("app log (wsgi.errors)", style="bold"), guide_style="dim")
    tree.add(_text_lines(log, verbose, LOG_LINES))
    return tree


def error_heading(error: dict[str, t.Any], response: dict[str, t.Any]) -> Text:
    """One line: what the app raised and what became of it."""
    message = error.get("message")
    exception = f"{error.get('type') or '?'}: {message}" if message else error.get("type") or "?"
    text = label(("the app raised ", "bold red"), (exception, "red"))
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
        text.append(escape_control(line))
    return text


def app_traceback(
    exc_info: tuple[type[BaseException], BaseException, types.TracebackType | None],
    width: int | None = None,
) -> Traceback:
    """The app's exception rendered by rich, wsgiscope's frames suppressed.

    Exception messages and notes are escaped first: rich prints them as text
    but passes control characters through.
    """
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
        stack.exc_value = escape_control(stack.exc_value)
        stack.notes = [escape_control(note) for note in stack.notes]
        if stack.syntax_error is not None:
            stack.syntax_error.msg = escape_control(stack.syntax_error.msg)
            stack.syntax_error.line = escape_control(stack.syntax_error.line)
        for frame in stack.frames:
            frame.name = escape_control(frame.name)
            frame.filename = escape_control(frame.filename)
        for group in stack.exceptions:
            _escape_trace(group)
