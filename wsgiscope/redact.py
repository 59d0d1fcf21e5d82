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

import itertools
import json
import os
import re
import typing as t
from urllib.parse import unquote_plus

#: What a secret value is replaced with.
REDACTED = "[redacted]"

#: Sentry's default deny-list (``sentry_sdk.scrubber.DEFAULT_DENYLIST``):
#: names whose values are secrets wherever they appear.
SENTRY_DENYLIST = (
    "password", "passwd", "secret", "api_key", "apikey", "auth", "credentials",
    "mysql_pwd", "privatekey", "private_key", "token", "session", "csrftoken",
    "sessionid", "x_csrftoken", "set_cookie", "cookie", "authorization", "x_api_key",
    "aiohttp_session", "connect.sid", "csrf_token", "csrf", "_csrf", "_csrf_token",
    "phpsessid", "_session", "symfony", "user_session", "_xsrf", "xsrf-token",
)  # fmt: skip
#: OpenTelemetry's query parameters redacted by default (semantic conventions,
#: ``url.query``; ``opentelemetry-util-http``).
OTEL_QUERY_DENYLIST = (
    "AWSAccessKeyId", "Signature", "sig", "X-Goog-Signature", "X-Amz-Signature",
    "X-Amz-Credential", "X-Amz-Security-Token",
)  # fmt: skip


def _normal(name: str) -> str:
    """A name as the deny-lists compare it: lower case, ``-`` as ``_``."""
    return name.lower().replace("-", "_")


#: Exact names (normalized) always redacted: the floor above.
_denied: frozenset[str] = frozenset(_normal(n) for n in (*SENTRY_DENYLIST, *OTEL_QUERY_DENYLIST))
#: The names the user added (see :func:`add_secret_names`), as given.
extra_names: tuple[str, ...] = ()

_SECRET_HEADER = re.compile(
    r"authoriz|auth(?!or)|cookie|api[-_]?key|(?:^|[-_])key$|token|secret|"
    r"pass(?:word|wd)|session|csrf|xsrf|signature|credential|private",
    re.IGNORECASE,
)
_SECRET_FIELD = re.compile(
    r"pass(?:word|wd|phrase)?(?:$|[-_.])|password|passwd|pwd|token|secret|api[-_]?key|apikey|"
    r"auth(?!or)|credential|session|csrf|xsrf|signature|private[-_]?key|cvv|"
    r"(?:^|[-_])(?:otp|pin|ssn|key|sig)(?:$|[-_])",
    re.IGNORECASE,
)
#: Longest text kept for one non-string value (its repr), in characters.
VALUE_CAP = 200


_header_verdicts: dict[str, bool] = {}
#: The user's own names (``--redact``, ``[tool.wsgiscope] redact``,
#: ``$WSGISCOPE_REDACT``) as one pattern: a name *containing* one of them is
#: secret, case-insensitively, ``-`` and ``_`` alike.
_user_pattern: re.Pattern[str] | None = None


def _user_secret(name: str) -> bool:
    return _user_pattern is not None and _user_pattern.search(name) is not None


def add_secret_names(names: t.Iterable[str]) -> None:
    """Redact the values of these names too, wherever a name is matched
    (headers, environ keys, query parameters, form fields, JSON keys,
    ``g`` and route arguments), in this process: any name containing one of
    them, case-insensitively, ``-`` and ``_`` alike; the deny-lists above
    stay the floor."""
    global extra_names, _user_pattern
    added = tuple(str(n).strip() for n in names if str(n).strip())
    if not added or set(added) <= set(extra_names):
        return
    extra_names = tuple(dict.fromkeys((*extra_names, *added)))
    _user_pattern = re.compile(
        "|".join("[-_]".join(map(re.escape, re.split(r"[-_]", n))) for n in extra_names),
        re.IGNORECASE,
    )
    # every verdict cached so far may change
    _header_verdicts.clear()
    _field_verdicts.clear()
    _header_actions.clear()
    _environ_actions.clear()
    _plain_keys.clear()
    _plain_fields.clear()


def reset_secret_names() -> None:
    """Forget the names :func:`add_secret_names` added (the floor stays)."""
    global extra_names, _user_pattern
    extra_names = ()
    _user_pattern = None
    _header_verdicts.clear()
    _field_verdicts.clear()
    _header_actions.clear()
    _environ_actions.clear()
    _plain_keys.clear()
    _plain_fields.clear()


