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
from wsgiscope.serving import (
    DROPPED,
    ERROR,
    READY,
    WORKER,
    WORKER_EXIT,
    ServePlan,
    host_port,
    message,
)

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


class DropReporter:
    """Tells the parent how many records this process could not write: on
    the first loss, then at most every :attr:`EVERY` seconds, and at the end
    (:meth:`flush`)."""

    EVERY = 0.25

    def __init__(self, control: Control) -> None:
        self.control = control
        self.count = self.sent = 0
        self.reason = ""
        self.at = 0.0
        self.lock = threading.Lock()

    def __call__(self, count: int, reason: str) -> None:
        import time

        self.count, self.reason = count, reason
        if self.sent == 0 or time.monotonic() - self.at >= self.EVERY:
            self.flush()

    def flush(self) -> None:
        """Send the count if it changed since the last message."""
        import time

        with self.lock:
            if self.count == self.sent:
                return
            self.sent, self.at = self.count, time.monotonic()
        self.control.send(DROPPED, pid=os.getpid(), count=self.sent, reason=self.reason)


#: This process's reporter (one traced app per process).
_reporter: DropReporter | None = None


def flush_drops() -> None:
    """Send this process's final count of lost records (if any were lost)."""
    if _reporter is not None:
        _reporter.flush()


def load_traced(plan: ServePlan, control: Control | None = None) -> t.Any:
    """The plan's app wrapped in TraceMiddleware that appends to the record
    file; records it cannot write are reported on ``control``."""
    global _reporter
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
    traced = TraceMiddleware(loaded.app, sink=plan.record, redact=not plan.keep_secrets)
    if control is not None and traced.sink is not None:
        _reporter = DropReporter(control)
        traced.sink.on_failure = _reporter
    return traced


def _bind_error(plan: ServePlan, exc: OSError) -> UsageError:
    return UsageError(
        f"cannot listen on {host_port(plan.host, plan.port)}: {exc.strerror or exc}",
        hint="choose another --port, or --port 0 for a free one",
    )


def run_werkzeug(plan: ServePlan, control: Control) -> None:
    """werkzeug's threaded dev server; its access log is replaced by the trace lines.

    With ``--reload``, werkzeug's own reloader runs it: this process watches
    the files of every imported module and restarts a fresh interpreter
    (``sys.orig_argv``: the same plan, the control pipe inherited) serving
    the changed code.
    """
    if plan.reload:
        from werkzeug._reloader import run_with_reloader

        if os.environ.get("WERKZEUG_RUN_MAIN") != "true":
            # bound once here and inherited by every reloaded server, as
            # werkzeug's run_simple does: the port stays the same (even --port 0)
            _LISTENING.append(_listen(plan))
            os.environ["WERKZEUG_SERVER_FD"] = str(_LISTENING[-1].fileno())

        def serve_reloaded() -> None:
            try:
                _run_werkzeug(plan, control)
            except WsgiscopeError as exc:  # e.g. a syntax error just saved
                control.error(exc)

        run_with_reloader(serve_reloaded)
        return
    _run_werkzeug(plan, control)


#: The reloader's listening socket, kept open for the servers it starts.
_LISTENING: list[t.Any] = []


def _listen(plan: ServePlan) -> t.Any:
    import socket

    family = socket.AF_INET6 if ":" in plan.host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((plan.host, plan.port))
        sock.listen(128)
    except OSError as exc:
        sock.close()
        raise _bind_error(plan, exc) from None
    sock.set_inheritable(True)
    return sock


def _run_werkzeug(plan: ServePlan, control: Control) -> None:
    from werkzeug.serving import ThreadedWSGIServer, WSGIRequestHandler, make_server

    app = load_traced(plan, control)
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

    fd = os.environ.get("WERKZEUG_SERVER_FD") if plan.reload else None
    try:
        server = t.cast(
            ThreadedWSGIServer,
            make_server(
                plan.host, plan.port, app, threaded=True, request_handler=QuietHandler,
                fd=int(fd) if fd else None,
            ),
        )  # fmt: skip
    except OSError as exc:
        raise _bind_error(plan, exc) from None
    # Do not join every handler thread on close: a keep-alive connection
    # left open by a client would block it. Requests in flight are waited
    # for below instead; idle connection threads are daemons.
    server.block_on_close = False

    def stop(signum: int, frame: object) -> None:
        # shutdown() waits for serve_forever to return: not from its own thread
        threading.Thread(target=server.shutdown, daemon=True).start()

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
    # server_port is not set for a socket inherited from the reloader
    control.send(READY, port=server.socket.getsockname()[1], pid=os.getpid())
    server.serve_forever()
    with in_flight:
        in_flight.wait_for(lambda: active[0] == 0, timeout=GRACE_SECONDS)
    flush_drops()


