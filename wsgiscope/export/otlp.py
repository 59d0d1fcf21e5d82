"""``export otlp``: the records as OpenTelemetry spans, sent over OTLP/HTTP or as OTLP JSON.

Needs the optional extra ``wsgiscope[otel]`` (``opentelemetry-sdk`` and
``opentelemetry-exporter-otlp-proto-http``); :func:`require_sdk` says so in
one line when it is missing.

Each record becomes one trace, with the record's real timestamps:

- a root span of kind SERVER, ``GET /path``, from ``started`` for
  ``duration_ms``, with the HTTP semantic-convention attributes
  (``http.request.method``, ``url.path``, ``url.query``, ``url.scheme``,
  ``server.address``, ``server.port``, ``client.address``,
  ``user_agent.original``, ``network.protocol.version``,
  ``http.response.status_code``, ``http.request.body.size``,
  ``http.response.body.size``, ``error.type``), ``thread.id``/``thread.name``
  and ``wsgiscope.*`` (record id, app, endpoint); status ERROR when the app
  raised or answered 5xx, with an ``exception`` event
  (``exception.type``, ``exception.message``, ``exception.stacktrace``);
- a child span per context push..pop (``app context``, ``request context``)
  and per hook or view (``before_request module.func``, attributes
  ``code.function.name``, ``wsgiscope.hook``, ``wsgiscope.endpoint``, the
  exception it received and raised; status ERROR when it raised), nested
  as they ran (a hook's parent is the context it ran in), and per event with
  a duration (SQL, outbound HTTP);
- span events for signals, ``start_response``, body chunks, ``close``,
  exceptions and dispatch, on the innermost span open at their time.

Ids: the trace id and span ids are derived from the record id (SHA-256), so
exporting the same records twice gives the same ids (a backend deduplicates
them). A record made from a request that carried a W3C ``traceparent``
(``record["traceparent"]``) keeps that trace id, and its root span's parent
is the caller's span: the request appears inside the caller's distributed
trace.

Resource: ``service.name`` is the first Flask/Django app name in the record
(the app label otherwise), ``process.pid`` the worker's pid. Scope:
``wsgiscope`` and its version.
"""

from __future__ import annotations

import hashlib
import json
import logging
import typing as t
from urllib.parse import urlsplit

from wsgiscope.errors import WsgiscopeError
from wsgiscope.export import fields

if t.TYPE_CHECKING:
    from opentelemetry.sdk.trace import ReadableSpan

    from wsgiscope.export import ExportOptions, Record

#: Records per OTLP request (one ExportTraceServiceRequest, one JSON line).
BATCH = 100
#: Span events kept per record; the rest are counted in ``wsgiscope.events_dropped``.
MAX_EVENTS = 1000
#: The OTLP version followed: OTLP 1.x, ``opentelemetry-proto`` trace/v1.
OTLP_JSON_FORMAT = "OTLP/JSON ExportTraceServiceRequest (opentelemetry-proto trace/v1)"


def require_sdk() -> None:
    """Raise a one-line error naming the extra when the packages are missing."""
    try:
        import opentelemetry.exporter.otlp.proto.http.trace_exporter
        import opentelemetry.sdk.trace  # noqa: F401
    except ImportError as exc:
        raise WsgiscopeError(
            f"export otlp needs the OpenTelemetry packages ({exc.name} is not installed)",
            hint="install them with: pip install 'wsgiscope[otel]'",
        ) from None


def _id(*parts: str, size: int) -> int:
    digest = hashlib.sha256("\x00".join(parts).encode("utf-8", "surrogatepass")).digest()
    return int.from_bytes(digest[:size], "big") or 1


def _hex_id(value: t.Any, size: int) -> int | None:
    if not isinstance(value, str) or len(value) != size * 2:
        return None
    try:
        number = int(value, 16)
    except ValueError:
        return None
    return number or None