def _from_environment() -> None:
    names = [n for n in os.environ.get("WSGISCOPE_REDACT", "").split(",") if n.strip()]
    if names:
        add_secret_names(names)


def is_secret_header(name: str) -> bool:
    """Whether a header (``"X-Api-Key"``) or environ key (``"HTTP_X_API_KEY"``) is secret."""
    verdict = _header_verdicts.get(name)
    if verdict is None:
        bare = name[5:] if name.startswith("HTTP_") else name
        verdict = (
            _SECRET_HEADER.search(bare) is not None
            or _normal(bare) in _denied
            or _user_secret(bare)
        )
        if len(_header_verdicts) < 4096:  # names repeat; arbitrary ones must not grow it
            _header_verdicts[name] = verdict
    return verdict


_field_verdicts: dict[str, bool] = {}


def is_secret_field(name: str) -> bool:
    """Whether a form field, query parameter or ``g``/JSON key is named like a secret."""
    verdict = _field_verdicts.get(name)
    if verdict is None:
        verdict = (
            _SECRET_FIELD.search(name) is not None or _normal(name) in _denied or _user_secret(name)
        )
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
    parts = _PARAM_SEPARATOR.split(query)
    for i in range(0, len(parts), 2):  # odd items are the separators
        name, sep, _value = parts[i].partition("=")
        if sep:
            key = name.strip()
            if "%" in key or "+" in key:  # (else unquoting gives it back as it is)
                key = unquote_plus(key)
            if is_secret_field(key):
                parts[i] = f"{name}={REDACTED}"
    return "".join(parts)


#: Parameter separators: ``&``, and the ``;`` of older forms.
_PARAM_SEPARATOR = re.compile(r"([&;])")


#: A multipart part: its headers (``name="..."`` in them), then its content.
_MULTIPART_PART = re.compile(
    r'(Content-Disposition:[^\r\n]*?\bname="([^"]*)"[^\r\n]*\r?\n(?:[^\r\n]+\r?\n)*\r?\n)'
    r"(.*?)(?=\r?\n--)",
    re.IGNORECASE | re.DOTALL,
)
#: Its headers alone.
_MULTIPART_HEAD = re.compile(_MULTIPART_PART.pattern.partition("(.*?)")[0], re.IGNORECASE)


def redact_multipart(text: str) -> str:
    """A multipart body with the content of its secret-named parts redacted:
    ``_MULTIPART_PART.sub`` (each part's headers, and its content up to the
    next ``\\r\\n--``), with the end of each content found by ``str.find``
    rather than by the pattern's lazy ``.*?`` trying its lookahead at every
    character of an uploaded file."""
    parts: list[str] = []
    done = position = 0
    while True:
        head = _MULTIPART_HEAD.search(text, position)
        if head is None:
            break
        end = text.find("\n--", head.end())
        if end < 0:
            break  # no part ends after it: neither this one nor a later one matches
        if end > head.end() and text[end - 1] == "\r":
            end -= 1
        if is_secret_field(head.group(2)):
            parts += (text[done : head.end()], REDACTED)
            done = end
        position = end  # where sub looks next: the match (never empty) ends there
    if not parts:
        return text
    parts.append(text[done:])
    return "".join(parts)


def redact_body(text: str, content_type: str) -> str:
    """A request body with the values of secret-named fields redacted.

    URL-encoded forms and multipart forms by field name, JSON by object key
    (at any depth); other bodies, and bodies with nothing to redact, are
    kept as they are.
    """
    mime = content_type.partition(";")[0].strip().lower()
    if mime == "application/x-www-form-urlencoded":
        return redact_credentials(redact_query(text))
    if mime == "multipart/form-data":
        return redact_multipart(text)
    if mime == "application/json" or mime.endswith("+json"):
        return redact_credentials(redact_json_text(text))
    return redact_sniffed(text, mime)


_JSONP = re.compile(r"^\s*(?:/\*\*/\s*)?[\w$.\[\]]+\s*\(")
_FORM_LIKE = re.compile(r"^[^\s=&;<>{}\[\]\"']+=[^\s]*$")


