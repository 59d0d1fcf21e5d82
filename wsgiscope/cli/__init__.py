"""The ``wsgiscope`` command: a lazy click group and the error boundary.

Each command lives in its own module of this package and is imported only
when it runs or when ``--help`` lists it; command modules import nothing
heavier than click at module level, so ``wsgiscope --help`` and shell
completion stay fast. :func:`main` is the one place where wsgiscope's errors
become output and exit codes: a :class:`~wsgiscope.errors.WsgiscopeError`
prints one line (and a hint), Ctrl-C exits 130, a closed pipe exits quietly.
"""

from __future__ import annotations

import importlib
import os
import sys
import typing as t

import click

from wsgiscope import __version__
from wsgiscope.errors import ExitCode, WsgiscopeError

#: Command name -> "module:attribute" of its click command, in help order.
COMMANDS: dict[str, str] = {
    "routes": "wsgiscope.cli.routes:routes",
    "url": "wsgiscope.cli.url:url",
    "match": "wsgiscope.cli.match:match",
    "trace": "wsgiscope.cli.trace:trace",
    "serve": "wsgiscope.cli.serve:serve",
    "tail": "wsgiscope.cli.tail:tail",
    "replay": "wsgiscope.cli.replay:replay",
    "export": "wsgiscope.cli.export:export",
    "lint": "wsgiscope.cli.lint:lint",
    "info": "wsgiscope.cli.info:info",
    "completion": "wsgiscope.cli.completion:completion",
}


#: click 8.2+ signals "no arguments: show the help" with a UsageError subclass.
_NO_ARGS_IS_HELP = tuple(
    cls for cls in (getattr(click.exceptions, "NoArgsIsHelpError", None),) if cls is not None
)


class LazyGroup(click.Group):
    """A group that imports a command's module only when it is needed."""

    def __init__(self, *args: t.Any, lazy: dict[str, str], **kwargs: t.Any) -> None:
        super().__init__(*args, **kwargs)
        self.lazy = lazy

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(self.lazy)

    def make_context(
        self,
        info_name: str | None,
        args: list[str],
        parent: click.Context | None = None,
        **extra: t.Any,
    ) -> click.Context:
        # [tool.wsgiscope] options become defaults (the command line and
        # WSGISCOPE_<COMMAND>_<OPTION> win over them)
        if "default_map" not in extra:
            from wsgiscope.config import default_map

            extra["default_map"] = default_map(self.lazy)
        return super().make_context(info_name, args, parent, **extra)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = self.lazy.get(cmd_name)
        if target is None:
            return None
        module_name, _, attribute = target.partition(":")
        command = getattr(importlib.import_module(module_name), attribute)
        assert isinstance(command, click.Command)
        return command

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        try:
            return super().parse_args(ctx, args)
        except _NO_ARGS_IS_HELP:
            raise  # bare `wsgiscope`: click prints the help, as it should
        except click.UsageError as exc:  # an unknown option before the command
            report_usage_error(ctx, exc)

    def invoke(self, ctx: click.Context) -> t.Any:
        try:
            return super().invoke(ctx)
        except click.UsageError as exc:  # an unknown command, option or bad value
            report_usage_error(ctx, exc)
        except WsgiscopeError as exc:
            if ctx.meta.get("wsgiscope.traceback"):
                raise
            report_error(exc)
            ctx.exit(int(exc.exit_code))
        except KeyboardInterrupt:
            # Ctrl-C while the app loads (or in a command that keeps nothing
            # to flush): click would print "Aborted!" and exit 1.
            click.echo("wsgiscope: interrupted", err=True)
            ctx.exit(int(ExitCode.INTERRUPTED))


def report_usage_error(ctx: click.Context, exc: click.UsageError) -> t.NoReturn:
    """Report a click usage error as one line and a hint, then exit 2.

    click's own report is four lines (usage, "Try ... --help", a blank line,
    the error); every wsgiscope error is one line plus a hint.
    """
    if ctx.meta.get("wsgiscope.traceback"):
        raise exc
    command = exc.ctx.command_path if exc.ctx is not None else ctx.command_path
    # click words some messages over several lines ("Choose from:\n\tbash,...")
    message = " ".join(exc.format_message().split())
    report_error(WsgiscopeError(message, hint=f"see: {command} --help"))
    ctx.exit(int(ExitCode.USAGE))


