"""Bottle, Falcon and Pyramid route adapters against what each framework answers."""

from __future__ import annotations

import json
import typing as t
from pathlib import Path

import pytest
from click.testing import CliRunner
from werkzeug.test import Client

from wsgiscope.cli import cli
from wsgiscope.errors import RouteNotFound, UsageError
from wsgiscope.routing import build_url, discover_routes, match

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


def load(module: str) -> t.Any:
    import importlib
    import sys

    sys.path.insert(0, str(Path.cwd()))  # the apps directory; conftest restores sys.path
    return importlib.import_module(module).app


def cli_json(*args: str) -> t.Any:
    result = CliRunner().invoke(cli, [*args, "--json"])
    assert result.exit_code in (0, 1), result.stderr
    document = json.loads(result.stdout)
    return document["routes"] if args[0] == "routes" else document


@pytest.mark.parametrize(
    ("module", "framework", "count"),
    [("routes_bottle_app", "bottle", 6), ("routes_falcon_app", "falcon", 4),
     ("routes_pyramid_app", "pyramid", 4)],
)  # fmt: skip
def test_every_built_url_answers_200(apps_dir: Path, module: str, framework: str,
                                     count: int) -> None:  # fmt: skip
    pytest.importorskip(framework)
    app = load(module)
    table = discover_routes(app)
    assert len(table) == count
    assert {r.framework for r in table} == {framework}
    client = Client(app)
    for route in table:
        assert route.url is not None, route.url_error
        method = route.methods[0] if route.methods != ["*"] else "GET"
        assert client.open(route.url, method=method).status_code in (200, 201), route.url
    assert sorted(r["url"] for r in cli_json("routes", module)) == sorted(r.url for r in table)


def test_bottle_routes_methods_and_views(apps_dir: Path) -> None:
    pytest.importorskip("bottle")
    app = load("routes_bottle_app")
    table = {r.endpoint: r for r in discover_routes(app)}
    assert table["item"].methods == ["GET", "POST"]
    assert [(a.name, a.converter) for a in table["item"].arguments] == [("item_id", "int")]
    assert table["sku"].url == "/sku/SKU-0000"
    assert table["GET /anything"].url == "/anything"
    assert table["hello"].view is not None
    assert table["hello"].view.name == "routes_bottle_app:hello"
    assert build_url(app, "item", {"item_id": "5", "q": "x"}).url == app.get_url(
        "item", item_id=5, q="x"
    )
    resolution = match(app, "GET", "/items/7")
    assert (resolution.result.status, resolution.result.arguments) == (200, {"item_id": 7})
    assert match(app, "DELETE", "/items/7").result.allowed == ["GET", "POST"]
    assert Client(app).delete("/items/7").status_code == 405
    assert match(app, "GET", "/nope").result.status == 404
    with pytest.raises(RouteNotFound, match="no route named 'iten'"):
        build_url(app, "iten", {})
    with pytest.raises(UsageError, match=r"missing: item_id"):
        build_url(app, "item", {})
    with pytest.raises(UsageError, match="not a valid <code:re>"):
        build_url(app, "sku", {"code": "nope"})


def test_falcon_responders_and_templates(apps_dir: Path) -> None:
    pytest.importorskip("falcon")
    app = load("routes_falcon_app")
    table = {r.endpoint: r for r in discover_routes(app)}
    assert table["ItemResource"].methods == ["GET", "PUT"]
    assert table["ItemResource:collection"].methods == ["GET", "POST"]
    assert (
        table["ItemResource"].note == "Falcon has no URL builder: wsgiscope fills the URI template"
    )
    assert build_url(app, "ItemResource", {"item_id": "5", "q": "x"}).url == "/items/5?q=x"
    assert Client(app).get("/items/5?q=x").json == {"id": 5}
    resolution = match(app, "GET", "/items/7")
    assert resolution.result.arguments == {"item_id": 7}
    assert resolution.result.route is not None
    assert resolution.result.route.endpoint == "ItemResource"
    assert match(app, "DELETE", "/items/7").result.allowed == ["GET", "PUT"]
    assert Client(app).delete("/items/7").status_code == 405
    with pytest.raises(UsageError, match=r"'abc' is not a valid \{item_id:int\}"):
        build_url(app, "ItemResource", {"item_id": "abc"})
    with pytest.raises(RouteNotFound) as unknown:
        build_url(app, "ItemResourc", {})
    assert (unknown.value.hint or "").startswith("did you mean: ItemResource, ")


def test_pyramid_predicates_and_route_path(apps_dir: Path) -> None:
    pytest.importorskip("pyramid")
    app = load("routes_pyramid_app")
    table = {r.endpoint: r for r in discover_routes(app)}
    assert table["item"].methods == ["GET", "PUT"]
    assert table["home"].methods == ["*"]
    assert table["sku"].methods == ["GET"]
    assert table["files"].arguments[0].converter == "path"
    assert build_url(app, "item", {"item_id": "5", "q": "x"}).url == "/items/5?q=x"
    resolution = match(app, "PUT", "/items/7")
    assert (resolution.result.status, resolution.result.arguments) == (200, {"item_id": "7"})
    # Pyramid answers a predicate mismatch with 404; wsgiscope says which methods would do
    deleted = match(app, "DELETE", "/items/7").result
    assert (deleted.status, deleted.allowed) == (404, ["GET", "PUT"])
    assert Client(app).delete("/items/7").status_code == 404
    with pytest.raises(UsageError, match="the pattern accepts SKU"):
        build_url(app, "sku", {"code": "x"})


@pytest.mark.parametrize(
    ("module", "framework"),
    [("routes_bottle_app", "bottle"), ("routes_falcon_app", "falcon"),
     ("routes_pyramid_app", "pyramid")],
)  # fmt: skip
def test_info_names_the_framework(apps_dir: Path, module: str, framework: str) -> None:
    pytest.importorskip(framework)
    assert cli_json("info", module)["framework"] == framework