def redact_sniffed(text: str, mime: str = "") -> str:
    """A body whose type is not a form or JSON (``text/plain``, none, HTML,
    XML, JavaScript): redacted by what it holds. JSON (a BOM allowed),
    JSONP, a form, markup (elements, attributes and inputs named like
    secrets), ``Authorization``-style credentials anywhere."""
    if not maybe_secret(text):
        return text
    stripped = text.lstrip("\ufeff \t\r\n")
    if stripped[:1] in ("{", "["):
        redacted = redact_credentials(redact_json_text(stripped))
        return text if redacted == stripped else redacted
    jsonp = _JSONP.match(stripped)
    if jsonp is not None and stripped.rstrip().rstrip(";").endswith(")"):
        inner = stripped.rstrip().rstrip(";")[jsonp.end() : -1]
        return stripped[: jsonp.end()] + redact_json_text(inner) + ")"
    if stripped[:1] == "<" or "xml" in mime or "html" in mime:
        return _redact_credentials(*_markup(text))
    if _FORM_LIKE.match(text.strip()):
        return redact_query(text)
    return redact_credentials(redact_text(text))


#: ``Authorization``-style credentials in free text: ``Bearer eyJ...``.
_CREDENTIALS = re.compile(
    r"\b(Bearer|Basic|Digest|Token|Bot|ApiKey)(\s+)([A-Za-z0-9\-._~+/]{6,}=*)", re.IGNORECASE
)


#: The schemes :data:`_CREDENTIALS` takes, in lower case (``str.startswith``),
#: and a search for them.
_SCHEME_NAMES = ("bearer", "basic", "bot", "digest", "token", "apikey")
_SCHEMES = re.compile("|".join(_SCHEME_NAMES))


def redact_credentials(text: str) -> str:
    """Free text with ``Bearer <token>`` (``Basic``, ``Token``...) credentials redacted."""
    return _redact_credentials(text, None)


def _redact_credentials(text: str, starts: list[int] | None) -> str:
    """:func:`redact_credentials`, with ``_CREDENTIALS.sub`` tried only where a
    scheme's name begins: found by a search of the lower-cased text, or
    among ``starts`` (:func:`secret_word_starts` of ``text``: a credential
    begins a word, so its scheme is a word found there)."""
    lower = folded(text)
    if starts is None:
        starts = [scheme.start() for scheme in _SCHEMES.finditer(lower)]
    else:
        starts = [start for start in starts if lower.startswith(_SCHEME_NAMES, start)]
    parts: list[str] = []
    done = 0
    for start in starts:
        if start < done:
            continue  # inside the credential before
        match = _CREDENTIALS.match(text, start)
        if match is not None:
            parts += (text[done:start], f"{match.group(1)}{match.group(2)}{REDACTED}")
            done = match.end()
    if not parts:
        return text
    parts.append(text[done:])
    return "".join(parts)


#: An element with only text inside: ``<password>x</password>``.
_ELEMENT = re.compile(r"<([A-Za-z_][\w:.-]*)(\s[^<>]*)?>([^<]*)</\1\s*>")
#: A start tag (or an empty one) and its attributes.
_TAG = re.compile(r"<[A-Za-z][\w:.-]*\s[^<>]*>")
_ATTRIBUTE = re.compile(r"""([\w:.-]+)(\s*=\s*)("[^"]*"|'[^']*'|[^\s"'=<>`]+)""")
#: Attributes that name what a tag's ``value``/``content`` holds.
_NAMING = ("name", "id", "property", "http-equiv", "itemprop")
_HOLDING = ("value", "content")


def _redact_tag(match: re.Match[str]) -> str:
    tag = match.group(0)
    attributes = {m.group(1).lower(): m.group(3).strip("\"'") for m in _ATTRIBUTE.finditer(tag)}
    named = any(is_secret_field(attributes[a]) for a in _NAMING if a in attributes)

    def attribute(m: re.Match[str]) -> str:
        name = m.group(1).lower()
        if is_secret_field(m.group(1)) or (named and name in _HOLDING):
            quote = m.group(3)[0] if m.group(3)[:1] in ("'", '"') else '"'
            return f"{m.group(1)}{m.group(2)}{quote}{REDACTED}{quote}"
        return m.group(0)

    return _ATTRIBUTE.sub(attribute, tag)


def _redact_element(match: re.Match[str]) -> str:
    if is_secret_field(match.group(1)):
        return f"<{match.group(1)}{match.group(2) or ''}>{REDACTED}</{match.group(1)}>"
    return match.group(0)


