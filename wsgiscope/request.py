"""Request specs: from command-line words to a WSGI environ.

This module owns how a request is described on the command line and how it
becomes the environ an app receives. The words follow HTTPie::

    wsgiscope trace [APP] [METHOD] PATH [ITEM ...]

    Header:value       a request header (``Header:`` removes it, ``Header;`` sends it empty,
                       ``Header:@file`` reads the value from a file)
    name==value        a query-string parameter, added to any in PATH (``name==@file``)
    field=value        a JSON string field (a form field with --form); ``field=@file``
                       reads the text from a file
    field:=<json>      a raw JSON value: ``n:=3``, ``tags:='["a","b"]'``; ``field:=@file``
    a[b]=c, a[]=1      nested JSON (HTTPie 3's syntax, :mod:`wsgiscope.nested_json`)
    field@path         a file upload (multipart form); ``field@path;type=image/png``
    @path              the request body, read from a file

This is HTTPie's grammar: the first unescaped separator wins, the longest at
the same position (``:=@`` over ``:=`` over ``:``); a backslash escapes a
separator character (``a\\=b=c`` is the field ``a=b``). METHOD defaults to
GET, or POST when the request has a body. Fields are sent as a JSON object,
as HTTPie sends them (with its ``Accept: application/json, */*;q=0.5``),
unless ``--form`` is given; a file upload makes the request a multipart form
(HTTPie asks for ``--form`` there; nothing else could be meant).

:func:`split_target` tells APP, METHOD and PATH apart by their shape,
:func:`parse_request` turns words into a :class:`RequestSpec`, and
:func:`build_environ` builds the environ with werkzeug's ``EnvironBuilder``,
with the base URL the app's framework's own test client would use (for
Flask: ``SERVER_NAME``, ``APPLICATION_ROOT``, ``PREFERRED_URL_SCHEME``), so
a trace gets the answer a test would. Every malformed word is a
:class:`~wsgiscope.errors.UsageError` that names it.

.. versionadded:: 0.1
"""

from __future__ import annotations

import dataclasses
import io
import json
import mimetypes
import os
import re
import typing as t
from pathlib import Path
from urllib.parse import unquote, urlencode, urlsplit

from wsgiscope.errors import UsageError

BodyMode = t.Literal["auto", "form", "json"]

