"""The checker: one request's WSGI conversation, watched from both sides.

A :class:`LintSession` sits between a server (or a middleware such as
``TraceMiddleware``) and the application. It wraps ``wsgi.input`` and
``wsgi.errors`` in the environ, ``start_response``, the ``write()``
callable it returns, the iterable the app returns and its ``close()``. It
is transparent: every call goes through unchanged (exceptions included),
the session only records :class:`~wsgiscope.lint.findings.Finding` objects.
Its checks are complete once the iterable was closed (or the app raised);
then :attr:`LintSession.done` is true and ``on_done`` has been called.

Use it directly::

    session = LintSession(environ)
    body = session.call(app, environ, start_response)
    try:
        for chunk in body:
            ...
    finally:
        body.close()
    session.findings  # list of Finding

or as middleware with :func:`lint_middleware`.

.. versionadded:: 0.1
"""

from __future__ import annotations

import io
import socket
import types
import typing as t

from wsgiscope.interrupts import is_ctrl_c
from wsgiscope.lint import environ as environ_checks
from wsgiscope.lint.findings import Finding, FindingList, Phase, exc_text, safe_repr
from wsgiscope.lint.headers import (
    check_header_list,
    check_semantics,
    check_status,
    content_length,
    header_value,
    status_code,
)
from wsgiscope.lint.streams import ErrorsWatcher, InputWatcher

if t.TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

#: Objects whose cleanup only a close() call reaches (see rule WSGI401).
_RESOURCES: tuple[type, ...] = (types.GeneratorType, io.IOBase, socket.socket)


def _describe(value: object) -> str:
    return f"{type(value).__name__} {safe_repr(value, 60)}"


def _given(exc_info: object) -> bool:
    """Whether start_response got an exc_info (servers test its truth; one
    whose ``__bool__`` raises counts as given)."""
    if exc_info is None:
        return False
    try:
        return bool(exc_info)
    except Exception:
        return True


def _exc_info_problem(exc_info: object) -> str | None:
    """Why ``exc_info`` is not ``None`` or ``sys.exc_info()`` of a caught exception."""
    if exc_info is None:
        return None
    if type(exc_info) is not tuple or len(exc_info) != 3:
        return f"exc_info is {_describe(exc_info)}"
    kind, value, traceback = exc_info
    if kind is None and value is None and traceback is None:
        return (
            "exc_info is (None, None, None): sys.exc_info() was called outside an "
            "except block, so there is no exception to re-raise"
        )
    if not (
        isinstance(kind, type) and isinstance(value, kind) and isinstance(value, BaseException)
    ):
        return (
            f"exc_info is ({_describe(kind)}, {_describe(value)}, ...), "
            "not (type, exception, traceback)"
        )
    if traceback is not None and not isinstance(traceback, types.TracebackType):
        return f"exc_info's traceback is {_describe(traceback)}"
    return None


def _input_limit(environ: t.Mapping[str, t.Any]) -> int | None:
    if environ.get("wsgi.input_terminated"):
        return None
    value = environ.get("CONTENT_LENGTH") or "0"
    try:
        return max(int(value), 0)
    except (TypeError, ValueError):
        return None


