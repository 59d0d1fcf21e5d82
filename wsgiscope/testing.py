"""Lifecycle and isolation assertions for a test suite.

What the pytest plugin (:mod:`wsgiscope.pytest_plugin`) hands out, usable
from any test runner::

    from wsgiscope.testing import assert_isolated, trace_request

    def test_login_runs_its_hooks(app):
        result = trace_request(app, "POST", "/login", {"name": "ada"})
        assert result.status_code == 302
        result.assert_order(["before_request", "view", "after_request", "teardown_request"])

    def test_profile_is_request_local():
        assert_isolated("shop.app:app", ["GET /me?user=1", "GET /me?user=2"], threads=8)

- :func:`trace_request` runs one request through the tracer (the
  ``wsgiscope trace`` core) and returns a :class:`TracedRequest`: the
  ``wsgiscope.trace/1`` record with helpers over its events;
- :func:`assert_isolated` runs ``wsgiscope replay``'s checks (context locals
  at every hook, answers compared with a sequential baseline) and fails with
  the report ``replay`` prints: the leaking request pair, the first
  differing bytes.

Nothing heavy is imported until a function runs.

.. versionadded:: 0.2
"""

from __future__ import annotations

import difflib
import io
import sys
import typing as t

if t.TYPE_CHECKING:
    from wsgiscope.loading import AppRef, LoadedApp
    from wsgiscope.replay.sources import ReplayRequest
    from wsgiscope.tracing.run import TraceResult

__all__ = ["TracedRequest", "assert_isolated", "trace_request"]

#: A request for :func:`assert_isolated`: ``"GET /path?q=1"``, ``("GET", "/path")``
#: or a :class:`~wsgiscope.replay.sources.ReplayRequest`.
RequestLike = t.Union[str, tuple[str, str], "ReplayRequest"]


class TracedRequest:
    """One traced request: the record and helpers over its events.

    :param result: what :func:`~wsgiscope.tracing.run.run_traced` returned.
    """

    def __init__(self, result: TraceResult) -> None:
        self.result = result
        #: The ``wsgiscope.trace/1`` record (the same as ``trace --json``).
        self.record: dict[str, t.Any] = result.record

    def __repr__(self) -> str:
        request = self.record.get("request") or {}
        return f"<TracedRequest {request.get('method')} {request.get('path')} {self.status}>"

    @property
    def status(self) -> str | None:
        """The status line, e.g. ``"200 OK"`` (``None`` if the app never answered)."""
        return t.cast("str | None", (self.record.get("response") or {}).get("status"))

    @property
    def status_code(self) -> int | None:
        """The status code, e.g. ``200``."""
        return self.result.status_code

    @property
    def body(self) -> bytes:
        """The response body as read (at most the tracer's body cap)."""
        return self.result.body

    @property
    def error(self) -> BaseException | None:
        """The exception the app raised (or a framework turned into a 500)."""
        return None if self.result.exc_info is None else self.result.exc_info[1]

    @property
    def events(self) -> list[dict[str, t.Any]]:
        """Every event of the record, in order."""
        return t.cast("list[dict[str, t.Any]]", self.record.get("events") or [])

    def hooks(self) -> list[tuple[str, str]]:
        """``(hook kind, "module.qualname")`` of every hook and view, in call order."""
        return [(e["hook"], e["function"]) for e in self.events if e["kind"] == "hook"]

    def teardowns(self) -> list[tuple[str, str, str | None]]:
        """``(kind, function, exception)`` of every ``teardown_request`` and
        ``teardown_appcontext`` call: the exception it received, as
        ``"Type: message"``, or ``None``."""
        return [
            (e["hook"], e["function"], e.get("exception"))
            for e in self.events
            if e["kind"] == "hook" and e["hook"].startswith("teardown")
        ]

    def contexts(self) -> list[tuple[str, str, str, int]]:
        """``("push"|"pop", context, app, depth)`` of every context change."""
        return [
            (e["kind"], e["context"], e["app"], e["depth"])
            for e in self.events
            if e["kind"] in ("push", "pop")
        ]

    def queries(self) -> list[dict[str, t.Any]]:
        """The SQL statements the request ran, in order (``sql`` events:
        ``statement``, ``duration_ms``, ``rowcount``, the hook that ran it...);
        empty when SQL capture was off."""
        return [e for e in self.events if e["kind"] == "sql"]

    def assert_order(self, expected: t.Sequence[str]) -> None:
        """Assert that the hooks ran in this order.

        Each entry names a hook kind (``"before_request"``, ``"view"``,
        ``"teardown_request"``...) or a kind and a function, as
        ``"before_request:load_user"`` (the function's qualified name or its
        end). Only hooks of the kinds listed are compared, so the
        expectation need not name every signal or context processor; an
        extra, missing or reordered one of those kinds fails with a diff.

        :raises AssertionError: with a unified diff of expected vs recorded.
        """
        kinds = {entry.partition(":")[0] for entry in expected}
        named = any(":" in entry for entry in expected)
        recorded = [(kind, function) for kind, function in self.hooks() if kind in kinds]
        got = []
        for index, (kind, function) in enumerate(recorded):
            if index < len(expected) and _matches(expected[index], kind, function):
                got.append(expected[index])  # shown as written: the diff shows only misfits
            else:
                got.append(f"{kind}:{function}" if named else kind)
        if got == list(expected):
            return
        diff = "\n".join(
            difflib.unified_diff(
                list(expected), got, "expected", "recorded", lineterm="", n=len(got)
            )
        )
        raise AssertionError(
            f"hooks did not run in the expected order for {self!r}:\n{diff}\n"
            f"all hooks: {', '.join(f'{k}:{f}' for k, f in self.hooks()) or 'none'}"
        )


