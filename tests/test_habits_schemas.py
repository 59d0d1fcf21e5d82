"""Every ``--json`` output carries a format tag and matches its published schema.

The suite runs with ``WSGISCOPE_CHECK_SCHEMAS=1`` (conftest.py), so every
``--json`` document any test prints is validated; here each command's output
is checked explicitly once, the schemas themselves are checked, and a
document that breaks its schema is shown to be rejected.
"""

from __future__ import annotations

import json
import typing as t
from pathlib import Path

import jsonschema
import pytest
from click.testing import CliRunner
from conftest import json_document

from wsgiscope.cli import cli
from wsgiscope.schemas import SchemaError, check_output, formats, schema_for, validate

EXPECTED_FORMATS = [
    "wsgiscope.info/1",
    "wsgiscope.lint-rule/1",
    "wsgiscope.lint-rules/1",
    "wsgiscope.lint/1",
    "wsgiscope.match/1",
    "wsgiscope.replay/1",
    "wsgiscope.routes/1",
    "wsgiscope.trace/1",
    "wsgiscope.url/1",
]


def test_every_format_has_a_valid_schema() -> None:
    assert formats() == EXPECTED_FORMATS
    for tag in formats():
        schema = schema_for(tag)
        assert schema is not None
        jsonschema.Draft202012Validator.check_schema(schema)
        assert schema["properties"]["format"] == {"const": tag}


def cli_json(*args: str, code: int = 0) -> t.Any:
    result = CliRunner().invoke(cli, [*args, "--json"])
    assert result.exit_code == code, result.output
    return json_document(result.stdout)


@pytest.mark.parametrize(
    ("args", "tag"),
    [
        (["routes", "wsgiscope.demo"], "wsgiscope.routes/1"),
        (["url", "wsgiscope.demo", "catalog.product", "sku=SKU-1234"], "wsgiscope.url/1"),
        (["match", "wsgiscope.demo", "/admin/"], "wsgiscope.match/1"),
        (["info", "wsgiscope.demo"], "wsgiscope.info/1"),
        (["trace", "wsgiscope.demo", "/catalog/"], "wsgiscope.trace/1"),
        (["lint", "wsgiscope.demo"], "wsgiscope.lint/1"),
        (["lint", "--explain", "WSGI101"], "wsgiscope.lint-rule/1"),
        (["lint", "--list-rules"], "wsgiscope.lint-rules/1"),
        (["replay", "wsgiscope.demo", "-n", "20"], "wsgiscope.replay/1"),
        (
            ["replay", "wsgiscope.demo", "-n", "20", "--compare", "sequential,threads=2"],
            "wsgiscope.replay/1",
        ),
    ],
    ids=lambda value: " ".join(value) if isinstance(value, list) else None,
)
def test_each_command_tags_its_json(apps_dir: Path, args: list[str], tag: str) -> None:
    pytest.importorskip("flask")
    document = cli_json(*args)
    assert document["format"] == tag
    assert next(iter(document)) == "format"  # the tag comes first


def test_routes_json_is_an_object(apps_dir: Path) -> None:
    pytest.importorskip("flask")
    result = CliRunner().invoke(cli, ["routes", "info_plain:application", "--json"])
    assert result.stdout.startswith('{\n  "format": "wsgiscope.routes/1",\n  "routes": [\n')
    document = json.loads(result.stdout)
    assert list(document) == ["format", "routes"]
    assert [r["path"] for r in document["routes"]] == ["/*"]


def test_tail_json_records_are_trace_records(apps_dir: Path, tmp_path: Path) -> None:
    pytest.importorskip("flask")
    records = tmp_path / "t.jsonl"
    for path in ("/catalog/", "/admin/"):
        saved = CliRunner().invoke(cli, ["trace", "wsgiscope.demo", path, "--save", str(records)])
        assert saved.exit_code == 0, saved.output
    result = CliRunner().invoke(cli, ["tail", str(records), "--no-follow", "--json"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert [json_document(line)["request"]["path"] for line in lines] == ["/catalog/", "/admin/"]


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({"url": "/x"}, "the document has no 'format' tag"),
        ([1, 2], "the document has no 'format' tag"),
        ({"format": "wsgiscope.nothing/1"}, "no schema for format 'wsgiscope.nothing/1'"),
        (
            {"format": "wsgiscope.url/1", "url": 3, "endpoint": "e", "mount": "",
             "framework": None, "app": None},
            "wsgiscope.url/1 document does not match its schema at url: 3 is not of type",
        ),
        (
            {"format": "wsgiscope.routes/1", "routes": [{"path": "/"}]},
            "wsgiscope.routes/1 document does not match its schema at routes/0:",
        ),
    ],
)  # fmt: skip
def test_a_document_that_breaks_its_schema_is_rejected(document: t.Any, message: str) -> None:
    with pytest.raises(SchemaError) as raised:
        validate(document)
    assert str(raised.value).startswith(message)


def test_checking_follows_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    bad = {"format": "wsgiscope.url/1", "url": 3}
    monkeypatch.delenv("WSGISCOPE_CHECK_SCHEMAS")
    check_output(bad)  # off: nothing checked
    monkeypatch.setenv("WSGISCOPE_CHECK_SCHEMAS", "1")
    with pytest.raises(SchemaError):
        check_output(bad)
    with pytest.raises(SchemaError, match=r"no schema for format 'wsgiscope\.new/1'"):
        check_output({"format": "wsgiscope.new/1"})  # a new format publishes its schema
    check_output({"log": {"version": "1.2"}})  # a standard format (HAR) printed as is
