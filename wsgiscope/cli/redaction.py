"""``--redact NAME``: more names whose values are secrets, for this run.

The names come from the option (repeatable, or comma-separated), from
``redact = [...]`` under ``[tool.wsgiscope]`` in the nearest
``pyproject.toml`` and from ``$WSGISCOPE_REDACT`` (comma-separated); they
are added to :mod:`wsgiscope.redact`'s deny-lists (which stay the floor)
and exported in ``$WSGISCOPE_REDACT``, so that the processes a command
starts (``serve``'s server and gunicorn workers, ``replay --processes``)
redact them too.
"""

from __future__ import annotations

import os
import sys
import typing as t
from pathlib import Path

import click

F = t.TypeVar("F", bound=t.Callable[..., t.Any])

#: The environment variable that carries the names (comma-separated).
ENV = "WSGISCOPE_REDACT"


def pyproject_names(cwd: Path | None = None) -> list[str]:
    """``redact`` under ``[tool.wsgiscope]`` in the nearest ``pyproject.toml``.

    :raises click.UsageError: when it is not a list of strings.
    """
    cwd = Path.cwd() if cwd is None else cwd
    for directory in (cwd, *cwd.parents):
        pyproject = directory / "pyproject.toml"
        if not pyproject.is_file():
            continue
        if sys.version_info >= (3, 11):
            import tomllib
        else:  # pragma: no cover
            import tomli as tomllib
        try:
            data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
            return []  # reported by the app lookup, which reads it too
        section = data.get("tool", {}).get("wsgiscope", {})
        names = section.get("redact", []) if isinstance(section, dict) else []
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise click.UsageError(
                f"{pyproject}: [tool.wsgiscope] redact must be a list of names, got {names!r}"
            )
        return names
    return []


def apply(given: t.Iterable[str]) -> tuple[str, ...]:
    """Add the names from the option, pyproject and the environment; return them all."""
    from wsgiscope.redact import add_secret_names

    names = [n.strip() for value in given for n in value.split(",") if n.strip()]
    names += pyproject_names()
    names += [n.strip() for n in os.environ.get(ENV, "").split(",") if n.strip()]
    unique = tuple(dict.fromkeys(names))
    if unique:
        add_secret_names(unique)
        os.environ[ENV] = ",".join(unique)
    return unique


def _callback(ctx: click.Context, param: click.Parameter, value: tuple[str, ...]) -> None:
    apply(value)


def redact_option(function: F) -> F:
    """``--redact NAME`` (repeatable)."""
    return click.option(
        "--redact",
        multiple=True,
        metavar="NAME",
        expose_value=False,
        callback=_callback,
        help="Also redact the values of NAME: a header, parameter, field or key"
        " (repeatable; also [tool.wsgiscope] redact and $WSGISCOPE_REDACT).",
    )(function)
