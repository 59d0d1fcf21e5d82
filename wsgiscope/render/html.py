"""``--html FILE``: self-contained HTML reports of ``trace``, ``replay`` and ``lint``.

One file, no network: the CSS is inline, there is no script at all, and a
Content-Security-Policy (``default-src 'none'``) forbids the page to load or
run anything, so even a value that escaped escaping could not act. The page
is built from the very renderables the terminal shows (the rich ``Text``
labels, already escaped and redacted by :mod:`wsgiscope.render`), exported
by rich's HTML exporter, which HTML-escapes every character; values taken
from a record directly (environ, headers, bodies) go through
:func:`~wsgiscope.render.text.escape_control` as on the terminal, then
:func:`html.escape`. Trees become nested ``<details>`` elements: collapsible
with a click, no script needed.
"""

from __future__ import annotations

import html
import io
import os
import typing as t

from rich.console import Console, Group
from rich.terminal_theme import MONOKAI
from rich.tree import Tree

from wsgiscope.render.text import escape_control

if t.TYPE_CHECKING:
    from rich.console import RenderableType

    from wsgiscope.lint.runner import LintReport
    from wsgiscope.render.trace import RenderOptions

#: Nodes deeper than this start closed.
OPEN_DEPTH = 3
#: Characters of a body shown in a report.
BODY_LIMIT = 64 * 1024

_CSS = """
:root { color-scheme: dark; }
body { background: #272822; color: #f8f8f2; margin: 1.5em;
  font: 14px/1.45 ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
h1 { font-size: 1.2em; margin: 0 0 .8em; } h2 { font-size: 1.05em; margin: 1.6em 0 .5em;
  border-bottom: 1px solid #555; }
details { margin-left: 1.2em; } details > summary { cursor: pointer; margin-left: -1.2em; }
.leaf { margin-left: 1.2em; } .kids { border-left: 1px dotted #666; padding-left: .3em; }
.line { white-space: pre-wrap; overflow-wrap: anywhere; display: block; }
summary .line, h1 .line { display: inline; }
table { border-collapse: collapse; margin: .3em 0; }
td, th { border: 1px solid #444; padding: .15em .5em; vertical-align: top; text-align: left;
  white-space: pre-wrap; overflow-wrap: anywhere; max-width: 70em; }
th { background: #333; } td.num { text-align: right; }
pre { white-space: pre-wrap; overflow-wrap: anywhere; background: #1e1f1c; padding: .5em;
  margin: .3em 0; }
.muted { color: #999; } a { color: #66d9ef; }
svg text { font: 11px ui-monospace, monospace; fill: #f8f8f2; }
"""


class HtmlBuilder:
    """Rich renderables to HTML fragments, and the page around them."""

    def __init__(self, width: int = 160) -> None:
        self.console = Console(
            record=True,
            file=io.StringIO(),
            width=width,
            color_system="truecolor",
            force_terminal=True,
            emoji=False,
            highlight=False,
            markup=False,
            legacy_windows=False,
        )

    def fragment(self, renderable: RenderableType, tag: str = "div") -> str:
        """``renderable`` as the terminal draws it, HTML-escaped with inline colours."""
        self.console.print(renderable)
        code = self.console.export_html(theme=MONOKAI, inline_styles=True, code_format="{code}")
        return f'<{tag} class="line">{code.rstrip()}</{tag}>'

    def tree(self, tree: Tree, depth: int = 0, extra: str = "") -> str:
        """A rich tree as nested ``<details>``; deep nodes start closed."""
        head = self.fragment(tree.label, "span") + extra
        if not tree.children:
            return f'<div class="leaf">{head}</div>'
        opened = " open" if depth < OPEN_DEPTH else ""
        kids = "".join(self.tree(child, depth + 1) for child in tree.children)
        return f'<details{opened}><summary>{head}</summary><div class="kids">{kids}</div></details>'

    def any(self, renderable: RenderableType) -> str:
        """Trees collapsible, groups part by part, anything else as drawn."""
        if isinstance(renderable, Tree):
            return self.tree(renderable)
        if isinstance(renderable, Group):
            return "".join(self.any(part) for part in renderable.renderables)
        return self.fragment(renderable)


def text(value: t.Any) -> str:
    """A value from the app or the request, escaped as on the terminal, then for HTML."""
    return html.escape(escape_control(str(value)), quote=True)


def page(title: str, body: str) -> str:
    """The whole document."""
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">\n'
        '<meta http-equiv="Content-Security-Policy" '
        "content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:\">\n"
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{text(title)}</title>\n<style>{_CSS}</style></head>\n"
        f"<body>\n{body}\n</body></html>\n"
    )


