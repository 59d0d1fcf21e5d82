"""Apps deployed from a PasteDeploy ``.ini`` file (Pyramid's ``development.ini``).

``wsgiscope routes development.ini`` and ``development.ini#main`` load the app
the way ``pserve`` and ``gunicorn --paste`` do: logging is configured from the
file's ``[loggers]`` sections (``logging.config.fileConfig`` with ``__file__``
and ``here`` defaults, existing loggers kept; ``logging.basicConfig()`` when
the file has none), then ``paste.deploy.loadapp("config:FILE", name=NAME)``
builds the app, with the file's settings, relative to the file's directory.
"""

from __future__ import annotations

import configparser
import contextlib
import types
import typing as t
from pathlib import Path

from wsgiscope.errors import AppLoadError, MissingDependency

if t.TYPE_CHECKING:
    from wsgiscope.loading import AppRef, LoadedApp

_APP_SECTIONS = ("app:", "pipeline:", "composite:", "filter-app:")


def load_paste_app(ref: AppRef, file: Path, name: str) -> LoadedApp:
    """Load app ``name`` of the PasteDeploy file ``file``.

    :raises AppLoadError: for a missing or unreadable file, an unknown app
        name (the names there are listed), or an app that failed to build.
    :raises MissingDependency: without PasteDeploy.
    """
    from wsgiscope.loading import LoadedApp, _describe_exception, _raise_site

    path = (file if file.is_absolute() else ref.base_dir / file).resolve()
    if not path.is_file():
        raise AppLoadError(
            f"PasteDeploy file not found: {file} (looked in {path.parent})",
            hint="give the .ini file pserve would serve, e.g. development.ini#main",
        )
    sections = _sections(path)
    apps = [s.partition(":")[2] for s in sections if s.startswith(_APP_SECTIONS)]
    if name not in apps:
        shown = ", ".join(apps) if apps else "none"
        raise AppLoadError(
            f"{file} has no app named {name!r} (apps there: {shown})",
            hint=f"use {file}#NAME with one of them" if apps else "is this a PasteDeploy file?",
        )
    try:
        from paste.deploy import loadapp
    except ImportError:
        raise MissingDependency("PasteDeploy", f"loading {file.name}") from None
    _setup_logging(path, sections)
    import sys

    # `use = call:module:main` beside the file imports as under gunicorn --paste
    # run from the project directory
    if str(path.parent) not in sys.path:
        sys.path.insert(0, str(path.parent))
    try:
        app = loadapp(f"config:{path}", name=name, relative_to=str(path.parent))
    except SystemExit as exc:
        raise AppLoadError(f"loading {file}#{name} called sys.exit({exc.code!r})") from exc
    except Exception as exc:
        raise AppLoadError(
            f"loading {file}#{name} raised {_describe_exception(exc)}{_raise_site(exc)}"
        ) from exc
    module = types.ModuleType(f"{path.name}#{name}")
    module.__file__ = str(path)
    return LoadedApp(ref, app, module, name)


def _sections(path: Path) -> list[str]:
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    try:
        parser.read(path, encoding="utf-8")
    except (configparser.Error, UnicodeDecodeError) as exc:
        message = " ".join(str(exc).split())
        raise AppLoadError(f"cannot read {path} as a PasteDeploy file: {message}") from None
    return parser.sections()


def _setup_logging(path: Path, sections: list[str]) -> None:
    """As pserve (plaster_pastedeploy) and gunicorn --paste set logging up."""
    import logging
    import logging.config

    if "loggers" not in sections:
        logging.basicConfig()
        return
    defaults = {"__file__": str(path), "here": str(path.parent)}
    try:
        logging.config.fileConfig(path, defaults, disable_existing_loggers=False)
    except Exception as exc:  # a bad [handler_*] section
        with contextlib.suppress(Exception):
            logging.basicConfig()
        message = " ".join(str(exc).split()) or type(exc).__name__
        raise AppLoadError(f"the logging sections of {path} are invalid: {message}") from exc
