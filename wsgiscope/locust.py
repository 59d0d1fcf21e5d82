"""Replay on Locust: wsgiscope's sources, checks and names, Locust's workers.

When one machine is not enough (or the target is a deployed server),
Locust distributes the load: a master and any number of worker processes,
on any number of machines, over ZeroMQ. This module gives it two users::

    # locustfile.py (``wsgiscope replay APP SOURCE... --locust-file`` writes one)
    from wsgiscope.locust import WsgiUser

    class Shop(WsgiUser):
        app = "shop:create_app()"
        sources = ["traffic.jsonl"]

- :class:`WsgiUser` loads the app in each Locust worker process (``app``,
  or the CLI's resolution: ``WSGISCOPE_APP``, ``pyproject.toml``,
  discovery), replays ``sources`` (trace records, HAR, request lines; the
  app's routes when empty) in-process, reports every request through
  Locust's ``events.request`` named by the rule that answers it (``GET
  /catalog/<sku>``, not the raw path), and runs replay's isolation checks
  in each worker: Flask's context locals at every hook, and every answer of
  a safe request compared with the sequential baseline the worker took at
  start. Findings go to the master (a Locust custom message), are printed
  in its summary and make ``locust`` exit 1.
- :class:`HttpReplayUser` sends the same sources over HTTP to ``--host``
  (Locust's ``FastHttpUser``), named the same way when the app can be
  loaded locally, by path otherwise.

Locust is an optional extra: ``pip install 'wsgiscope[locust]'``.
"""

from __future__ import annotations

import io
import itertools
import os
import threading
import time
import typing as t

try:
    from locust import FastHttpUser, User, constant, events, task
except ImportError as exc:  # pragma: no cover - exercised without the extra
    raise ImportError(
        "wsgiscope.locust needs Locust, which is not installed: pip install 'wsgiscope[locust]'"
    ) from exc

if t.TYPE_CHECKING:
    from wsgiscope.replay.engine import Entry
    from wsgiscope.replay.isolation import ContextChecker, Findings
    from wsgiscope.replay.sources import ReplayRequest

__all__ = ["HttpReplayUser", "WsgiUser"]

#: The custom message a worker sends its findings to the master with.
MESSAGE = "wsgiscope_findings"
#: Examples a worker sends (the counts are always whole).
MAX_EXAMPLES = 5
#: Safe methods: their answers are compared with the baseline.
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def load_requests(app: t.Any, sources: t.Sequence[str]) -> list[ReplayRequest]:
    """The requests to replay: ``sources`` read as ``replay`` reads them, or
    the app's routes when there are none."""
    from wsgiscope.replay.sources import load_sources, requests_from_routes
    from wsgiscope.routing import discover_routes

    if sources:
        requests = load_sources(list(sources), skip_invalid=True).requests
    elif app is not None:
        requests = requests_from_routes(discover_routes(app))
    else:
        raise ValueError("HttpReplayUser needs sources, or an app to take the routes from")
    if not requests:
        raise ValueError(f"no request to replay in {', '.join(sources) or 'the routes'}")
    return requests


def request_name(app: t.Any, request: ReplayRequest) -> str:
    """The rule that answers ``request``, with its mount prefix (Locust
    shows the method beside it); the path itself for an app without a
    route table."""
    from wsgiscope.replay.report import rule_name

    return rule_name(app, request)


def _load_app(ref: str | None, base_dir: str | None = None) -> t.Any:
    from pathlib import Path

    from wsgiscope.loading import load_app, resolve_app_ref

    cwd = Path(base_dir) if base_dir else None
    return load_app(resolve_app_ref(None, ref, cwd=cwd)).app