def table(headings: t.Sequence[str], rows: t.Iterable[t.Sequence[t.Any]], cls: str = "") -> str:
    """An HTML table; every cell escaped."""
    head = "".join(f"<th>{text(h)}</th>" for h in headings)
    body = "".join(
        "<tr>" + "".join(f"<td>{text(cell)}</td>" for cell in row) + "</tr>" for row in rows
    )
    return f'<table class="{cls}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def write_html(path: str, document: str) -> None:
    """Write ``document`` to ``path`` whole (a temporary file renamed into place).

    :raises UsageError: when it cannot be written.
    """
    from wsgiscope.errors import UsageError

    temporary = f"{path}.{os.getpid()}.tmp"
    try:
        with open(temporary, "w", encoding="utf-8") as stream:
            stream.write(document)
        os.replace(temporary, path)
    except OSError as exc:
        raise UsageError(
            f"cannot write the HTML report {path}: {exc.strerror or exc}",
            hint="check the directory exists and is writable",
        ) from None
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)


# -- trace ---------------------------------------------------------------------


def timeline_svg(record: t.Mapping[str, t.Any], width: int = 1000) -> str:
    """The request's contexts and hooks as nested bars, signals as ticks."""
    from wsgiscope.export.chrome import request_events

    events = request_events(record, 1, 1, 0)
    slices = [e for e in events if e["ph"] == "X"]
    instants = [e for e in events if e["ph"] == "i"]
    total = max([s["ts"] + s["dur"] for s in slices] + [e["ts"] for e in instants] + [1])
    scale = (width - 20) / total
    rows: list[tuple[int, dict[str, t.Any]]] = []
    stack: list[dict[str, t.Any]] = []
    for item in slices:  # already sorted by start, longest first
        while stack and item["ts"] >= stack[-1]["ts"] + stack[-1]["dur"]:
            stack.pop()
        rows.append((len(stack), item))
        stack.append(item)
    depth = max([d for d, _ in rows] + [0]) + 1
    row_height = 20
    height = depth * row_height + 34
    colours = {"request": "#75715e", "context": "#66d9ef", "hook": "#a6e22e"}
    parts = [
        f'<svg class="timeline" xmlns="http://www.w3.org/2000/svg" width="{width}" '
        f'height="{height}" role="img" aria-label="timeline">'
    ]
    for level, item in rows:
        x = 10 + item["ts"] * scale
        w = max(item["dur"] * scale, 1.5)
        y = 4 + level * row_height
        label = f"{item['name']}  {item['dur'] / 1000:.3f} ms @{item['ts'] / 1000:.3f} ms"
        colour = colours.get(item["cat"], "#fd971f")
        parts.append(
            f'<g><title>{text(label)}</title><rect x="{x:.1f}" y="{y}" width="{w:.1f}" '
            f'height="{row_height - 3}" rx="2" fill="{colour}" fill-opacity="0.55"/>'
        )
        if w > 60:
            shown = text(str(item["name"])[: int(w / 7)])
            parts.append(f'<text x="{x + 3:.1f}" y="{y + 13}">{shown}</text>')
        parts.append("</g>")
    base = depth * row_height + 8
    for item in instants:
        x = 10 + item["ts"] * scale
        parts.append(
            f"<g><title>{text(item['name'])} @{item['ts'] / 1000:.3f} ms</title>"
            f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{base}" y2="{base + 10}" stroke="#f92672"/></g>'
        )
    parts.append(
        f'<text x="10" y="{height - 2}" class="muted">0 ms</text>'
        f'<text x="{width - 80}" y="{height - 2}">{total / 1000:.3f} ms</text></svg>'
    )
    return "".join(parts)


def _body(value: t.Any, encoding: t.Any) -> str:
    shown = str(value or "")
    note = ""
    if len(shown) > BODY_LIMIT:
        shown, note = shown[:BODY_LIMIT], f" (first {BODY_LIMIT:,} characters shown)"
    kind = " base64" if encoding == "base64" else ""
    lines = "\n".join(text(line) for line in shown.split("\n"))
    size = f"{len(str(value or '')):,} characters{kind}{note}"
    return f'<pre>{lines}</pre><div class="muted">{size}</div>'


