"""The child process of ``serve``: load the app, wrap it, serve it, report.

:class:`~wsgiscope.serving.process.ServerProcess` starts this as
``python -c BOOT PLAN`` (for gevent, BOOT's first statement patches).
:func:`main` loads the app in this process (in each gunicorn worker, after
the fork and after gunicorn's gevent worker patched), wraps it in
:class:`~wsgiscope.tracing.TraceMiddleware` appending to the record file,
binds, sends :data:`~wsgiscope.serving.READY` with the real port, and serves
until SIGTERM, which stops every server gracefully: requests in flight are
finished and their records written. A :class:`~wsgiscope.errors.WsgiscopeError`
(the app does not load, the port is taken) is sent as
:data:`~wsgiscope.serving.ERROR` for the parent to report.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
import traceback
import typing as t
from pathlib import Path

from wsgiscope.errors import AppLoadError, MissingDependency, UsageError, WsgiscopeError
from wsgiscope.serving import ERROR, READY, WORKER, ServePlan, host_port, message

#: How long SIGTERM lets requests in flight finish.
GRACE_SECONDS = 10


class Control:
    """The write end of the control pipe."""

    def __init__(self, fd: int) -> None:
        self.fd = fd

    def send(self, kind: str, **fields: t.Any) -> None:
        """Send one message; a parent that went away is not an error here."""
        if self.fd < 0:
            return
        with contextlib.suppress(OSError):
            os.write(self.fd, message(kind, **fields))

    def error(self, exc: WsgiscopeError) -> None:
        """Report ``exc`` to the parent."""
        self.send(
            ERROR,
            type=type(exc).__name__,
            message=exc.message,
            hint=exc.hint,
            exit_code=int(exc.exit_code),
        )


def load_traced(plan: ServePlan) -> t.Any:
    """The plan's app wrapped in TraceMiddleware that appends to the record file."""
    from wsgiscope.loading import AppRef, load_app
    from wsgiscope.tracing import TraceMiddleware

    try:
        loaded = load_app(AppRef(plan.import_path, plan.source, Path(plan.base_dir)))
    except WsgiscopeError:
        raise
    except Exception as exc:
        # the loader reports the app's own failures itself; anything else
        # still becomes one line for the user, its traceback above it
        traceback.print_exc()
        raise AppLoadError(
            f"loading {plan.import_path} failed: {type(exc).__name__}: {exc}",
            hint="the traceback above shows where",
        ) from None
    return TraceMiddleware(loaded.app, sink=plan.record, redact=not plan.keep_secrets)


def _bind_error(plan: ServePlan, exc: OSError) -> UsageError:
    return UsageError(
        f"cannot listen on {host_port(plan.host, plan.port)}: {exc.strerror or exc}",
        hint="choose another --port, or --port 0 for a free one",
    )


def run_werkzeug(plan: ServePlan, control: Control) -> None:
    """werkzeug's threaded dev server; its access log is replaced by the trace lines."""
    from werkzeug.serving import ThreadedWSGIServer, WSGIRequestHandler, make_server

    app = load_traced(plan)
    in_flight = threading.Condition()
    active = [0]

    class QuietHandler(WSGIRequestHandler):
        def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
            pass  # serve prints a line per request from its record

        def run_wsgi(self) -> None:
            # one request, its body and the app iterable's close() included
            with in_flight:
                active[0] += 1
            try:
                super().run_wsgi()
            finally:
                with in_flight:
                    active[0] -= 1
                    in_flight.notify_all()

    try:
        server = t.cast(
            ThreadedWSGIServer,
            make_server(plan.host, plan.port, app, threaded=True, request_handler=QuietHandler),
        )
    except OSError as exc:
        raise _bind_error(plan, exc) from None
    # Do not join every handler thread on close: a keep-alive connection
    # left open by a client would block it. Requests in flight are waited
    # for below instead; idle connection threads are daemons.
    server.block_on_close = False

    def stop(signum: int, frame: object) -> None:
        # shutdown() waits for serve_forever to return: not from its own thread
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    control.send(READY, port=server.server_port, pid=os.getpid())
    server.serve_forever()
    with in_flight:
        in_flight.wait_for(lambda: active[0] == 0, timeout=GRACE_SECONDS)


def run_gevent(plan: ServePlan, control: Control) -> None:
    """gevent's WSGIServer; the process was patched before anything was imported."""
    import time

    import gevent
    from gevent.pywsgi import WSGIHandler, WSGIServer

    app = load_traced(plan)
    active = [0]

    class CountingHandler(WSGIHandler):  # type: ignore[misc]
        def handle_one_response(self) -> t.Any:
            active[0] += 1
            try:
                return super().handle_one_response()
            finally:
                active[0] -= 1

    server = WSGIServer((plan.host, plan.port), app, log=None, handler_class=CountingHandler)
    try:
        server.start()
    except OSError as exc:
        raise _bind_error(plan, exc) from None
    # close() stops accepting and ends serve_forever(); requests in flight
    # are waited for below, connections idle between requests are not
    gevent.signal_handler(signal.SIGTERM, server.close)
    gevent.signal_handler(signal.SIGINT, server.close)
    control.send(READY, port=server.server_port, pid=os.getpid())
    server.serve_forever()
    deadline = time.monotonic() + GRACE_SECONDS
    while active[0] and time.monotonic() < deadline:
        gevent.sleep(0.05)


def run_gunicorn(plan: ServePlan, control: Control) -> None:
    """gunicorn's arbiter, run programmatically; the app loads in each worker."""
    try:
        from gunicorn.app.base import BaseApplication
    except ImportError:
        raise MissingDependency("gunicorn", "--server gunicorn") from None

    def when_ready(arbiter: t.Any) -> None:
        port = arbiter.LISTENERS[0].sock.getsockname()[1]
        control.send(READY, port=port, pid=os.getpid())

    def post_worker_init(worker: t.Any) -> None:
        control.send(WORKER, pid=worker.pid)

    class TracedApplication(BaseApplication):  # type: ignore[misc]
        def load_config(self) -> None:
            settings = {
                "bind": [host_port(plan.host, plan.port)],
                "workers": plan.workers,
                "worker_class": plan.worker_class,
                "threads": plan.threads,
                "loglevel": "warning",
                "graceful_timeout": GRACE_SECONDS,
                "proc_name": "wsgiscope-serve",
                "when_ready": when_ready,
                "post_worker_init": post_worker_init,
            }
            for key, value in settings.items():
                self.cfg.set(key, value)

        def load(self) -> t.Any:
            try:
                return load_traced(plan)
            except WsgiscopeError as exc:
                control.error(exc)
                # gunicorn's "app failed to load": the arbiter halts
                sys.exit(4)

    TracedApplication().run()


RUNNERS: dict[str, t.Callable[[ServePlan, Control], None]] = {
    "werkzeug": run_werkzeug,
    "gevent": run_gevent,
    "gunicorn": run_gunicorn,
}


def main(argv: list[str] | None = None) -> None:
    """Serve the plan given as the first argument (JSON)."""
    args = sys.argv[1:] if argv is None else argv
    plan = ServePlan.from_json(args[0])
    control = Control(plan.control_fd)
    try:
        RUNNERS[plan.server](plan, control)
    except WsgiscopeError as exc:
        control.error(exc)
        sys.exit(int(exc.exit_code))