class _Interval:
    """A span in the making: times in ns since the epoch."""

    __slots__ = ("attributes", "children", "end", "error", "events", "name", "span_id", "start")

    def __init__(
        self, name: str, start: int, end: int, attributes: dict[str, t.Any], span_id: int
    ) -> None:
        self.name = name
        self.start = start
        self.end = max(end, start)
        self.attributes = attributes
        self.span_id = span_id
        self.events: list[tuple[str, int, dict[str, t.Any]]] = []
        self.error: str | None = None
        self.children: list[_Interval] = []


def _value(value: t.Any) -> t.Any:
    """An attribute value: primitives as they are, anything else as JSON."""
    if isinstance(value, (str, bool, int, float)):
        return value
    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=repr)


def _attributes(items: t.Mapping[str, t.Any]) -> dict[str, t.Any]:
    return {key: _value(value) for key, value in items.items() if value is not None}


def _ns(milliseconds: t.Any) -> int:
    return max(round(fields.number(milliseconds) * 1_000_000), 0)


def _service(record: t.Mapping[str, t.Any]) -> str:
    for event in fields.events(record):
        if event.get("kind") in ("push", "hook") and isinstance(event.get("app"), str):
            return str(event["app"])
    app = record.get("app")
    return app if isinstance(app, str) and app else "wsgiscope"


def _root_attributes(record: t.Mapping[str, t.Any]) -> dict[str, t.Any]:
    request = fields.request_of(record)
    response = fields.response_of(record)
    environ = record.get("environ") if isinstance(record.get("environ"), dict) else {}
    assert isinstance(environ, dict)
    host = str(request.get("host") or "")
    name, _, port = host.rpartition(":") if host.rpartition(":")[2].isdigit() else (host, "", "")
    worker = record.get("worker") if isinstance(record.get("worker"), dict) else {}
    assert isinstance(worker, dict)
    code = fields.status_code(record)
    protocol = str(environ.get("SERVER_PROTOCOL") or "")
    body = fields.request_body(record)
    endpoint = next(
        (e.get("endpoint") for e in fields.events(record) if e.get("hook") == "view"), None
    )
    attributes: dict[str, t.Any] = {
        "http.request.method": fields.method(record),
        "url.path": fields.target(record).split("?", 1)[0],
        "url.query": request.get("query_string") or None,
        "url.scheme": request.get("scheme") or None,
        "server.address": name or None,
        "server.port": int(port) if port else None,
        "client.address": environ.get("REMOTE_ADDR") or None,
        "user_agent.original": fields.header(record, "User-Agent"),
        "network.protocol.version": protocol.partition("/")[2] or None,
        "http.response.status_code": code,
        "http.request.body.size": request.get("body_bytes") if body is not None else None,
        "http.response.body.size": response.get("body_bytes"),
        "thread.id": worker.get("thread_ident"),
        "thread.name": worker.get("thread"),
        "wsgiscope.record.id": record.get("id"),
        "wsgiscope.app": record.get("app"),
        "wsgiscope.endpoint": endpoint,
    }
    if code is not None and code >= 500:
        attributes["error.type"] = str(code)
    error = record.get("error")
    if isinstance(error, dict) and error.get("type"):
        attributes["error.type"] = str(error["type"])
    return _attributes(attributes)


def _hook_attributes(event: t.Mapping[str, t.Any]) -> dict[str, t.Any]:
    return _attributes(
        {
            "code.function.name": event.get("function"),
            "wsgiscope.hook": event.get("hook"),
            "wsgiscope.app": event.get("app"),
            "wsgiscope.endpoint": event.get("endpoint"),
            "wsgiscope.view_args": event.get("view_args") or None,
            "wsgiscope.exception.received": event.get("exception"),
            "wsgiscope.exception.raised": event.get("raised"),
        }
    )


_COMMON = frozenset({"seq", "t_ms", "kind", "depth", "parent"})


