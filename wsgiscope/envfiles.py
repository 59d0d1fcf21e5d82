"""``.flaskenv``, ``.env`` and ``--env-file``: read the way ``flask`` reads them.

A Flask project keeps ``FLASK_APP`` (and its own settings) in ``.flaskenv``
and ``.env``; :func:`load_env_files` reads them exactly as Flask's
``load_dotenv`` does, so wsgiscope finds the same app with the same settings:

- with python-dotenv (as Flask, it is optional): the nearest ``.flaskenv``
  and ``.env`` (searched from the current directory upwards), then the file
  given with ``--env-file``; a later file wins over an earlier one (``--env-file``
  over ``.env`` over ``.flaskenv``);
- a variable already in the environment is never overwritten;
- ``FLASK_SKIP_DOTENV`` (or ``WSGISCOPE_SKIP_DOTENV``) set to ``1``/``true``/
  ``yes`` skips the default files (``--env-file`` is still read);
- without python-dotenv the files are not read, and a one-line tip says so
  (Flask's behaviour); ``--env-file`` then is a usage error.

:data:`LOADED` remembers which file each variable came from, so that an
error about ``FLASK_APP`` can say "from .flaskenv".
"""

from __future__ import annotations

import os
import typing as t
from pathlib import Path

from wsgiscope.errors import UsageError

#: Variable name -> the file it was read from (in this process).
LOADED: dict[str, Path] = {}

_DEFAULT_FILES = (".flaskenv", ".env")


def skip_defaults(environ: t.Mapping[str, str] | None = None) -> bool:
    """Whether ``FLASK_SKIP_DOTENV``/``WSGISCOPE_SKIP_DOTENV`` turns the default files off."""
    environ = os.environ if environ is None else environ
    return any(
        environ.get(name, "").lower() in ("1", "true", "yes", "on")
        for name in ("FLASK_SKIP_DOTENV", "WSGISCOPE_SKIP_DOTENV")
    )


def load_env_files(path: str | None = None, *, defaults: bool | None = None) -> list[Path]:
    """Load ``.flaskenv``, ``.env`` and ``path`` into ``os.environ``.

    :param path: the ``--env-file`` file, read after (and over) the defaults.
    :param defaults: read the default files; ``None`` unless skipped by
        ``FLASK_SKIP_DOTENV``.
    :returns: the files read, in order.
    :raises UsageError: for ``path`` without python-dotenv, or a file that
        cannot be read.
    """
    if defaults is None:
        defaults = not skip_defaults()
    if path is None and not (defaults and any(_find_upwards(name) for name in _DEFAULT_FILES)):
        return []  # nothing to read: python-dotenv (~10 ms) is not imported
    try:
        import dotenv
    except ImportError:
        if path is not None:
            raise UsageError(
                f"--env-file {path}: python-dotenv is not installed",
                hint="pip install python-dotenv (as for 'flask --env-file')",
            ) from None
        if defaults and any(os.path.isfile(name) for name in _DEFAULT_FILES):
            import click

            click.echo(
                "wsgiscope: tip: there are .env files present; install python-dotenv "
                "to use them (as flask does)",
                err=True,
            )
        return []
    files: list[Path] = []
    if defaults:
        for name in _DEFAULT_FILES:
            found = dotenv.find_dotenv(name, usecwd=True)
            if found:
                files.append(Path(found))
    if path is not None:
        files.append(Path(path))
    data: dict[str, tuple[str | None, Path]] = {}
    for file in files:
        try:
            values = dotenv.dotenv_values(file, encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise UsageError(f"cannot read the env file {file}: {exc}") from None
        data.update({key: (value, file) for key, value in values.items()})
    for key, (value, file) in data.items():
        if key in os.environ or value is None:
            continue
        os.environ[key] = value
        LOADED[key] = file
    return files


def _find_upwards(name: str) -> str:
    """The nearest ``name`` from the current directory upwards, as python-dotenv's
    ``find_dotenv(name, usecwd=True)`` finds it (a file or a FIFO), or ``""``."""
    import stat

    directory = os.getcwd()
    while True:
        candidate = os.path.join(directory, name)
        try:
            mode = os.stat(candidate).st_mode
        except (OSError, ValueError):
            mode = 0
        if stat.S_ISREG(mode) or stat.S_ISFIFO(mode):
            return candidate
        parent = os.path.dirname(directory)
        if parent == directory:
            return ""
        directory = parent


def origin(name: str) -> str:
    """``name``, with `` (from FILE)`` when it was read from an env file."""
    file = LOADED.get(name)
    if file is None or os.environ.get(name) is None:
        return name
    try:
        shown = os.path.relpath(file)
    except ValueError:  # another drive
        shown = str(file)
    return f"{name} (from {shown})"