class LintSession:
    """The checks of one request.

    :param environ: the request's environ; ``wsgi.input`` and ``wsgi.errors``
        in it are replaced by watching wrappers.
    :param on_done: called once with the findings when the request is over.
    """

    def __init__(
        self,
        environ: WSGIEnvironment,
        on_done: t.Callable[[list[Finding]], None] | None = None,
    ) -> None:
        self.found = FindingList()
        self.method = str(environ.get("REQUEST_METHOD", "GET")).upper()
        self.on_done = on_done
        #: The status and well-formed headers of the last start_response call.
        self.status: str | None = None
        self.headers: list[tuple[str, str]] = []
        self.start_calls = 0
        #: True once a non-empty chunk or write went out (headers are sent).
        self.headers_sent = False
        self.returned = False
        self.body_bytes = 0
        #: True when the body was read to its end (not capped, not raised).
        self.complete = False
        self.capped = False
        self.done = False
        self._reraised: BaseException | None = None
        self._propagated = False
        if "wsgi.input" in environ:
            environ["wsgi.input"] = InputWatcher(
                environ["wsgi.input"], self.found, _input_limit(environ)
            )
        if "wsgi.errors" in environ:
            environ["wsgi.errors"] = ErrorsWatcher(environ["wsgi.errors"], self.found)
        self._environ = environ
        self._before = dict(environ)

    @property
    def findings(self) -> list[Finding]:
        """Everything found so far."""
        return list(self.found)

    def add(self, rule: str, message: str, phase: Phase) -> None:
        """Record a finding."""
        self.found.add(rule, message, phase)

    # -- the application call ------------------------------------------------

    def call(
        self, app: WSGIApplication, environ: WSGIEnvironment, start_response: StartResponse
    ) -> t.Any:
        """Call ``app`` and return its result, wrapped when it is iterable."""
        try:
            result = app(environ, self.wrap_start_response(start_response))
        except BaseException as exc:
            self.raised(exc, "call")
            self.finish()
            raise
        self.returned = True
        return self.wrap_result(result)

    def wrap_result(self, result: t.Any) -> t.Any:
        """Check what the app returned; a watched iterable if it can be one."""
        if isinstance(result, (str, bytes)):
            self.add(
                "WSGI102",
                f"returned a {type(result).__name__} of length {len(result)}, not an iterable "
                "of bytes",
                "call",
            )
        elif result is None or not (
            # iter() also accepts the old sequence protocol (__getitem__).
            hasattr(type(result), "__iter__") or hasattr(type(result), "__getitem__")
        ):
            self.add("WSGI101", f"returned {_describe(result)}", "call")
            self.finish()
            return result
        if hasattr(type(result), "__len__"):
            return SizedWatchedBody(result, self)
        return WatchedBody(result, self)

    def raised(self, exc: BaseException, phase: Phase) -> None:
        """The app raised ``exc`` in ``phase`` (``call`` or ``body``)."""
        if exc is self._reraised:
            self._propagated = True
            return
        if is_ctrl_c(exc):
            return
        if environ_checks.is_missing_optional_key(exc, self._environ):
            self.add(
                "WSGI702",
                f"KeyError: {exc.args[0]!r} (a key the server need not provide)",
                phase,
            )
            return
        rule = "WSGI103" if phase == "call" else "WSGI104"
        where = "after the headers were sent" if self.headers_sent else "before any body was sent"
        detail = exc_text(exc)
        self.add(rule, detail if phase == "call" else f"{detail} ({where})", phase)

    # -- start_response and write ----------------------------------------------

    def wrap_start_response(self, start_response: t.Callable[..., t.Any]) -> t.Any:
        """``start_response`` with checks; the write() it returns is watched too."""

        def checked_start_response(*args: t.Any, **kwargs: t.Any) -> t.Any:
            status, pairs = self._check_start_response(args, kwargs)
            try:
                write = start_response(*args, **kwargs)
            except BaseException as exc:
                if _given(args[2] if len(args) == 3 else kwargs.get("exc_info")):
                    # The server re-raised exc_info (headers already sent):
                    # the app must let this propagate (rule WSGI211).
                    self._reraised = exc
                raise
            # Only a call the server accepted sets the response (a re-raise
            # after headers were sent leaves the first one in place).
            self.status, self.headers = status, pairs
            return self.wrap_write(write)

        return checked_start_response

    def _check_start_response(
        self, args: tuple[t.Any, ...], kwargs: dict[str, t.Any]
    ) -> tuple[str, list[tuple[str, str]]]:
        self.start_calls += 1
        if kwargs or len(args) not in (2, 3):
            names = f" and keywords {sorted(kwargs)}" if kwargs else ""
            self.add(
                "WSGI212",
                f"start_response called with {len(args)} positional arguments{names}",
                "start_response",
            )
        values = list(args) + [None] * 3
        status = values[0] if args else kwargs.get("status")
        headers = values[1] if len(args) > 1 else kwargs.get("response_headers", [])
        exc_info = values[2] if len(args) > 2 else kwargs.get("exc_info")
        problem = _exc_info_problem(exc_info)
        if problem is not None:
            self.add("WSGI210", problem, "start_response")
        if self.start_calls > 1 and not _given(exc_info):
            self.add(
                "WSGI202",
                f"start_response called {self.start_calls} times without exc_info",
                "start_response",
            )
        for rule, message in check_status(status):
            self.add(rule, message, "start_response")
        problems, pairs = check_header_list(headers)
        for rule, message in problems:
            self.add(rule, message, "start_response")
        return (str.__str__(status) if isinstance(status, str) else safe_repr(status)), pairs

    def wrap_write(self, write: t.Any) -> t.Any:
        """The legacy ``write()`` callable, watched."""
        if not callable(write):
            return write

        def checked_write(data: t.Any) -> t.Any:
            if self.returned:
                self.add("WSGI501", "write() called after the application returned", "write")
            if type(data) is not bytes:
                self.add("WSGI502", f"write() got {type(data).__name__}, not bytes", "write")
            self._sent(data)
            return write(data)

        return checked_write

    def _sent(self, data: t.Any) -> None:
        try:
            size = len(data)
        except Exception:  # not sized, or a __len__ that raises
            size = 0
        if size:
            self.headers_sent = True
            self.body_bytes += size

    # -- the body ------------------------------------------------------------

    def chunk(self, data: t.Any) -> None:
        """The body iterable yielded ``data``."""
        if self.status is None:
            self.add("WSGI201", "body data yielded before start_response was called", "body")
        if type(data) is not bytes and not self.found.has("WSGI102"):
            self.add("WSGI301", f"body yielded {type(data).__name__}, not bytes", "body")
        self._sent(data)

    def check_resources(self, result: t.Any, iterator: t.Any) -> None:
        """Rule WSGI401: resources the server's close() call cannot reach."""
        try:
            if callable(getattr(result, "close", None)):
                return
            if iterator is not result and callable(getattr(iterator, "close", None)):
                self.add(
                    "WSGI401",
                    f"{type(result).__name__} has no close(), but iter() of it gives a "
                    f"{type(iterator).__name__} that has one",
                    "body",
                )
                return
            attributes = dict(getattr(result, "__dict__", {}))
            for slot in getattr(type(result), "__slots__", ()):
                if isinstance(slot, str) and hasattr(result, slot):
                    attributes[slot] = getattr(result, slot)
        except Exception:
            return
        for name, value in attributes.items():
            if isinstance(value, _RESOURCES):
                self.add(
                    "WSGI401",
                    f"{type(result).__name__} has no close(), but its attribute {name!r} "
                    f"holds a {type(value).__name__}",
                    "body",
                )
                return

    def finish(self) -> None:
        """End of the request: the checks that need the whole response."""
        if self.done:
            return
        self.done = True
        if self._reraised is not None and not self._propagated:
            self.add(
                "WSGI211",
                f"{type(self._reraised).__name__} re-raised by start_response(exc_info) was "
                "caught by the application",
                "start_response",
            )
        if self.complete and self.status is None:
            self.add("WSGI201", "start_response was never called", "body")
        self._check_body()
        for message in environ_checks.mutations(self._before, self._environ):
            self.add("WSGI701", message, "environ")
        if self.on_done is not None:
            self.on_done(self.findings)

    def _check_body(self) -> None:
        code = status_code(self.status)
        if code is None:
            return
        for rule, message in check_semantics(code, self.headers):
            self.add(rule, message, "start_response")
        if self.body_bytes and self.method == "HEAD":
            self.add("WSGI303", f"{self.body_bytes} body bytes sent for HEAD", "body")
        forbidden = code < 200 or code in (204, 304)
        if forbidden and self.body_bytes:
            self.add("WSGI304", f"{self.body_bytes} body bytes sent with status {code}", "body")
        declared = content_length(self.headers)
        if (code < 200 or code == 204) and declared:
            self.add("WSGI304", f"{code} response declares Content-Length {declared}", "body")
        if self.body_bytes and not forbidden and header_value(self.headers, "content-type") is None:
            self.add("WSGI213", f"{self.body_bytes} body bytes without Content-Type", "body")
        if (
            self.complete
            and not self.found.has("WSGI102")
            and declared is not None
            and declared != self.body_bytes
            and self.method != "HEAD"
            and not forbidden
        ):
            self.add(
                "WSGI302",
                f"Content-Length {declared} but the body has {self.body_bytes} bytes",
                "body",
            )


