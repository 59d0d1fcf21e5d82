"""The lifecycle of a trace record as a tree: contexts, hooks, signals.

:func:`lifecycle_tree` places every event of a ``wsgiscope.trace/1`` record:
a context push opens a branch, the hooks, signals and nested pushes that
happen while it is current are its children (by the event's ``parent``, or
by push/pop order for records without it), and its pop closes it, with the
names in ``g`` when the teardown began and after it, and the session's.
Teardowns show the exception they received, in red; runs of body chunks
collapse into one line.
"""

from __future__ import annotations

import typing as t

from rich.text import Text
from rich.tree import Tree

from wsgiscope.render.capture import (
    SECTION_OF_KIND,
    capture_details,
    capture_label,
    profile_tree,
)
from wsgiscope.render.console import label
from wsgiscope.render.http import (
    MESSAGE_LIMIT,
    SUMMARY_VALUE_LIMIT,
    cap,
    format_ms,
    format_size,
    inline,
    short,
    status_style,
    styled_value,
)
from wsgiscope.wsgistr import display_path

_HOOK_KINDS = frozenset({"hook", "signal", "start_response", "body", "close", "exception"})
_TEARDOWNS = frozenset({"teardown_request", "teardown_appcontext"})


def lifecycle_tree(
    events: list[dict[str, t.Any]], sections: frozenset[str], verbose: bool = False
) -> Tree:
    """The events as a tree: pushes open branches, pops close them.

    An event's ``parent`` (the ``seq`` of the push or hook call it happened
    in) places it; records without ``parent`` nest by push/pop order. With
    ``contexts`` off, pushes and pops are left out and their children move up;
    with ``hooks`` off, only pushes and pops (and nested ones) remain.
    ``verbose`` shows the values a dispatcher level changed, not only names.
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
                for detail in event_details(event, verbose):
                    pop.add(detail)
        elif kind in SECTION_OF_KIND:
            if SECTION_OF_KIND[kind] in sections:
                node = parent.add(capture_label(event) or _generic_label(event))
                for detail in capture_details(event, verbose):
                    node.add(detail)
                nodes[event.get("seq")] = node
            else:
                nodes[event.get("seq")] = parent
        elif show_hooks or kind not in _HOOK_KINDS:
            node = parent.add(event_label(event))
            for detail in event_details(event, verbose):
                node.add(detail)
            if isinstance(event.get("profile"), dict):
                node.add(profile_tree(event["profile"]))
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
    size = event.get("size")
    return size if isinstance(size, int) else 0


def _context_name(event: dict[str, t.Any]) -> str:
    context = event.get("context") or "?"
    if context == "app+request":  # Flask 3.2's one context per request
        return "context (app + request)"
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
            text.append_text(label(" ", (inline(event["view_args"]), "cyan")))
        text.append(" → ", style="dim")
    text.append_text(label((event.get("function") or "?", "")))
    if event.get("duration_ms") is not None:
        text.append_text(label("  ", (format_ms(event["duration_ms"]), "yellow")))
    text.append_text(label(_at(event)))
    return text


def event_details(event: dict[str, t.Any], verbose: bool = False) -> list[Text]:
    """Lines under an event: exceptions received or raised, ``g`` and session."""
    kind = event.get("kind")
    details: list[Text] = []
    if kind == "hook":
        hook = event.get("hook")
        received, raised = event.get("exception"), event.get("raised")
        if received:
            verb = "handling " if hook == "errorhandler" else "received "
            details.append(label((verb, "red"), (_message(received), "bold red")))
        elif hook in _TEARDOWNS:
            details.append(Text("received no exception", style="dim"))
        if raised:
            details.append(label(("raised ", "red"), (_message(raised), "bold red")))
    elif kind == "signal" and event.get("exception"):
        details.append(label(("exception ", "red"), (_message(event["exception"]), "red")))
    elif kind == "pop":
        details += _pop_details(event)
    elif kind == "dispatch":
        details += _dispatch_details(event, verbose)
    return details


def _pop_details(event: dict[str, t.Any]) -> list[Text]:
    """``g`` when the teardown began and after it (names it added or removed
    marked), then the session's names; each as captured at that moment."""
    details: list[Text] = []
    before, after = event.get("g"), event.get("g_after")
    if before:
        details.append(label(("g at teardown start  ", "bold"), (_pairs(before), "")))
    if isinstance(after, dict) and (before or after):
        if isinstance(before, dict) and after == before:
            details.append(label(("g after teardown  ", "bold"), ("unchanged", "dim")))
        else:
            details.append(_g_after(before if isinstance(before, dict) else {}, after))
    session = event.get("session")
    if session:
        details.append(label(("session  ", "bold"), (_pairs(session), "")))
    return details


