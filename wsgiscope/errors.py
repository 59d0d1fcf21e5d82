"""The error tree and exit codes of wsgiscope.

Every failure wsgiscope reports to a user is a :class:`WsgiscopeError`: a
one-line message saying what went wrong and where, an optional hint saying
what to do, and the exit code the CLI ends with. This module imports neither
click nor rich, so worker processes and the core can raise these errors too;
``wsgiscope.cli`` turns them into output exactly once.
"""

from __future__ import annotations

import enum


class ExitCode(enum.IntEnum):
    """The exit codes every command uses."""

    #: Everything went fine.
    OK = 0
    #: The app misbehaved or a check found a problem (lint findings,
    #: isolation leaks, a 5xx or an exception during ``trace``).
    PROBLEM = 1
    #: Usage or loading error: bad arguments, an app that cannot be loaded.
    USAGE = 2
    #: Interrupted with Ctrl-C (128 + SIGINT).
    INTERRUPTED = 130


class WsgiscopeError(Exception):
    """A failure to report as one clear line (plus an optional hint).

    :param message: what went wrong and where, one line.
    :param hint: what the user can do about it, one line, or ``None``.
    """

    exit_code: ExitCode = ExitCode.USAGE

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message


class UsageError(WsgiscopeError):
    """Arguments or options that cannot be used as given."""


class AppLoadError(WsgiscopeError):
    """The WSGI application could not be found, imported or called."""


class RouteNotFound(WsgiscopeError):
    """An endpoint, rule or path that the app's routing does not know."""


class MissingDependency(WsgiscopeError):
    """An optional package needed for this command is not installed.

    :param package: the distribution to install, e.g. ``"gunicorn"``.
    :param purpose: what it is needed for, e.g. ``"--server gunicorn"``.
    """

    def __init__(self, package: str, purpose: str) -> None:
        super().__init__(
            f"{purpose} needs the {package!r} package, which is not installed",
            hint=f"install it with: pip install {package}",
        )
        self.package = package


class AdapterError(WsgiscopeError):
    """A framework raised while wsgiscope introspected or instrumented it."""


class SourceError(WsgiscopeError):
    """A request source (JSON Lines, HAR, request file) is malformed."""
