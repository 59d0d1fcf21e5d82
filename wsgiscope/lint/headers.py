"""Pure checks of a status line and a header list, as start_response got them.

Each function returns ``(rule, message)`` pairs and never raises, whatever
the app passed: the values may be of any type. A header value quoted in a
message is redacted as records redact it (:mod:`wsgiscope.redact`): findings
go into trace records.
"""

from __future__ import annotations

import re
import typing as t

from wsgiscope.lint.findings import safe_repr
from wsgiscope.redact import REDACTED, Redactor, is_secret_header

_REDACTOR = Redactor()

Problem = tuple[str, str]

#: Hop-by-hop headers (RFC 9110 7.6.1, wsgiref.util.is_hop_by_hop) and
#: the non-standard Proxy-Connection.
HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "trailers",
        "transfer-encoding",
        "upgrade",
    }
)

_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_STATUS = re.compile(r"([0-9]{3}) (.*)", re.DOTALL)
# PEP 3333: a header value "must not include any control characters", so
# unlike HTTP (and like wsgiref.validate) a tab is one too.
_CONTROL = re.compile("[\x00-\x1f\x7f]")


def _latin1(value: str) -> bool:
    try:
        value.encode("latin-1")
    except UnicodeEncodeError:
        return False
    return True


def _type_name(value: object) -> str:
    return type(value).__name__


def _not_native(value: object) -> str | None:
    """Why a str subclass is not the native str PEP 3333 asks for (servers
    test ``type(value) is str``, as wsgiref.validate does), or ``None``."""
    if isinstance(value, str) and type(value) is not str:
        return f"is a {_type_name(value)} (a str subclass), not str"
    return None


def status_code(status: object) -> int | None:
    """The code of a status string, or ``None`` if it has none."""
    if isinstance(status, str):
        match = _STATUS.match(status)
        if match:
            return int(match.group(1))
    return None


def check_status(status: object) -> list[Problem]:
    """Problems with the ``status`` argument of start_response."""
    if not isinstance(status, str):
        return [("WSGI203", f"status is {_type_name(status)} {safe_repr(status)}, not str")]
    problems: list[Problem] = []
    subclass = _not_native(status)
    if subclass is not None:
        status = str.__str__(status)
        problems.append(("WSGI203", f"status {safe_repr(status)} {subclass}"))
    if not _latin1(status):
        problems.append(("WSGI208", f"status {safe_repr(status)} is not ISO-8859-1 encodable"))
    match = _STATUS.fullmatch(status)
    if match is None:
        problems.append(("WSGI203", f"status {safe_repr(status)} is not 'NNN Reason'"))
        return problems
    code, reason = int(match.group(1)), match.group(2)
    if not 100 <= code <= 599:
        problems.append(("WSGI203", f"status code {code} is outside 100-599"))
    if _CONTROL.search(status):
        problems.append(("WSGI203", f"status {safe_repr(status)} contains control characters"))
    elif not reason.strip():
        problems.append(("WSGI203", f"status {safe_repr(status)} has no reason phrase"))
    return problems


def check_header_list(headers: object) -> tuple[list[Problem], list[tuple[str, str]]]:
    """Problems with ``response_headers``, and the well-formed pairs in it."""
    if type(headers) is not list:
        problems = [("WSGI204", f"headers are a {_type_name(headers)}, not a list")]
        try:
            items = list(headers)  # type: ignore[call-overload]
        except Exception:
            return problems, []
    else:
        problems, items = [], headers
    pairs: list[tuple[str, str]] = []
    for item in items:
        if type(item) is not tuple or len(item) != 2:
            problems.append(("WSGI204", f"header {safe_repr(item)} is not a (name, value) tuple"))
            if not (isinstance(item, (list, tuple)) and len(item) == 2):
                continue
        name, value = item
        problems.extend(check_header(name, value))
        if isinstance(name, str) and isinstance(value, str):
            pairs.append((str.__str__(name), str.__str__(value)))
    problems.extend(check_content_length(pairs))
    return problems, pairs


def _value_text(name: object, value: object) -> str:
    """A header value quoted for a finding: findings go into trace records and
    reports, so a secret header's value is redacted, and so are the secret
    query parameters of a URL-valued header."""
    if isinstance(name, str) and is_secret_header(name):
        return safe_repr(REDACTED)
    if isinstance(name, str) and isinstance(value, str):
        value = _REDACTOR.headers([(name, value)])[0][1]
    return safe_repr(value)


