"""The secret-word scan that gates body redaction, and the redaction it speeds up.

``maybe_secret`` decides whether a body, a log line or a ``repr`` is parsed
at all: it must hold for every name the redaction rules take (the
built-in ones, the deny-lists, the user's ``--redact`` names, whatever the
case). ``redact_markup`` and ``redact_credentials`` look only where such a
word is: they must give exactly what the whole-text substitutions give.
"""

from __future__ import annotations

import json
import random
import typing as t
from urllib.parse import unquote_plus

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wsgiscope import redact
from wsgiscope.redact import (
    REDACTED,
    Redactor,
    add_secret_names,
    is_secret_field,
    is_secret_header,
    maybe_secret,
    redact_credentials,
    redact_markup,
    redact_repr_text,
    redact_text,
    reset_secret_names,
)


@pytest.fixture(autouse=True)
def _no_user_names() -> t.Iterator[None]:
    reset_secret_names()
    yield
    reset_secret_names()


def whole_text_markup(text: str) -> str:
    """What ``redact_markup`` did before it looked only where a secret word is."""
    text = redact._TAG.sub(redact._redact_tag, text)
    return redact._ELEMENT.sub(redact._redact_element, text)


def whole_text_credentials(text: str) -> str:
    """What ``redact_credentials`` did before it looked only where a scheme is."""
    return redact._CREDENTIALS.sub(lambda m: f"{m.group(1)}{m.group(2)}{REDACTED}", text)


def catalog_page(rows: int = 300, seed: int = 1) -> str:
    """An HTML page as a shop renders it: a csrf meta tag and hidden input, a
    login form, a table whose cells hold words that contain secret words
    (author, keyboard, design, spinner)."""
    rng = random.Random(seed)
    words = ["the", "design", "author", "keyboard", "spinner", "signup", "basic", "token", "key"]
    cells = "".join(
        f'<tr class="row"><td><a href="/products/{i}?ref=list&amp;page=2">Item {i}</a></td>'
        f'<td class="price" data-id="{i}">${i}.99</td>'
        f'<td><span title="In stock">{rng.choice(words)} {rng.choice(words)}</span></td>'
        f'<td><button type="button" onclick="add({i})">Add</button></td></tr>'
        for i in range(rows)
    )
    token = "IjQ3ZDk2YmQ2ZjYxYjY1NzQ0NDA2ZjY1N2QyZWVkNzM5NzVmN2E0NTAi.Z3Bw.abc"
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f'<meta name="csrf-token" content="{token}"><title>Catalog</title></head><body>'
        '<form method="post" action="/login">'
        f'<input type="hidden" name="csrf_token" value="{token}">'
        '<input name="username"><input type="password" name="password" value="hunter2">'
        "<api_key>k-123</api_key><Password>p</Password>"
        f"</form><table>{cells}</table><p>Authorization: Bearer {token}</p></body></html>"
    )


def test_a_page_is_redacted_as_the_whole_text_substitutions_do() -> None:
    page = catalog_page()
    redacted, starts = redact._markup(page)
    assert redacted == whole_text_markup(page)
    assert starts == redact.secret_word_starts(redacted)
    assert "IjQ3" in redacted  # in the <p>: credentials are redact_credentials' part
    assert 'value="hunter2"' not in redacted
    assert "<api_key>[redacted]</api_key>" in redacted
    body = Redactor().response_body(page, [("Content-Type", "text/html; charset=utf-8")])
    assert "IjQ3" not in body
    assert body == whole_text_credentials(whole_text_markup(page))


