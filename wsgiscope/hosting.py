"""The app a host CLI hands to wsgiscope's commands.

``flask scope ...`` and ``python manage.py wsgiscope ...`` run wsgiscope's
own commands inside the framework's CLI: the app is the one that CLI loads
(Flask's ``ScriptInfo``, Django's ``WSGI_APPLICATION``), not one wsgiscope
resolves. :func:`host` registers it; :func:`wsgiscope.loading.resolve_app_ref`
then answers with its reference when no APP was typed, and
:func:`wsgiscope.loading.load_app` with the host's object. The reference is
a real import path too, so the commands that load the app in fresh worker
processes (``serve``, ``replay --greenlets/--processes``) load the same app.
"""

from __future__ import annotations

import dataclasses
import typing as t

if t.TYPE_CHECKING:
    from wsgiscope.loading import AppRef, LoadedApp


@dataclasses.dataclass
class HostedApp:
    """An app provided by a host CLI.

    :param ref: its import path, for worker processes and ``info``.
    :param load: returns the loaded app (called once, on first use).
    """

    ref: AppRef
    load: t.Callable[[], LoadedApp]
    _loaded: LoadedApp | None = None

    def loaded(self) -> LoadedApp:
        """The app, loaded by the host on first use."""
        if self._loaded is None:
            self._loaded = self.load()
        return self._loaded


#: The hosted app of this process, if a host CLI set one.
current: HostedApp | None = None


def host(ref: AppRef, load: t.Callable[[], LoadedApp]) -> HostedApp:
    """Make ``load()``'s app the one commands use when no APP is given."""
    global current
    current = HostedApp(ref, load)
    return current
