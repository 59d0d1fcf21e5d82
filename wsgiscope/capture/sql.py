"""SQL capture: every statement a traced request runs, where it ran.

Three ways in, installed with the framework instrumentation (see
:mod:`wsgiscope.tracing.instrument`) and removed exactly afterwards:

- **SQLAlchemy** (Core and ORM; tested with 2.x): ``before_cursor_execute``,
  ``after_cursor_execute`` and ``handle_error`` listeners on the ``Engine``
  *class*, so every engine, made before or after, is seen with no app
  configuration.
- **Django**: an execute wrapper (``connection.execute_wrappers``, what
  ``connection.execute_wrapper()`` installs) added to every connection the
  request makes a cursor on, innermost so the time is the database's; it
  is taken off every such connection when the instrumentation is removed.
- **sqlite3** used directly (the Flask tutorial's ``sqlite3.connect``):
  ``sqlite3.connect`` is replaced while tracing, and a connection made by
  a traced request is a :class:`TracedConnection`, whose ``execute``,
  ``executemany`` and ``executescript`` (and its cursors') are timed. What is
  *not* seen: connections made before tracing started or outside a traced
  request (a module-level connection), connections made with a
  ``factory=`` of the app's own, ``from sqlite3 import connect`` bound
  before tracing, and statements sqlite runs implicitly (the ``BEGIN``
  before a write, ``COMMIT``). A connection made while tracing keeps its
  class afterwards and is untouched outside traced requests. Statements
  that SQLAlchemy or Django run through sqlite3 are counted once, by them.

Each statement is an event ``kind="sql"`` at its place in the lifecycle
(its ``parent`` is the hook, view or template render that ran it) with
``statement`` (capped at :data:`STATEMENT_LIMIT` characters), ``parameters``
(values as capped ``repr``; redacted when the parameter or the column it is
compared with or inserted into is named like a secret, and all of them when
a name cannot be told and the statement mentions a secret-like name),
``duration_ms``, ``rowcount`` (when the driver gives one), ``database``,
``source`` (sqlalchemy, django, sqlite3), ``many`` (executemany) and
``error``. :func:`query_summary` derives the record's ``queries`` field:
count, total time and statements run more than once (a likely N+1) with
the hooks that issued them.
"""

from __future__ import annotations

import contextlib
import dataclasses
import re
import typing as t
import weakref

from wsgiscope.capture import captured, quiet
from wsgiscope.redact import REDACTED, Redactor, as_text, is_secret_field, repr_text
from wsgiscope.tracing.events import Event, _fields, describe_exception
from wsgiscope.tracing.recorder import Recorder, _current

if t.TYPE_CHECKING:
    from wsgiscope.tracing.instrument import Patches

#: Characters of a statement kept.
STATEMENT_LIMIT = 2000
#: Parameters kept per statement (an executemany's first row only).
PARAM_COUNT = 20
#: Characters of one parameter's ``repr`` kept.
PARAM_LIMIT = 100
#: Statements listed as duplicated in ``queries`` at most.
DUPLICATES_SHOWN = 20


@_fields
@dataclasses.dataclass(frozen=True, slots=True)
class SQLQuery(Event):
    """A statement ran on a database connection."""

    source: str
    statement: str
    parameters: t.Any
    many: bool
    duration: float | None
    rowcount: int | None
    database: str | None
    error: BaseException | None

    kind: t.ClassVar[str] = "sql"

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
        source, statement, params, many, duration, rowcount, database, error = values
        show = redactor.show_secrets
        return {
            "seq": seq,
            "t_ms": t_ms,
            "kind": cls.kind,
            "depth": depth,
            "parent": parent,
            "source": source,
            "statement": statement if show else redact_statement(statement),
            "parameters": params if show else redact_params(statement, params),
            "many": many,
            "duration_ms": None if duration is None else int(duration * 1e6 + 0.5) / 1000,
            "rowcount": rowcount,
            "database": database,
            "error": describe_exception(error),
        }


# -- values -------------------------------------------------------------------


def _statement(statement: t.Any) -> str:
    text = as_text(statement)
    if len(text) > STATEMENT_LIMIT:
        return f"{text[:STATEMENT_LIMIT]}... [{len(text)} chars]"
    return text


def _param(value: t.Any) -> str:
    text = repr_text(value)
    return text if len(text) <= PARAM_LIMIT else f"{text[:PARAM_LIMIT]}... [{len(text)} chars]"


