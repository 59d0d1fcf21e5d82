"""Helpers for the routing tests: run ``routes``/``url``/``match`` through click."""

from __future__ import annotations

import json
import typing as t

from click.testing import CliRunner, Result

from wsgiscope.cli import cli


def run(*args: str) -> Result:
    """Invoke ``wsgiscope ARGS`` in-process."""
    return CliRunner().invoke(cli, list(args))


def run_json(*args: str, exit_code: int = 0) -> t.Any:
    """Invoke ``wsgiscope ARGS --json`` and parse its stdout."""
    result = run(*args, "--json")
    assert result.exit_code == exit_code, result.stderr
    assert result.stderr == ""
    return routes_list(json.loads(result.stdout))


def routes_list(document: t.Any) -> t.Any:
    """The rules of a ``wsgiscope.routes/1`` document; any other document as is."""
    if isinstance(document, dict) and document.get("format") == "wsgiscope.routes/1":
        return document["routes"]
    return document


def fails(*args: str) -> str:
    """Invoke a command expected to fail with exit 2 and one error line; return it."""
    result = run(*args)
    assert result.exit_code == 2, (result.stdout, result.stderr)
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert lines, result.stderr
    assert lines[0].startswith("wsgiscope: error: "), result.stderr
    assert len(lines) <= 2
    return result.stderr