#: Pieces markup is made of here: secret words, words holding them, the
#: letters IGNORECASE takes for ASCII ones, and the characters the patterns
#: turn on.
_PIECES = (
    "<", ">", "</", "/>", " ", "\n", "=", '"', "'", "-", "_", ":", ".", "a", "b", "x",
    "input", "meta", "name", "id", "value", "content", "property", "data-", "password",
    "csrf_token", "api_key", "token", "Token", "session", "author", "keyboard", "key",
    "pin", "design", "PASSWD", "Bearer ", "basic ", "Bot ", "digest ", "eyJhbGciOi",
    "\u0130", "\u0131", "\u017f", "\u212a", "\u017fecret", "jwt", "<!--", "-->",
)  # fmt: skip
_loose = st.lists(st.sampled_from(_PIECES), max_size=40).map("".join)
_names = st.sampled_from(
    ["input", "meta", "password", "api_key", "b", "x-token", "Pa\u017f\u017fwd"]
)
_attribute = st.builds(
    "{}={}{}{}".format,
    st.sampled_from(["name", "id", "value", "content", "title", "data-token", "class"]),
    st.sampled_from(['"', "'", ""]),
    st.sampled_from(
        ["csrf_token", "token", "x", "Bearer abcdefgh", "basic key", "\u017fecret", ""]
    ),
    st.sampled_from(['"', "'", ""]),
)
_tag = st.builds(
    lambda name, attributes: f"<{name} {' '.join(attributes)}>",
    _names,
    st.lists(_attribute, max_size=3),
)
_element = st.builds(
    "<{0}{1}>{2}</{0}>".format,
    _names,
    st.sampled_from(["", ' class="x"', ' name="token"']),
    st.sampled_from(["hunter2", "Bearer abcdefgh", "key", ""]),
)
#: Markup: loose pieces, and whole tags and elements among them.
markup = st.one_of(
    _loose,
    st.lists(st.one_of(_tag, _element, st.sampled_from(_PIECES)), max_size=15).map("".join),
)


@settings(max_examples=400, deadline=None)
@given(markup)
def test_any_markup_is_redacted_as_the_whole_text_substitutions_do(text: str) -> None:
    assert redact_markup(text) == whole_text_markup(text)


@settings(max_examples=400, deadline=None)
@given(markup)
def test_the_words_found_after_markup_are_where_a_new_search_finds_them(text: str) -> None:
    redacted, starts = redact._markup(text)
    assert starts == redact.secret_word_starts(redacted)


@settings(max_examples=300, deadline=None)
@given(markup)
def test_any_html_body_is_redacted_as_the_whole_text_substitutions_do(text: str) -> None:
    body = Redactor().response_body(text, [("Content-Type", "text/html")])
    expected = whole_text_credentials(whole_text_markup(text)) if maybe_secret(text) else text
    assert body == expected


@settings(max_examples=200, deadline=None)
@given(markup)
def test_with_a_user_name_any_markup_is_redacted_as_before(text: str) -> None:
    add_secret_names(["jwt", "x-b"])
    assert redact_markup(text) == whole_text_markup(text)


@settings(max_examples=400, deadline=None)
@given(markup)
def test_any_text_has_its_credentials_redacted_as_before(text: str) -> None:
    assert redact_credentials(text) == whole_text_credentials(text)


def test_an_element_named_like_a_secret_with_a_tag_after_it() -> None:
    # the element pass changes the text, and the tag pass then looks anew
    text = '<password>hunter2</password><input name="token" value="t-1"><b>key</b>'
    assert redact_markup(text) == whole_text_markup(text)
    assert redact_markup(text) == (
        '<password>[redacted]</password><input name="token" value="[redacted]"><b>key</b>'
    )


# -- what the scan must find ----------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        *redact._denied,
        "X-Auth-Token", "Proxy-Authorization", "X-Api-Key", "HTTP_X_CSRFTOKEN", "PHPSESSID",
        "user_password", "passphrase", "otp", "pin", "ssn", "sig", "cvv", "private-key",
        "signature", "credential", "symfony", "Set-Cookie", "connect.sid",
    ],
)  # fmt: skip
def test_every_name_the_rules_take_holds_a_secret_word(name: str) -> None:
    assert is_secret_field(name) or is_secret_header(name)
    assert maybe_secret(name)
    assert maybe_secret(name.upper())


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("abcdeikopstxyPSTK_-.\u0130\u0131\u017f\u212a"))))
def test_a_name_taken_as_secret_is_never_missed_by_the_scan(name: str) -> None:
    if is_secret_field(name) or is_secret_header(name):
        assert maybe_secret(name)
        assert maybe_secret(f"x {name}=1")


def test_the_letters_ignorecase_takes_for_ascii_ones_are_found() -> None:
    for name in ("\u017fecret", "pa\u017f\u017f", "\u212aey", "p\u0130n", "ap\u0131key"):
        assert is_secret_field(name)
        assert maybe_secret(name)
        body = Redactor().response_body(f'{{"{name}": "v-1"}}', [("Content-Type", "text/json")])
        assert "v-1" not in body


