"""Observing werkzeug's ``DispatcherMiddleware``: which app each level picks.

While instrumentation is held, ``DispatcherMiddleware.__call__`` is
replaced on the class by a version that, for a traced request, first works
out the mount exactly as werkzeug 3.1 does (longest matching prefix of
``PATH_INFO``, else the default app) and records a ``dispatch`` event with
the mount, the app's name and the environ that app receives
(``SCRIPT_NAME``/``PATH_INFO`` moved by that level), then calls the
original. Nested dispatchers give one event per level.
"""

from __future__ import annotations

import typing as t

from wsgiscope.tracing.events import Dispatch
from wsgiscope.tracing.instrument import Patches
from wsgiscope.tracing.recorder import Recorder, _current


def app_label(app: t.Any) -> str:
    """A short name for a WSGI callable: a Flask app's name, else its type."""
    name = getattr(app, "name", None)
    if isinstance(name, str):
        return name
    if hasattr(app, "__qualname__"):
        return f"{getattr(app, '__module__', '?')}.{app.__qualname__}"
    cls = type(app)
    return f"{cls.__module__}.{cls.__qualname__}"


def _record(rec: Recorder, dispatcher: t.Any, environ: dict[str, t.Any]) -> None:
    mounts = dispatcher.mounts
    script = environ.get("PATH_INFO", "")
    path_info = ""
    mount = None
    while "/" in script:
        if script in mounts:
            mount = script
            break
        script, last_item = script.rsplit("/", 1)
        path_info = f"/{last_item}{path_info}"
    else:
        if script in mounts:
            mount = script
    app = mounts[mount] if mount is not None else dispatcher.app
    seen = dict(environ)
    seen["SCRIPT_NAME"] = environ.get("SCRIPT_NAME", "") + script
    seen["PATH_INFO"] = path_info
    rec.add(
        Dispatch,
        0,
        [mount or "", app_label(app), seen["SCRIPT_NAME"], path_info, seen],
    )


def install(patches: Patches) -> None:
    """Observe every ``DispatcherMiddleware`` (undone by ``patches.undo()``)."""
    from werkzeug.middleware.dispatcher import DispatcherMiddleware

    orig_call = DispatcherMiddleware.__call__

    def __call__(self: t.Any, environ: t.Any, start_response: t.Any) -> t.Any:
        rec = _current.get()
        if rec is not None and isinstance(getattr(self, "mounts", None), dict):
            _record(rec, self, environ)
        return orig_call(self, environ, start_response)

    patches.set(DispatcherMiddleware, "__call__", __call__)
