"""Run an app, wrapped in TraceMiddleware, on a real server in a child process.

``wsgiscope serve`` never runs the server in its own process: it starts a
fresh Python process (:class:`~wsgiscope.serving.process.ServerProcess`)
that loads the app, wraps it in :class:`~wsgiscope.tracing.TraceMiddleware`
with the record file as its sink, and runs one of :data:`SERVERS`. The
records reach the terminal the same way for every server, gunicorn's worker
processes included: each is appended to the record file in one ``O_APPEND``
write, and ``serve`` tails that file. A fresh process is also what makes
gevent safe: its first statement patches, before the app (or
``concurrent.futures``) is imported.

The child tells the parent what happens on a control pipe, one JSON object
per line (:data:`READY`, :data:`ERROR`, :data:`WORKER`).

This module holds the plan both sides share; it imports nothing heavy.
"""

from __future__ import annotations

import dataclasses
import json
import typing as t

#: Servers ``serve`` can run, with the name shown to the user.
SERVERS: dict[str, str] = {
    "werkzeug": "werkzeug's threaded dev server",
    "gevent": "gevent's WSGIServer (monkey-patched)",
    "gunicorn": "gunicorn",
}
#: gunicorn worker classes ``serve`` offers.
WORKER_CLASSES = ("sync", "gthread", "gevent")

#: Control message kinds: the server listens, it failed, a gunicorn worker booted.
READY, ERROR, WORKER = "ready", "error", "worker"
#: Control message kind: records a process could not write (``pid``, ``count``
#: so far in that process, ``reason``).
DROPPED = "dropped"
#: Control message kind: the gunicorn arbiter saw a worker exit (``pid``).
WORKER_EXIT = "worker_exit"


@dataclasses.dataclass(frozen=True)
class ServePlan:
    """Everything the child process needs to serve the app.

    :param import_path: the APP import string.
    :param base_dir: the directory it is imported from.
    :param source: where the APP came from (for messages).
    :param record: the JSON Lines file every record is appended to.
    :param server: a key of :data:`SERVERS`.
    :param host: the address to bind.
    :param port: the port to bind (0: any free one).
    :param workers: gunicorn worker processes.
    :param worker_class: a gunicorn worker class from :data:`WORKER_CLASSES`.
    :param threads: gunicorn threads per worker (gthread).
    :param control_fd: the pipe the child reports on (set by the parent).
    :param keep_secrets: records keep secrets (``--keep-secrets``).
    :param gunicorn_args: gunicorn command-line flags given to ``serve``
        (``-w 4 -k gthread -b :9000 -c gunicorn.conf.py --reload``), read by
        gunicorn's own parser after its config file and ``GUNICORN_CMD_ARGS``.
    :param reload: restart on code changes (werkzeug's reloader; gunicorn's
        is in ``gunicorn_args``).
    """

    import_path: str
    base_dir: str
    record: str
    source: str = "argument"
    server: str = "werkzeug"
    host: str = "127.0.0.1"
    port: int = 0
    workers: int = 1
    worker_class: str = "sync"
    threads: int = 1
    keep_secrets: bool = False
    control_fd: int = -1
    gunicorn_args: list[str] = dataclasses.field(default_factory=list)
    reload: bool = False

    def to_json(self) -> str:
        """The plan as a JSON command-line argument."""
        return json.dumps(dataclasses.asdict(self))

    @classmethod
    def from_json(cls, text: str) -> ServePlan:
        """The plan back from :meth:`to_json`."""
        return cls(**json.loads(text))

    @property
    def description(self) -> str:
        """The server, e.g. ``gunicorn (2 sync workers)``."""
        if self.server != "gunicorn":
            return SERVERS[self.server]
        threads = f", {self.threads} threads each" if self.threads > 1 else ""
        plural = "s" if self.workers != 1 else ""
        return f"gunicorn ({self.workers} {self.worker_class} worker{plural}{threads})"


def host_port(host: str, port: int) -> str:
    """``host:port``, with brackets around an IPv6 address."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def message(kind: str, **fields: t.Any) -> bytes:
    """One control message line (short enough to be written atomically)."""
    for key, value in fields.items():
        if isinstance(value, str) and len(value) > 1000:
            fields[key] = value[:1000] + "..."
    return (json.dumps({"event": kind, **fields}) + "\n").encode()