def snapshot_params(params: t.Any, many: bool = False) -> t.Any:
    """Parameters as capped text: a list, a dict (named), or ``None``.

    For ``executemany`` the first row stands for all (the statement is the same).
    """
    if params is None:
        return None
    try:
        if many:
            params = next(iter(params), None) if not isinstance(params, (str, bytes)) else params
            if params is None:
                return None
        if isinstance(params, dict):
            items = list(params.items())[:PARAM_COUNT]
            return {as_text(k): _param(v) for k, v in items}
        if isinstance(params, (list, tuple)):
            return [_param(v) for v in params[:PARAM_COUNT]]
    except Exception:
        pass
    return _param(params)


def _size(statement: str, params: t.Any) -> int:
    if isinstance(params, dict):
        return len(statement) + sum(len(k) + len(v) for k, v in params.items())
    if isinstance(params, list):
        return len(statement) + sum(map(len, params))
    return len(statement) + (len(params) if isinstance(params, str) else 0)


# -- redaction ---------------------------------------------------------------

#: A placeholder: ``?``, ``%s``, ``%(name)s``, ``:name``, ``$1``.
_PLACEHOLDER = re.compile(r"\?|%s|%\((\w+)\)s|(?<![:\w]):(\w+)|\$(\d+)")
#: The column a placeholder is compared with: ``name = ?``, ``"t"."name" LIKE ?``.
_COMPARED = re.compile(
    r"[\"`\]]?(\w+)[\"`\]]?\s*(?:=|==|<>|!=|<=|>=|<|>|\bLIKE|\bIN\s*\((?:[^()]*,)?)\s*$",
    re.IGNORECASE,
)
_INSERT = re.compile(
    r"\s*(?:INSERT|REPLACE)\s+(?:OR\s+\w+\s+)?INTO\s+\S+\s*\(([^)]*)\)\s*VALUES",
    re.IGNORECASE,
)
#: ``name = 'literal'`` in a statement's text.
_LITERAL = re.compile(r"[\"`]?(\w+)[\"`]?(\s*(?:=|LIKE)\s*)'(?:[^']|'')*'", re.IGNORECASE)
_WORD = re.compile(r"\w+")


_PART = re.compile(r"[^a-zA-Z]+")


def secret_name(name: str) -> bool:
    """Whether a parameter or column is named like a secret, as a whole or by
    one of its parts (``password_hash``, ``user_api_key``)."""
    return is_secret_field(name) or any(is_secret_field(p) for p in _PART.split(name) if p)


def _contains_secret_name(statement: str) -> bool:
    return any(secret_name(word) for word in set(_WORD.findall(statement)))


_GENERIC = re.compile(r"[a-z]{0,6}_?\d+", re.IGNORECASE)


def _places(statement: str) -> list[tuple[str | None, str | None]]:
    """``(placeholder name, column)`` of each placeholder, in order: the name
    of a named one (``%(name)s``, ``:name``), and the column it is compared
    with or inserted into, when that can be told."""
    places: list[tuple[str | None, str | None]] = []
    insert = _INSERT.match(statement)
    columns = [c.strip().strip('"`[]') for c in insert.group(1).split(",")] if insert else []
    values_at = insert.end() if insert else -1
    inserted = 0
    for found in _PLACEHOLDER.finditer(statement):
        if len(places) >= 1000:
            break
        named = found.group(1) or found.group(2)
        if columns and found.start() > values_at:
            places.append((named, columns[inserted % len(columns)]))
            inserted += 1
            continue
        before = _COMPARED.search(statement, max(0, found.start() - 120), found.start())
        places.append((named, before.group(1) if before else None))
    return places


def param_names(statement: str, count: int) -> list[str | None]:
    """The column each positional parameter stands for, when it can be told:
    the column it is compared with, or inserted into."""
    columns = [column for name, column in _places(statement) if name is None][:count]
    return columns + [None] * (count - len(columns))


def _hide(name: str | None, column: str | None, secretive: bool) -> bool:
    if name is not None and secret_name(name):
        return True
    if column is not None:
        return secret_name(column)
    # no column to judge by: fail closed when the statement names a secret
    # and the parameter's own name says nothing (param_1, pk_2)
    return secretive and (name is None or _GENERIC.fullmatch(name) is not None)


