"""Rendering what :mod:`wsgiscope.capture` recorded: one line per SQL
statement, log record, outbound request and template render in the
lifecycle tree, the header's ``12 queries 34.1 ms, 3 duplicated``, the
likely N+1 section, and the query figures of ``tail``/``serve`` lines.

Everything shown comes from the record and is data (escaped, capped).
"""

from __future__ import annotations

import typing as t

from rich.text import Text
from rich.tree import Tree

from wsgiscope.render.console import label
from wsgiscope.render.http import cap, format_ms, format_size, inline

#: The event kinds of the captures, and the ``--print`` section of each.
SECTION_OF_KIND = {"sql": "sql", "log": "logs", "http": "outbound", "template": "templates"}
#: Characters of a statement shown on one lifecycle line (``--json`` has it whole).
STATEMENT_LIMIT = 160
#: Characters of a log message shown on one line.
LOG_LIMIT = 200

_LEVEL_STYLE = {"CRITICAL": "bold red", "ERROR": "red", "WARNING": "yellow"}


def _one_line(text: t.Any) -> str:
    return " ".join(str(text or "").split())


def _at(event: dict[str, t.Any]) -> tuple[str, str]:
    return (f"  @{format_ms(event.get('t_ms'))}", "dim")


def _duration(event: dict[str, t.Any]) -> tuple[str, str]:
    duration = event.get("duration_ms")
    return (f"  {format_ms(duration)}", "yellow") if duration is not None else ("", "")


def capture_label(event: dict[str, t.Any]) -> Text | None:
    """The lifecycle line of a captured event (``None`` for another kind)."""
    kind = event.get("kind")
    if kind == "sql":
        text = label(
            ("sql ", "bold blue"),
            (cap(_one_line(event.get("statement")), STATEMENT_LIMIT), ""),
            _duration(event),
        )
        if event.get("many"):
            text.append("  (executemany)", style="dim")
        if isinstance(event.get("rowcount"), int):
            text.append(f"  {event['rowcount']} rows", style="dim")
        if event.get("error"):
            text.append_text(label("  ", (cap(event["error"], 200), "red")))
        text.append_text(label(_at(event)))
        return text
    if kind == "log":
        level = str(event.get("level") or "?")
        return label(
            (f"log {level} ", _LEVEL_STYLE.get(level, "cyan")),
            (event.get("logger") or "?", "magenta"),
            "  ",
            (cap(_one_line(event.get("message")), LOG_LIMIT), ""),
            _at(event),
        )
    if kind == "http":
        status = event.get("status")
        text = label(
            ("http ", "bold magenta"),
            (event.get("method") or "?", "bold"),
            " ",
            (cap(str(event.get("url") or "?"), STATEMENT_LIMIT), ""),
            " → ",
            (str(status) if status is not None else "no response", _status_style(status)),
            _duration(event),
        )
        if isinstance(event.get("response_bytes"), int):
            text.append(f"  {format_size(event['response_bytes'])}", style="dim")
        if event.get("error"):
            text.append_text(label("  ", (cap(event["error"], 200), "red")))
        text.append_text(label(_at(event)))
        return text
    if kind == "template":
        return label(
            ("template ", "bold cyan"),
            (event.get("name") or "(string)", ""),
            (f"  {event.get('engine') or ''}", "dim"),
            _duration(event),
            _at(event),
        )
    return None


def capture_details(event: dict[str, t.Any], verbose: bool) -> list[Text]:
    """Lines under a captured event: SQL parameters and database, a log
    record's exception (parameters with ``-v`` only)."""
    details: list[Text] = []
    if event.get("kind") == "sql" and verbose:
        if event.get("parameters"):
            details.append(label(("parameters  ", "dim"), (inline(event["parameters"]), "")))
        if event.get("database"):
            details.append(label(("database  ", "dim"), (event["database"], "")))
    elif event.get("kind") == "log" and event.get("exception"):
        details.append(label(("exception ", "red"), (cap(event["exception"], 200), "red")))
    return details


def _status_style(status: t.Any) -> str:
    if not isinstance(status, int):
        return "bold red"
    return {2: "green", 3: "cyan", 4: "yellow"}.get(status // 100, "bold red")


def queries_text(queries: t.Any) -> str | None:
    """``12 queries 34.1 ms, 3 duplicated`` (``None`` without queries)."""
    if not isinstance(queries, dict) or not isinstance(queries.get("count"), int):
        return None
    count = queries["count"]
    text = f"{count} quer{'y' if count == 1 else 'ies'} {format_ms(queries.get('total_ms'))}"
    if queries.get("duplicated"):
        text += f", {queries['duplicated']} duplicated"
    return text


def duplicates_tree(queries: dict[str, t.Any]) -> Tree | None:
    """The statements that ran more than once: a likely N+1, and where."""
    duplicates = queries.get("duplicates") or []
    if not duplicates:
        return None
    tree = Tree(
        label(("likely N+1", "bold yellow"), ("  statements run more than once", "dim")),
        guide_style="dim",
    )
    for entry in duplicates:
        node = tree.add(
            label(
                (f"{entry.get('count')}x ", "bold yellow"),
                (cap(_one_line(entry.get("statement")), STATEMENT_LIMIT), ""),
                (f"  {format_ms(entry.get('total_ms'))}", "yellow"),
            )
        )
        for who in entry.get("issued_by") or []:
            node.add(label(("issued by ", "dim"), (who, "green")))
    return tree


def dropped_text(record: dict[str, t.Any]) -> Text | None:
    """What the capture caps left out, if anything."""
    dropped = record.get("capture_dropped")
    if not isinstance(dropped, dict) or not dropped:
        return None
    parts = ", ".join(f"{name} {count}" for name, count in dropped.items())
    return label(("capture caps reached, left out: ", "yellow"), (parts, ""))


def tail_suffix(record: t.Mapping[str, t.Any]) -> str | None:
    """``3q 1.2 ms`` (query count and time) for a ``tail``/``serve`` line."""
    queries = record.get("queries")
    if not isinstance(queries, dict) or not isinstance(queries.get("count"), int):
        return None
    text = f"{queries['count']}q {format_ms(queries.get('total_ms'))}"
    if queries.get("duplicated"):
        text += f" ({queries['duplicated']} dup)"
    return text


def profile_tree(node: dict[str, t.Any]) -> Tree:
    """A hook's profiled call tree (``trace --profile``)."""
    head = label(("profile ", "bold magenta"))
    head.append_text(_call(node))
    tree = Tree(head, guide_style="dim")
    _calls(tree, node, 0)
    return tree


def _call(node: dict[str, t.Any]) -> Text:
    text = label((f"{format_ms(node.get('ms'))} ", "yellow"), (node.get("function") or "?", ""))
    if node.get("file"):
        text.append_text(label((f"  {node['file']}:{node.get('line')}", "dim")))
    return text


def _calls(tree: Tree, node: dict[str, t.Any], depth: int) -> None:
    for child in node.get("children") or []:
        if isinstance(child, dict) and depth < 40:
            _calls(tree.add(_call(child)), child, depth + 1)