def _event_name(event: t.Mapping[str, t.Any]) -> str:
    kind = str(event.get("kind") or "event")
    if kind == "signal":
        return str(event.get("name") or "signal")
    return kind


def build_intervals(record: t.Mapping[str, t.Any]) -> _Interval:
    """The root interval of a record, its children nested and events placed."""
    ident = str(record.get("id") or json.dumps(record.get("started")))
    start = (fields.started_us(record) or 0) * 1000
    end = start + _ns(record.get("duration_ms"))
    root = _Interval(
        f"{fields.method(record)} {fields.target(record).split('?', 1)[0]}",
        start,
        end,
        _root_attributes(record),
        _id(ident, "root", size=8),
    )
    intervals: list[_Interval] = []
    instants: list[tuple[int, str, dict[str, t.Any]]] = []
    pushed: list[tuple[str, int, dict[str, t.Any]]] = []

    def at(event: t.Mapping[str, t.Any]) -> int:
        return start + _ns(event.get("t_ms"))

    def span_id(event: t.Mapping[str, t.Any]) -> int:
        return _id(ident, str(event.get("seq")), size=8)

    for event in fields.events(record):
        kind = event.get("kind")
        if kind == "push":
            pushed.append((str(event.get("context")), at(event), dict(event)))
        elif kind == "pop":
            context = str(event.get("context"))
            for index in range(len(pushed) - 1, -1, -1):
                if pushed[index][0] == context:
                    _, began, push = pushed.pop(index)
                    intervals.append(_context(push, event, began, at(event), span_id(push)))
                    break
        elif kind == "hook" or "duration_ms" in event:
            began = at(event)
            name = event.get("hook") or kind
            label = event.get("function") or event.get("name") or ""
            interval = _Interval(
                f"{name} {label}".strip(),
                began,
                began + _ns(event.get("duration_ms")),
                _hook_attributes(event)
                if kind == "hook"
                else _attributes(
                    {f"wsgiscope.{k}": v for k, v in event.items() if k not in _COMMON}
                ),
                span_id(event),
            )
            if event.get("raised"):
                interval.error = str(event["raised"])
            intervals.append(interval)
        else:
            attributes = _attributes(
                {f"wsgiscope.{k}": v for k, v in event.items() if k not in _COMMON}
            )
            if kind == "exception":
                attributes = _attributes(
                    {
                        "exception.type": event.get("type"),
                        "exception.message": event.get("message"),
                        "exception.stacktrace": event.get("traceback"),
                    }
                )
            instants.append((min(at(event), end), _event_name(event), attributes))
    for _, began, push in reversed(pushed):
        intervals.append(_context(push, None, began, end, span_id(push)))
    _nest(root, intervals, instants)
    error = record.get("error")
    if isinstance(error, dict):
        root.error = f"{error.get('type')}: {error.get('message')}"
        if not any(name == "exception" for name, _, _ in root.events):
            root.events.append(
                (
                    "exception",
                    end,
                    _attributes(
                        {
                            "exception.type": error.get("type"),
                            "exception.message": error.get("message"),
                            "exception.stacktrace": error.get("traceback"),
                        }
                    ),
                )
            )
    elif (fields.status_code(record) or 0) >= 500:
        root.error = f"HTTP {fields.status_code(record)}"
    return root


def _context(
    push: dict[str, t.Any], pop: dict[str, t.Any] | None, began: int, ended: int, span_id: int
) -> _Interval:
    attributes = {
        "wsgiscope.context": push.get("context"),
        "wsgiscope.app": push.get("app"),
        "url.path": push.get("path"),
    }
    if pop is not None:
        attributes.update({"wsgiscope.g": pop.get("g"), "wsgiscope.session": pop.get("session")})
    else:
        attributes["wsgiscope.popped"] = False
    return _Interval(
        f"{push.get('context')} context", began, ended, _attributes(attributes), span_id
    )


