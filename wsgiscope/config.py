"""Options from ``[tool.wsgiscope]`` in pyproject.toml, as click defaults.

The nearest ``pyproject.toml`` (this directory or a parent, the one
``loading`` reads ``app`` from) may set any command's options::

    [tool.wsgiscope]
    app = "shop.wsgi:app"      # the APP (see loading)
    width = 100                # --width of every command that draws
    color = "never"            # --color of every command
    server = "gunicorn"        # serve --server
    print = "ckhmb"            # trace --print (default sections)
    redact = ["x-internal-id", "employee_no"]   # more names to treat as secrets

    [tool.wsgiscope.trace]     # one command's options, by their long name
    max-body = "1M"
    show-secrets = false

A command's table wins over the top level. Keys are option names (``max-body``
or ``max_body``); what the table gives is a *default*: the command line and
``WSGISCOPE_<COMMAND>_<OPTION>`` environment variables (click's
``auto_envvar_prefix``) win over it. ``redact`` extends the secret names
(header, field and key names containing one of them are redacted), also in
the processes ``serve`` and ``replay`` start: it is passed on as
``WSGISCOPE_REDACT`` (comma-separated), which can be set directly too.
"""

from __future__ import annotations

import os
import sys
import typing as t
from pathlib import Path

#: Top-level keys and the command option each one sets (``None``: every command).
TOP_LEVEL: dict[str, tuple[str | None, str]] = {
    "width": (None, "width"),
    "color": (None, "color"),
    "server": ("serve", "server"),
    "print": ("trace", "sections"),
}
#: Option names whose parameter is called otherwise.
_PARAMS = {"print": "sections", "json": "as_json", "request": "requests", "requests": "count"}
#: Keys that are not options.
_NOT_OPTIONS = frozenset({"app", "redact"})


def find_table(
    cwd: Path | None = None, *, strict: bool = False
) -> tuple[dict[str, t.Any], Path | None]:
    """``[tool.wsgiscope]`` of the nearest pyproject.toml and that file (``{}``
    and ``None`` when there is none).

    :param strict: raise :class:`~wsgiscope.errors.AppLoadError` for a file
        that cannot be read (the app lookup, which needs it); otherwise such
        a file gives an empty table (options fall back to their defaults).
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
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            if strict:
                from wsgiscope.errors import AppLoadError

                raise AppLoadError(f"cannot read {pyproject}: {exc}") from None
            return {}, pyproject
        tool = data.get("tool", {})
        table = tool.get("wsgiscope", {}) if isinstance(tool, dict) else {}
        return (table if isinstance(table, dict) else {}), pyproject
    return {}, None


def default_map(commands: t.Iterable[str], cwd: Path | None = None) -> dict[str, dict[str, t.Any]]:
    """click's ``default_map`` for every command, from ``[tool.wsgiscope]``.

    Also exports ``redact`` as ``WSGISCOPE_REDACT`` (unless already set).
    """
    table, _ = find_table(cwd)
    commands = list(commands)
    result: dict[str, dict[str, t.Any]] = {name: {} for name in commands}
    for key, value in table.items():
        if key in _NOT_OPTIONS or isinstance(value, dict):
            continue
        command, param = TOP_LEVEL.get(key, (None, _param(key)))
        for name in [command] if command else commands:
            if name in result:
                result[name][param] = value
    for name in commands:
        own = table.get(name)
        if isinstance(own, dict):
            result[name].update({_param(k): v for k, v in own.items()})
    redact = table.get("redact")
    if redact and "WSGISCOPE_REDACT" not in os.environ:
        names = [redact] if isinstance(redact, str) else list(redact)
        os.environ["WSGISCOPE_REDACT"] = ",".join(str(n) for n in names)
        redact_module = sys.modules.get("wsgiscope.redact")
        if redact_module is not None:  # imported already: it read the variable then
            redact_module.add_secret_names(str(n) for n in names)
    return {name: values for name, values in result.items() if values}


def _param(key: str) -> str:
    return _PARAMS.get(key, key.replace("-", "_"))
