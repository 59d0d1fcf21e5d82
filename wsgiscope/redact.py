"""Redaction of secrets in traces, records and output.

wsgiscope shows what an app receives and sends, which includes credentials.
Unless the user asks for them (``--show-secrets``), these become
``"[redacted]"``:

- headers (and their ``HTTP_*`` environ keys) named like ``Authorization``,
  ``Proxy-Authorization``, ``Cookie``, ``Set-Cookie`` or an API key/token
  (``X-Api-Key``, ``X-Auth-Token``, ``X-Csrf-Token``, ...);
- query parameters and form fields named like a password, token, secret,
  API key or credential, in the query string and in request bodies (URL
  encoded or multipart forms, JSON object keys at any depth);
- every session value (the names stay visible);
- ``flask.g`` names that look like secrets;
- in response bodies, JSON keys and form fields named like secrets, and the
  URLs of redacted URL-valued headers (a redirect page repeats its
  ``Location``).

A :class:`Redactor` turns the live values of a trace into JSON-ready text;
with ``show_secrets=True`` it only stringifies.

    >>> Redactor().headers([("Cookie", "sid=1"), ("Accept", "*/*")])
    [['Cookie', '[redacted]'], ['Accept', '*/*']]
"""

from __future__ import annotations

import json
import os
import re
import typing as t
from urllib.parse import unquote_plus

#: What a secret value is replaced with.
REDACTED = "[redacted]"

_SECRET_HEADER = re.compile(
    r"authorization|cookie|api[-_]?key|auth[-_]?token|access[-_]?token|token|secret|"
    r"password|passwd|session|csrf|xsrf|signature|credential",
    re.IGNORECASE,
)
_SECRET_FIELD = re.compile(
    r"pass(word|wd|phrase)?$|pwd|token|secret|api[-_]?key|apikey|auth(?!or)|credential|"
    r"session|csrf|xsrf|signature|private[-_]?key|cvv|(?:^|[-_])(?:otp|pin|ssn)(?:$|[-_])",
    re.IGNORECASE,
)
#: Longest text kept for one non-string value (its repr), in characters.
VALUE_CAP = 200


_header_verdicts: dict[str, bool] = {}
_user_patterns: dict[str, re.Pattern[str] | None] = {}


def _user_secret(name: str) -> bool:
    """Whether ``name`` contains one of the user's own secret names: the
    comma-separated ``WSGISCOPE_REDACT`` (``redact = [...]`` under
    ``[tool.wsgiscope]`` sets it), matched case-insensitively, ``-``/``_`` alike."""
    value = os.environ.get("WSGISCOPE_REDACT", "")
    if value not in _user_patterns:
        names = [n.strip() for n in value.split(",") if n.strip()]
        _user_patterns[value] = (
            re.compile(
                "|".join("[-_]".join(map(re.escape, re.split(r"[-_]", n))) for n in names),
                re.IGNORECASE,
            )
            if names
            else None
        )
    pattern = _user_patterns[value]
    return pattern is not None and pattern.search(name) is not None


def is_secret_header(name: str) -> bool:
    """Whether a header (``"X-Api-Key"``) or environ key (``"HTTP_X_API_KEY"``) is secret."""
    verdict = _header_verdicts.get(name)
    if verdict is None:
        bare = name[5:] if name.startswith("HTTP_") else name
        verdict = _SECRET_HEADER.search(bare) is not None or _user_secret(bare)
        if len(_header_verdicts) < 4096:  # names repeat; arbitrary ones must not grow it
            _header_verdicts[name] = verdict
    return verdict


_field_verdicts: dict[str, bool] = {}


def is_secret_field(name: str) -> bool:
    """Whether a form field, query parameter or ``g``/JSON key is named like a secret."""
    verdict = _field_verdicts.get(name)
    if verdict is None:
        verdict = _SECRET_FIELD.search(name) is not None or _user_secret(name)
        if len(_field_verdicts) < 4096:
            _field_verdicts[name] = verdict
    return verdict


def as_text(value: t.Any) -> str:
    """``value`` as a plain ``str``, for a record; never raises.

    A str is itself, a str subclass becomes a plain str (its own ``__str__``,
    ``__eq__`` or ``lower`` would run app code in wsgiscope's output), anything
    else is its ``repr`` (or a placeholder when that raises).
    """
    if type(value) is str:
        return value
    if isinstance(value, str):
        return str.__str__(value)
    return repr_text(value)


