"""What real servers do with a response that breaks PEP 3333.

An in-process trace calls the app the way a lenient server would and reads
whatever it returns: a body of ``str``, a second ``start_response`` after
the body began or an ``int`` header value all "work" there, with a ``200``.
A real server refuses them. :data:`REFUSALS` says, for the lint rules whose
findings a server refuses, what werkzeug's development server
(``run_simple``, ``flask run``) and gunicorn's sync worker do with such a
response, as measured by running ``tests/apps/tracetruth_refusals.py``
under both (``tests/test_tracetruth_refusals.py`` keeps the table true:
werkzeug 3.0 and 3.1, gunicorn 22 to 27; gunicorn 27 started refusing
invalid header names, CR/LF and non-latin-1 header values with a 500 page,
where earlier versions sent them or dropped the connection).

``trace`` exits 1 when a finding of its request is in the table and shows
these lines under the tree (:func:`server_refusals`); ``--json`` adds them
as ``server_refusals``.
"""

from __future__ import annotations

import dataclasses
import typing as t

#: What a client gets, by kind of outcome.
Outcome = t.Literal["error page", "no response", "cut off", "malformed", "sent"]


@dataclasses.dataclass(frozen=True)
class Refusal:
    """What werkzeug's and gunicorn's servers do with a finding of ``rule``.

    :param rule: the lint rule id.
    :param werkzeug: the outcome under werkzeug's development server.
    :param werkzeug_detail: how (the exception it logs, what is sent).
    :param gunicorn: the outcome under gunicorn.
    :param gunicorn_detail: how.
    :param when: only findings whose message contains this (``None``: all).
    :param case: those findings in words (``lint --explain``).
    :param gunicorn_before_27: the outcome under gunicorn 22 to 26, when it
        differs (the detail says how).
    """

    rule: str
    werkzeug: Outcome
    werkzeug_detail: str
    gunicorn: Outcome
    gunicorn_detail: str
    when: str | None = None
    case: str | None = None
    gunicorn_before_27: Outcome | None = None

    def applies(self, message: str) -> bool:
        return self.when is None or self.when in message


_CUT = (
    "sends the status line and headers, then fails on the first {what} "
    "({error}) and drops the connection: the body stops there"
)

REFUSALS: tuple[Refusal, ...] = (
    Refusal(
        "WSGI101",
        "error page",
        "answers 500 Internal Server Error (TypeError: object is not iterable)",
        "error page",
        "answers 500 Internal Server Error (TypeError: object is not iterable)",
    ),
    Refusal(
        "WSGI102",
        "cut off",
        _CUT.format(what="item", error="AssertionError: applications must write bytes"),
        "cut off",
        _CUT.format(what="item", error="TypeError: <int> is not a byte"),
    ),
    Refusal(
        "WSGI201",
        "error page",
        "answers 500 Internal Server Error (AssertionError: write() before start_response)",
        "malformed",
        "sends the status line 'HTTP/1.1 None' and the body: not HTTP a client can trust",
    ),
    Refusal(
        "WSGI202",
        "cut off",
        "refuses the second call (AssertionError: Headers already set): a 500 page when "
        "no body was sent yet, else the connection is dropped after the bytes already sent",
        "cut off",
        "refuses the second call (AssertionError: Response headers already set!): a 500 "
        "page when no body was sent yet, else the connection is closed after the bytes "
        "already sent",
    ),
    Refusal(
        "WSGI203",
        "no response",
        "fails before sending anything (AttributeError on the status) and drops the connection",
        "error page",
        "answers 500 Internal Server Error (TypeError: 200 is not a string)",
        when="not str",
        case="a status that is not a str; a status without reason phrase is sent by both",
    ),
    Refusal(
        "WSGI204",
        "no response",
        "fails before sending anything (ValueError unpacking the headers) and drops the connection",
        "error page",
        "answers 500 Internal Server Error (ValueError unpacking the headers)",
    ),
    Refusal(
        "WSGI205",
        "sent",
        "sends str() of the value",
        "error page",
        "answers 500 Internal Server Error (TypeError: 3 is not a string)",
    ),
    Refusal(
        "WSGI206",
        "sent",
        "sends the header as given",
        "error page",
        "answers 500 Internal Server Error (InvalidHeaderName); before gunicorn 27 it "
        "sends the header as given",
        gunicorn_before_27="sent",
    ),
    Refusal(
        "WSGI207",
        "sent",
        "sends the value as given: its CR LF starts a new header line (response splitting)",
        "error page",
        "answers 500 Internal Server Error (InvalidHeader); before gunicorn 27 it sends "
        "the value as given (response splitting)",
        gunicorn_before_27="sent",
    ),
    Refusal(
        "WSGI208",
        "no response",
        "fails before sending anything (UnicodeEncodeError) and drops the connection",
        "error page",
        "answers 500 Internal Server Error; before gunicorn 27 it fails before sending "
        "anything (UnicodeEncodeError) and drops the connection",
        gunicorn_before_27="no response",
    ),
    Refusal(
        "WSGI301",
        "cut off",
        _CUT.format(what="str chunk", error="AssertionError: applications must write bytes"),
        "cut off",
        _CUT.format(what="str chunk", error="TypeError: '...' is not a byte"),
    ),
    Refusal(
        "WSGI502",
        "cut off",
        _CUT.format(what="str write()", error="AssertionError: applications must write bytes"),
        "cut off",
        _CUT.format(what="str write()", error="TypeError: '...' is not a byte"),
    ),
)

_BY_RULE: dict[str, list[Refusal]] = {}
for _refusal in REFUSALS:
    _BY_RULE.setdefault(_refusal.rule, []).append(_refusal)


def refusal_for(rule: str, message: str) -> Refusal | None:
    """The refusal a finding (``rule``, ``message``) meets, if servers refuse it."""
    for refusal in _BY_RULE.get(rule, ()):
        if refusal.applies(message):
            return refusal
    return None


def server_refusals(findings: t.Iterable[t.Any]) -> list[dict[str, str]]:
    """The findings of a trace record's ``lint`` list that real servers
    refuse, each ``{rule, message, werkzeug, gunicorn}`` (what they do)."""
    out = []
    for finding in findings:
        if not isinstance(finding, dict):
            continue
        rule, message = str(finding.get("rule") or ""), str(finding.get("message") or "")
        refusal = refusal_for(rule, message)
        if refusal is not None:
            out.append(
                {
                    "rule": rule,
                    "message": message,
                    "werkzeug": refusal.werkzeug_detail,
                    "gunicorn": refusal.gunicorn_detail,
                }
            )
    return out
