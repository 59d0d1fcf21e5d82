"""Linting an app over many requests: targets in, a report out.

:func:`route_targets` turns the route table into requests (each route's
sample URL for each of its methods, HEAD added beside GET),
:func:`request_targets` does the same for ``METHOD /path`` strings and
request files, and :func:`run_lint` sends each through the strict server
(:func:`~wsgiscope.lint.server.lint_request`) and collects a
:class:`LintReport`: every finding with the request and endpoint that
triggered it. Nothing here prints.

.. versionadded:: 0.1
"""

from __future__ import annotations

import dataclasses
import functools
import typing as t

from wsgiscope.lint import SERVER_HANDLED
from wsgiscope.lint.rules import RULES, Severity
from wsgiscope.lint.server import MAX_BODY, MAX_CHUNKS, lint_request
from wsgiscope.redact import redact_uri

if t.TYPE_CHECKING:
    from wsgiscope.frameworks.base import Route
    from wsgiscope.replay.sources import ReplayRequest
    from wsgiscope.request import RequestSpec

#: JSON format name of ``lint --json``.
FORMAT = "wsgiscope.lint/1"

_ORDER = {rule.id: index for index, rule in enumerate(RULES)}


@dataclasses.dataclass
class Target:
    """One request to lint.

    :param method: the HTTP method.
    :param path: the path (with query) as shown in reports, secret query
        parameters redacted (request files and HAR captures hold real tokens).
    :param endpoint: the route's endpoint, or ``None`` when unknown.
    :param spec: how to build the environ.
    :param origin: where the request came from (``route``, ``--request``,
        ``file.har: log.entries[3]``...).
    :param framework: the framework of the app that answers it (``flask``,
        ``django``...), or ``None`` when unknown.
    """

    method: str
    path: str
    endpoint: str | None
    spec: RequestSpec
    origin: str = "route"
    framework: str | None = None


@dataclasses.dataclass
class Occurrence:
    """A finding, located: which request and endpoint triggered it."""

    rule: str
    severity: Severity
    message: str
    method: str
    path: str
    endpoint: str | None
    phase: str
    count: int = 1

    def to_json(self) -> dict[str, t.Any]:
        """The documented JSON object of ``lint --json``."""
        return dataclasses.asdict(self)


@dataclasses.dataclass
class Outcome:
    """What one request answered (``status`` ``None``: it never started)."""

    method: str
    path: str
    endpoint: str | None
    status: str | None
    error: str | None
    findings: int

    def to_json(self) -> dict[str, t.Any]:
        return dataclasses.asdict(self)


@dataclasses.dataclass
class LintReport:
    """Everything a lint run found.

    :param findings: every finding of every request, in request order.
    :param requests: one outcome per request sent.
    :param skipped: routes that could not become a request, with the reason.
    :param delegated: findings left out because the answering framework
        leaves that rule to the server (:data:`SERVER_HANDLED`): one entry
        per framework and rule, ``{framework, rule, requests, reason}``.
    :param interrupted: the run stopped early (Ctrl-C).
    """

    findings: list[Occurrence] = dataclasses.field(default_factory=list)
    requests: list[Outcome] = dataclasses.field(default_factory=list)
    skipped: list[dict[str, str | None]] = dataclasses.field(default_factory=list)
    delegated: list[dict[str, t.Any]] = dataclasses.field(default_factory=list)
    interrupted: bool = False

    def by_rule(self) -> list[tuple[str, list[Occurrence]]]:
        """Findings grouped by rule, in rule order."""
        groups: dict[str, list[Occurrence]] = {}
        for finding in self.findings:
            groups.setdefault(finding.rule, []).append(finding)
        return sorted(groups.items(), key=lambda item: _ORDER.get(item[0], len(_ORDER)))

    def to_json(self) -> dict[str, t.Any]:
        """The documented ``lint --json`` object."""
        return {
            "format": FORMAT,
            "findings": [finding.to_json() for finding in self.findings],
            "requests": [outcome.to_json() for outcome in self.requests],
            "skipped": self.skipped,
            "delegated": self.delegated,
            "summary": {
                "requests": len(self.requests),
                "findings": len(self.findings),
                "errors": sum(f.severity == "error" for f in self.findings),
                "warnings": sum(f.severity == "warning" for f in self.findings),
                "rules": [rule for rule, _ in self.by_rule()],
            },
            "interrupted": self.interrupted,
        }


def _methods(route: Route) -> list[str]:
    methods = [m.upper() for m in route.methods] or ["GET"]
    if "*" in methods:  # an opaque app: any method goes
        methods = ["GET"]
    if "GET" in methods and "HEAD" not in methods:
        methods.insert(methods.index("GET") + 1, "HEAD")
    return methods