def _g_after(before: dict[str, t.Any], after: dict[str, t.Any]) -> Text:
    """``g after teardown  a=1, +b=2 (added)  removed: c``: what the teardowns changed."""
    text = label(("g after teardown  ", "bold"))
    added = [key for key in after if key not in before]
    kept = {key: value for key, value in after.items() if key in before}
    if kept:
        text.append_text(label((_pairs(kept), "")))
    if added:
        pairs = _pairs({f"+{key}": after[key] for key in added})
        text.append_text(label(("  " if kept else "", ""), (pairs, "green"), (" (added)", "dim")))
    removed = [key for key in before if key not in after]
    if removed:
        names = cap(", ".join(removed), SUMMARY_VALUE_LIMIT * 2)
        text.append_text(label(("  " if kept or added else "", ""), ("removed: ", "yellow")))
        text.append_text(label((names, "yellow")))
    return text


#: Characters shown of one changed environ value on a dispatch line, with -v.
DISPATCH_VALUE_LIMIT = 60


def _dispatch_details(event: dict[str, t.Any], verbose: bool) -> list[Text]:
    """What this level's app got that differs from the top-level environ.

    Names only unless ``verbose`` (ProxyFix keeps a whole dict of originals
    under one key); SCRIPT_NAME and PATH_INFO are on the dispatch line.
    """
    changed = {
        key: value
        for key, value in (event.get("changed") or {}).items()
        if key not in ("SCRIPT_NAME", "PATH_INFO") and not _own_object(value)
    }
    details = []
    if changed and verbose:
        shown = {key: cap(short(value), DISPATCH_VALUE_LIMIT) for key, value in changed.items()}
        details.append(label(("environ changed  ", "dim"), (_pairs(shown), "")))
    elif changed:
        details.append(
            label(
                ("environ changed  ", "dim"), (", ".join(changed), ""), ("  (-v for values)", "dim")
            )
        )
    if event.get("removed"):
        details.append(label(("environ removed  ", "dim"), (", ".join(event["removed"]), "")))
    return details


def _own_object(value: t.Any) -> bool:
    """A repr of wsgiscope's own wrapper (the linter's stream watchers).

    ``trace --lint`` wraps ``wsgi.input`` and ``wsgi.errors`` between the
    tracer and the app: that change is wsgiscope's, not the app's.
    """
    return isinstance(value, str) and value.startswith("<wsgiscope.")


def _pairs(values: t.Any) -> str:
    if not isinstance(values, dict):
        return short(values)
    text = ", ".join(f"{key}={short(value)}" for key, value in values.items())
    return cap(text, SUMMARY_VALUE_LIMIT * 2)


def _dispatch_label(event: dict[str, t.Any]) -> Text:
    mount = event.get("mount") or "/ (default)"
    return label(
        ("dispatch ", "dim"),
        (mount, "green bold"),
        " → ",
        (event.get("app") or "?", "magenta"),
        ("  SCRIPT_NAME=", "dim"),
        styled_value(display_path(event.get("script_name") or "")),
        (" PATH_INFO=", "dim"),
        styled_value(display_path(event.get("path_info") or "")),
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
        return _message(event["exception"])
    kind, message = event.get("type"), event.get("message")
    return _message(f"{kind}: {message}" if message else str(kind or "?"))


def _message(value: t.Any) -> str:
    """An exception as ``"Type: message"``, capped (the record keeps it whole)."""
    return cap(str(value), MESSAGE_LIMIT)


_SKIP_KEYS = frozenset({"kind", "seq", "t_ms", "depth", "parent"})


def _generic_label(event: dict[str, t.Any]) -> Text:
    fields = {k: v for k, v in event.items() if k not in _SKIP_KEYS}
    return label(
        (event.get("kind") or "event", "cyan"),
        " ",
        (inline(fields, limit=SUMMARY_VALUE_LIMIT), ""),
        _at(event),
    )