def redact_params(statement: str, params: t.Any) -> t.Any:
    """Parameters with secret-named ones (by their name, or the column they
    are compared with or inserted into) redacted, failing closed: one whose
    column cannot be told is redacted too when the statement names a secret."""
    if params is None:
        return None
    secretive = _contains_secret_name(statement)
    places = _places(statement)
    positional = [column for name, column in places if name is None]
    if isinstance(params, dict):
        named = {name: column for name, column in places if name is not None}
        out = {}
        for index, (name, value) in enumerate(params.items()):
            if name in named:
                column = named[name]
            else:  # SQLAlchemy's names for a qmark statement's parameters, in order
                column = positional[index] if index < len(positional) else None
            out[name] = REDACTED if _hide(name, column, secretive) else value
        return out
    if isinstance(params, list):
        return [
            REDACTED
            if _hide(None, positional[i] if i < len(positional) else None, secretive)
            else v
            for i, v in enumerate(params)
        ]
    return REDACTED if secretive else params


def _redact_literal(found: re.Match[str]) -> str:
    if secret_name(found.group(1)):
        return f"{found.group(1)}{found.group(2)}'{REDACTED}'"
    return found.group(0)


def redact_statement(statement: str) -> str:
    """A statement with string literals compared with secret-named columns redacted."""
    if "'" not in statement:
        return statement
    return _LITERAL.sub(_redact_literal, statement)


# -- recording -----------------------------------------------------------------


@quiet
def start(
    rec: Recorder, source: str, statement: t.Any, params: t.Any, many: bool, database: str | None
) -> t.Any:
    """Record a statement starting now; returns its row (finished by :func:`end`)."""
    text = _statement(statement)
    shown = snapshot_params(params, many)
    if not captured(rec).admit("sql", _size(text, shown)):
        return None
    values = [source, text, shown, many, None, None, database, None]
    return rec.add(SQLQuery, rec.depth, values)


@quiet
def end(rec: Recorder, row: t.Any, rowcount: t.Any, error: BaseException | None) -> None:
    """Finish a statement's event: duration, row count, error."""
    values = row[4]
    values[4] = rec.clock() - row[1]  # since the row was added
    if type(rowcount) is int and rowcount >= 0:
        values[5] = rowcount
    if error is not None:
        values[7] = error


def _recording() -> Recorder | None:
    rec = _current.get()
    if rec is None or not rec.keep or "sql" not in rec.capture:
        return None
    return rec


# -- SQLAlchemy ----------------------------------------------------------------

_KEY = "_wsgiscope_sql"
_engine_names: dict[int, tuple[t.Any, str]] = {}


def _engine_name(conn: t.Any) -> str | None:
    try:
        engine = conn.engine
        cached = _engine_names.get(id(engine))
        if cached is not None and cached[0] is engine:
            return cached[1]
        name = engine.url.render_as_string(hide_password=True)
        if len(_engine_names) < 256:
            _engine_names[id(engine)] = (engine, name)
        return t.cast(str, name)
    except Exception:
        return None


@quiet
def _sa_before(
    conn: t.Any, cursor: t.Any, statement: t.Any, parameters: t.Any, context: t.Any, many: bool
) -> None:
    rec = _recording()
    if rec is None:
        return
    state = captured(rec)
    state.nested += 1
    names = getattr(getattr(context, "compiled", None), "positiontup", None)
    if names and isinstance(parameters, (list, tuple)):
        # name the positional parameters as SQLAlchemy named them (the
        # columns' keys), so that secret-named ones are redacted
        if not many and len(names) == len(parameters):
            parameters = dict(zip(names, parameters, strict=True))
        elif many and parameters and len(parameters[0]) == len(names):
            parameters = [dict(zip(names, parameters[0], strict=True))]
    values = start(rec, "sqlalchemy", statement, parameters, many, _engine_name(conn))
    try:
        setattr(context, _KEY, (rec, values))
    except Exception:  # an execution context that takes no attributes
        state.nested -= 1


def _take_pending(context: t.Any) -> tuple[Recorder, t.Any] | None:
    """The statement :func:`_sa_before` left on an execution context (taken
    off it), as ``(recorder, values)``; ``None`` when there is none or it is
    not recorded (nested in another)."""
    pending = getattr(context, _KEY, None)
    if pending is None:
        return None
    delattr(context, _KEY)
    rec, values = pending
    rec.captured.nested -= 1
    return None if values is None else (rec, values)


@quiet
def _sa_after(
    conn: t.Any, cursor: t.Any, statement: t.Any, parameters: t.Any, context: t.Any, many: bool
) -> None:
    taken = _take_pending(context)
    if taken is not None:
        try:
            rowcount = cursor.rowcount
        except Exception:
            rowcount = None
        end(*taken, rowcount, None)


