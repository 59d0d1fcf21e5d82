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
    from wsgiscope.config import find_table

    table, pyproject = find_table(cwd)  # an unreadable file: reported by the app lookup
    names = table.get("redact", [])
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise click.UsageError(
            f"{pyproject}: [tool.wsgiscope] redact must be a list of names, got {names!r}"
        )
    return names


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