def redact_markup(text: str) -> str:
    """HTML or XML with secrets redacted: the text of elements named like a
    secret (``<password>``), attributes named like one (``data-token=``),
    and the ``value``/``content`` of a tag named like one (a hidden
    ``csrf_token`` input, a ``csrf-token`` meta tag).

    Only the tags and elements holding a secret word are looked at (an
    80 KB page is redacted in a quarter of the time it takes to parse every
    tag), with the same result as ``_TAG.sub`` then ``_ELEMENT.sub`` over
    all of it (the tests compare them). Elements come first here: that
    changes nothing (a tag's attributes stay in an element's start tag,
    and neither pass adds or takes a ``<`` or ``>``).
    """
    return _markup(text)[0]


def _markup(text: str) -> tuple[str, list[int]]:
    """:func:`redact_markup`, and the :func:`secret_word_starts` of what it gives."""
    starts = secret_word_starts(text)
    if not starts:
        return text, starts
    elements, edits = _sub_at(_ELEMENT, text, starts, _redact_element)
    starts = _moved(starts, edits, elements)
    tagged, edits = _sub_at(_TAG, elements, starts, _redact_tag)
    return tagged, _moved(starts, edits, tagged)


#: A replacement :func:`_sub_at` made: ``(begin, end, new text)``.
Edit = tuple[int, int, str]


def _sub_at(
    pattern: re.Pattern[str],
    text: str,
    starts: list[int],
    replace: t.Callable[[re.Match[str]], str],
) -> tuple[str, list[Edit]]:
    """``pattern.sub(replace, text)`` for the matches that hold one of
    ``starts``, where ``replace`` keeps every other match as it is; and
    the replacements that changed something.

    ``pattern`` matches from a ``<`` and holds no other ``<`` that could
    begin a match (a tag; an element's content has none, and its end tag's
    ``</`` begins none): the match holding a position then begins at the
    last ``<`` before it, and is the one ``sub``, scanning from the left,
    finds there.
    """
    edits: list[Edit] = []
    done = 0  # text[:done] is settled
    searched = 0  # text[:searched] was searched for "<"
    opening = tried = -1  # the last "<" found at or after done; the last one matched at
    for start in starts:
        if start < done:
            continue  # in the match replaced last
        found = text.rfind("<", max(searched, done), start)
        searched = start
        if found >= 0:
            opening = found
        elif opening < done:
            continue  # no "<" since the last match: not in one
        if opening == tried:
            continue
        tried = opening
        match = pattern.match(text, opening)
        if match is None or match.end() <= start:
            continue
        new = replace(match)
        if new != match.group(0):
            edits.append((opening, match.end(), new))
        done = match.end()
    if not edits:
        return text, edits
    parts: list[str] = []
    done = 0
    for begin, end, new in edits:
        parts += (text[done:begin], new)
        done = end
    parts.append(text[done:])
    return "".join(parts), edits


def _moved(starts: list[int], edits: list[Edit], edited: str) -> list[int]:
    """``starts`` (:func:`secret_word_starts` of a text) in ``edited``, that
    text with ``edits`` made: the ones before and after an edit moved by
    what the edits before them changed, the ones in an edit found anew in
    its new text. (An edit is a whole tag or element, from ``<`` to ``>``:
    no word runs across its ends. A user's name may: then all anew.)"""
    if not edits:
        return starts
    if _user_pattern is not None:
        return secret_word_starts(edited)
    moved: list[int] = []
    shift = 0
    index = 0
    count = len(starts)
    for begin, end, new in edits:
        while index < count and starts[index] < begin:
            moved.append(starts[index] + shift)
            index += 1
        while index < count and starts[index] < end:
            index += 1
        moved += [begin + shift + start for start in secret_word_starts(new)]
        shift += len(new) - (end - begin)
    moved += [start + shift for start in starts[index:]]
    return moved