class _Replay:
    """One worker process's replay state for one user class: the app, the
    prepared requests and their names, the checks and their findings."""

    def __init__(
        self, app_ref: str | None, base_dir: str | None, sources: t.Sequence[str], check: bool
    ) -> None:
        from wsgiscope.replay.engine import baseline, prepare
        from wsgiscope.replay.isolation import ContextChecker, Findings, flask_apps

        self.app = _load_app(app_ref, base_dir)
        self.entries: list[Entry] = prepare(load_requests(self.app, sources), self.app)
        names: dict[int, str] = {}
        self.names = [
            names.setdefault(id(entry), request_name(self.app, entry.request))
            for entry in self.entries
        ]
        self.findings: Findings = Findings()
        #: Requests served (the count Locust's statistics must show).
        self.served = 0
        self.counter = itertools.count()
        self.checker: ContextChecker | None = None
        self.check = check
        if check:
            baseline(self.app, self.entries, self.findings)
            apps = flask_apps(self.app)
            if apps:
                entries = self.entries
                self.checker = ContextChecker(
                    apps,
                    self.findings,
                    lambda number: entries[number % len(entries)].request.describe(),
                )
                self.checker.install()

    def serve(self, ident: int) -> tuple[str, str, int, float, BaseException | None]:
        """Replay the next request: ``(method, name, bytes, ms, error)``."""
        from wsgiscope.replay.engine import call_app
        from wsgiscope.replay.expect import divergence_example, document
        from wsgiscope.replay.isolation import REQUEST_ID

        number = next(self.counter)
        index = number % len(self.entries)
        entry = self.entries[index]
        environ = entry.environ.copy()
        environ["wsgi.input"] = io.BytesIO(entry.body)
        environ[REQUEST_ID] = number
        slot = self.checker.slot(ident) if self.checker is not None else None
        if slot is not None:
            slot.request_id, slot.entry, slot.g = number, entry, None
        error: BaseException | None = None
        captured: list[t.Any] = [None]
        start = time.perf_counter()
        try:
            status, body = call_app(self.app, environ, captured)
        except Exception as exc:
            status, body, error = "", b"", exc
        elapsed_ms = (time.perf_counter() - start) * 1000
        self.served += 1
        if slot is not None:
            self.findings.checked += slot.checks
            self.checker.release()  # type: ignore[union-attr]
        code = int(status[:3] or 0)
        if error is None and code >= 500:
            error = _ServerError(status)
        expected = entry.expected
        # 5xx answers and exceptions are errors, never divergences.
        if (
            self.check
            and expected is not None
            and entry.request.method in SAFE_METHODS
            and "" < status < "5"
        ):
            self.findings.compared += 1
            headers = captured[0]
            if (
                expected.body_hash != hash(body)
                or expected.status != status
                or expected.headers != headers
            ):
                # Judged against the masked sequential answers at once: a
                # Locust run has no end to judge it again after.
                doc = document(status, headers, body)
                if not expected.accepts_doc(doc):
                    self.findings.add_divergence(divergence_example(entry, doc, ident, number))
        return entry.request.method, self.names[index], len(body), elapsed_ms, error

    def report(self) -> dict[str, t.Any]:
        """The findings as sent to the master."""
        payload = self.findings.to_payload()
        payload["examples"] = payload["examples"][:MAX_EXAMPLES]
        payload["pid"] = os.getpid()
        payload["served"] = self.served
        return payload

    def close(self) -> None:
        if self.checker is not None:
            self.checker.uninstall()
            self.checker = None


class _ServerError(Exception):
    """A 5xx answer, reported to Locust as the request's failure."""


_states: dict[type, _Replay] = {}
_states_lock = threading.Lock()


class WsgiUser(User):
    """A Locust user that replays requests against the app in-process.

    Subclass it and set :attr:`app` and :attr:`sources`. Each Locust worker
    process loads the app once, takes a sequential baseline of the distinct
    requests, then its users replay them in turn, as fast as Locust lets
    them (``wait_time`` is ``constant(0)``; set your own to pace them).
    """

    abstract = True
    #: The app's import path; ``None`` resolves it as the CLI does
    #: (``WSGISCOPE_APP``, ``[tool.wsgiscope]``, discovery).
    app: str | None = None
    #: The directory the app is imported from (default: the current one).
    base_dir: str | None = None
    #: Request sources (trace records, HAR, request lines); empty: the routes.
    sources: t.Sequence[str] = ()
    #: Run the isolation checks.
    check: bool = True
    wait_time = constant(0)

    def on_start(self) -> None:
        cls = type(self)
        with _states_lock:
            state = _states.get(cls)
            if state is None:
                state = _states[cls] = _Replay(cls.app, cls.base_dir, cls.sources, cls.check)
        self._replay = state

    @task
    def replay_request(self) -> None:
        """One request: served in-process, reported to Locust, checked."""
        from greenlet import getcurrent  # type: ignore[import-untyped]

        method, name, size, elapsed_ms, error = self._replay.serve(id(getcurrent()))
        self.environment.events.request.fire(
            request_type=method,
            name=name,
            response_time=elapsed_ms,
            response_length=size,
            response=None,
            context={},
            exception=error,
        )


