"""JSON Schemas of every ``--json`` output, one file per format tag.

Each document wsgiscope prints with ``--json`` (and each trace record) names
its format in a ``"format"`` field, ``"wsgiscope.<thing>/<version>"``; the
schema of ``wsgiscope.routes/1`` is ``wsgiscope.routes-1.json`` beside this
module (package data: ``importlib.resources.files("wsgiscope.schemas")``).
Fields may be added within a version; renaming or removing one bumps it.

:func:`validate` checks a document against its schema (it needs the
``jsonschema`` package). The test suite sets ``WSGISCOPE_CHECK_SCHEMAS=1``,
which makes every ``--json`` output the CLI prints go through it first
(:func:`check_output`), so no test can produce a document its schema rejects.
"""

from __future__ import annotations

import functools
import json
import os
import typing as t
from importlib import resources

#: The environment variable that turns output checking on (for the test suite).
CHECK_VARIABLE = "WSGISCOPE_CHECK_SCHEMAS"


def schema_file(format_tag: str) -> str:
    """The schema file of ``format_tag``: ``wsgiscope.routes/1`` -> ``wsgiscope.routes-1.json``."""
    return format_tag.replace("/", "-") + ".json"


def formats() -> list[str]:
    """Every format tag that has a schema."""
    found = []
    for entry in resources.files(__name__).iterdir():
        name = entry.name
        if name.startswith("wsgiscope.") and name.endswith(".json"):
            stem, _, version = name[: -len(".json")].rpartition("-")
            found.append(f"{stem}/{version}")
    return sorted(found)


@functools.cache
def schema_for(format_tag: str) -> dict[str, t.Any] | None:
    """The schema of ``format_tag``, or ``None`` when there is none."""
    entry = resources.files(__name__).joinpath(schema_file(format_tag))
    if not entry.is_file():
        return None
    return t.cast("dict[str, t.Any]", json.loads(entry.read_text(encoding="utf-8")))


class SchemaError(ValueError):
    """A document does not match the schema its format tag names."""


def validate(document: t.Any) -> str:
    """Check ``document`` against the schema of its ``format``; return the format.

    :raises SchemaError: no format tag, an unknown ``wsgiscope.*`` format,
        or a document the schema rejects (the first error, with its path).
    """
    import jsonschema

    if not isinstance(document, dict) or not isinstance(document.get("format"), str):
        raise SchemaError("the document has no 'format' tag")
    tag = document["format"]
    schema = schema_for(tag)
    if schema is None:
        raise SchemaError(f"no schema for format {tag!r} (add {schema_file(tag)})")
    validator = jsonschema.Draft202012Validator(schema)
    error = jsonschema.exceptions.best_match(validator.iter_errors(document))
    if error is not None:
        where = "/".join(map(str, error.absolute_path)) or "(top)"
        raise SchemaError(f"{tag} document does not match its schema at {where}: {error.message}")
    return tag


def check_output(document: t.Any) -> None:
    """:func:`validate` ``document`` when ``WSGISCOPE_CHECK_SCHEMAS`` is set (tests).

    Only documents whose format has a schema here are checked (a standard
    format printed as is, such as HAR, has no ``format`` tag); a document
    tagged ``wsgiscope.*`` without a schema fails, so every new format
    publishes one.
    """
    if not os.environ.get(CHECK_VARIABLE):
        return
    tag = document.get("format") if isinstance(document, dict) else None
    if isinstance(tag, str) and (tag.startswith("wsgiscope.") or schema_for(tag) is not None):
        validate(document)
