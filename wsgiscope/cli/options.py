"""Options shared by the commands, and the plumbing from them to the core.

``app_option`` adds ``--app``; :func:`load` resolves and loads the APP the
documented way. ``output_options`` adds ``--json``, ``--color`` and
``--width``; :func:`console` makes the one Console a command prints through.
"""

from __future__ import annotations

import typing as t

import click

if t.TYPE_CHECKING:
    from rich.console import Console

    from wsgiscope.loading import LoadedApp

F = t.TypeVar("F", bound=t.Callable[..., t.Any])


def _app_or_group_app(ctx: click.Context, param: click.Parameter, value: str | None) -> t.Any:
    """A command's ``--app``, else the group's (``wsgiscope --app X routes``)."""
    return value or ctx.meta.get("wsgiscope.app")


app_option = click.option(
    "--app",
    "app_option",
    metavar="IMPORT",
    allow_from_autoenv=False,
    callback=_app_or_group_app,
    help="The app, when not given as APP (also $WSGISCOPE_APP, $FLASK_APP).",
)


def output_options(function: F) -> F:
    """``--json``, ``--color`` and ``--width``."""
    function = click.option(
        "--width", type=click.IntRange(40, 1000), help="Output width (default: the terminal's)."
    )(function)
    function = click.option(
        "--color",
        type=click.Choice(["auto", "always", "never"]),
        default="auto",
        show_default=True,
        help="Colour output; 'auto' colours a terminal unless NO_COLOR is set.",
    )(function)
    function = click.option(
        "--json", "as_json", is_flag=True, help="Machine-readable JSON output."
    )(function)
    return function


def load(argument: str | None, option: str | None) -> LoadedApp:
    """Resolve APP (argument, --app, env, pyproject, discovery) and load it."""
    from wsgiscope.loading import load_app, resolve_app_ref

    return load_app(resolve_app_ref(argument, option))


def load_once(argument: str | None, option: str | None) -> LoadedApp:
    """:func:`load`, for a command that loads the app, uses it and exits
    (``routes``, ``trace``): the garbage collector stays off while the app is
    imported, and what is loaded then is frozen (``gc.freeze``). Those objects
    live as long as the process: the collector neither walks them again and
    again while they load nor once more at exit (measured: a quarter of
    ``routes`` on 5,000 rules, ~30 ms of a trace of a small Flask app).
    """
    import gc

    gc.disable()
    try:
        return load(argument, option)
    finally:
        gc.freeze()
        gc.enable()


def console(color: str = "auto", width: int | None = None) -> Console:
    """The Console for this command's stdout."""
    from wsgiscope.render.console import make_console

    return make_console(t.cast("t.Literal['auto', 'always', 'never']", color), width)


def print_json(data: t.Any, format: str | None = None) -> None:
    """Write ``data`` as JSON to stdout (no rich, no colour).

    :param format: the format tag (``"wsgiscope.url/1"``) put first in the
        object; every ``--json`` document carries one (see
        :mod:`wsgiscope.schemas`).
    """
    from wsgiscope.render.jsonout import dumps
    from wsgiscope.schemas import check_output

    if format is not None:
        data = {"format": format, **data}
    check_output(data)
    click.echo(dumps(data))