#: A word a secret name holds (in lower case): text without one names no
#: secret and is not parsed. Searching lowered text is ten times faster than
#: IGNORECASE. The words are pass, pwd, private, pin, token, secret, session,
#: sig, ssn, sid, symfony, api, auth, credential, csrf, cvv, cookie, xsrf,
#: otp and key (every name :func:`is_secret_field` and
#: :func:`is_secret_header` take holds one), and the credential schemes
#: bearer, basic, digest and ``bot `` (:func:`redact_credentials`), grouped
#: by first letter: at a position whose letter starts a word one branch is
#: tried, not 25 (a 256 KB preview is searched 1.5x faster). Every word is
#: letters, but ``bot `` (then a space), so that a match never spans a ``<``.
_MAYBE_SECRET = re.compile(
    r"p(?:ass|wd|rivate|in)|token|s(?:ecret|ession|ig|sn|id|ymfony)|a(?:pi|uth)|"
    r"c(?:redential|srf|vv|ookie)|xsrf|otp|key|b(?:earer|asic|ot\s)|digest"
)

#: Letters that IGNORECASE matching takes for ASCII ones (so a secret name
#: may hold them) but ``str.lower`` does not turn into them.
_ASCII_ALIKE = str.maketrans({"\u0130": "i", "\u0131": "i", "\u017f": "s", "\u212a": "k"})


def folded(text: str) -> str:
    """``text`` in lower case as the secret-word search reads it: as long as
    ``text`` (a position in one is the same in the other), with the four
    letters IGNORECASE takes for ASCII ones (``\u0130``, ``\u0131``,
    ``\u017f``, ``\u212a``) made ASCII."""
    if not text.isascii():
        text = text.translate(_ASCII_ALIKE)  # (U+0130 is the one letter lower() lengthens)
    return text.lower()


def maybe_secret(text: str) -> bool:
    """Whether ``text`` holds a word a secret name (built-in or the user's,
    see :func:`add_secret_names`) or a credential is made of: text without
    one needs no parsing."""
    lower = folded(text)
    if _MAYBE_SECRET.search(lower) is not None:
        return True
    return _user_pattern is not None and _user_pattern.search(lower) is not None


def secret_word_starts(text: str) -> list[int]:
    """Where in ``text`` such a word starts, in order: every position at
    which a built-in word or a user's name begins that no earlier built-in
    word covers (words are letters: one that overlaps another lies in the
    same run of letters, so a tag or name holding a word holds a start)."""
    lower = folded(text)
    starts = [m.start() for m in _MAYBE_SECRET.finditer(lower)]
    if _user_pattern is not None:  # any text: every start, overlapping ones too
        search = _user_pattern.search
        found = search(lower)
        while found is not None:
            starts.append(found.start())
            found = search(lower, found.start() + 1)
        starts.sort()
    return starts


#: Deepest JSON nesting parsed for redaction. Deeper documents are not
#: parsed (the stdlib parser and encoder recurse): one that names a secret
#: is redacted whole.
MAX_JSON_DEPTH = 100

_JSON_STRING = re.compile(r'"(?:[^"\\]|\\.)*"?')
_JSON_BRACKET = re.compile(r"[\[\]{}]")


def json_depth(text: str) -> int:
    """How deep the brackets of JSON text nest (strings skipped); no recursion."""
    if text.count("{") + text.count("[") <= MAX_JSON_DEPTH:
        return 0 if "{" not in text and "[" not in text else 1  # bounded anyway
    depth = deepest = 0
    for bracket in _JSON_BRACKET.findall(_JSON_STRING.sub("", text)):
        if bracket in "[{":
            depth += 1
            if depth > deepest:
                deepest = depth
        elif depth:
            depth -= 1
    return deepest


_WORD = re.compile(r"[A-Za-z0-9_.-]+")


def names_secret(text: str) -> bool:
    """Whether free text holds a word named like a secret field (``password``,
    ``api_key``, ``X-Auth-Token``...)."""
    if not maybe_secret(text):
        return False
    return any(is_secret_field(word) for word in _WORD.findall(text))


def _unparsed(text: str, why: str) -> str:
    """A body that was not parsed: kept when it names no secret, else hidden whole."""
    if not names_secret(text):
        return text
    return f"{REDACTED} ({len(text)} characters of {why} naming a secret)"


def _valid_json_depth(text: str) -> int:
    """How deep the brackets of *valid* JSON text nest: as :func:`json_depth`,
    with its strings taken out by plain string operations (valid JSON has a
    backslash only in a string, where each one begins an escape)."""
    if text.count("{") + text.count("[") <= MAX_JSON_DEPTH:
        return json_depth(text)
    if "\\" in text:
        text = text.replace("\\\\", "").replace('\\"', "")
    outside = "".join(text.split('"')[::2]).encode()  # (ASCII: valid JSON outside strings)
    steps = map(_BRACKET_STEP.__getitem__, outside.translate(None, _NOT_BRACKETS))
    return max(itertools.accumulate(steps), default=0)