def _nest(
    root: _Interval,
    intervals: list[_Interval],
    instants: list[tuple[int, str, dict[str, t.Any]]],
) -> None:
    """Parent each interval to the innermost one enclosing it (clamped into it),
    and give each instant to the innermost interval open at its time."""
    items: list[tuple[int, int, int, t.Any]] = [
        (i.start, 0, -(i.end - i.start), i) for i in intervals
    ]
    items += [(when, 1, 0, (when, name, attrs)) for when, name, attrs in instants]
    items.sort(key=lambda item: (item[0], item[1], item[2]))
    stack = [root]
    dropped = 0
    for when, is_instant, _, item in items:
        while len(stack) > 1 and (when > stack[-1].end if is_instant else when >= stack[-1].end):
            stack.pop()
        parent = stack[-1]
        if is_instant:
            if sum(len(s.events) for s in stack) >= MAX_EVENTS:
                dropped += 1
                continue
            when, name, attributes = item
            parent.events.append((name, when, attributes))
            continue
        item.start = min(max(item.start, parent.start), parent.end)
        item.end = min(max(item.end, item.start), parent.end)
        parent.children.append(item)
        stack.append(item)
    if dropped:
        root.attributes["wsgiscope.events_dropped"] = dropped


def record_spans(
    record: t.Mapping[str, t.Any], resources: dict[tuple[str, t.Any], t.Any]
) -> list[ReadableSpan]:
    """The spans of one record, root first."""
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import Event, ReadableSpan
    from opentelemetry.sdk.util.instrumentation import InstrumentationScope
    from opentelemetry.trace import SpanContext, SpanKind, TraceFlags
    from opentelemetry.trace.status import Status, StatusCode

    from wsgiscope import __version__

    ident = str(record.get("id") or json.dumps(record.get("started")))
    parent_context = None
    trace_id = _id(ident, "trace", size=16)
    link = record.get("traceparent")
    if isinstance(link, dict):
        linked_trace = _hex_id(link.get("trace_id"), 16)
        linked_parent = _hex_id(link.get("parent_span_id"), 8)
        if linked_trace is not None:
            trace_id = linked_trace
            if linked_parent is not None:
                parent_context = SpanContext(
                    linked_trace,
                    linked_parent,
                    is_remote=True,
                    trace_flags=TraceFlags(TraceFlags.SAMPLED if link.get("sampled") else 0),
                )
    worker = record.get("worker") if isinstance(record.get("worker"), dict) else {}
    assert isinstance(worker, dict)
    key = (_service(record), worker.get("pid"))
    resource = resources.get(key)
    if resource is None:
        attributes: dict[str, t.Any] = {"service.name": key[0]}
        if isinstance(key[1], int):
            attributes["process.pid"] = key[1]
        resource = resources[key] = Resource(attributes)
    scope = InstrumentationScope("wsgiscope", __version__)
    spans: list[ReadableSpan] = []
    root = build_intervals(record)

    def emit(interval: _Interval, parent: t.Any, kind: SpanKind) -> None:
        context = SpanContext(trace_id, interval.span_id, is_remote=False,
                              trace_flags=TraceFlags(TraceFlags.SAMPLED))  # fmt: skip
        status = (
            Status(StatusCode.ERROR, interval.error) if interval.error else Status(StatusCode.UNSET)
        )
        spans.append(
            ReadableSpan(
                interval.name,
                context=context,
                parent=parent,
                resource=resource,
                attributes=interval.attributes,
                events=[
                    Event(name, attrs, timestamp=when) for name, when, attrs in interval.events
                ],
                kind=kind,
                status=status,
                start_time=interval.start,
                end_time=interval.end,
                instrumentation_scope=scope,
            )
        )
        for child in interval.children:
            emit(child, context, SpanKind.INTERNAL)

    emit(root, parent_context, SpanKind.SERVER)
    return spans