def check_header(name: object, value: object) -> list[Problem]:
    """Problems with one ``(name, value)`` header."""
    problems: list[Problem] = []
    name_subclass, value_subclass = _not_native(name), _not_native(value)
    name = str.__str__(name) if isinstance(name, str) else name
    value = str.__str__(value) if isinstance(value, str) else value
    if name_subclass is not None:
        problems.append(("WSGI205", f"header name {safe_repr(name)} {name_subclass}"))
    if value_subclass is not None:
        label = safe_repr(name if isinstance(name, str) else safe_repr(name))
        problems.append(
            ("WSGI205", f"value {_value_text(name, value)} of header {label} {value_subclass}")
        )
    if not isinstance(name, str):
        problems.append(
            ("WSGI205", f"header name {safe_repr(name)} is {_type_name(name)}, not str")
        )
    elif not _latin1(name):
        problems.append(("WSGI208", f"header name {safe_repr(name)} is not ISO-8859-1 encodable"))
    elif not _TOKEN.fullmatch(name):
        problems.append(("WSGI206", f"header name {safe_repr(name)} is not an HTTP token"))
    elif name.lower() == "status":
        problems.append(("WSGI206", "'Status' is not a header; pass the status to start_response"))
    elif name.endswith(("-", "_")):
        problems.append(("WSGI206", f"header name {safe_repr(name)} ends in '-' or '_'"))
    elif name.lower() in HOP_BY_HOP:
        problems.append(("WSGI209", f"hop-by-hop header {safe_repr(name)} set by the application"))
    label = name if isinstance(name, str) else safe_repr(name)
    if not isinstance(value, str):
        problems.append(
            (
                "WSGI205",
                f"value of header {safe_repr(label)} is {_type_name(value)} "
                f"{_value_text(name, value)}, not str",
            )
        )
        return problems
    if _CONTROL.search(value):
        problems.append(
            (
                "WSGI207",
                f"header {safe_repr(label)} value {_value_text(name, value)} "
                "contains control characters",
            )
        )
    if not _latin1(value):
        problems.append(
            (
                "WSGI208",
                f"header {safe_repr(label)} value {_value_text(name, value)} "
                "is not ISO-8859-1 encodable",
            )
        )
    return problems


def content_length(pairs: t.Iterable[tuple[str, str]]) -> int | None:
    """The declared Content-Length, or ``None`` if absent or invalid."""
    values = {value.strip() for name, value in pairs if name.lower() == "content-length"}
    if len(values) == 1:
        value = values.pop()
        if value.isdigit() and value.isascii():
            return int(value)
    return None


def check_content_length(pairs: list[tuple[str, str]]) -> list[Problem]:
    """Problems with the Content-Length headers among ``pairs``."""
    values = [value for name, value in pairs if name.lower() == "content-length"]
    if not values:
        return []
    if len({value.strip() for value in values}) > 1:
        return [("WSGI214", f"Content-Length given {len(values)} times: {safe_repr(values)}")]
    value = values[0].strip()
    if not (value.isdigit() and value.isascii()):
        return [("WSGI214", f"Content-Length {safe_repr(values[0])} is not a non-negative integer")]
    return []


#: Representation headers a 304 should not carry (RFC 9110 15.4.5).
_NOT_IN_304 = frozenset(
    {
        "content-type",
        "content-encoding",
        "content-language",
        "content-range",
        "content-md5",
        "allow",
    }
)
_ETAG = re.compile(r'(W/)?"[\x21\x23-\x7e\x80-\xff]*"')


def check_semantics(code: int, pairs: list[tuple[str, str]]) -> list[Problem]:
    """HTTP problems of a response's headers given its status ``code``."""
    problems: list[Problem] = []
    for name, value in pairs:
        lower = name.lower()
        if lower == "etag" and not _ETAG.fullmatch(value.strip()):
            problems.append(("WSGI215", f"ETag {safe_repr(value)} is not a quoted entity tag"))
        elif code == 304 and lower in _NOT_IN_304:
            problems.append(("WSGI216", f"304 response carries {name}"))
    return problems


def header_value(pairs: t.Iterable[tuple[str, str]], name: str) -> str | None:
    """The first value of header ``name`` (case-insensitive) in ``pairs``."""
    name = name.lower()
    for key, value in pairs:
        if key.lower() == name:
            return value
    return None