#: What a bracket (its byte) does to the depth.
_BRACKET_STEP = {ord("["): 1, ord("{"): 1, ord("]"): -1, ord("}"): -1}
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")


def redact_json_text(text: str) -> str:
    """JSON text with the values of secret-named keys redacted, at any depth.

    Fails closed: text that does not parse as JSON (cut by a cap, invalid,
    nested deeper than :data:`MAX_JSON_DEPTH`) and names a secret is
    replaced whole.

    The keys are looked at while the text is parsed (``object_hook``: one
    call per object, not a walk of every value afterwards), and only the
    objects with a key not yet known to be plain.
    """
    changed = False

    def hook(item: dict[str, t.Any]) -> dict[str, t.Any]:
        nonlocal changed
        if item.keys() <= _plain_fields:
            return item
        for key in item:
            if is_secret_field(key):
                item[key] = REDACTED
                changed = True
            elif len(_plain_fields) < 4096:  # names repeat; arbitrary ones must not grow it
                _plain_fields.add(key)
        return item

    try:
        value = json.loads(text, object_hook=hook)
    except (ValueError, RecursionError):
        value = _UNPARSED
    if value is _UNPARSED or _valid_json_depth(text) > MAX_JSON_DEPTH:
        if json_depth(text) > MAX_JSON_DEPTH:
            return _unparsed(text, f"JSON nested deeper than {MAX_JSON_DEPTH} levels")
        return _unparsed(text, "unparseable JSON")
    if not changed:
        return text
    try:
        return json.dumps(value)
    except (ValueError, RecursionError):  # pragma: no cover - depth checked above
        return _unparsed(text, "JSON")


_UNPARSED = object()
#: Keys :func:`is_secret_field` said are not secret (cleared with its verdicts).
_plain_fields: set[str] = set()


#: Response headers whose value is a URL (its query may echo secrets).
_URL_HEADERS = frozenset({"location", "content-location", "refresh", "link", "referer"})


#: ``name=value`` after ``?``, ``&`` or ``&amp;`` in a URL inside a body.
_QUERY_PARAM = re.compile(r"(?<=[?&;])([\w.%-]+)=([^&#;\s\"'<>]*)")


def _redact_param(match: re.Match[str]) -> str:
    if is_secret_field(unquote_plus(match.group(1))):
        return f"{match.group(1)}={REDACTED}"
    return match.group(0)


#: A JSON member ``"name": value`` (a string value may be cut off).
_JSON_MEMBER = re.compile(r'"((?:[^"\\]|\\.)*)"(\s*:\s*)("(?:[^"\\]|\\.)*"?|[^,{}\[\]\s"]+)')
#: ``name=value`` at the start of the text or after ``?``, ``&``, ``;`` or a space.
_TEXT_PARAM = re.compile(r"(?:(?<=[?&;\s])|^)([\w.%-]+)=([^&#;\s\"'<>]*)", re.MULTILINE)


def _redact_member(match: re.Match[str]) -> str:
    if is_secret_field(match.group(1)):
        return f'"{match.group(1)}"{match.group(2)}"{REDACTED}"'
    return match.group(0)


def redact_text(text: str) -> str:
    """Free text (a cut body preview, which no parser takes) with the values
    of secret-named JSON members, query or form parameters and markup
    elements or attributes redacted, and ``Bearer ...`` credentials."""
    if not maybe_secret(text):
        return text
    if '"' in text and ":" in text:  # (what a member needs)
        text = _JSON_MEMBER.sub(_redact_member, text)
    if "=" in text:
        text = _redact_params(text)
    if "<" in text:
        return _redact_credentials(*_markup(text))
    return redact_credentials(text)


def _redact_params(text: str) -> str:
    """``_TEXT_PARAM.sub(_redact_param, text)``, line by line, on the lines
    where a parameter can be named like a secret: those holding a secret
    word, or a ``%`` (a name is unquoted before it is judged; it holds no
    ``+``). A parameter holds no whitespace, and a line begins where ``^``
    or the lookbehind's ``\\s`` lets one begin: each line is one on its own."""
    marks = secret_word_starts(text)
    found = text.find("%")
    while found >= 0:
        marks.append(found)
        found = text.find("%", found + 1)
    if not marks:
        return text
    parts: list[str] = []
    done = 0  # text[:done] is settled
    for mark in sorted(marks):
        if mark < done:
            continue  # on the line done last
        begin = text.rfind("\n", done, mark) + 1 or done
        end = text.find("\n", mark)
        end = len(text) if end < 0 else end
        parts += (text[done:begin], _TEXT_PARAM.sub(_redact_param, text[begin:end]))
        done = end
    parts.append(text[done:])
    return "".join(parts)


