"""Shell completion of values: endpoints for ``url``, rules for ``lint``,
record files for ``tail``.

click asks these while the user presses TAB (``wsgiscope completion bash``
installs the hook). They never print and never fail: whatever goes wrong
(no app, an app that raises while importing) completes nothing.
"""

from __future__ import annotations

import contextlib
import io
import os

import click
from click.shell_completion import CompletionItem


def complete_endpoints(
    ctx: click.Context, param: click.Parameter, incomplete: str
) -> list[CompletionItem]:
    """Endpoint names of the app (``url [APP] ENDPOINT``), loaded as the command would."""
    given = [w for w in (ctx.params.get("arguments") or ()) if w]
    if len(given) >= 2 or any("=" in w for w in given):
        return []  # ENDPOINT is given: values follow (NAME=VALUE)
    app_word = given[0] if given else None
    try:
        with (
            contextlib.redirect_stdout(io.StringIO()),
            contextlib.redirect_stderr(io.StringIO()),
        ):
            from wsgiscope.loading import load_app, resolve_app_ref
            from wsgiscope.routing import discover_routes

            loaded = load_app(resolve_app_ref(app_word, ctx.params.get("app_option")))
            routes = discover_routes(loaded.app)
    except BaseException:  # completing must never fail, whatever the app does
        return []
    names: list[str] = []
    for route in routes:
        endpoint = route.to_json().get("endpoint")
        if isinstance(endpoint, str) and endpoint.startswith(incomplete) and endpoint not in names:
            names.append(endpoint)
    return [CompletionItem(name) for name in sorted(names)]


def complete_rules(
    ctx: click.Context, param: click.Parameter, incomplete: str
) -> list[CompletionItem]:
    """Lint rule ids and names (``lint --explain`` / ``--ignore``)."""
    from wsgiscope.lint.rules import RULES

    found = []
    for rule in RULES:
        for key in (rule.id, rule.name):
            if key.lower().startswith(incomplete.lower()):
                found.append(CompletionItem(key, help=rule.summary))
    return found


def complete_record_files(
    ctx: click.Context, param: click.Parameter, incomplete: str
) -> list[CompletionItem]:
    """Trace record files (``*.jsonl``) and directories; ``-`` for standard input."""
    directory, _, prefix = incomplete.rpartition("/")
    base = directory or "."
    items: list[CompletionItem] = []
    if not incomplete:
        items.append(CompletionItem("-", help="standard input"))
    try:
        entries = sorted(os.scandir(base), key=lambda e: e.name)
    except OSError:
        return items
    for entry in entries:
        if not entry.name.startswith(prefix) or (entry.name.startswith(".") and not prefix):
            continue
        path = f"{directory}/{entry.name}" if directory else entry.name
        if entry.is_dir():
            items.append(CompletionItem(path + "/", type="dir"))
        elif entry.name.endswith((".jsonl", ".ndjson", ".json")):
            items.append(CompletionItem(path, type="file"))
    return items