def repr_text(value: t.Any) -> str:
    """``repr(value)`` as a plain ``str`` (a placeholder when it raises); never raises."""
    try:
        text = repr(value)
    except Exception:
        return f"<{type(value).__name__} object (repr failed)>"
    return text if type(text) is str else str.__str__(text)


def cap(value: t.Any, limit: int = VALUE_CAP) -> str:
    """``value`` as text (:func:`as_text`), cut at ``limit`` characters."""
    text = as_text(value)
    if len(text) > limit:
        return f"{text[:limit]}... [{len(text)} chars]"
    return text


def redact_query(query: str) -> str:
    """A query string with the values of secret-named parameters redacted.

    The rest of the string is kept byte for byte (no re-encoding).
    """
    if not query or "=" not in query:
        return query
    parts = query.split("&")
    for i, part in enumerate(parts):
        name, sep, _value = part.partition("=")
        if sep and is_secret_field(unquote_plus(name)):
            parts[i] = f"{name}={REDACTED}"
    return "&".join(parts)


#: A multipart part: its headers (``name="..."`` in them), then its content.
_MULTIPART_PART = re.compile(
    r'(Content-Disposition:[^\r\n]*?\bname="([^"]*)"[^\r\n]*\r\n(?:[^\r\n]+\r\n)*\r\n)'
    r"(.*?)(?=\r\n--)",
    re.IGNORECASE | re.DOTALL,
)


def redact_body(text: str, content_type: str) -> str:
    """A request body with the values of secret-named fields redacted.

    URL-encoded forms and multipart forms by field name, JSON by object key
    (at any depth); other bodies, and bodies with nothing to redact, are
    kept as they are.
    """
    mime = content_type.partition(";")[0].strip().lower()
    if mime == "application/x-www-form-urlencoded":
        return redact_query(text)
    if mime == "multipart/form-data":
        return _MULTIPART_PART.sub(
            lambda m: m.group(1) + REDACTED if is_secret_field(m.group(2)) else m.group(0), text
        )
    if mime == "application/json" or mime.endswith("+json"):
        try:
            value = json.loads(text)
        except ValueError:
            return text
        redacted, changed = _redact_json(value)
        return json.dumps(redacted) if changed else text
    return text


#: A word a secret field name holds (in lower case): bodies without one are
#: not parsed. Searching lowered text is ten times faster than IGNORECASE.
_MAYBE_SECRET = re.compile(
    r"pass|pwd|token|secret|api|auth|credential|session|csrf|xsrf|signature|"
    r"private|cvv|otp|pin|ssn"
)


def _redact_json(value: t.Any) -> tuple[t.Any, bool]:
    if isinstance(value, dict):
        out, changed = {}, False
        for key, item in value.items():
            if is_secret_field(str(key)):
                out[key], changed = REDACTED, True
            else:
                out[key], inner = _redact_json(item)
                changed = changed or inner
        return out, changed
    if isinstance(value, list):
        items = [_redact_json(item) for item in value]
        return [item for item, _ in items], any(changed for _, changed in items)
    return value, False


#: Response headers whose value is a URL (its query may echo secrets).
_URL_HEADERS = frozenset({"location", "content-location", "refresh", "link"})


#: ``name=value`` after ``?``, ``&`` or ``&amp;`` in a URL inside a body.
_QUERY_PARAM = re.compile(r"(?<=[?&;])([\w.%-]+)=([^&#;\s\"'<>]*)")


def _redact_param(match: re.Match[str]) -> str:
    if is_secret_field(unquote_plus(match.group(1))):
        return f"{match.group(1)}={REDACTED}"
    return match.group(0)


#: A JSON member ``"name": value`` (a string value may be cut off).
_JSON_MEMBER = re.compile(r'"((?:[^"\\]|\\.)*)"(\s*:\s*)("(?:[^"\\]|\\.)*"?|[^,{}\[\]\s"]+)')
#: ``name=value`` at the start of the text or after ``?``, ``&`` or ``;``.
_TEXT_PARAM = re.compile(r"(?:(?<=[?&;])|^)([\w.%-]+)=([^&#;\s\"'<>]*)", re.MULTILINE)