# -- what it used to miss -------------------------------------------------------------


def test_a_user_name_is_redacted_in_response_bodies_and_reprs() -> None:
    # --redact jwt: the scan did not know the user's names, so bodies and
    # reprs holding no built-in word kept the value
    add_secret_names(["jwt"])
    redactor = Redactor()
    json_type = [("Content-Type", "application/json")]
    json_body = redactor.response_body('{"jwt": "abc", "n": 1}', json_type)
    assert json_body == '{"jwt": "[redacted]", "n": 1}'
    html_type = [("Content-Type", "text/html")]
    html = redactor.response_body('<input name="jwt" value="abc">', html_type)
    assert html == '<input name="jwt" value="[redacted]">'
    assert redact_repr_text("User(jwt='abc')") == "User(jwt='[redacted]')"
    assert redact_text("jwt=abc&n=1") == "jwt=[redacted]&n=1"


def test_symfony_session_names_are_redacted_in_bodies() -> None:
    body = Redactor().response_body('{"symfony": "s-1"}', [("Content-Type", "application/json")])
    assert body == '{"symfony": "[redacted]"}'


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("with Bot MTk4NjIyNDgzNDcxOTI1MjQ4.Cl2FMQ.x done", "with Bot [redacted] done"),
        ("Digest 6629fae49393a05397450978507c4ef1", "Digest [redacted]"),
        ("robot arms, both of them", "robot arms, both of them"),
    ],
)
def test_digest_and_bot_credentials_in_free_text(text: str, expected: str) -> None:
    assert redact_text(text) == expected


# -- JSON --------------------------------------------------------------------------------


def walked_json(text: str) -> str:
    """What ``redact_json_text`` did before it looked at the keys while parsing."""
    if redact.json_depth(text) > redact.MAX_JSON_DEPTH:
        return redact._unparsed(text, f"JSON nested deeper than {redact.MAX_JSON_DEPTH} levels")
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        return redact._unparsed(text, "unparseable JSON")
    changed = False
    stack = [value]
    while stack:
        item = stack.pop()
        if type(item) is dict:
            for key, inner in item.items():
                if is_secret_field(key):
                    item[key] = REDACTED
                    changed = True
                elif type(inner) in (dict, list):
                    stack.append(inner)
        elif type(item) is list:
            stack.extend(inner for inner in item if type(inner) in (dict, list))
    return json.dumps(value) if changed else text


json_keys = st.sampled_from(["id", "name", "token", "api_key", "author", "x", "jwt", "\u017fecret"])
json_values = st.recursive(
    st.none() | st.integers() | st.text(alphabet='ab"\\[]{}', max_size=6),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(json_keys, inner, max_size=4),
    max_leaves=30,
)


