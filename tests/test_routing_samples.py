"""Sample argument values: per converter name, and generated from regexes."""

from __future__ import annotations

import dataclasses
import re
import uuid

import pytest

from wsgiscope.frameworks.base import Argument, Route, View
from wsgiscope.frameworks.samples import (
    SAMPLE_UUID,
    NotBuildable,
    sample_for,
    sample_from_regex,
    sample_values,
)


@pytest.mark.parametrize(
    ("converter", "expected"),
    [("int", 1), ("float", 1.0), ("string", "example"), ("path", "example"), ("slug", "example")],
)
def test_known_converters(converter: str, expected: object) -> None:
    assert sample_for(converter) == expected


def test_uuid_is_valid() -> None:
    assert str(uuid.UUID(sample_for("uuid"))) == SAMPLE_UUID


def test_any_takes_the_first_choice() -> None:
    assert sample_for("any", choices=["red", "green"]) == "red"
    assert sample_for("any", regex="(?:red|green)") == "red"


@pytest.mark.parametrize(
    "regex",
    [
        r"SKU-\d{4}",
        r"[a-z]+",
        r"[A-Z]{2}\d{3}",
        r"\w+-\d*",
        r"[^/]+",
        r"[^a-z0-9]+",
        r"(?:red|green|blue)",
        r"\d+(?:\.\d+)?",
        r"[0-9a-f]{8}-[0-9a-f]{4}",
        r"(?P<year>\d{4})/(?P<month>\d\d)",
        r"^v\d+$",
        r"x.y",
        r"[\w.-]+@example\.com",
    ],
)
def test_generated_values_match(regex: str) -> None:
    assert re.fullmatch(regex, sample_from_regex(regex))


@pytest.mark.parametrize(
    ("regex", "reason"),
    [
        (r"(?<=/)x", "assert"),
        (r"(a)\1", "groupref"),
        (r"[", "invalid"),
    ],
)
def test_not_buildable_says_why(regex: str, reason: str) -> None:
    with pytest.raises(NotBuildable, match=reason):
        sample_from_regex(regex)


def test_sample_values_names_the_argument() -> None:
    args = [Argument("id", "int"), Argument("code", "odd", r"(?=x)y")]
    with pytest.raises(NotBuildable, match=r"^<odd:code>: "):
        sample_values(args)
    assert sample_values([Argument("id", "int"), Argument("sku", "sku", r"SKU-\d{4}")]) == {
        "id": 1,
        "sku": "SKU-1111",
    }
    with pytest.raises(NotBuildable, match="no regex"):
        sample_for("mystery")


def test_route_json_has_every_field_in_the_documented_order() -> None:
    route = Route("/x", "x", ["GET"], View("m:f", "m.py:1"), "flask", "app")
    data = route.to_json()
    assert data == dataclasses.asdict(route)
    assert list(data)[:5] == ["path", "rule", "mount", "endpoint", "methods"]