def _redact_member(match: re.Match[str]) -> str:
    if is_secret_field(match.group(1)):
        return f'"{match.group(1)}"{match.group(2)}"{REDACTED}"'
    return match.group(0)


def redact_text(text: str) -> str:
    """Free text (a cut body preview, which no parser takes) with the values
    of secret-named JSON members and query or form parameters redacted."""
    if not _MAYBE_SECRET.search(text.lower()):
        return text
    text = _JSON_MEMBER.sub(_redact_member, text)
    return _TEXT_PARAM.sub(_redact_param, text)


def redact_uri(uri: str) -> str:
    """``path?query`` (or a URL) with the values of secret-named query parameters redacted."""
    path, sep, query = uri.partition("?")
    return f"{path}?{redact_query(query)}" if sep else uri


#: What :meth:`Redactor.environ` and :meth:`Redactor.headers` do with a str value.
_KEEP, _HIDE, _QUERY, _URI = 0, 1, 2, 3

#: Environ keys whose str values are kept as they are (most of them).
_plain_keys: set[str] = set()
#: What a str value of any other environ key needs.
_environ_actions: dict[str, int] = {}


def _environ_action(key: str) -> int:
    action = _environ_actions.get(key)
    if action is not None:
        return action
    if key[:5] == "HTTP_":
        action = _HIDE if is_secret_header(key) else _KEEP
    elif key == "QUERY_STRING":
        action = _QUERY
    elif key == "REQUEST_URI" or key == "RAW_URI":
        action = _URI
    else:
        action = _KEEP
    if len(_environ_actions) < 4096:  # keys repeat; arbitrary ones must not grow it
        _environ_actions[key] = action
        if action == _KEEP:
            _plain_keys.add(key)
    return action


def _environ_text(value: t.Any) -> str:
    """A non-str environ value as text: ``cap(value)``, cheaper for the usual ones."""
    if value is True:
        return "True"
    if value is False:
        return "False"
    if value is None:
        return "None"
    text = as_text(value)
    return text if len(text) <= VALUE_CAP else cap(text)


#: What :meth:`Redactor.headers` does with a header's value, by header name.
_header_actions: dict[str, int] = {}


def _header_action(name: str) -> int:
    if is_secret_header(name):
        action = _HIDE
    elif name.lower() in _URL_HEADERS:
        action = _URI
    else:
        action = _KEEP
    if len(_header_actions) < 4096 and type(name) is str:
        _header_actions[name] = action
    return action


def _environ_shown(environ: t.Mapping[str, t.Any]) -> dict[str, str]:
    """:meth:`Redactor.environ` with ``show_secrets``: only stringified."""
    out: dict[str, str] = {}
    for key, value in environ.items():
        if type(key) is not str:
            key = repr_text(key)
        if type(value) is str:
            out[key] = value
        elif isinstance(value, str):  # a subclass: plain text, like a str
            out[key] = str.__str__(value)
        else:
            out[key] = _environ_text(value)
    return out