def report_error(exc: WsgiscopeError) -> None:
    """Write ``exc`` to stderr as ``wsgiscope: error: ...`` plus a hint."""
    from wsgiscope.render.text import safe

    click.echo(f"wsgiscope: error: {safe(exc.message)}", err=True)
    if exc.hint:
        click.echo(f"hint: {safe(exc.hint)}", err=True)


def _show_traceback(ctx: click.Context, param: click.Parameter, value: bool) -> bool:
    ctx.meta["wsgiscope.traceback"] = value or bool(os.environ.get("WSGISCOPE_TRACEBACK"))
    return value


def _group_app(ctx: click.Context, param: click.Parameter, value: str | None) -> None:
    if value:
        ctx.meta[GROUP_APP] = value


def _env_files(ctx: click.Context, param: click.Parameter, value: str | None) -> None:
    from wsgiscope.envfiles import load_env_files

    try:
        load_env_files(value)
    except WsgiscopeError as exc:
        if ctx.resilient_parsing:  # shell completion: never an error
            return
        report_error(exc)
        ctx.exit(int(exc.exit_code))


#: ``ctx.meta`` key of the group's ``--app`` (commands fall back to it).
GROUP_APP = "wsgiscope.app"


@click.group(
    cls=LazyGroup,
    lazy=COMMANDS,
    context_settings={"help_option_names": ["-h", "--help"], "auto_envvar_prefix": "WSGISCOPE"},
)
@click.version_option(__version__, "-V", "--version", prog_name="wsgiscope")
@click.option(
    "--traceback",
    is_flag=True,
    is_eager=True,
    expose_value=False,
    callback=_show_traceback,
    help="Show wsgiscope's own Python traceback on errors (for bug reports).",
)
@click.option(
    "--app",
    metavar="IMPORT",
    expose_value=False,
    allow_from_autoenv=False,
    callback=_group_app,
    help="The app, for every command (as 'flask --app'); a command's own APP or --app wins.",
)
@click.option(
    "-e",
    "--env-file",
    type=click.Path(exists=True, dir_okay=False),
    is_eager=True,
    expose_value=False,
    allow_from_autoenv=False,
    callback=_env_files,
    help="Load environment variables from FILE too (after .flaskenv and .env; "
    "needs python-dotenv, as flask).",
)
def cli() -> None:
    """A microscope for WSGI apps: what happens inside a request.

    APP is an import path such as 'app:app', 'shop.wsgi:application',
    'app:create_app("prod")', 'path/to/app.py' or a PasteDeploy
    'development.ini[#main]'. Without one, wsgiscope uses --app,
    $WSGISCOPE_APP, $FLASK_APP (.flaskenv and .env are read as flask reads
    them), [tool.wsgiscope] app in pyproject.toml, or finds wsgi.py / app.py
    in the current directory.
    """


def main(args: t.Sequence[str] | None = None, prog_name: str = "wsgiscope") -> None:
    """Run the CLI; the ``wsgiscope`` console script.

    :param prog_name: the command as the user typed it, for usage lines
        (``manage.py wsgiscope`` when run from Django).
    """
    try:
        try:
            cli.main(args=args, prog_name=prog_name)
        except BaseException as exc:
            _leave_app_threads(exc)
            raise
        _leave_app_threads(None)
    except BrokenPipeError:
        # The reader (e.g. `head`) went away: drop the rest of the output
        # quietly instead of printing a traceback while Python flushes stdout.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        sys.exit(141)
    except KeyboardInterrupt:
        click.echo("wsgiscope: interrupted", err=True)
        sys.exit(int(ExitCode.INTERRUPTED))


def _leave_app_threads(exc: BaseException | None) -> None:
    """End the process now when the app started threads that would keep it
    alive: the command's work is done (Python would wait for them forever,
    and a Ctrl-C then would print "Exception ignored" and exit 0)."""
    loading = sys.modules.get("wsgiscope.loading")
    if loading is None:  # no app was loaded
        return
    threads = [th for th in loading.app_threads if th.is_alive()]
    if not threads:
        return
    code = 0
    if isinstance(exc, SystemExit):
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    elif isinstance(exc, KeyboardInterrupt):
        code = int(ExitCode.INTERRUPTED)
    elif exc is not None:
        return  # an error of wsgiscope's own: let it be reported
    from wsgiscope.render.text import safe

    names = ", ".join(safe(th.name) for th in threads[:5])
    click.echo(
        f"wsgiscope: the app's threads were left running ({names}); exiting without them",
        err=True,
    )
    loading.leave_app_threads(code)