def _batches(records: t.Iterable[Record]) -> t.Iterator[list[ReadableSpan]]:
    resources: dict[tuple[str, t.Any], t.Any] = {}
    batch: list[ReadableSpan] = []
    for count, record in enumerate(records, 1):
        batch.extend(record_spans(record, resources))
        if count % BATCH == 0:
            yield batch
            batch = []
    yield batch


class _Count:
    def __init__(self, records: t.Iterable[Record]) -> None:
        self.records = records
        self.count = 0

    def __iter__(self) -> t.Iterator[Record]:
        for record in self.records:
            self.count += 1
            yield record


def to_json(spans: t.Sequence[ReadableSpan]) -> dict[str, t.Any]:
    """An OTLP/JSON ``ExportTraceServiceRequest``: ids in hex, enums as numbers."""
    from google.protobuf.json_format import MessageToDict
    from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans

    document = MessageToDict(encode_spans(spans), use_integers_for_enums=True)
    _hex_ids(document)
    return document


def _hex_ids(node: t.Any) -> None:
    import base64

    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("traceId", "spanId", "parentSpanId") and isinstance(value, str):
                node[key] = base64.b64decode(value).hex()
            else:
                _hex_ids(value)
    elif isinstance(node, list):
        for item in node:
            _hex_ids(item)


def write(records: t.Iterable[Record], out: t.TextIO, options: ExportOptions) -> int:
    """Write OTLP/JSON: one ``ExportTraceServiceRequest`` per line (the OTLP file format)."""
    require_sdk()
    counted = _Count(records)
    for spans in _batches(counted):
        if spans:
            out.write(json.dumps(to_json(spans), ensure_ascii=True, separators=(",", ":")) + "\n")
    return counted.count


def traces_url(endpoint: str) -> str:
    """The URL spans are posted to: ``/v1/traces`` added to a base endpoint."""
    parts = urlsplit(endpoint)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise WsgiscopeError(
            f"--endpoint must be an http(s) URL such as http://localhost:4318, not {endpoint!r}"
        )
    if parts.path.rstrip("/").endswith("/v1/traces"):
        return endpoint
    return endpoint.rstrip("/") + "/v1/traces"


def _reachable(url: str) -> None:
    """Fail at once when nothing listens at ``url`` (the exporter would retry
    for its whole timeout and then only say that it gave up)."""
    import socket

    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        socket.create_connection((parts.hostname or "localhost", port), timeout=5).close()
    except OSError as exc:
        raise WsgiscopeError(
            f"could not send spans to {url}: cannot connect: {exc.strerror or exc}",
            hint="is an OpenTelemetry collector listening there? (or write OTLP JSON with -o FILE)",
        ) from None


class _Messages(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.messages.append(record.getMessage())
        except Exception:  # a message whose arguments do not format
            self.messages.append(str(record.msg))


def send(records: t.Iterable[Record], options: ExportOptions, timeout: float = 10.0) -> int:
    """Send the spans of ``records`` with the SDK's OTLP/HTTP (protobuf) exporter.

    :raises WsgiscopeError: when the endpoint does not take them.
    """
    require_sdk()
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.trace.export import SpanExportResult

    url = traces_url(options.endpoint)
    _reachable(url)
    exporter = OTLPSpanExporter(endpoint=url, timeout=timeout)
    # the exporter logs its failures; they are reported here as one line instead
    logger = logging.getLogger("opentelemetry")
    handler = _Messages()
    propagate = logger.propagate
    logger.addHandler(handler)
    logger.propagate = False
    counted = _Count(records)
    try:
        for spans in _batches(counted):
            if spans and exporter.export(spans) is not SpanExportResult.SUCCESS:
                why = handler.messages[-1] if handler.messages else "the export failed"
                raise WsgiscopeError(
                    f"could not send spans to {url}: {why.splitlines()[0][:300]}",
                    hint="is an OpenTelemetry collector listening there? "
                    "(or write OTLP JSON with -o FILE)",
                )
    finally:
        logger.removeHandler(handler)
        logger.propagate = propagate
        exporter.shutdown()
    return counted.count