class HttpReplayUser(FastHttpUser):
    """A Locust user that sends the same sources over HTTP to ``--host``.

    Requests are named by rule when :attr:`app` (or the CLI's resolution)
    can be loaded here, by path otherwise.
    """

    abstract = True
    app: str | None = None
    base_dir: str | None = None
    sources: t.Sequence[str] = ()
    wait_time = constant(0)

    def on_start(self) -> None:
        cls = type(self)
        with _states_lock:
            plan = _http_plans.get(cls)
            if plan is None:
                plan = _http_plans[cls] = _http_plan(cls.app, cls.base_dir, cls.sources)
        self._plan = plan

    @task
    def replay_request(self) -> None:
        """Send the next request; a 5xx is a failure."""
        requests, names, counter = self._plan
        index = next(counter) % len(requests)
        request = requests[index]
        headers = {name: value for name, value in request.headers if name.lower() != "host"}
        with self.client.request(
            request.method,
            request.target,
            data=t.cast(t.Any, request.body or None),
            headers=headers,
            name=names[index],
            catch_response=True,
        ) as response:
            if response.status_code >= 500 or response.status_code == 0:
                response.failure(f"{response.status_code}")
            else:
                response.success()


_http_plans: dict[type, tuple[list[ReplayRequest], list[str], t.Iterator[int]]] = {}


def _http_plan(
    app_ref: str | None, base_dir: str | None, sources: t.Sequence[str]
) -> tuple[list[ReplayRequest], list[str], t.Iterator[int]]:
    from wsgiscope.errors import WsgiscopeError

    app = None
    try:
        app = _load_app(app_ref, base_dir)
    except WsgiscopeError:
        if not sources:
            raise
    requests = load_requests(app, sources)
    return requests, [request_name(app, r) for r in requests], itertools.count()


# -- master/worker plumbing ------------------------------------------------


@events.init.add_listener
def _on_init(environment: t.Any, **kwargs: t.Any) -> None:
    """Findings travel from the workers to the master at the end of a test."""
    environment.wsgiscope_reports = []
    runner = environment.runner
    if runner is None:
        return
    from locust.runners import MasterRunner

    if isinstance(runner, MasterRunner):
        runner.register_message(
            MESSAGE, lambda msg, **kw: environment.wsgiscope_reports.append(msg.data)
        )


@events.test_stop.add_listener
def _on_test_stop(environment: t.Any, **kwargs: t.Any) -> None:
    """Each worker (or a local run) sends its findings once its users stopped."""
    from locust.runners import MasterRunner, WorkerRunner

    runner = environment.runner
    if isinstance(runner, MasterRunner):
        return
    reports = [state.report() for state in _states.values()]
    for state in _states.values():
        state.close()
    _states.clear()
    if not reports:
        return
    merged = _merge(reports)
    if isinstance(runner, WorkerRunner):
        runner.send_message(MESSAGE, merged)
    else:
        environment.wsgiscope_reports.append(merged)


@events.quitting.add_listener
def _on_quitting(environment: t.Any, **kwargs: t.Any) -> None:
    """The master (or a local run) prints the findings; any fails the run."""
    from locust.runners import WorkerRunner

    if isinstance(environment.runner, WorkerRunner):
        return
    reports = getattr(environment, "wsgiscope_reports", [])
    if not reports:
        return
    print(summary_text(reports), flush=True)
    if any(report["leaks"] or report["divergent"] for report in reports):
        environment.process_exit_code = 1


def _merge(reports: list[dict[str, t.Any]]) -> dict[str, t.Any]:
    merged = dict(reports[0])
    for report in reports[1:]:
        for name in ("checked", "compared", "leaks", "divergent", "served"):
            merged[name] += report[name]
        merged["examples"] = (merged["examples"] + report["examples"])[:MAX_EXAMPLES]
    return merged


def summary_text(reports: list[dict[str, t.Any]]) -> str:
    """The isolation summary the master prints: one line per worker, and
    the examples of what leaked."""
    from wsgiscope.render.text import safe

    lines = [f"wsgiscope isolation checks, {len(reports)} worker(s):"]
    for report in reports:
        problems = report["leaks"] + report["divergent"]
        lines.append(
            f"  worker pid {report['pid']}, {report['served']:,} requests: "
            + (
                f"{report['leaks']:,} leaks, {report['divergent']:,} divergent answers"
                if problems
                else "no isolation problem"
            )
            + f" ({report['checked']:,} context checks, {report['compared']:,} answers compared)"
        )
        for example in report["examples"]:
            lines.append("    " + safe(_describe(example)))
    return "\n".join(lines)


def _describe(example: dict[str, t.Any]) -> str:
    if example.get("kind") == "leak":
        seen = example.get("seen") or {}
        return (
            f"leak {example['what']} at {example['hook']} {example['function']}: request "
            f"#{example['request']['id']} {example['request']['request']} saw one of request "
            f"#{seen.get('id')} {seen.get('request') or ''}".rstrip()
        )
    return (
        f"divergent {example['request']} #{example['request_id']}: expected "
        f"{example['expected']['status']} {example['expected']['body']!r}, got "
        f"{example['got']['status']} {example['got']['body']!r}"
    )
