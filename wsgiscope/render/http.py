"""The HTTP side of a trace record, rendered: environ, response, body.

:func:`environ_tree` groups the environ (request line and CGI variables, HTTP
headers, ``wsgi.*``, server and other) and shows a summary or every key;
:func:`response_tree` shows status, headers, size, where capture was
truncated and a body preview (:func:`body_preview`: JSON pretty-printed,
text decoded, binary as a hex dump). The formatting helpers here (sizes,
durations, capped values) are shared with :mod:`wsgiscope.render.lifecycle`.
Values are data: they reach rich only as escaped :class:`~rich.text.Text`.
"""

from __future__ import annotations

import contextlib
import json
import typing as t

from rich.text import Text
from rich.tree import Tree

from wsgiscope.render.console import label
from wsgiscope.render.text import escape_control
from wsgiscope.wsgistr import display_environ_value

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
#: Characters of an exception message shown (the record keeps it whole).
MESSAGE_LIMIT = 1000
#: Lines of body preview shown (all with verbose).
BODY_LINES = 40
#: Characters of one body preview line shown (all with verbose).
BODY_LINE_LIMIT = 1000
#: Bytes shown by the hex dump of a binary body.
HEX_BYTES = 128


def format_size(size: int | float | None) -> str:
    """``1536`` -> ``"1.5 KiB"`` (:func:`wsgiscope.units.format_size`)."""
    from wsgiscope.units import format_size as size_text

    return size_text(size)


def format_ms(value: float | None) -> str:
    """Milliseconds as :func:`wsgiscope.units.format_duration` prints them."""
    from wsgiscope.units import format_duration

    return format_duration(value)


def status_style(status: str | None) -> str:
    """The colour of an HTTP status line."""
    code = (status or "")[:1]
    return {"2": "green", "3": "cyan", "4": "yellow", "5": "bold red"}.get(code, "bold red")


def inline(value: t.Any, limit: int = 0) -> str:
    """A dict as ``key=value ...`` (other values as :func:`short`), capped."""
    if isinstance(value, dict):
        text = " ".join(f"{k}={short(v)}" for k, v in value.items())
    else:
        text = short(value)
    return text if not limit or len(text) <= limit else text[:limit] + "…"


def short(value: t.Any) -> str:
    """Text as is; anything else as compact JSON (or its ``repr``)."""
    if isinstance(value, str):
        return value
    try:
        return json.dumps(value, ensure_ascii=False, default=repr)
    except (TypeError, ValueError):
        return repr(value)


# -- environ ---------------------------------------------------------------------


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
            names = cap(", ".join(key for key, _ in items), limit)
            tree.add(
                label((_GROUP_TITLES[name], "bold"), (f"  {len(items)}  ", "dim"), (names, "dim"))
            )
            continue
        branch = tree.add(heading)
        shown = items
        if not whole and name == "request":
            shown = [item for item in items if item[0] in SUMMARY_REQUEST_KEYS]
        for key, value in shown:
            branch.add(_keystyled_value(key, value, limit, whole))
        if len(shown) < len(items):
            branch.add(Text(f"… {len(items) - len(shown)} more", style="dim"))
    if not environ:
        tree.add(Text("not recorded", style="dim"))
    return tree


def _keystyled_value(key: str, value: t.Any, limit: int, whole: bool = False) -> Text:
    # The request line's WSGI strings (latin-1 decoded bytes) are shown as the
    # framework reads them; the whole environ (-v) adds the string as received.
    shown = display_environ_value(key, value)
    text = label((key, "cyan"), " = ", styled_value(shown, limit))
    if whole and shown != value:
        text.append_text(
            label(("  (as received ", "dim"), (cap(short(value), limit), "dim"), (")", "dim"))
        )
    return text


def styled_value(value: t.Any, limit: int = FULL_VALUE_LIMIT) -> tuple[str, str]:
    """A value and its style: secrets and empty strings stand out as such."""
    if value == "":
        return '""', "dim"
    if value == "[redacted]":
        return "[redacted]", "dim italic"
    return cap(short(value), limit), ""


def cap(text: str, limit: int) -> str:
    """``text`` cut at ``limit`` characters, saying how many were cut."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… [{len(text) - limit} more characters]"


# -- response --------------------------------------------------------------------


def response_tree(
    response: dict[str, t.Any],
    sections: frozenset[str],
    verbose: bool = False,
    max_body: int | None = None,
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
            branch.add(label((name, "cyan"), ": ", styled_value(value)))
    if "meta" in sections:
        tree.add(label(("size ", "bold"), (_size_line(response), "")))
    if response.get("truncated"):
        tree.add(_truncated_line(response, max_body))
    if "body" in sections:
        preview = body_preview(response, verbose)
        if preview is not None:
            tree.add(preview)
    return tree


def request_tree(
    environ: dict[str, t.Any], sections: frozenset[str], body: bytes | None = None
) -> Tree:
    """The request headers (``--print H``) the app received, and the body sent (``B``)."""
    tree = Tree(label(("request", "bold")), guide_style="dim")
    if "request" in sections:
        headers = [
            (key[5:].replace("_", "-").title(), value)
            for key, value in environ.items()
            if key.startswith("HTTP_")
        ]
        for key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
            if environ.get(key):
                headers.append((key.replace("_", "-").title(), environ[key]))
        branch = tree.add(label(("headers", "bold"), (f"  {len(headers)}", "dim")))
        for name, value in headers:
            branch.add(label((name, "cyan"), ": ", styled_value(value)))
    if "request-body" in sections and body:
        # the caller redacted it already (unless --show-secrets)
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            tree.add(label(("body ", "bold"), (f"{len(body)} bytes, binary", "dim")))
        else:
            tree.add(label(("body ", "bold"), (cap(text, FULL_VALUE_LIMIT), "")))
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
    return text_lines(text, verbose)


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


def text_lines(text: str, verbose: bool, limit: int = BODY_LINES) -> Text:
    """``text`` as escaped lines, the first ``limit`` unless ``verbose``, each
    capped at :data:`BODY_LINE_LIMIT` characters unless ``verbose``."""
    lines = text.split("\n")
    if len(lines) > 1 and not lines[-1]:
        lines.pop()  # the final newline ends the last line, it adds none
    shown = lines if verbose else lines[:limit]
    body = Text()
    for index, line in enumerate(shown):
        if index:
            body.append("\n")
        body.append(escape_control(line if verbose else cap(line, BODY_LINE_LIMIT)))
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