#: ``'name': value`` (a dict's repr) or ``name=value`` (a dataclass's, keyword
#: arguments) with the value a quoted string, a number or a word.
#: A quoted value may be cut by the preview's cap (``cap``: ``... [N chars]``
#: at the end of the text): it then runs to the cut, and is redacted all
#: the same (fail closed), the cap's marker kept.
_REPR_ITEM = re.compile(
    r"""(['"]?)([A-Za-z_][\w.-]*)\1(\s*(?::|=)\s*)"""
    r"""('(?:[^'\\]|\\.)*?(?:'|(?=\.\.\. \[\d+ chars\]\Z)|\Z)"""
    r"""|"(?:[^"\\]|\\.)*?(?:"|(?=\.\.\. \[\d+ chars\]\Z)|\Z)|[\w.+-]+)"""
)


def _redact_repr_item(match: re.Match[str]) -> str:
    if is_secret_field(match.group(2)):
        return f"{match.group(1)}{match.group(2)}{match.group(1)}{match.group(3)}'{REDACTED}'"
    return match.group(0)


#: Containers walked by :func:`scrubbed` (at most this many values).
_SCRUB_LIMIT = 2000


def scrubbed(value: t.Any) -> t.Any:
    """A copy of nested dicts, lists and tuples with the values of
    secret-named keys redacted, walked with a stack (no recursion), at most
    :data:`_SCRUB_LIMIT` containers (deeper ones become ``"..."``); anything
    else is returned as it is."""
    if type(value) not in (dict, list, tuple):
        return value
    budget = _SCRUB_LIMIT
    root: list[t.Any] = [None]
    #: (container, the copy's parent, its key there)
    todo: list[tuple[t.Any, t.Any, t.Any]] = [(value, root, 0)]
    #: tuples, copied as lists: made tuples again at the end, children first
    tuples: list[tuple[t.Any, t.Any]] = []
    while todo:
        source, parent, key = todo.pop()
        budget -= 1
        if budget < 0:
            parent[key] = "..."
            continue
        copy: t.Any
        if type(source) is dict:
            copy = {}
            for name, item in source.items():
                if isinstance(name, str) and is_secret_field(str.__str__(name)):
                    copy[name] = REDACTED
                else:
                    copy[name] = item
                    if type(item) in (dict, list, tuple):
                        todo.append((item, copy, name))
        else:
            copy = list(source)
            for index, item in enumerate(copy):
                if type(item) in (dict, list, tuple):
                    todo.append((item, copy, index))
            if type(source) is tuple:
                tuples.append((parent, key))
        parent[key] = copy
    for parent, key in reversed(tuples):
        parent[key] = tuple(parent[key])
    return root[0]


def redacted_repr(value: t.Any) -> str:
    """``repr(value)`` (never raising) with secrets redacted: nested dicts,
    lists and tuples by key (:func:`scrubbed`), and in the text of any
    repr, ``'name': value`` and ``name=value`` items named like a secret
    (a dataclass or an object whose repr shows its fields)."""
    if type(value) in (dict, list, tuple):
        try:
            value = scrubbed(value)
        except Exception:  # fail closed
            return f"{REDACTED} (a {type(value).__name__} that could not be inspected)"
    text = repr_text(value)
    if not maybe_secret(text):
        return text
    return _REPR_ITEM.sub(_redact_repr_item, text)


def redact_repr_text(text: str) -> str:
    """A ``repr`` already made (a preview of ``g`` taken while the request was
    alive): its ``'name': value`` and ``name=value`` items named like a
    secret redacted, at any depth of the text."""
    if not maybe_secret(text):
        return text
    return _REPR_ITEM.sub(_redact_repr_item, text)


def redact_uri(uri: str) -> str:
    """``path?query`` (or a URL) with the values of secret-named query parameters redacted."""
    path, sep, query = uri.partition("?")
    return f"{path}?{redact_query(query)}" if sep else uri


