"""Logging capture: the log records a traced request emits.

While tracing, ``logging.Logger.callHandlers`` is wrapped (on the class,
restored exactly afterwards): it is where every record that passed its
logger's level and filters goes to the handlers, whichever logger made it
and whether it propagates or not. The wrapper notes the record for the
request whose recorder is current in this thread or greenlet (a
``ContextVar``: concurrent requests never get each other's records) and
then calls the handlers exactly as before: no logger's level is changed,
no handler is added (so ``logging.lastResort`` still prints when nothing
is configured), and no record is withheld from any handler.

Which records are kept: level :data:`LEVEL` (WARNING) and up from any
logger, and :data:`APP_LEVEL` (INFO) and up from the app's own logger (a
Flask app's ``app.logger``, named after the app, and its children). A record
its logger's level drops before any handler (``logger.info`` on a logger
whose effective level is WARNING) is not seen: set the logger's level to
see it.

Each kept record is an event ``kind="log"``, at its place in the lifecycle:
``logger``, ``level``, ``message`` (capped at :data:`MESSAGE_LIMIT`
characters, secret-named ``name=value`` and JSON members redacted),
``exception`` (``"Type: message"`` when the record carries one) and
``where`` (``module.function:line``).
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import typing as t

from wsgiscope.capture import captured
from wsgiscope.redact import Redactor, as_text, redact_text
from wsgiscope.tracing.events import Event, _fields, describe_exception
from wsgiscope.tracing.recorder import Recorder, _current

if t.TYPE_CHECKING:
    from wsgiscope.tracing.instrument import Patches

#: Records at this level and up are captured from any logger.
LEVEL = logging.WARNING
#: Records at this level and up are captured from the app's own logger.
APP_LEVEL = logging.INFO
#: Characters of a message kept.
MESSAGE_LIMIT = 1000


def set_level(level: int | str) -> None:
    """Capture records from ``level`` up, from any logger (the app's own
    logger stays at INFO unless ``level`` is lower)."""
    global LEVEL, APP_LEVEL
    number = logging.getLevelName(level.upper()) if isinstance(level, str) else level
    if not isinstance(number, int):
        raise ValueError(f"unknown log level {level!r}: use DEBUG, INFO, WARNING, ERROR")
    LEVEL = number
    APP_LEVEL = min(logging.INFO, number)


@_fields
@dataclasses.dataclass(frozen=True, slots=True)
class LogRecord(Event):
    """A log record the request emitted."""

    logger: str
    level: str
    message: str
    exception: BaseException | None
    where: str

    kind: t.ClassVar[str] = "log"

    @classmethod
    def to_record(
        cls,
        seq: int,
        t_ms: float,
        depth: int,
        parent: int | None,
        values: list[t.Any],
        redactor: Redactor,
    ) -> dict[str, t.Any]:
        logger, level, message, exc, where = values
        return {
            "seq": seq,
            "t_ms": t_ms,
            "kind": cls.kind,
            "depth": depth,
            "parent": parent,
            "logger": logger,
            "level": level,
            "message": message if redactor.show_secrets else redact_text(message),
            "exception": describe_exception(exc),
            "where": where,
        }


def _app_logger(rec: Recorder, name: str) -> bool:
    """Whether ``name`` is the logger of an app whose context is current."""
    for entry in rec.contexts:
        app_name = getattr(entry[2], "name", None) if len(entry) > 2 else None
        if isinstance(app_name, str) and (name == app_name or name.startswith(app_name + ".")):
            return True
    return False


def _message(record: logging.LogRecord) -> str:
    try:
        text = as_text(record.getMessage())
    except Exception:
        text = f"{as_text(record.msg)} (formatting with its arguments failed)"
    if len(text) > MESSAGE_LIMIT:
        return f"{text[:MESSAGE_LIMIT]}... [{len(text)} chars]"
    return text


def capture(rec: Recorder, record: logging.LogRecord) -> None:
    """Record ``record`` in ``rec`` if its level is wanted and the caps allow."""
    level = record.levelno
    if level < LEVEL and not (level >= APP_LEVEL and _app_logger(rec, record.name)):
        return
    message = _message(record)
    if not captured(rec).admit("logging", len(message)):
        return
    exc = record.exc_info[1] if record.exc_info else None
    where = f"{record.module}.{record.funcName}:{record.lineno}"
    rec.add(LogRecord, rec.depth, [as_text(record.name), record.levelname, message, exc, where])


def install(patches: Patches) -> None:
    """Wrap ``Logger.callHandlers`` to see every record handed to handlers."""
    orig = logging.Logger.callHandlers

    def callHandlers(self: logging.Logger, record: logging.LogRecord) -> None:
        rec = _current.get()
        if rec is not None and rec.keep and "logging" in rec.capture:
            # never at the cost of the record itself
            with contextlib.suppress(Exception):
                capture(rec, record)
        orig(self, record)

    patches.set(logging.Logger, "callHandlers", callHandlers)