def route_targets(routes: t.Iterable[Route]) -> tuple[list[Target], list[dict[str, str | None]]]:
    """A request per route and method; routes without a URL are skipped."""
    from wsgiscope.request import RequestSpec

    targets: list[Target] = []
    skipped: list[dict[str, str | None]] = []
    seen: set[tuple[str, str]] = set()
    for route in routes:
        if route.url is None:
            skipped.append(
                {
                    "rule": route.path or route.rule,
                    "endpoint": route.endpoint,
                    "reason": route.url_error or "no URL could be built",
                }
            )
            continue
        for method in _methods(route):
            if (method, route.url) in seen:
                continue
            seen.add((method, route.url))
            spec = RequestSpec(path=route.url, method=method)
            targets.append(
                Target(method, route.url, route.endpoint, spec, framework=route.framework)
            )
    return targets, skipped


def parse_request_option(text: str) -> Target:
    """A target from ``--request "METHOD /path [ITEM]..."`` (METHOD optional).

    :raises UsageError: for a malformed request.
    """
    import shlex

    from wsgiscope.errors import UsageError
    from wsgiscope.request import parse_request, split_target

    try:
        words = shlex.split(text)  # quoted items, as a shell would give them to trace
    except ValueError as exc:
        raise UsageError(f"cannot parse --request {text!r}: {exc}") from None
    _, method, path, items = split_target(words, app_allowed=False)
    spec = parse_request(path, items, method=method)
    return Target(spec.effective_method, redact_uri(path), None, spec, origin="--request")


def source_targets(requests: t.Iterable[ReplayRequest]) -> list[Target]:
    """Targets from requests read by :func:`wsgiscope.replay.sources.load_sources`."""
    from wsgiscope.request import RequestSpec

    targets = []
    for request in requests:
        path = request.target
        if request.host:
            path = f"{request.scheme or 'http'}://{request.host}{path}"
        body = request.body if request.body or request.method not in ("GET", "HEAD") else None
        spec = RequestSpec(
            path=path, method=request.method, headers=list(request.headers), body=body
        )
        targets.append(
            Target(request.method, redact_uri(request.target), None, spec, request.origin)
        )
    return targets


def endpoint_of(app: t.Any, method: str, path: str) -> str | None:
    """The endpoint the app's routing answers for a request, if known."""
    return answered_by(app, method, path)[0]


def answered_by(app: t.Any, method: str, path: str) -> tuple[str | None, str | None]:
    """``(endpoint, framework)`` of the app that answers a request (each
    ``None`` when unknown)."""
    from wsgiscope.routing import match

    try:
        resolution = match(app, method, path.partition("?")[0])
    except Exception:  # routing is best effort here: the request still runs
        return None, None
    result = resolution.result
    endpoint = None if result is None or result.route is None else result.route.endpoint
    return endpoint, resolution.framework


def run_lint(
    app: t.Any,
    targets: t.Sequence[Target],
    *,
    ignore: t.Collection[str] = (),
    max_body: int = MAX_BODY,
    max_chunks: int = MAX_CHUNKS,
    progress: t.Callable[[int, int], None] | None = None,
    strict: bool = False,
) -> LintReport:
    """Lint every target against ``app``.

    :param ignore: rule ids left out of the report.
    :param progress: called after each request with ``(done, findings)``.
    :param strict: also report what the answering framework leaves to the
        server by design (:data:`SERVER_HANDLED`).
    """
    from wsgiscope.request import build_environ

    report = LintReport()
    delegated: dict[tuple[str, str], int] = {}
    try:
        for done, target in enumerate(targets, 1):
            result = lint_request(
                app,
                functools.partial(build_environ, target.spec, app),
                max_body=max_body,
                max_chunks=max_chunks,
            )
            handled = {} if strict else SERVER_HANDLED.get(target.framework or "", {})
            kept = []
            for finding in result.findings:
                if finding.rule in ignore:
                    continue
                if finding.rule in handled:
                    key = (t.cast(str, target.framework), finding.rule)
                    delegated[key] = delegated.get(key, 0) + 1
                    continue
                kept.append(finding)
            for finding in kept:
                report.findings.append(
                    Occurrence(
                        finding.rule,
                        finding.severity,
                        finding.message,
                        target.method,
                        target.path,
                        target.endpoint,
                        finding.phase,
                        finding.count,
                    )
                )
            report.requests.append(
                Outcome(
                    target.method,
                    target.path,
                    target.endpoint,
                    result.status,
                    result.error,
                    len(kept),
                )
            )
            if progress is not None:
                progress(done, len(report.findings))
    except KeyboardInterrupt:
        report.interrupted = True
    report.delegated = [
        {
            "framework": framework,
            "rule": rule,
            "requests": count,
            "reason": SERVER_HANDLED[framework][rule],
        }
        for (framework, rule), count in delegated.items()
    ]
    return report
