"""Records that keep secrets (``--keep-secrets``), and their redacted view.

``trace --save --keep-secrets`` and ``serve --record FILE --keep-secrets``
write records with cookies, tokens and passwords as they were, so that
``replay`` can send them again (a logged-in session). The file is created
readable by its owner only (:func:`private_file`), and what is *shown* stays
redacted: :func:`redact_record` turns such a record into the one a
redacting tracer would have written (checked field by field against it in
the tests), for ``serve``'s live output.
"""

from __future__ import annotations

import os
import typing as t

from wsgiscope.redact import REDACTED, Redactor, is_secret_field, redact_text, redact_uri

_REDACTOR = Redactor()


def private_file(path: str) -> None:
    """Create ``path`` if needed and make it readable by its owner only (0600).

    :raises OSError: when it cannot be created or its mode changed.
    """
    os.close(os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600))
    os.chmod(path, 0o600)


def redact_record(record: dict[str, t.Any]) -> dict[str, t.Any]:
    """A ``wsgiscope.trace/1`` record written with secrets kept, redacted
    as the tracer redacts (a new object; the argument is not changed)."""
    out = dict(record)
    environ = record.get("environ")
    if isinstance(environ, dict):
        out["environ"] = _REDACTOR.environ(environ)
    request = record.get("request")
    if isinstance(request, dict):
        request = out["request"] = dict(request)
        if isinstance(request.get("query_string"), str):
            request["query_string"] = _REDACTOR.query(request["query_string"])
        if isinstance(request.get("body"), str) and request.get("body_encoding") == "utf-8":
            content_type = environ.get("CONTENT_TYPE") if isinstance(environ, dict) else None
            request["body"] = _REDACTOR.body(request["body"], content_type)
    response = record.get("response")
    if isinstance(response, dict):
        response = out["response"] = dict(response)
        headers = response.get("headers")
        if isinstance(headers, list):
            response["headers"] = _REDACTOR.headers(headers)
        if (
            isinstance(response.get("body_preview"), str)
            and response.get("body_encoding", "utf-8") == "utf-8"
        ):
            response["body_preview"] = _REDACTOR.response_body(
                response["body_preview"], headers if isinstance(headers, list) else []
            )
    events = record.get("events")
    if isinstance(events, list):
        out["events"] = [_event(event) for event in events]
    return out


def _event(event: t.Any) -> t.Any:
    if not isinstance(event, dict):
        return event
    event = dict(event)
    for key in ("g", "g_after"):
        if isinstance(event.get(key), dict):
            event[key] = {
                name: REDACTED if is_secret_field(str(name)) else value
                for name, value in event[key].items()
            }
    if isinstance(event.get("session"), dict):
        event["session"] = {name: REDACTED for name in event["session"]}
    if isinstance(event.get("changed"), dict):
        event["changed"] = _REDACTOR.environ(event["changed"])
    if isinstance(event.get("headers"), list):
        event["headers"] = _REDACTOR.headers(event["headers"])
    kind = event.get("kind")
    if kind == "sql" and isinstance(event.get("statement"), str):
        from wsgiscope.capture.sql import redact_params, redact_statement

        statement = event["statement"]
        event["parameters"] = redact_params(statement, event.get("parameters"))
        event["statement"] = redact_statement(statement)
    elif kind == "log" and isinstance(event.get("message"), str):
        event["message"] = redact_text(event["message"])
    elif kind == "http" and isinstance(event.get("url"), str):
        event["url"] = redact_uri(event["url"])
    return event