#: What :meth:`Redactor.environ` and :meth:`Redactor.headers` do with a str value.
_KEEP, _HIDE, _QUERY, _URI = 0, 1, 2, 3

#: Environ keys whose value is a URL (its query may hold secrets).
_URI_KEYS = frozenset({"REQUEST_URI", "RAW_URI", "HTTP_REFERER", "HTTP_CONTENT_LOCATION"})

#: Environ keys whose str values are kept as they are (most of them).
_plain_keys: set[str] = set()
#: What a str value of any other environ key needs.
_environ_actions: dict[str, int] = {}


def _environ_action(key: str) -> int:
    action = _environ_actions.get(key)
    if action is not None:
        return action
    if key in _URI_KEYS:
        action = _URI
    elif key[:5] == "HTTP_":
        action = _HIDE if is_secret_header(key) else _KEEP
    elif key == "QUERY_STRING":
        action = _QUERY
    elif key in _URI_KEYS:
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


#: Media types read as text when a body is not UTF-8.
_TEXTUAL = frozenset(
    {
        "application/x-www-form-urlencoded",
        "multipart/form-data",
        "application/json",
        "application/xml",
        "application/javascript",
    }
)


def _inflate(data: bytes, encoding: str) -> str | None:
    """The start of a gzip/deflate body as text (1 MiB at most); ``None``
    when it does not decompress."""
    import zlib

    wbits = 16 + zlib.MAX_WBITS if "gzip" in encoding else zlib.MAX_WBITS
    for bits in (wbits, -zlib.MAX_WBITS):  # deflate is zlib-wrapped, or raw
        try:
            out = zlib.decompressobj(bits).decompress(data, 1 << 20)
        except zlib.error:
            continue
        return out.decode("utf-8", "replace")
    return None


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
        if self.show_secrets or not text or not maybe_secret(text):
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

    def binary_body(self, data: bytes, content_type: t.Any, content_encoding: t.Any) -> str | None:
        """For a body that is not UTF-8 text (kept as base64): the text that
        replaces it whole when it holds a secret, else ``None``.

        A gzip or deflate body is decompressed (at most 1 MiB) and looked at
        as text; a form, JSON, XML or plain text body with a byte that is not
        UTF-8 is read as Latin-1. One that names a secret is hidden whole
        (fail closed); images and other binary types are left alone.
        """
        if self.show_secrets or not data:
            return None
        encoding = content_encoding.strip().lower() if isinstance(content_encoding, str) else ""
        mime = (
            content_type.partition(";")[0].strip().lower() if isinstance(content_type, str) else ""
        )
        what = ""
        if encoding in ("gzip", "x-gzip", "deflate"):
            text = _inflate(data, encoding)
            what = f"{encoding}-encoded body"
        elif (
            not mime
            or mime.startswith("text/")
            or mime in _TEXTUAL
            or mime.endswith(("+json", "+xml"))
        ):
            text = data.decode("latin-1")
            what = "body that is not UTF-8"
        else:
            return None
        if text is None or not names_secret(text):
            return None
        return f"{REDACTED} ({len(data)} bytes: a {what} naming a secret)"

    def fields(self, fields: t.Mapping[str, t.Any]) -> dict[str, t.Any]:
        """Form fields (or JSON object keys): secret-named values redacted."""
        if self.show_secrets:
            return dict(fields)
        return {k: REDACTED if is_secret_field(str(k)) else v for k, v in fields.items()}

    def names(self, names: t.Mapping[str, t.Any]) -> dict[str, str]:
        """Names in ``flask.g`` and the like: values as capped ``repr``, secret-named
        ones redacted."""
        if self.show_secrets:
            return {as_text(k): cap(repr_text(v)) for k, v in names.items()}
        return {
            as_text(k): REDACTED if is_secret_field(as_text(k)) else cap(redacted_repr(v))
            for k, v in names.items()
        }

    def session(self, session: t.Mapping[str, t.Any]) -> dict[str, str]:
        """Session contents: the names, and the values only with ``show_secrets``."""
        if self.show_secrets:
            return {as_text(k): cap(repr_text(v)) for k, v in session.items()}
        return {as_text(k): REDACTED for k in session}


# Names given to a parent process (--redact): redacted in the processes it
# starts too (serve's server, replay's worker processes).
_from_environment()