@settings(max_examples=400, deadline=None)
@given(json_values)
def test_any_json_is_redacted_as_the_walk_after_parsing_did(value: t.Any) -> None:
    text = json.dumps(value)
    assert redact.redact_json_text(text) == walked_json(text)
    cut = text[: len(text) // 2]  # a preview cut by the cap: not JSON
    assert redact.redact_json_text(cut) == walked_json(cut)


@pytest.mark.parametrize("depth", [99, 100, 101, 150, 5000])
@pytest.mark.parametrize("secret", [True, False])
def test_deep_json_as_before(depth: int, secret: bool) -> None:
    inner = '{"token": "t"}' if secret else '{"n": 1}'
    text = '{"a": [' * depth + inner + "]}" * depth
    escaped = '{"s": "\\\\\\"[[[", "d": ' + "[" * depth + "]" * depth + ', "token": 1}'
    backslash = '{"s": "a\\\\", "d": ' + "[" * depth + "]" * depth + ', "token": 1}'
    for doc in (text, escaped, backslash, '["\\\\", ' + "{" * depth):
        assert redact.redact_json_text(doc) == walked_json(doc)


# -- free text ---------------------------------------------------------------------------


def whole_free_text(text: str) -> str:
    """What ``redact_text`` did before it looked only at the lines that matter."""
    if not maybe_secret(text):
        return text
    text = redact._JSON_MEMBER.sub(redact._redact_member, text)
    text = redact._TEXT_PARAM.sub(redact._redact_param, text)
    if "<" in text:
        text = whole_text_markup(text)
    return whole_text_credentials(text)


_TEXT_PIECES = (
    " ", "\n", "\r\n", "\t", "\u00a0", "=", "&", ";", "?", "%", "+", "%74oken", "to+ken", '"', ":",
    "a", "x1", "token", "api_key", "pass", "my key", "my+key", "id", "value", "<b>", "<input ",
    "name=", "Bearer ", "abcdef12", "\u017fecret", "key",
)  # fmt: skip
free_text = st.lists(st.sampled_from(_TEXT_PIECES), max_size=40).map("".join)


@settings(max_examples=500, deadline=None)
@given(free_text)
def test_any_free_text_is_redacted_as_the_whole_text_substitutions_do(text: str) -> None:
    assert redact_text(text) == whole_free_text(text)


@settings(max_examples=200, deadline=None)
@given(free_text)
def test_with_a_spaced_user_name_any_free_text_is_redacted_as_before(text: str) -> None:
    add_secret_names(["my key"])  # unquote_plus("my+key") names it
    assert redact_text(text) == whole_free_text(text)


def test_a_percent_escaped_name_on_a_line_of_its_own() -> None:
    text = "lorem ipsum\n%74oken=abc&n=1\ndolor n=2\nx=1 api_key=k"
    expected = "lorem ipsum\n%74oken=[redacted]&n=1\ndolor n=2\nx=1 api_key=[redacted]"
    assert redact_text(text) == expected
    assert redact_text(text) == whole_free_text(text)


# -- forms -------------------------------------------------------------------------------


def whole_multipart(text: str) -> str:
    """What multipart redaction was: one ``sub`` of the whole-part pattern."""
    return redact._MULTIPART_PART.sub(
        lambda m: m.group(1) + REDACTED if is_secret_field(m.group(2)) else m.group(0), text
    )


_MULTIPART_PIECES = (
    "--b\r\n", "--b--\r\n", "\r\n", "\n", "\r", "--", "Content-Disposition: form-data; ",
    "content-disposition: form-data; ", 'name="password"', 'name="title"', 'name="csrf_token"',
    '; filename="a.txt"', 'filename="x"', "Content-Type: text/plain\r\n", "x", "hunter2",
    "data\r\n--b", " ", "\r\n\r\n",
)  # fmt: skip
multipart = st.lists(st.sampled_from(_MULTIPART_PIECES), max_size=30).map("".join)


@settings(max_examples=600, deadline=None)
@given(multipart)
def test_any_multipart_body_is_redacted_as_the_whole_pattern_did(text: str) -> None:
    assert redact.redact_multipart(text) == whole_multipart(text)


def test_an_upload_next_to_secret_fields() -> None:
    boundary = "----WebKitFormBoundary7MA4YWxkTrZu0gW"
    upload = "lorem ipsum\n" * 2000 + 'Content-Disposition: form-data; name="password"\r\n\r\nx'
    body = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="csrf_token"\r\n\r\nabc123\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="upload"; filename="a.txt"\r\n'
        f"Content-Type: text/plain\r\n\r\n{upload}\r\n--{boundary}--\r\n"
    )
    redacted = Redactor().body(body, f"multipart/form-data; boundary={boundary}")
    assert redacted == whole_multipart(body)
    assert "abc123" not in redacted
    assert upload in redacted  # a secret name inside a file's content is its content


form_pieces = st.sampled_from(
    ["a=1", "password=x", "%70assword=y", "pass+word=z", "to%20ken=1", "&", ";", "=", " "]
)


@settings(max_examples=300, deadline=None)
@given(st.lists(form_pieces, max_size=20).map("".join))
def test_any_form_is_redacted_as_when_every_name_was_unquoted(text: str) -> None:
    expected = (
        "".join(
            f"{part.partition('=')[0]}={REDACTED}"
            if part.partition("=")[1]
            and is_secret_field(unquote_plus(part.partition("=")[0].strip()))
            else part
            for part in redact._PARAM_SEPARATOR.split(text)
        )
        if "=" in text
        else text
    )
    assert redact.redact_query(text) == expected


def test_a_plus_in_a_form_name_is_a_space_before_it_is_judged() -> None:
    add_secret_names(["my key"])
    assert redact.redact_query("my+key=1&n=2") == f"my+key={REDACTED}&n=2"
    assert redact.redact_query("my%20key=1") == f"my%20key={REDACTED}"
