"""What tracing costs per request, next to other WSGI middleware, in one run.

    PYTHONPATH=. python benchmarks/overhead.py [--requests 2000] [--rounds 9]

Two Flask apps (hello world, and one with a url_value_preprocessor,
before_request, after_request, teardown_request and teardown_appcontext)
are called directly in a loop with a prebuilt environ (no server, no HTTP):
bare, and wrapped in

- ``TraceMiddleware(sink=None)``: every event of the Flask lifecycle recorded
  (contexts, hooks, signals, WSGI events); no record built;
- ``TraceMiddleware(sink=<callable that drops it>)``: the same plus the full
  ``wsgiscope.trace/1`` record dict (environ stringified, secrets redacted);
- ``TraceMiddleware(sink="/dev/null")``: plus JSON encoding and one
  ``os.write`` per record;
- OpenTelemetry's ``OpenTelemetryMiddleware`` with a real SDK
  ``TracerProvider`` and a ``SimpleSpanProcessor`` feeding an
  ``InMemorySpanExporter`` (cleared between rounds), and without an SDK
  (the API's ``NoOpTracerProvider``);
- werkzeug's ``LintMiddleware`` and ``ProfilerMiddleware`` (``stream=None``).

Variants are interleaved round by round; each figure is the median over
rounds of the mean time per request in that round, and each ratio is
against the bare app's median from the same run.
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import sys
import time
import typing as t
import warnings

from flask import Blueprint, Flask, g
from werkzeug.test import EnvironBuilder

from wsgiscope.tracing import TraceMiddleware

App = t.Callable[..., t.Any]


def hello_app() -> Flask:
    app = Flask("hello")

    @app.get("/")
    def index() -> str:
        return "Hello, World!"

    return app


def hooks_app() -> Flask:
    app = Flask("hooks")
    shop = Blueprint("shop", __name__, url_prefix="/<lang>")

    @shop.url_value_preprocessor
    def pull_lang(endpoint: str | None, values: dict[str, t.Any] | None) -> None:
        g.lang = values.pop("lang") if values else None

    @shop.get("/item/<int:item_id>")
    def item(item_id: int) -> str:
        return f"{g.lang}:{item_id}:{g.user}"

    app.register_blueprint(shop)

    @app.before_request
    def load_user() -> None:
        g.user = "ada"

    @app.after_request
    def add_header(response: t.Any) -> t.Any:
        response.headers["X-Served-By"] = "bench"
        return response

    @app.teardown_request
    def close_db(exc: BaseException | None) -> None:
        g.pop("db", None)

    @app.teardown_appcontext
    def release(exc: BaseException | None) -> None:
        pass

    return app


#: 1 MB of text with no secret-looking word: ``(line + 1) * n`` of lowercase prose.
MEGABYTE_TEXT = (b"lorem ipsum dolor amet consectetur adipiscing elit " * 20600)[: 1 << 20]


def megabyte_app(mimetype: str, body: bytes) -> Flask:
    """A view answering ``body`` (1 MB, or a page) as ``mimetype``."""
    app = Flask("megabyte")

    @app.get("/")
    def index() -> t.Any:
        return app.response_class(body, mimetype=mimetype)

    return app


def catalog_page(rows: int = 300) -> bytes:
    """An 80 KB HTML page as a shop renders it: a csrf meta tag and a hidden
    input, a login form, a 300-row table whose cells hold everyday words
    that contain secret words (author, keyboard, design, spinner, basic)."""
    words = ["the", "design", "author", "keyboard", "spinner", "signup", "basic", "token"]
    cells = "".join(
        f'<tr class="row"><td><a href="/products/{i}?ref=list&amp;page=2">Product {i}</a></td>'
        f'<td class="price" data-id="{i}">${i * 3}.99</td><td><span title="In stock">'
        f'{words[i % 8]} {words[i * 7 % 8]}</span></td><td><button type="button" '
        f'class="btn btn-sm" onclick="add({i})">Add</button></td></tr>'
        for i in range(rows)
    )
    token = "IjQ3ZDk2YmQ2ZjYxYjY1NzQ0NDA2ZjY1N2QyZWVkNzM5NzVmN2E0NTAi.Z3Bw.abc"
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f'<meta name="csrf-token" content="{token}"><title>Catalog</title>'
        '<link rel="stylesheet" href="/static/app.css"></head><body><nav><a href="/">Shop</a>'
        '<form method="post" action="/login" class="login">'
        f'<input type="hidden" name="csrf_token" value="{token}">'
        '<input name="username"><input type="password" name="password"><button>Sign in</button>'
        f"</form></nav><main><h1>Catalog</h1><table>{cells}</table></main></body></html>"
    ).encode()


def api_listing(items: int = 300) -> bytes:
    """A 72 KB JSON API answer: 300 objects, each with an ``author`` (a key
    holding the secret word "auth") and a description with "key" and "basic"."""
    import json

    return json.dumps(
        {
            "items": [
                {
                    "id": i,
                    "name": f"Item {i}",
                    "author": {"id": i % 7, "name": "ada", "url": f"/users/{i % 7}"},
                    "tags": ["a", "b", "design"],
                    "price": i * 1.5,
                    "description": "A keyboard for the monkey in the office, basic model",
                    "links": {"self": f"/api/items/{i}"},
                }
                for i in range(items)
            ],
            "next": "/api/items?page=2",
        }
    ).encode()


def _start_response(status: str, headers: list[t.Any], exc_info: t.Any = None) -> t.Any:
    return None


def runner(app: App, environ: dict[str, t.Any]) -> t.Callable[[int], float]:
    """A loop of ``n`` direct calls of ``app``; returns seconds per request."""

    def run(n: int) -> float:
        start = time.perf_counter()
        for _ in range(n):
            result = app(dict(environ), _start_response)
            for _chunk in result:
                pass
            close = getattr(result, "close", None)
            if close is not None:
                close()
        return (time.perf_counter() - start) / n

    return run


def _drop(record: dict[str, t.Any]) -> None:
    return None


def variants(app: Flask) -> tuple[dict[str, App], list[t.Callable[[], None]]]:
    """The wrapped apps, and what to run between rounds."""
    from werkzeug.middleware.lint import LintMiddleware
    from werkzeug.middleware.profiler import ProfilerMiddleware

    between: list[t.Callable[[], None]] = []
    out: dict[str, App] = {
        "bare": app,
        "TraceMiddleware sink=None (events only)": TraceMiddleware(app, sink=None),
        "TraceMiddleware sink=callable (record built)": TraceMiddleware(app, sink=_drop),
        "TraceMiddleware sink=/dev/null (JSON Lines)": TraceMiddleware(app, sink=os.devnull),
    }
    try:
        from opentelemetry.instrumentation.wsgi import OpenTelemetryMiddleware
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import SimpleSpanProcessor
        from opentelemetry.sdk.trace.export.in_memory_span_exporter import (
            InMemorySpanExporter,
        )
    except ImportError:
        print("(opentelemetry-sdk not installed: OpenTelemetry skipped)", file=sys.stderr)
    else:
        exporter = InMemorySpanExporter()
        provider = TracerProvider()
        provider.add_span_processor(SimpleSpanProcessor(exporter))
        out["OpenTelemetryMiddleware (SDK, in-memory exporter)"] = OpenTelemetryMiddleware(
            app, tracer_provider=provider
        )
        between.append(exporter.clear)
        from opentelemetry.trace import NoOpTracerProvider

        # The API alone (what an app instrumented but not configured runs):
        # the middleware's own work (attributes, context propagation), no spans kept.
        out["OpenTelemetryMiddleware (no SDK)"] = OpenTelemetryMiddleware(
            app, tracer_provider=NoOpTracerProvider()
        )
    out["werkzeug LintMiddleware"] = LintMiddleware(app)
    out["werkzeug ProfilerMiddleware (stream=None)"] = ProfilerMiddleware(app, stream=None)
    return out, between


def measure(
    name: str, app: Flask, path: str, requests: int, rounds: int
) -> list[tuple[str, float, float, tuple[float, float]]]:
    environ = EnvironBuilder(path).get_environ()
    apps, between = variants(app)
    runs = {label: runner(wrapped, environ) for label, wrapped in apps.items()}
    for label, run in runs.items():  # warm up (imports, caches, instrumentation)
        run(max(requests // 10, 50))
        wrapped = apps[label]
        if isinstance(wrapped, TraceMiddleware):
            wrapped.close()
    samples: dict[str, list[float]] = {label: [] for label in runs}
    gc.collect()
    for _ in range(rounds):
        for label, run in runs.items():
            samples[label].append(run(requests))
            wrapped = apps[label]
            if isinstance(wrapped, TraceMiddleware):
                # Uninstall the Flask instrumentation so the other variants
                # (the bare app above all) run on unpatched classes.
                wrapped.close()
        for hook in between:
            hook()
    bare = statistics.median(samples["bare"])
    out = []
    for label, values in samples.items():
        # the spread: the lowest and highest ratio to the bare app in the same round
        per_round = [v / b for v, b in zip(values, samples["bare"], strict=True)]
        spread = (min(per_round), max(per_round))
        out.append((label, statistics.median(values), statistics.median(values) / bare, spread))
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=2000, help="requests per round")
    parser.add_argument("--rounds", type=int, default=9, help="rounds per variant")
    parser.add_argument(
        "--apps",
        default="hello,hooks,text1mb,html80kb,json72kb,binary1mb",
        help="which apps, comma-separated (hello, hooks, text1mb, html80kb, json72kb, binary1mb)",
    )
    args = parser.parse_args(argv)
    chosen = args.apps.split(",")
    warnings.simplefilter("ignore")  # LintMiddleware's advice is not the subject here
    print(
        f"Python {sys.version.split()[0]}, {args.rounds} rounds x {args.requests} requests,"
        " median of per-round means"
    )
    apps = {
        "hello": ("hello world", hello_app, "/", 1),
        "hooks": ("with hooks", hooks_app, "/en/item/7", 1),
        # 1 MB responses: the record keeps (and the sink writes) max_body's
        # 256 KB of preview; fewer requests per round.
        "text1mb": (
            "1 MB text/plain response",
            lambda: megabyte_app("text/plain", MEGABYTE_TEXT),
            "/",
            20,
        ),
        "html80kb": (
            "80 KB HTML page (csrf token, a 300-row table)",
            lambda: megabyte_app("text/html", catalog_page()),
            "/",
            4,
        ),
        "json72kb": (
            "72 KB JSON API answer (300 objects)",
            lambda: megabyte_app("application/json", api_listing()),
            "/",
            4,
        ),
        "binary1mb": (
            "1 MB application/octet-stream response",
            lambda: megabyte_app("application/octet-stream", os.urandom(1 << 20)),
            "/",
            20,
        ),
    }
    for key in chosen:
        name, make, path, divisor = apps[key]
        app, requests = make(), max(args.requests // divisor, 20)
        print(f"\nFlask app {name} (GET {path}, {requests} requests per round)")
        print(f"  {'variant':52} {'us/request':>10} {'ratio':>7}  per-round ratios")
        for label, seconds, ratio, (low, high) in measure(name, app, path, requests, args.rounds):
            print(f"  {label:52} {seconds * 1e6:10.1f} {ratio:6.2f}x  {low:.2f}-{high:.2f}x")


if __name__ == "__main__":
    main()