class WatchedBody:
    """The app's iterable as the server sees it: same chunks, same close()."""

    def __init__(self, result: t.Any, session: LintSession) -> None:
        self._result = result
        self._session = session
        self._iterator: t.Any = None

    def __iter__(self) -> WatchedBody:
        if self._iterator is None:
            try:
                self._iterator = iter(self._result)
            except BaseException as exc:
                self._session.add(
                    "WSGI101",
                    f"iter() of the returned {type(self._result).__name__} raised {exc_text(exc)}",
                    "body",
                )
                raise
            self._session.check_resources(self._result, self._iterator)
        return self

    def __next__(self) -> t.Any:
        if self._iterator is None:
            iter(self)
        try:
            data = next(self._iterator)
        except StopIteration:
            self._session.complete = True
            raise
        except BaseException as exc:
            self._session.raised(exc, "body")
            raise
        self._session.chunk(data)
        return data

    def close(self) -> None:
        """Close the app's iterable (if it can be closed) and end the checks."""
        try:
            close = getattr(self._result, "close", None)
            if callable(close):
                close()
        except BaseException as exc:
            self._session.add("WSGI402", f"close() raised {exc_text(exc)}", "close")
            raise
        finally:
            self._session.finish()

    def __getattr__(self, name: str) -> t.Any:
        # Servers look for attributes such as ``filelike`` (file wrappers).
        return getattr(self._result, name)


class SizedWatchedBody(WatchedBody):
    """A :class:`WatchedBody` for an iterable with ``len()``: servers use
    ``len(result) == 1`` to set Content-Length, so it is kept."""

    def __len__(self) -> int:
        try:
            return len(self._result)
        except (TypeError, AttributeError, NotImplementedError):
            raise  # what servers take for "no length"
        except BaseException as exc:
            if not is_ctrl_c(exc):
                self._session.add(
                    "WSGI104",
                    f"len() of the {type(self._result).__name__} raised {exc_text(exc)} "
                    "(servers call it to set Content-Length)",
                    "body",
                )
            raise


def lint_middleware(
    app: WSGIApplication,
    report: t.Callable[[WSGIEnvironment, list[Finding]], None],
) -> WSGIApplication:
    """Wrap ``app`` so every request is linted; ``report(environ, findings)``
    is called when a request ends (after ``close()``)."""

    def linted(environ: WSGIEnvironment, start_response: StartResponse) -> t.Any:
        session = LintSession(environ, on_done=lambda findings: report(environ, findings))
        return session.call(app, environ, start_response)

    return linted