def _matches(want: str, kind: str, function: str) -> bool:
    want_kind, _, want_function = want.partition(":")
    if want_kind != kind:
        return False
    return not want_function or function == want_function or function.endswith("." + want_function)


def trace_request(
    app: t.Any,
    method: str = "GET",
    path: str = "/",
    data: t.Mapping[str, t.Any] | bytes | str | None = None,
    *,
    json: t.Any = None,
    headers: t.Mapping[str, str] | t.Iterable[tuple[str, str]] = (),
    query: t.Mapping[str, str] | t.Iterable[tuple[str, str]] = (),
    redact: bool = True,
    capture: t.Iterable[str] | None = None,
) -> TracedRequest:
    """Run one request through ``app`` under the tracer.

    The request is built the way the framework's own test client builds it
    (Flask's ``SERVER_NAME``, ``APPLICATION_ROOT``...).

    :param app: a WSGI app, or an import path (``"shop:create_app()"``).
    :param data: form fields (a mapping, sent as
        ``application/x-www-form-urlencoded``) or a raw body.
    :param json: a value sent as a JSON body.
    :param headers: request headers.
    :param query: query parameters added to ``path``'s.
    :param redact: redact secrets in the record, as ``trace`` does.
    :param capture: what is captured beneath the hooks (``"sql"``,
        ``"logging"``, ``"http"``, ``"templates"``); all by default, ``()``
        for none.
    """
    from wsgiscope.request import RequestSpec, build_environ
    from wsgiscope.tracing.run import run_traced

    wsgi_app = _load(app).app
    header_items = list(headers.items() if isinstance(headers, t.Mapping) else headers)
    spec = RequestSpec(
        path=path,
        method=method.upper(),
        headers=header_items,
        query=list(query.items() if isinstance(query, t.Mapping) else query),
    )
    if json is not None:
        import json as _json

        spec.body = _json.dumps(json).encode()
        if not any(name.lower() == "content-type" for name, _ in header_items):
            spec.headers.append(("Content-Type", "application/json"))
    elif isinstance(data, t.Mapping):
        spec.fields = [(str(name), value) for name, value in data.items()]
        spec.mode = "form"
    elif data is not None:
        spec.body = data.encode() if isinstance(data, str) else bytes(data)
    environ = build_environ(spec, wsgi_app)
    return TracedRequest(run_traced(wsgi_app, environ, redact=redact, capture=capture))


