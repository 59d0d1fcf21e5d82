"""``export curl`` and ``export httpie``: one shell command per record.

Each command sends the recorded request again to ``--base-url`` (default:
the record's own ``scheme://host``): the same method, percent-encoded path
and query, headers and body. Headers a client computes (``Host``,
``Content-Length``, ``Connection``, ``Transfer-Encoding``) are left to it.
A header whose value was redacted in the record cannot be sent: it is
named in a comment above the command instead. A body that is not UTF-8
text is piped in from ``base64 -d``.

Every word is shell-quoted: ``'...'`` for printable text and bash's ANSI-C
``$'...'`` (``\\xHH`` escapes) when the text holds control characters, so
neither the shell nor the terminal showing the script interprets anything
the app or the client sent. The commands are for bash (and zsh).
"""

from __future__ import annotations

import base64
import re
import shlex
import typing as t

from wsgiscope.export import fields

if t.TYPE_CHECKING:
    from wsgiscope.export import ExportOptions, Record

#: Characters that may not appear raw in a script shown in a terminal.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def quote(word: str) -> str:
    """``word`` as one shell word that stays inert in a shell and a terminal."""
    if not _CONTROL.search(word) and word.isprintable():
        return shlex.quote(word)
    out = []
    for char in word:
        if char == "\\":
            out.append("\\\\")
        elif char == "'":
            out.append("\\'")
        elif _CONTROL.match(char) or not char.isprintable():
            data = char.encode("utf-8", "surrogateescape")
            out.append("".join(f"\\x{byte:02x}" for byte in data))
        else:
            out.append(char)
    return "$'" + "".join(out) + "'"


def comment(text: str) -> str:
    """A ``# ...`` line showing ``text`` with control characters escaped."""
    from wsgiscope.render.text import escape_control

    return "# " + escape_control(text)


def _heading(record: t.Mapping[str, t.Any]) -> str:
    code = fields.status_code(record)
    ident = record.get("id") or "?"
    status = f" -> {code}" if code is not None else ""
    return comment(f"{ident}: {fields.method(record)} {fields.target(record)}{status}")


def _notes(record: t.Mapping[str, t.Any], redacted: list[str]) -> list[str]:
    notes = [_heading(record)]
    if redacted:
        notes.append(comment(f"left out, redacted in the record: {', '.join(redacted)}"))
    body = fields.request_body(record)
    if body is not None and body[1]:
        notes.append(comment("the record kept only the first bytes of the body: sent as kept"))
    return notes


def _body_pipe(data: bytes) -> str:
    encoded = base64.b64encode(data).decode("ascii")
    return f"printf '%s' {encoded} | base64 -d | "


def curl_command(record: t.Mapping[str, t.Any], base_url: str | None = None) -> str:
    """The curl command (with its comment lines) that sends ``record``'s request."""
    method = fields.method(record)
    address = fields.url(record, base_url)
    send, redacted = fields.headers_to_send(record)
    words = ["curl"]
    if re.search(r"[\[\]{}]", address):
        words.append("--globoff")  # [] and {} are curl's URL globbing otherwise
    words.append("--path-as-is")  # /../ and /./ as recorded
    if method == "HEAD":
        words.append("--head")
    elif method != "GET":
        words += ["-X", quote(method)]
    words.append(quote(address))
    for name, value in send:
        # "Name;" is curl's way to send an empty header ("Name:" removes it)
        words += ["-H", quote(f"{name}: {value}" if value else f"{name};")]
    body = fields.request_body(record)
    prefix = ""
    if body is not None:
        data = body[0]
        text = _text(data)
        if text is None or text.startswith("@"):
            prefix = _body_pipe(data) if text is None else f"printf '%s' {quote(text)} | "
            words += ["--data-binary", "@-"]
        else:
            words += ["--data-binary", quote(text)]
    return "\n".join([*_notes(record, redacted), prefix + " ".join(words)])


def _text(data: bytes) -> str | None:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


#: The characters of HTTPie's item separators (``:``, ``==``, ``:=``, ``@``...):
#: a backslash before one makes it literal (a backslash itself needs none).
_HTTPIE_SPECIAL = re.compile(r"([:=@;])")


def _httpie_escape(text: str) -> str:
    return _HTTPIE_SPECIAL.sub(r"\\\1", text)


def httpie_command(record: t.Mapping[str, t.Any], base_url: str | None = None) -> str:
    """The HTTPie command (with its comment lines) that sends ``record``'s request."""
    method = fields.method(record)
    address = fields.url(record, base_url)
    send, redacted = fields.headers_to_send(record)
    words = ["http"]
    body = fields.request_body(record)
    prefix = ""
    raw: list[str] = []
    if body is None:
        words.append("--ignore-stdin")
    else:
        text = _text(body[0])
        if text is None:
            prefix = _body_pipe(body[0])  # HTTPie sends what stdin gives
        else:
            words.append("--ignore-stdin")
            raw = ["--raw", quote(text)]
    words += raw
    words += [quote(method), quote(address)]
    for name, value in send:
        # the first unescaped ':' ends the name (';' sends an empty value)
        name = _httpie_escape(name)
        words.append(quote(f"{name}:{_httpie_escape(value)}" if value else f"{name};"))
    return "\n".join([*_notes(record, redacted), prefix + " ".join(words)])


def _write(
    records: t.Iterable[Record],
    out: t.TextIO,
    command: t.Callable[[t.Mapping[str, t.Any], str | None], str],
    base_url: str | None,
) -> int:
    count = 0
    out.write("#!/usr/bin/env bash\n")
    for record in records:
        out.write(command(record, base_url) + "\n")
        count += 1
    return count


def write_curl(records: t.Iterable[Record], out: t.TextIO, options: ExportOptions) -> int:
    """One curl command per record."""
    return _write(records, out, curl_command, options.base_url)


def write_httpie(records: t.Iterable[Record], out: t.TextIO, options: ExportOptions) -> int:
    """One HTTPie command per record."""
    return _write(records, out, httpie_command, options.base_url)