def run_gevent(plan: ServePlan, control: Control) -> None:
    """gevent's WSGIServer; the process was patched before anything was imported."""
    import time

    import gevent
    from gevent.pywsgi import WSGIHandler, WSGIServer

    app = load_traced(plan, control)
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
    flush_drops()


def _configure_gunicorn(application: t.Any, plan: ServePlan) -> None:
    """gunicorn's settings in gunicorn's order: wsgiscope's defaults, the config
    file, ``GUNICORN_CMD_ARGS``, then the flags given to ``serve``."""
    from gunicorn.config import get_default_config_file

    cfg = application.cfg
    defaults = {
        "bind": [host_port(plan.host, plan.port)],
        "workers": plan.workers,
        "worker_class": plan.worker_class,
        "threads": plan.threads,
        "loglevel": "warning",
        "graceful_timeout": GRACE_SECONDS,
        "proc_name": "wsgiscope-serve",
    }
    for key, value in defaults.items():
        cfg.set(key, value)
    parser = cfg.parser()
    try:
        args = parser.parse_args(plan.gunicorn_args)
        env_args = parser.parse_args(cfg.get_cmd_args_from_env())
    except SystemExit:  # argparse printed the bad flag above
        raise UsageError(
            "gunicorn refused its options (see above)",
            hint="check the gunicorn flags and GUNICORN_CMD_ARGS",
        ) from None
    config = args.config or env_args.config or get_default_config_file()
    if config:
        try:
            application.load_config_from_file(config)
        except SystemExit:  # gunicorn printed why
            raise UsageError(f"gunicorn could not load the config file {config}") from None
    for source in (env_args, args):
        for key, value in vars(source).items():
            if value is not None and key != "args":
                cfg.set(key.lower(), value)


def run_gunicorn(plan: ServePlan, control: Control) -> None:
    """gunicorn's arbiter, run programmatically; the app loads in each worker.

    The configuration is read by gunicorn's own machinery, in gunicorn's
    order: wsgiscope's defaults, then the config file (``-c FILE``, else
    ``GUNICORN_CMD_ARGS``'s ``-c``, else ``./gunicorn.conf.py``), then
    ``GUNICORN_CMD_ARGS``, then the gunicorn flags given to ``serve``. The
    user's server hooks run; wsgiscope's own ``when_ready`` and
    ``post_worker_init`` run after theirs.
    """
    try:
        from gunicorn.app.base import Application
    except ImportError:
        raise MissingDependency("gunicorn", "--server gunicorn") from None

    class TracedApplication(Application):  # type: ignore[misc]
        def init(self, parser: t.Any, opts: t.Any, args: t.Any) -> None:
            return None

        def load_config(self) -> None:
            try:
                _configure_gunicorn(self, plan)
            except WsgiscopeError as exc:
                control.error(exc)  # gunicorn would print it as "Error: ..." and exit 1
                raise
            self._chain_hooks()

        def _chain_hooks(self) -> None:
            theirs_ready = self.cfg.settings["when_ready"].get()
            theirs_init = self.cfg.settings["post_worker_init"].get()
            theirs_worker_exit = self.cfg.settings["worker_exit"].get()
            theirs_child_exit = self.cfg.settings["child_exit"].get()

            def when_ready(arbiter: t.Any) -> None:
                theirs_ready(arbiter)
                host, port = arbiter.LISTENERS[0].sock.getsockname()[:2]
                cfg = arbiter.cfg
                workers, threads = cfg.workers, cfg.threads
                shown = (
                    f"gunicorn ({workers} {cfg.worker_class_str} worker{'s' * (workers != 1)}"
                    + (f", {threads} threads each" if threads > 1 else "")
                    + (", reloading on changes" if cfg.reload else "")
                    + ")"
                )
                control.send(READY, port=port, pid=os.getpid(), host=str(host), description=shown)

            def post_worker_init(worker: t.Any) -> None:
                theirs_init(worker)
                control.send(WORKER, pid=worker.pid)

            def worker_exit(server: t.Any, worker: t.Any) -> None:
                theirs_worker_exit(server, worker)
                flush_drops()

            def child_exit(server: t.Any, worker: t.Any) -> None:
                theirs_child_exit(server, worker)
                # in the arbiter: serve counts workers that died before they booted
                control.send(WORKER_EXIT, pid=worker.pid)

            self.cfg.set("when_ready", when_ready)
            self.cfg.set("post_worker_init", post_worker_init)
            self.cfg.set("worker_exit", worker_exit)
            self.cfg.set("child_exit", child_exit)

        def load(self) -> t.Any:
            try:
                return load_traced(plan, control)
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
    from wsgiscope.loading import leave_app_threads

    leave_app_threads(0)  # threads the app started must not keep the server alive