def assert_isolated(
    app: t.Any,
    requests: t.Iterable[RequestLike],
    *,
    threads: int | None = None,
    greenlets: int | None = None,
    processes: int = 1,
    n: int | None = None,
) -> dict[str, t.Any]:
    """Replay ``requests`` concurrently and assert that no request saw
    another's data.

    The checks are ``wsgiscope replay``'s: Flask's context locals compared
    at every hook, and every answer compared with what the same request
    answered in a sequential baseline.

    :param app: a WSGI app or an import path. Greenlet and multi-process
        modes load the app in fresh worker processes (gevent patches before
        the app is imported), so an app object must be reachable as a
        module attribute there; an import path always is.
    :param requests: ``"METHOD /path?query"`` lines, ``(method, path)``
        pairs or :class:`~wsgiscope.replay.sources.ReplayRequest` objects.
    :param threads: replay with this many threads (the default, 8).
    :param greenlets: replay with a gevent pool of this many greenlets.
    :param processes: worker processes (each with its threads/greenlets).
    :param n: total requests, cycling ``requests`` (default: 50 per
        worker, at least one pass).
    :returns: the ``replay --json`` summary when the run was clean.
    :raises AssertionError: with replay's findings report when a request
        leaked into another.
    """
    from wsgiscope.replay.plan import ReplayPlan, mode_from_options
    from wsgiscope.replay.runner import AppHandle, run_mode, summarize

    if threads is None and greenlets is None:
        threads = 8
    mode = mode_from_options(threads, greenlets, processes, True)
    replayed = [_replay_request(item) for item in requests]
    if not replayed:
        raise ValueError("assert_isolated needs at least one request")
    workers = mode.workers * mode.processes
    total = n if n is not None else max(len(replayed), 50 * workers)
    if mode.in_subprocess:
        handle = AppHandle(_ref_for_workers(app))
    else:
        loaded = _load(app)
        handle = AppHandle(loaded.ref, loaded)
    result = run_mode(handle, replayed, mode, ReplayPlan(requests=total))
    summary = summarize(result)
    isolation = summary["isolation"]
    if isolation["leaks"] or isolation["divergent"]:
        raise AssertionError(
            f"requests are not isolated under {summary['label']}: "
            f"{isolation['leaks']} leaks, {isolation['divergent']} divergent answers "
            f"in {summary['requests']} requests\n{_report(summary)}"
        )
    return summary


def _report(summary: dict[str, t.Any]) -> str:
    """replay's findings report as plain text."""
    from rich.console import Console

    from wsgiscope.render.replay import render_summary

    out = io.StringIO()
    Console(file=out, width=120, color_system=None, emoji=False).print(
        render_summary(summary, findings_only=True)
    )
    return out.getvalue().strip("\n")


def _replay_request(item: RequestLike) -> ReplayRequest:
    from wsgiscope.replay.sources import ReplayRequest

    if isinstance(item, ReplayRequest):
        return item
    if isinstance(item, str):
        words = item.split()
        if len(words) == 1:
            words = ["GET", words[0]]
        if len(words) != 2:
            raise ValueError(f"a request is 'METHOD /path', not {item!r}")
        method, target = words
    else:
        method, target = item
    path, _, query = target.partition("?")
    if not path.startswith("/"):
        raise ValueError(f"a request path starts with '/', not {target!r}")
    return ReplayRequest(method.upper(), path, query, origin="assert_isolated")


def _load(app: t.Any) -> LoadedApp:
    from wsgiscope.loading import AppRef, LoadedApp, load_app

    if isinstance(app, str):
        return load_app(AppRef(app, "argument"))
    module = sys.modules.get(getattr(app, "__module__", "") or "") or sys.modules[__name__]
    return LoadedApp(AppRef(_import_path(app) or repr(app), "object"), app, module, "")


def _import_path(app: t.Any) -> str | None:
    """``module:attr`` naming ``app`` in an imported module, if any does."""
    for name, module in list(sys.modules.items()):
        if module is None or name.startswith(("wsgiscope", "_")):
            continue
        try:
            members = vars(module)
        except TypeError:
            continue
        for attr, value in list(members.items()):
            if value is app and not attr.startswith("_"):
                return f"{name}:{attr}"
    return None


def _ref_for_workers(app: t.Any) -> AppRef:
    from wsgiscope.loading import AppRef

    if isinstance(app, str):
        return AppRef(app, "argument")
    path = _import_path(app)
    if path is None:
        raise TypeError(
            "greenlet and multi-process isolation checks load the app in fresh worker "
            "processes: pass it as an import path ('module:attr' or 'module:create_app()'), "
            "or make it a module attribute"
        )
    return AppRef(path, "argument")