def trace_report(record: dict[str, t.Any], options: RenderOptions | None = None) -> str:
    """The HTML report of one trace record."""
    from wsgiscope.render.lifecycle import lifecycle_tree
    from wsgiscope.render.trace import (
        RenderOptions,
        error_heading,
        error_renderable,
        header_line,
        lint_tree,
        log_tree,
    )

    options = options or RenderOptions()
    builder = HtmlBuilder()
    parts = [f"<h1>{builder.fragment(header_line(record, options.app_label), 'span')}</h1>"]
    parts.append("<h2>Lifecycle</h2>")
    parts.append(
        builder.tree(lifecycle_tree(record.get("events") or [], options.sections, options.verbose))
    )
    parts.append("<h2>Timeline</h2>" + timeline_svg(record))
    if record.get("lint"):
        parts.append("<h2>PEP 3333</h2>" + builder.tree(lint_tree(record["lint"])))
    request = record.get("request") or {}
    parts.append("<h2>Request</h2>")
    parts.append(
        table(
            ["field", "value"],
            [(k, v) for k, v in request.items() if k not in ("body", "body_encoding")],
        )
    )
    if "body" in request:
        parts.append(_body(request.get("body"), request.get("body_encoding")))
    environ = record.get("environ") or {}
    parts.append(f"<h2>Environ ({len(environ)} keys)</h2>")
    parts.append(table(["key", "value"], sorted(environ.items())))
    response = record.get("response") or {}
    parts.append("<h2>Response</h2>")
    parts.append(
        table(
            ["field", "value"],
            [
                (k, v)
                for k, v in response.items()
                if k not in ("headers", "body_preview", "body_encoding")
            ],
        )
    )
    parts.append(table(["header", "value"], response.get("headers") or []))
    parts.append(_body(response.get("body_preview"), response.get("body_encoding")))
    extra: list[RenderableType] = []
    if options.log:
        extra.append(log_tree(options.log, options.verbose))
    error = record.get("error")
    if error:
        extra.append(error_heading(error, response, options.interrupted))
        extra.append(error_renderable(error, options))
    if extra:
        parts.append("<h2>Error</h2>" + "".join(builder.any(part) for part in extra))
    title = header_line(record).plain
    return page(f"wsgiscope trace: {title}", "\n".join(parts))


# -- lint ----------------------------------------------------------------------


def lint_report(report: LintReport, app_label: str = "") -> str:
    """The HTML report of a lint run: findings by rule, each linked to its explanation."""
    from wsgiscope.lint.rules import get_rule
    from wsgiscope.render.lint import render_explain, render_summary, rule_tree

    builder = HtmlBuilder()
    parts = [f"<h1>wsgiscope lint {text(app_label)}</h1>"]
    explained = []
    for rule_id, findings in report.by_rule():
        rule = get_rule(rule_id)
        tree = rule_tree(rule, findings)
        anchor = f"explain-{rule.id}"
        link = f' <a href="#{text(anchor)}">explanation</a>'
        parts.append(builder.tree(tree, extra=link))
        explained.append(rule)
    parts.append(builder.any(render_summary(report)))
    if explained:
        parts.append("<h2>Explanations</h2>")
        for rule in explained:
            explanation = builder.any(render_explain(rule))
            parts.append(f'<section id="explain-{text(rule.id)}">{explanation}</section>')
    return page(f"wsgiscope lint {app_label}".strip(), "\n".join(parts))


# -- replay --------------------------------------------------------------------


def histogram_svg(buckets: t.Sequence[t.Sequence[float]], width: int = 600) -> str:
    """Request counts per latency bucket as horizontal bars."""
    if not buckets:
        return '<div class="muted">no latencies measured</div>'
    largest = max(count for _, count in buckets) or 1
    row = 18
    parts = [
        f'<svg class="histogram" xmlns="http://www.w3.org/2000/svg" width="{width}" '
        f'height="{len(buckets) * row + 4}" role="img" aria-label="latency histogram">'
    ]
    for index, (bound, count) in enumerate(buckets):
        y = 2 + index * row
        w = (width - 220) * count / largest
        parts.append(
            f'<text x="0" y="{y + 12}">≤ {bound:,.3f} ms</text>'
            f'<rect x="120" y="{y}" width="{w:.1f}" height="{row - 4}" fill="#66d9ef"/>'
            f'<text x="{125 + w:.1f}" y="{y + 12}">{int(count):,}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def replay_report(
    summaries: t.Sequence[dict[str, t.Any]], notes: t.Any = None, app_label: str = ""
) -> str:
    """The HTML report of a replay: each mode's summary, findings, latency histogram
    and per-request table."""
    from wsgiscope.render.replay import render_summary

    builder = HtmlBuilder()
    parts = [f"<h1>wsgiscope replay {text(app_label)}</h1>"]
    for summary in summaries:
        parts.append(f"<h2>{text(summary.get('label', 'replay'))}</h2>")
        # the terminal's summary without its text histogram: drawn below
        parts.append(builder.any(render_summary({**summary, "histogram": []}, notes)))
        parts.append("<h3>Latency histogram</h3>" + histogram_svg(summary.get("histogram") or []))
        endpoints = summary.get("endpoints") or []
        if endpoints:
            parts.append("<h3>Per request</h3>")
            rows = [
                (e["request"], f"{e['requests']:,}", f"{e['errors']:,}", e["mean_ms"], e["max_ms"])
                for e in endpoints
            ]
            parts.append(table(["request", "requests", "errors", "mean ms", "max ms"], rows))
    return page(f"wsgiscope replay {app_label}".strip(), "\n".join(parts))
