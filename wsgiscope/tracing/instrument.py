"""Installing framework instrumentation while traces run, and removing it.

Adapters instrument frameworks at class and function level (never a user's
app object), and only while at least one traced request is in flight or an
:func:`instrumentation` block is open: the first holder installs, the last
one restores every attribute exactly as it was (an attribute that lived on
a base class is deleted again rather than copied down). A framework that is
not imported yet is never imported for this: an adapter installs only when
its framework is already in ``sys.modules``.

Wrappers look up the current recorder on every call and fall straight
through to the original when the running request is not traced, so other
threads serving untraced requests meanwhile are not affected.
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import sys
import threading
import typing as t

_MISSING = object()
_CALL = object()


class Patches:
    """A set of attribute replacements that can be undone exactly."""

    __slots__ = ("_saved",)

    def __init__(self) -> None:
        self._saved: list[tuple[t.Any, str, t.Any]] = []

    def set(self, owner: t.Any, name: str, value: t.Any) -> None:
        """Set ``owner.name = value``, remembering what ``owner`` itself held."""
        own = vars(owner).get(name, _MISSING) if hasattr(owner, "__dict__") else _MISSING
        self._saved.append((owner, name, own))
        setattr(owner, name, value)

    def on_undo(self, undo: t.Callable[[], None]) -> None:
        """Call ``undo()`` when undoing (for what is not an attribute: an
        event listener, a signal receiver), in order with the attributes."""
        self._saved.append((undo, "", _CALL))

    def undo(self) -> None:
        """Put every attribute back, last replaced first."""
        while self._saved:
            owner, name, own = self._saved.pop()
            if own is _CALL:
                with contextlib.suppress(Exception):
                    owner()
            elif own is _MISSING:
                with contextlib.suppress(AttributeError):
                    delattr(owner, name)
            else:
                setattr(owner, name, own)


#: Adapters: (module that must already be imported, "module:install function").
ADAPTERS: tuple[tuple[str, str], ...] = (
    ("werkzeug.middleware.dispatcher", "wsgiscope.tracing.dispatch:install"),
    ("flask.app", "wsgiscope.tracing.flask:install"),
    ("django.core.handlers.base", "wsgiscope.tracing.django:install"),
    # Beneath the hooks (wsgiscope.capture): installed the same way.
    ("sqlalchemy.engine", "wsgiscope.capture.sql:install_sqlalchemy"),
    ("django.db.backends.base.base", "wsgiscope.capture.sql:install_django"),
    ("sqlite3", "wsgiscope.capture.sql:install_sqlite3"),
    ("logging", "wsgiscope.capture.logs:install"),
    ("http.client", "wsgiscope.capture.outbound:install"),
    ("httpx", "wsgiscope.capture.outbound:install_httpx"),
    ("flask.signals", "wsgiscope.capture.templates:install_flask"),
    ("django.template.base", "wsgiscope.capture.templates:install_django"),
)

_lock = threading.RLock()
_failed: set[str] = set()
_holders = 0
_installed: list[Patches] = []


def _install_all() -> list[Patches]:
    installed: list[Patches] = []
    for required, target in ADAPTERS:
        if required not in sys.modules:
            continue
        module_name, _, func = target.partition(":")
        patches = Patches()
        try:
            getattr(importlib.import_module(module_name), func)(patches)
        except Exception as exc:
            # A framework version we cannot instrument is traced at the WSGI
            # level only; never break the request for it, but say so once
            # (in one line when the adapter knows why: ``one_line``).
            patches.undo()
            if target in _failed:
                continue
            _failed.add(target)
            if getattr(exc, "one_line", False):
                logging.getLogger("wsgiscope").warning("%s", exc)
            else:
                logging.getLogger("wsgiscope").warning(
                    "wsgiscope: cannot instrument %s (traced at the WSGI level only)",
                    required.split(".")[0],
                    exc_info=True,
                )
            continue
        installed.append(patches)
    return installed


def acquire() -> None:
    """Hold the instrumentation (installing it if nobody held it)."""
    global _holders, _installed
    with _lock:
        _holders += 1
        if _holders == 1:
            _installed = _install_all()


def release() -> None:
    """Let go of the instrumentation (removing it when the last holder leaves)."""
    global _holders, _installed
    with _lock:
        _holders -= 1
        if _holders == 0:
            for patches in reversed(_installed):
                patches.undo()
            _installed = []


def active() -> bool:
    """Whether instrumentation is installed right now."""
    return _holders > 0


@contextlib.contextmanager
def instrumentation() -> t.Iterator[None]:
    """Keep the framework instrumentation installed for the block."""
    acquire()
    try:
        yield
    finally:
        release()
