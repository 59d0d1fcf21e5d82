"""``flask scope``: wsgiscope's commands with the app ``flask run`` loads.

Registered through the ``flask.commands`` entry point, so ``flask scope
routes``, ``flask scope trace GET /`` and the rest work in any project
where wsgiscope is installed. The app comes from Flask's own
:class:`~flask.cli.ScriptInfo` (``--app``, ``FLASK_APP``, ``.flaskenv``,
``create_app`` factories): exactly what ``flask run`` would serve. Worker
processes (``serve``, ``replay --greenlets``) load it from the same import
path, with the environment Flask's CLI loaded from ``.flaskenv``/``.env``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from wsgiscope.cli import COMMANDS, LazyGroup

#: ``completion`` belongs to the ``wsgiscope`` program, not to ``flask``.
SCOPE_COMMANDS = {name: target for name, target in COMMANDS.items() if name != "completion"}


@click.group(
    "scope",
    cls=LazyGroup,
    lazy=SCOPE_COMMANDS,
    context_settings={"help_option_names": ["-h", "--help"]},
)
@click.pass_context
def scope(ctx: click.Context) -> None:
    """wsgiscope on this app: routes, trace, replay, lint, serve, tail...

    The app is the one 'flask run' loads (--app, FLASK_APP, .flaskenv).
    """
    from flask.cli import ScriptInfo

    from wsgiscope import hosting
    from wsgiscope.loading import AppRef, LoadedApp

    info = ctx.ensure_object(ScriptInfo)
    ref = AppRef(_import_path(info.app_import_path), "flask", Path.cwd())

    def load() -> LoadedApp:
        app = info.load_app()
        module = sys.modules.get(getattr(app, "import_name", "")) or sys.modules["__main__"]
        return LoadedApp(ref, app, module, "flask ScriptInfo")

    hosting.host(ref, load)


def _import_path(flask_app: str | None) -> str:
    """The import path worker processes load: Flask's ``--app`` value (a
    ``module:attr``, a factory call or a file) or, without one, the file
    Flask's discovery tries first."""
    if flask_app:
        return flask_app
    return "wsgi" if Path("wsgi.py").is_file() else "app"