#: Methods recognised in any letter case; any other all-capitals word
#: (``PROPFIND``, ``PURGE``) is taken as a method too.
HTTP_METHODS = frozenset(
    {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT"}
)

#: Item separators (HTTPie's), longest first so that ``:=@`` wins over ``:=``
#: and ``:`` at the same position.
SEPARATORS = (":=@", "==@", ":=", "==", "=@", ":@", ":", "=", "@", ";")

#: The kinds of item :func:`parse_item` returns, keyed by separator.
ITEM_KINDS = {
    ":": "header",
    ";": "header",
    ":@": "header",
    "==": "query",
    "==@": "query",
    "=": "field",
    "=@": "field",
    ":=": "json",
    ":=@": "json",
    "@": "file",
}
#: Separators whose value names a file to read the value from.
EMBED_SEPARATORS = frozenset({":@", "==@", "=@", ":=@"})
#: The Accept header HTTPie sends with a JSON body.
JSON_ACCEPT = "application/json, */*;q=0.5"

_TOKEN = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")
_CUSTOM_METHOD = re.compile(r"^[A-Z][A-Z_-]*$")

#: The header a request gets unless an item sets one.
USER_AGENT = "wsgiscope"


@dataclasses.dataclass(frozen=True)
class RequestItem:
    """One parsed request item.

    :param kind: ``"header"``, ``"query"``, ``"field"``, ``"json"``,
        ``"file"`` (upload ``name@path``) or ``"body"`` (``@path``).
    :param name: header, parameter or field name (``""`` for ``"body"``).
    :param value: the value: text, a decoded JSON value for ``"json"``,
        ``None`` for a header to remove (``Header:``), or the file path for
        ``"file"``, ``"body"`` and embedded values.
    :param raw: the item as the user typed it, for messages.
    :param embed: the value is read from the file ``value`` names
        (``=@``, ``:=@``, ``:@``, ``==@``).
    :param content_type: an upload's ``;type=`` (else guessed from its name).
    """

    kind: str
    name: str
    value: t.Any
    raw: str
    embed: bool = False
    content_type: str | None = None


@dataclasses.dataclass
class Upload:
    """A file to upload as a multipart form field."""

    filename: str
    content: bytes
    content_type: str


@dataclasses.dataclass
class RequestSpec:
    """A request to build, independent of any app.

    :param path: the path, possibly with a query string; or a full URL
        (``https://example.com/x``), whose scheme and host then win over the
        app's defaults.
    :param method: the method, or ``None`` for GET or POST (with a body).
    :param headers: ``(name, value)`` pairs in the order given; a ``None``
        value removes the header (defaults included), as HTTPie's ``Header:``.
    :param query: query parameters added to those in ``path``.
    :param fields: form or JSON fields; values are text, or any JSON value
        from ``:=`` items.
    :param uploads: file fields for a multipart form.
    :param body: a raw body (``@path`` or ``--raw``), exclusive of fields.
    :param body_name: the file the body came from, to guess its type.
    :param mode: how fields are encoded: ``"form"`` (``--form``),
        ``"json"`` or ``"auto"`` (JSON, as HTTPie; a multipart form when
        there are uploads).
    :param json_fields: whether a field came from a ``:=`` item.
    """

    path: str = "/"
    method: str | None = None
    headers: list[tuple[str, str | None]] = dataclasses.field(default_factory=list)
    query: list[tuple[str, str]] = dataclasses.field(default_factory=list)
    fields: list[tuple[str, t.Any]] = dataclasses.field(default_factory=list)
    uploads: list[tuple[str, Upload]] = dataclasses.field(default_factory=list)
    body: bytes | None = None
    body_name: str | None = None
    mode: BodyMode = "auto"
    json_fields: bool = False

    @property
    def has_body(self) -> bool:
        """Whether the request carries a body (fields, uploads or raw)."""
        return bool(self.fields or self.uploads or self.body is not None)

    @property
    def effective_method(self) -> str:
        """The method sent: the given one, else POST with a body, else GET."""
        if self.method:
            return self.method
        return "POST" if self.has_body else "GET"

    @property
    def encoding(self) -> t.Literal["json", "form", "multipart", "raw", "none"]:
        """How the body is encoded."""
        if self.body is not None:
            return "raw"
        if self.uploads:
            return "multipart"
        if not self.fields:
            return "none"
        return "form" if self.mode == "form" else "json"


def is_method(word: str) -> bool:
    """Whether ``word`` looks like an HTTP method (``GET``, ``get``, ``PURGE``)."""
    return word.upper() in HTTP_METHODS or bool(_CUSTOM_METHOD.match(word))


def is_path(word: str) -> bool:
    """Whether ``word`` looks like a request path or an absolute http(s) URL."""
    return word.startswith("/") or word.lower().startswith(("http://", "https://"))


def split_target(
    words: t.Sequence[str], *, app_allowed: bool = True
) -> tuple[str | None, str | None, str, list[str]]:
    """Split ``[APP] [METHOD] PATH [ITEM ...]`` by the shape of each word.

    PATH starts with ``/`` (or is an ``http(s)://`` URL); METHOD is an HTTP
    method word; APP is the word before them that is neither, or an absolute
    path to an existing ``.py`` file followed by a PATH.

    :returns: ``(app, method, path, items)``; ``method`` is upper-cased.
    :raises UsageError: when there is no PATH or a word is out of place.
    """
    words = list(words)
    app: str | None = None
    method: str | None = None
    for position, word in enumerate(words):
        if is_path(word) and not (
            app is None
            and method is None
            and app_allowed
            and _is_app_file(word, words[position + 1 :])
        ):
            return app, method, word, words[position + 1 :]
        if method is None and is_method(word):
            method = word.upper()
            continue
        if app is None and method is None and app_allowed:
            app = word
            continue
        hint = f"did you mean '/{word}'?" if word and not _looks_like_item(word) else None
        raise UsageError(
            f"expected a PATH starting with '/', got {word!r}",
            hint=hint or "the order is [APP] [METHOD] PATH [ITEM ...]",
        )
    raise UsageError(
        "no PATH given",
        hint="the order is [APP] [METHOD] PATH [ITEM ...], e.g. 'app:app GET /users'",
    )


def _is_app_file(word: str, rest: list[str]) -> bool:
    """An absolute ``/path/to/app.py[:attr]`` naming a file, with a PATH after it."""
    found = re.match(r"^(/.*\.py)(:.*)?$", word)
    return bool(found and rest and any(map(is_path, rest)) and Path(found.group(1)).is_file())


def _looks_like_item(word: str) -> bool:
    return _find_separator(word) is not None


def _find_separator(item: str) -> tuple[int, str] | None:
    """Position and separator of the first unescaped separator in ``item``."""
    position = 0
    while position < len(item):
        if item[position] == "\\":
            position += 2
            continue
        for separator in SEPARATORS:
            if item.startswith(separator, position):
                return position, separator
        position += 1
    return None


def _unescape(text: str) -> str:
    """Drop the backslash before an escaped separator character (``:=@;``),
    as HTTPie does; other backslashes stay (nested JSON names read them)."""
    return re.sub(r"\\([:=@;])", r"\1", text)


def parse_item(item: str) -> RequestItem:
    """Parse one HTTPie-style request item.

    :raises UsageError: for an item with no separator, an empty or invalid
        name, a header value with a line break, or bad JSON after ``:=``.
    """
    if item.startswith("@"):
        if len(item) == 1:
            raise UsageError("'@' needs a file name: '@body.json'")
        return RequestItem("body", "", item[1:], item)
    found = _find_separator(item)
    if found is None:
        raise UsageError(
            f"request item {item!r} is not Header:value, name==value, field=value, "
            "field:=json, field@file or @file",
            hint="quote items with spaces; PATH must start with '/'",
        )
    position, separator = found
    name, value = _unescape(item[:position]), item[position + len(separator) :]
    kind = ITEM_KINDS[separator]
    _check_item(item, name, kind, separator)
    if separator in EMBED_SEPARATORS:
        if not value:
            raise UsageError(f"request item {item!r} needs a file name after {separator!r}")
        header = _header_name(name, item) if kind == "header" else name
        return RequestItem(kind, header, _unescape(value), item, embed=True)
    if separator == ";":
        if value:
            raise UsageError(
                f"invalid item {item!r}: to send an empty header use '{name};'",
                hint=f"for a value, use '{name}:{value}'",
            )
        return RequestItem(kind, _header_name(name, item), "", item)
    if kind == "header":
        header = _header_name(name, item)
        if not value.strip(" \t"):
            return RequestItem(kind, header, None, item)  # Header: removes it (HTTPie)
        return RequestItem(kind, header, _header_value(value, item), item)
    if kind == "json":
        try:
            decoded = json.loads(value)
        except ValueError as exc:
            raise UsageError(
                f"invalid JSON in {shown_item(item)!r}: {exc}",
                hint=f"quote strings inside the JSON: {name}:='\"text\"', or use {name}=text",
            ) from None
        return RequestItem(kind, name, decoded, item)
    if kind == "file":
        path, _, mime = value.partition(";type=")
        if not path:
            raise UsageError(f"upload item {item!r} needs a file name after '@'")
        return RequestItem(kind, name, path, item, content_type=mime or None)
    return RequestItem(kind, name, _unescape(value), item)


def _check_item(item: str, name: str, kind: str, separator: str) -> None:
    """An item's text is UTF-8 (a file name may be any bytes) and it has a name."""
    if kind != "file":
        _require_text("request item", item)
    if not name:
        raise UsageError(f"request item {item!r} has no name before {separator!r}")


def shown_item(item: str) -> str:
    """``item`` for an error message: the value of a secret-named one
    (``password:=...``, ``Authorization:...``) redacted."""
    from wsgiscope.redact import REDACTED, is_secret_field, is_secret_header

    found = _find_separator(item)
    if found is None:
        return item
    position, separator = found
    name = _unescape(item[:position])
    if is_secret_field(name) or (ITEM_KINDS[separator] == "header" and is_secret_header(name)):
        return f"{item[: position + len(separator)]}{REDACTED}"
    return item


def _header_name(name: str, item: str) -> str:
    if not _TOKEN.match(name):
        raise UsageError(
            f"invalid header name {name!r} in {shown_item(item)!r}",
            hint="header names are letters, digits and !#$%&'*+-.^_`|~ only",
        )
    return name


def _header_value(value: str, item: str) -> str:
    if "\r" in value or "\n" in value or "\x00" in value:
        raise UsageError(
            f"header value in {shown_item(item)!r} contains a line break or NUL",
            hint="HTTP header values are one line",
        )
    try:
        value.encode("latin-1")
    except UnicodeEncodeError:
        # What a server hands the app for a UTF-8 header: its bytes as latin-1.
        value = value.encode("utf-8").decode("latin-1")
    return value.strip(" \t")


def parse_request(
    path: str,
    items: t.Sequence[str] = (),
    *,
    method: str | None = None,
    mode: BodyMode = "auto",
    raw: str | bytes | None = None,
    base_dir: Path | None = None,
) -> RequestSpec:
    """Build a :class:`RequestSpec` from PATH and request items.

    :param path: the request path (or absolute URL).
    :param items: HTTPie-style items (see the module doc).
    :param method: the method, or ``None`` for GET/POST by body.
    :param mode: ``"json"`` (``--json``), ``"form"`` (``--form``) or
        ``"auto"``.
    :param raw: a raw body (``--raw``), exclusive of fields and ``@file``.
    :param base_dir: where relative file names are read from (the current
        directory by default).
    :raises UsageError: for malformed items, bad JSON, missing files, or
        a body given twice.
    """
    if not is_path(path):
        raise UsageError(f"PATH must start with '/', got {path!r}", hint=f"try '/{path}'")
    _require_text("PATH", path)
    path, credentials = checked_url(path)
    spec = RequestSpec(path=path, method=method.upper() if method else None, mode=mode)
    for item in map(parse_item, items):
        if item.embed:
            item = _embedded(item, base_dir)
        _require_text("request item", item.name)
        if item.kind == "header":
            spec.headers.append((item.name, item.value))
        elif item.kind == "query":
            spec.query.append((item.name, item.value))
        elif item.kind in ("field", "json"):
            spec.fields.append((item.name, item.value))
            spec.json_fields = spec.json_fields or item.kind == "json"
        elif item.kind == "file":
            if mode == "json":
                raise UsageError(
                    f"file upload {item.raw!r} needs a form, not --json-body",
                    hint="drop --json-body: an upload makes the request a multipart form",
                )
            content = _read_file(item.value, base_dir, item.raw)
            kind = item.content_type or _guess_type(item.value)
            spec.uploads.append((item.name, Upload(Path(item.value).name, content, kind)))
        else:
            if spec.body is not None:
                raise UsageError(f"the body is given twice ({item.raw!r})")
            spec.body = _read_file(item.value, base_dir, item.raw)
            spec.body_name = item.value
    if credentials is not None and not any(n.lower() == "authorization" for n, _ in spec.headers):
        spec.headers.append(("Authorization", credentials))
    if raw is not None:
        if spec.body is not None:
            raise UsageError("--raw and an @file body cannot be combined")
        # bytes that are not UTF-8 in argv are sent as they were given
        spec.body = raw.encode("utf-8", "surrogateescape") if isinstance(raw, str) else raw
    if spec.body is not None and (spec.fields or spec.uploads):
        raise UsageError(
            "a raw body (--raw or @file) cannot be combined with field items",
            hint="send the fields inside the body, or drop the body",
        )
    if spec.uploads or mode == "form":
        # a form carries text: JSON numbers and booleans become their text,
        # objects and arrays cannot be carried (HTTPie's rule)
        spec.fields = [(name, _form_value(name, value, spec)) for name, value in spec.fields]
    return spec


def _form_value(name: str, value: t.Any, spec: RequestSpec) -> str:
    if isinstance(value, str):
        return value
    if value is None or isinstance(value, (list, dict)):
        why = "a file upload" if spec.uploads else "--form"
        raise UsageError(
            f"field {name!r}: a JSON {type(value).__name__ if value is not None else 'null'} "
            f"cannot be sent in a form ({why})",
            hint="as in HTTPie: complex JSON values need a JSON body"
            + ("" if spec.uploads else " (drop --form)"),
        )
    return json.dumps(value)


def _embedded(item: RequestItem, base_dir: Path | None) -> RequestItem:
    """An ``=@``/``:=@``/``:@``/``==@`` item with the file's content as its value."""
    content = _read_file(item.value, base_dir, item.raw)
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError:
        raise UsageError(
            f"{item.raw!r}: {item.value!r} is not a UTF-8 text file",
            hint="upload binary files with field@file, or send them as the body with @file",
        ) from None
    if item.kind == "json":
        try:
            value: t.Any = json.loads(text)
        except ValueError as exc:
            raise UsageError(f"{item.raw!r}: {item.value!r} is not JSON: {exc}") from None
    elif item.kind == "header":
        value = _header_value(text.rstrip("\n"), item.raw)
    elif item.kind == "query":
        value = text.rstrip("\n")
    else:
        value = text
    return dataclasses.replace(item, value=value, embed=False)


def _require_text(what: str, value: str) -> None:
    """Refuse an argument holding bytes that are not UTF-8 (Python gives
    them to us as lone surrogates, which no request can carry)."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        given = value.encode("utf-8", "surrogateescape")
        raise UsageError(
            f"{what} {given!r} is not valid UTF-8",
            hint="percent-encode bytes in a path or query (%FF); --raw sends bytes as they are",
        ) from None


def checked_url(path: str) -> tuple[str, str | None]:
    """``(path or URL to request, Authorization value or None)``.

    An absolute URL must have a host and a valid port; credentials in it
    (``https://user:pw@host/``) are taken out of the host and become a
    ``Basic`` Authorization header, as curl and HTTPie send them.

    :raises UsageError: for a URL that cannot be requested.
    """
    if path.startswith("/"):
        return path, None
    try:
        url = urlsplit(path)
        port = url.port
    except ValueError as exc:  # a bad IPv6 address, a port out of range
        raise UsageError(f"invalid URL {path!r}: {exc}") from None
    if not url.hostname:
        raise UsageError(
            f"the URL {path!r} has no host", hint="e.g. http://localhost/x, or the path alone: /x"
        )
    if "@" not in url.netloc:
        return path, None
    import base64

    host = url.hostname if ":" not in url.hostname else f"[{url.hostname}]"
    netloc = host if port is None else f"{host}:{port}"
    userinfo = f"{unquote(url.username or '')}:{unquote(url.password or '')}"
    token = base64.b64encode(userinfo.encode("utf-8")).decode("ascii")
    return url._replace(netloc=netloc).geturl(), f"Basic {token}"


#: The largest file a request item reads (``@file``, ``=@``, ``:=@``, ``field@``).
MAX_FILE_BYTES = 64 << 20


def _read_file(name: str, base_dir: Path | None, item: str) -> bytes:
    path = Path(name).expanduser()
    if not path.is_absolute():
        path = (Path.cwd() if base_dir is None else base_dir) / path
    try:
        # O_NONBLOCK: a FIFO is refused below instead of waiting for a writer
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        with open(fd, "rb") as file:
            import stat

            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode):
                raise UsageError(
                    f"{name!r} (in {item!r}) is not a regular file (a device, FIFO or socket)",
                    hint="give a file; its contents are read whole before the request is sent",
                )
            data = file.read(MAX_FILE_BYTES + 1)
        if len(data) > MAX_FILE_BYTES:
            raise UsageError(
                f"{name!r} (in {item!r}) is larger than {MAX_FILE_BYTES >> 20} MiB",
                hint="a request body read from a file is limited to 64 MiB",
            )
        return data
    except FileNotFoundError:
        raise UsageError(
            f"file not found: {name!r} (in {item!r}, looked in {path.parent})"
        ) from None
    except IsADirectoryError:
        raise UsageError(f"{name!r} (in {item!r}) is a directory, not a file") from None
    except OSError as exc:
        raise UsageError(f"cannot read {name!r} (in {item!r}): {exc.strerror}") from None


def _guess_type(name: str) -> str:
    guessed, _ = mimetypes.guess_type(name)
    return guessed or "application/octet-stream"


def _raw_content_type(spec: RequestSpec) -> str | None:
    """The Content-Type of a raw body given without one (none for no bytes)."""
    if spec.mode == "json":
        return "application/json"
    if spec.mode == "form":
        return "application/x-www-form-urlencoded"
    if spec.body_name is not None:
        return _guess_type(spec.body_name)
    body = spec.body or b""
    if not body:
        return None
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return "application/octet-stream"
    try:
        json.loads(text)
    except ValueError:
        return "text/plain; charset=utf-8"
    return "application/json"


def base_url(app: t.Any = None) -> str:
    """The base URL the app's framework's test client would use.

    Flask (found behind middleware, as the dispatcher's default app too):
    ``PREFERRED_URL_SCHEME://SERVER_NAME/APPLICATION_ROOT``, ``localhost``
    without a ``SERVER_NAME``, as :class:`flask.testing.EnvironBuilder`.
    Django: ``http://testserver/`` as its ``RequestFactory`` when
    ``ALLOWED_HOSTS`` lets that host in, else its first concrete host.
    Anything else: ``http://localhost/``.
    """
    framework, obj = _root_app(app)
    if framework == "flask":
        config = obj.config
        host = config.get("SERVER_NAME") or "localhost"
        root = str(config.get("APPLICATION_ROOT") or "/")
        scheme = config.get("PREFERRED_URL_SCHEME") or "http"
        return f"{scheme}://{host}/{root.lstrip('/')}"
    if framework == "django":
        return f"http://{_django_host()}/"
    return "http://localhost/"


def _root_app(app: t.Any) -> tuple[str | None, t.Any]:
    """The framework app that answers at the root of ``app``, if any."""
    if app is None:
        return None, None
    from wsgiscope.frameworks import framework_of

    framework = framework_of(app)
    if framework in ("flask", "django"):
        return framework, app  # the root of its own structure: nothing to walk
    from wsgiscope.structure import inspect_app

    for prefix, node in inspect_app(app).walk():
        if prefix == "" and node.framework in ("flask", "django"):
            return node.framework, node.obj
    return None, None


def _django_host() -> str:
    try:
        from django.conf import settings

        allowed = list(getattr(settings, "ALLOWED_HOSTS", []) or [])
    except Exception:  # settings not configured: the default host
        return "localhost"
    if not allowed or "*" in allowed or "testserver" in allowed:
        # An empty ALLOWED_HOSTS admits only localhost names under DEBUG.
        return "localhost" if not allowed else "testserver"
    concrete = [h for h in allowed if not h.startswith(".")]
    return concrete[0] if concrete else "localhost"


def build_environ(
    spec: RequestSpec, app: t.Any = None, *, base: str | None = None
) -> dict[str, t.Any]:
    """The WSGI environ for ``spec``, as ``app``'s test client would build it.

    :param spec: the request.
    :param app: the loaded WSGI callable (middleware included), used to find
        the framework's base URL; ``None`` for ``http://localhost/``.
    :param base: the base URL, when already known: :func:`base_url` walks
        the app's structure, so a caller building many environs for one app
        (replay) computes it once.
    """
    from werkzeug.datastructures import Headers, MultiDict
    from werkzeug.test import EnvironBuilder

    path, base = _path_and_base(spec.path, base if base is not None else base_url(app))
    path, _, query_string = path.partition("?")
    extra = urlencode(spec.query)
    query_string = "&".join(part for part in (query_string, extra) if part)

    encoding = spec.encoding
    headers = Headers()
    removed: set[str] = set()
    for name, value in spec.headers:
        if value is None:  # Header: removes it, defaults included (HTTPie)
            headers.remove(name)
            removed.add(name.lower())
        else:
            headers.add(name, value)
            removed.discard(name.lower())
    defaults = {"User-Agent": USER_AGENT}
    if encoding == "json":
        defaults["Accept"] = JSON_ACCEPT
    for name, value in defaults.items():
        if name not in headers and name.lower() not in removed:
            headers[name] = value
    content_type = headers.get("Content-Type")
    kwargs: dict[str, t.Any] = {}
    if encoding == "raw":
        kwargs["data"] = spec.body
        kwargs["content_type"] = content_type or _raw_content_type(spec)
    elif encoding == "json":
        from wsgiscope.nested_json import build_json

        kwargs["data"] = json.dumps(build_json(spec.fields))
        if content_type or "content-type" not in removed:
            kwargs["content_type"] = content_type or "application/json"
    elif encoding in ("form", "multipart"):
        form: MultiDict[str, t.Any] = MultiDict(spec.fields)
        for name, upload in spec.uploads:
            form.add(name, (io.BytesIO(upload.content), upload.filename, upload.content_type))
        kwargs["data"] = form
        if content_type:
            kwargs["content_type"] = content_type
    elif content_type:
        kwargs["content_type"] = content_type
    target = f"{path}?{query_string}" if query_string else path
    # EnvironBuilder's urlsplit reads "//x/y" as host "x" and path "/y" (and
    # fails on "//[x"): such a path is built as "/" and put back below.
    double_slash = path.startswith("//")
    builder = EnvironBuilder(
        # The query stays in the path so REQUEST_URI carries it, as servers do.
        path="/" + target[len(path) :] if double_slash else target,
        base_url=base,
        method=spec.effective_method,
        headers=headers,
        environ_base={"REMOTE_ADDR": "127.0.0.1"},
        **kwargs,
    )
    try:
        environ = builder.get_environ()
    finally:
        builder.close()
    if double_slash:
        # As a server hands them over: PEP 3333's bytes-as-latin-1 strings.
        environ["PATH_INFO"] = unquote(path).encode("utf-8").decode("latin-1")
        environ["REQUEST_URI"] = environ["RAW_URI"] = target.encode("utf-8").decode("latin-1")
    return environ


def _path_and_base(path: str, default_base: str) -> tuple[str, str]:
    """Split an absolute URL into path and base; a path keeps the app's base."""
    if path.startswith("/"):
        return path, default_base
    url = urlsplit(path)
    rest = url.path or "/"
    if url.query:
        rest += "?" + url.query
    return rest, f"{url.scheme}://{url.netloc}/"