@quiet
def _sa_error(exception_context: t.Any) -> None:
    taken = _take_pending(getattr(exception_context, "execution_context", None))
    if taken is not None:
        end(*taken, None, getattr(exception_context, "original_exception", None))


def install_sqlalchemy(patches: Patches) -> None:
    """Listen to every engine's cursor executions (class-level listeners)."""
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    listeners: list[tuple[str, t.Callable[..., None]]] = [
        ("before_cursor_execute", _sa_before),
        ("after_cursor_execute", _sa_after),
        ("handle_error", _sa_error),
    ]
    for name, func in listeners:
        event.listen(Engine, name, func)

    def remove() -> None:
        for name, func in listeners:
            event.remove(Engine, name, func)

    patches.on_undo(remove)


# -- Django ----------------------------------------------------------------------

_django_connections: weakref.WeakSet[t.Any] = weakref.WeakSet()


def _django_wrapper(execute: t.Any, sql: t.Any, params: t.Any, many: bool, context: t.Any) -> t.Any:
    rec = _recording()
    if rec is None:
        return execute(sql, params, many, context)
    connection = context.get("connection") if isinstance(context, dict) else None
    database = None
    if connection is not None:
        database = f"{getattr(connection, 'alias', '?')} ({getattr(connection, 'vendor', '?')})"
    state = captured(rec)
    values = start(rec, "django", sql, params, many, database)
    state.nested += 1
    try:
        result = execute(sql, params, many, context)
    except BaseException as exc:
        if values is not None:
            end(rec, values, None, exc)
        raise
    finally:
        state.nested -= 1
    if values is not None:
        cursor = context.get("cursor") if isinstance(context, dict) else None
        end(rec, values, getattr(cursor, "rowcount", None), None)
    return result


def install_django(patches: Patches) -> None:
    """Add the execute wrapper to each connection a traced request makes a cursor on."""
    from django.db.backends.base.base import BaseDatabaseWrapper

    orig = BaseDatabaseWrapper._prepare_cursor

    def _prepare_cursor(self: t.Any, cursor: t.Any) -> t.Any:
        if _current.get() is not None:
            wrappers = self.execute_wrappers
            if _django_wrapper not in wrappers:
                wrappers.append(_django_wrapper)
                _django_connections.add(self)
        return orig(self, cursor)

    patches.set(BaseDatabaseWrapper, "_prepare_cursor", _prepare_cursor)
    patches.on_undo(_unwrap_django)


def _unwrap_django() -> None:
    for connection in list(_django_connections):
        wrappers = getattr(connection, "execute_wrappers", [])
        while _django_wrapper in wrappers:
            wrappers.remove(_django_wrapper)
    _django_connections.clear()


# -- sqlite3 -------------------------------------------------------------------


def _sqlite_run(
    cursor: t.Any, call: t.Any, sql: t.Any, params: t.Any, many: bool, script: bool = False
) -> t.Any:
    rec = _recording()
    if rec is None:
        return call()
    state = captured(rec)
    if state.nested:
        return call()  # SQLAlchemy or Django records this statement
    values = start(rec, "sqlite3", sql, None if script else params, many, _db_name(cursor))
    if values is None:
        return call()
    try:
        result = call()
    except BaseException as exc:
        end(rec, values, None, exc)
        raise
    end(rec, values, getattr(cursor, "rowcount", None), None)
    return result


def _db_name(cursor: t.Any) -> str | None:
    connection = getattr(cursor, "connection", None)
    name = getattr(connection, "_wsgiscope_database", None)
    return f"sqlite3:{name}" if name is not None else "sqlite3"


_sqlite_classes: tuple[type, type] | None = None