class Redactor:
    """Turns live trace values into JSON-ready text, redacting secrets.

    :param show_secrets: keep secrets (only stringify).
    """

    __slots__ = ("show_secrets",)

    def __init__(self, show_secrets: bool = False) -> None:
        self.show_secrets = show_secrets

    def environ(self, environ: t.Mapping[str, t.Any]) -> dict[str, str]:
        """Every environ key; non-str values as their capped ``repr``."""
        # Runs for every key of every record: whether a key's str value needs
        # anything is decided once per key name, and the usual non-str values
        # (bools, None) skip repr().
        if self.show_secrets:
            return _environ_shown(environ)
        out: dict[str, str] = {}
        plain = _plain_keys
        actions = _environ_actions
        for key, value in environ.items():
            if type(value) is str:
                if type(key) is str and key in plain:
                    out[key] = value
                    continue
            elif isinstance(value, str):
                # a str subclass: plain text, redacted by its key like any str
                value = str.__str__(value)
            else:
                if type(key) is not str:
                    key = repr_text(key)
                # _environ_text(value), inlined: a third of the keys take this way
                if value is True:
                    out[key] = "True"
                elif value is False:
                    out[key] = "False"
                elif value is None:
                    out[key] = "None"
                else:
                    text = repr_text(value)
                    out[key] = text if len(text) <= VALUE_CAP else cap(text)
                continue
            if type(key) is str:
                name = key
            else:
                # A str subclass key is decided by its text, so that one named
                # like a secret header is still redacted; any non-str key is
                # shown quoted, apart from the server's own.
                name = as_text(key)
                key = repr_text(key)
            action = actions.get(name)
            if action is None:
                action = _environ_action(name)
            if action == _KEEP:
                out[key] = value
            elif action == _HIDE:
                out[key] = REDACTED
            elif action == _QUERY:
                out[key] = redact_query(value)
            else:
                out[key] = redact_uri(value)
        return out

    def headers(self, headers: t.Any) -> list[list[str]]:
        """``[[name, value], ...]``; odd items or types as their ``repr``."""
        out: list[list[str]] = []
        try:
            items = list(headers)
        except Exception:
            return [[cap(headers), ""]]
        show = self.show_secrets
        actions = _header_actions
        for item in items:
            try:
                name, value = item
            except Exception:
                out.append([cap(item), ""])
                continue
            if type(name) is not str:
                name = as_text(name)
            if type(value) is not str:
                value = as_text(value)
            if show:
                out.append([name, value])
                continue
            action = actions.get(name) if type(name) is str else None
            if action is None:
                action = _header_action(name)
            if action == _KEEP:
                out.append([name, value])
            elif action == _HIDE:
                out.append([name, REDACTED])
            else:
                # a redirect that echoes the request's query carries its secrets
                out.append([name, redact_uri(value)])
        return out

    def query(self, query: str) -> str:
        """A query string with secret parameter values redacted."""
        return query if self.show_secrets else redact_query(query)

    def body(self, text: str, content_type: t.Any) -> str:
        """A request body: secret-named form fields and JSON keys redacted."""
        if self.show_secrets or not text:
            return text
        return redact_body(text, content_type if isinstance(content_type, str) else "")

    def response_body(self, text: str, headers: t.Any) -> str:
        """A response body: secret-named JSON keys and form fields redacted (by
        its ``Content-Type``); when a URL-valued header's query held a secret,
        secret-named query parameters anywhere in the body too (a redirect
        page repeats its ``Location``, escaped or not)."""
        # Runs for every record: a body without a secret-looking word (most
        # of them) holds no secret name, and is neither parsed nor scanned.
        if self.show_secrets or not text or not _MAYBE_SECRET.search(text.lower()):
            return text
        content_type, url_secret = "", False
        for item in headers if isinstance(headers, (list, tuple)) else ():
            if not (isinstance(item, (list, tuple)) and len(item) == 2):
                continue
            name, value = item
            if not (isinstance(name, str) and isinstance(value, str)):
                continue
            lower = name.lower()
            if lower == "content-type":
                content_type = value
            elif lower in _URL_HEADERS and "?" in value:
                url_secret = url_secret or redact_uri(value) != value
        text = redact_body(text, content_type)
        if url_secret:
            text = _QUERY_PARAM.sub(_redact_param, text)
        return text

    def fields(self, fields: t.Mapping[str, t.Any]) -> dict[str, t.Any]:
        """Form fields (or JSON object keys): secret-named values redacted."""
        if self.show_secrets:
            return dict(fields)
        return {k: REDACTED if is_secret_field(str(k)) else v for k, v in fields.items()}

    def names(self, names: t.Mapping[str, t.Any]) -> dict[str, str]:
        """Names in ``flask.g`` and the like: values as capped ``repr``, secret-named
        ones redacted."""
        show = self.show_secrets
        return {
            as_text(k): REDACTED if not show and is_secret_field(as_text(k)) else cap(repr_text(v))
            for k, v in names.items()
        }

    def session(self, session: t.Mapping[str, t.Any]) -> dict[str, str]:
        """Session contents: the names, and the values only with ``show_secrets``."""
        if self.show_secrets:
            return {as_text(k): cap(repr_text(v)) for k, v in session.items()}
        return {as_text(k): REDACTED for k in session}