def _classes() -> tuple[type, type]:
    """``(TracedConnection, TracedCursor)``, made once sqlite3 is imported."""
    global _sqlite_classes
    if _sqlite_classes is not None:
        return _sqlite_classes
    import sqlite3

    class TracedCursor(sqlite3.Cursor):
        """A cursor whose statements are recorded in traced requests."""

        def execute(self, sql: t.Any, parameters: t.Any = (), /) -> t.Any:
            return _sqlite_run(
                self,
                lambda: super(TracedCursor, self).execute(sql, parameters),
                sql,
                parameters,
                False,
            )

        def executemany(self, sql: t.Any, seq_of_parameters: t.Any, /) -> t.Any:
            rows = seq_of_parameters
            # an iterator is read by sqlite only: its parameters are not shown
            shown = rows if isinstance(rows, (list, tuple)) else None
            return _sqlite_run(
                self, lambda: super(TracedCursor, self).executemany(sql, rows), sql, shown, True
            )

        def executescript(self, sql_script: t.Any, /) -> t.Any:
            return _sqlite_run(
                self,
                lambda: super(TracedCursor, self).executescript(sql_script),
                sql_script,
                None,
                False,
                script=True,
            )

    class TracedConnection(sqlite3.Connection):
        """A connection made by a traced request: its statements are recorded
        while a traced request uses it (see :mod:`wsgiscope.capture.sql`)."""

        def cursor(self, factory: t.Any = TracedCursor) -> t.Any:
            return super().cursor(factory)

        def execute(self, sql: t.Any, parameters: t.Any = (), /) -> t.Any:
            return self.cursor().execute(sql, parameters)

        def executemany(self, sql: t.Any, parameters: t.Any, /) -> t.Any:
            return self.cursor().executemany(sql, parameters)

        def executescript(self, sql_script: t.Any, /) -> t.Any:
            return self.cursor().executescript(sql_script)

    _sqlite_classes = (TracedConnection, TracedCursor)
    return _sqlite_classes


def install_sqlite3(patches: Patches) -> None:
    """Replace ``sqlite3.connect`` so that traced requests get timed connections."""
    import sqlite3

    orig = sqlite3.connect
    connection_class = _classes()[0]

    def connect(database: t.Any, *args: t.Any, **kwargs: t.Any) -> t.Any:
        if (
            _current.get() is None
            or len(args) > 4
            or kwargs.get("factory") not in (None, sqlite3.Connection)
        ):
            return orig(database, *args, **kwargs)
        kwargs["factory"] = connection_class
        connection = orig(database, *args, **kwargs)
        with contextlib.suppress(Exception):
            connection._wsgiscope_database = as_text(database)
        return connection

    connect.__wrapped__ = orig  # type: ignore[attr-defined]
    patches.set(sqlite3, "connect", connect)


# -- derived -------------------------------------------------------------------


def issuer(event: dict[str, t.Any], by_seq: dict[t.Any, dict[str, t.Any]]) -> str:
    """What ran an event: the nearest enclosing hook (and template render)."""
    parts: list[str] = []
    parent = event.get("parent")
    seen = 0
    while parent is not None and seen < 100:
        seen += 1
        owner = by_seq.get(parent)
        if owner is None:
            break
        kind = owner.get("kind")
        if kind == "template" and not parts:
            parts.append(f"template {owner.get('name') or '?'}")
        elif kind == "hook":
            hook = owner.get("hook") or "?"
            parts.append(f"{hook} {owner.get('function') or '?'}")
            break
        parent = owner.get("parent")
    return " in ".join(parts) if parts else "outside any hook"


def query_summary(events: list[dict[str, t.Any]]) -> dict[str, t.Any] | None:
    """The record's ``queries`` field, or ``None`` when no statement ran.

    ``count``, ``total_ms``, ``duplicated`` (statements whose exact text ran
    more than once, all their runs counted) and ``duplicates``: each such
    statement with its ``count``, ``total_ms`` and the hooks that ran it
    (``issued_by``), most repeated first.
    """
    queries = [e for e in events if e.get("kind") == "sql"]
    if not queries:
        return None
    by_seq = {e.get("seq"): e for e in events}
    groups: dict[str, list[dict[str, t.Any]]] = {}
    for query in queries:
        groups.setdefault(str(query.get("statement")), []).append(query)
    duplicates: list[dict[str, t.Any]] = []
    for statement, group in groups.items():
        if len(group) < 2:
            continue
        issued: list[str] = []
        for query in group:
            who = issuer(query, by_seq)
            if who not in issued:
                issued.append(who)
        duplicates.append(
            {
                "statement": statement,
                "count": len(group),
                "total_ms": _total(group),
                "issued_by": issued[:10],
            }
        )
    duplicates.sort(key=lambda d: -t.cast(int, d["count"]))
    return {
        "count": len(queries),
        "total_ms": _total(queries),
        "duplicated": sum(d["count"] for d in duplicates),
        "duplicates": duplicates[:DUPLICATES_SHOWN],
    }


def _total(queries: list[dict[str, t.Any]]) -> float:
    total = 0.0
    for query in queries:
        duration = query.get("duration_ms")
        if isinstance(duration, (int, float)):
            total += duration
    return round(total, 3)


__all__ = [
    "SQLQuery",
    "install_django",
    "install_sqlalchemy",
    "install_sqlite3",
    "query_summary",
]
