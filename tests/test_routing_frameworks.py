"""``routes --json``, ``url`` and ``match --json`` on Bottle, Falcon, Pyramid and
werkzeug Map apps, through the CLI, each compared with what the framework
itself answers: its own URL builder or router, and a real request at the URL."""

from __future__ import annotations

import sys
import typing as t
from pathlib import Path

import pytest
from routes_fixtures import fails, run, run_json
from werkzeug.test import Client

from wsgiscope.frameworks.samples import SAMPLE_UUID


def load(name: str) -> t.Any:
    """The app object itself, loaded the way the commands load it."""
    from wsgiscope.loading import load_app, resolve_app_ref

    return load_app(resolve_app_ref(name)).app


def values(answer: dict[str, t.Any]) -> dict[str, t.Any]:
    """``match --json`` arguments as plain values."""
    return {name: argument["value"] for name, argument in answer["arguments"].items()}


def text(*args: str) -> str:
    result = run(*args)
    assert result.exit_code == 0, result.stderr
    return result.stdout


def test_bottle_answers_like_bottle(apps_dir: Path) -> None:
    pytest.importorskip("bottle")
    app = load("routes_bottle_app")
    http = Client(app)
    built = text("url", "routes_bottle_app", "item", "item_id=5", "q=x y")
    assert built == app.get_url("item", item_id=5, q="x y") + "\n"
    assert http.get(built.strip()).json == {"id": 5}
    anchored = text("url", "routes_bottle_app", "home", "--anchor", "top part")
    assert anchored == "/#top%20part\n"  # quoted as url_for quotes it
    answer = run_json("match", "routes_bottle_app", "/items/7")
    route, arguments = app.router.match({"PATH_INFO": "/items/7", "REQUEST_METHOD": "GET"})
    assert answer["route"]["endpoint"] == route.name
    assert values(answer) == arguments == {"item_id": 7}
    assert answer["arguments"]["item_id"]["type"] == "int"
    wrong = run_json("match", "routes_bottle_app", "DELETE", "/items/7", exit_code=1)
    real = http.delete("/items/7")
    assert (wrong["status"], wrong["allowed"]) == (real.status_code, ["GET", "POST"])
    assert real.headers["Allow"] == "GET,POST"
    missing = run_json("match", "routes_bottle_app", "/itemz/7", exit_code=1)
    assert missing["status"] == http.get("/itemz/7").status_code == 404
    assert "/items/<item_id:int>" in missing["nearest"]
    error = fails("url", "routes_bottle_app", "hello", "name=x", "--method", "POST")
    assert error.splitlines() == [
        "wsgiscope: error: no rule of endpoint 'hello' accepts method POST",
        "hint: it accepts GET",
    ]


def test_bottle_custom_filter(apps_dir: Path) -> None:
    """A custom filter's regex gives the sample; its to_python/to_url are Bottle's."""
    pytest.importorskip("bottle")
    target = "routes_bottle_custom"
    app = load(target)
    http = Client(app)
    colour = {r["endpoint"]: r for r in run_json("routes", target)}["colour"]
    assert colour["arguments"] == [{"name": "value", "converter": "hex", "regex": "[0-9a-f]+"}]
    assert colour["url"] == app.get_url("colour", value=0) == "/colours/0"
    assert http.get(colour["url"]).json == {"value": 0, "type": "int"}
    assert text("url", target, "colour", "value=ff") == app.get_url("colour", value=255) + "\n"
    assert "'zz' is not a valid <value:hex>" in fails("url", target, "colour", "value=zz")
    answer = run_json("match", target, "/colours/ff")
    assert answer["arguments"]["value"] == {"value": 255, "type": "int", "repr": "255"}
    assert http.get("/colours/ff").json == {"value": 255, "type": "int"}


def test_falcon_answers_like_falcon(apps_dir: Path) -> None:
    pytest.importorskip("falcon")
    target = "routes_falcon_app"
    http = Client(load(target))
    built = text("url", target, "ItemResource", "item_id=5", "q=x")
    assert built == "/items/5?q=x\n"
    assert http.get(built.strip()).json == {"id": 5}
    events = {r["endpoint"]: r for r in run_json("routes", target)}["EventResource"]
    assert http.get(events["url"]).json == {
        "when": "2024-01-01T00:00:00+00:00",
        "token": SAMPLE_UUID,
    }
    answer = run_json("match", target, "/items/7")
    assert answer["route"]["endpoint"] == "ItemResource"
    assert answer["arguments"]["item_id"] == {"value": 7, "type": "int", "repr": "7"}
    assert http.get("/items/7").json == {"id": 7}
    wrong = run_json("match", target, "DELETE", "/items/7", exit_code=1)
    real = http.delete("/items/7")
    assert (wrong["status"], wrong["allowed"]) == (real.status_code, ["GET", "PUT"])
    assert real.headers["Allow"] == "GET, PUT, OPTIONS"  # OPTIONS: Falcon's own responder
    error = fails("url", target, "ItemResource", "item_id=5", "--method", "DELETE")
    assert "no rule of endpoint 'ItemResource' accepts method DELETE" in error


def test_pyramid_answers_like_pyramid(apps_dir: Path) -> None:
    pytest.importorskip("pyramid")
    from pyramid.request import Request

    target = "routes_pyramid_app"
    app = load(target)
    http = Client(app)
    request = Request.blank("/")
    request.registry = app.registry
    built = text("url", target, "item", "item_id=5", "q=x")
    assert built == request.route_path("item", item_id="5", _query={"q": "x"}) + "\n"
    assert http.get(built.strip()).text == "item 5"
    files = text("url", target, "files", "subpath=a/b")
    assert files == request.route_path("files", subpath="a/b") + "\n"
    assert http.get(files.strip()).text == "a/b"
    answer = run_json("match", target, "PUT", "/items/7")
    assert (answer["route"]["endpoint"], values(answer)) == ("item", {"item_id": "7"})
    assert http.put("/items/7").text == "updated"
    # Pyramid answers a request_method mismatch with 404: match says so, and what is allowed
    wrong = run("match", target, "DELETE", "/items/7", "--width", "120")
    assert wrong.exit_code == 1
    assert http.delete("/items/7").status_code == 404
    assert "404 a rule matches the path, not the method" in wrong.stdout
    assert "allowed: GET, PUT" in wrong.stdout
    error = fails("url", target, "sku")
    assert r"/sku/{code:SKU-\d{4}} needs {code:SKU-\d{4}} (missing: code)" in error
    error = fails("url", target, "item", "item_id=3", "--method", "DELETE")
    assert "accepts method DELETE" in error
    assert "it accepts GET, PUT" in error


def test_werkzeug_map_answers_like_the_map(apps_dir: Path) -> None:
    target = "routes_werkzeug_map:application"
    load(target)
    url_map = sys.modules["routes_werkzeug_map"].url_map
    adapter = url_map.bind("localhost")
    page = text("url", target, "page", "name=Home Page", "rev=3")
    assert page == adapter.build("page", {"name": "Home Page", "rev": "3"}) + "\n"
    external = text("url", target, "history", "rev=4", "--external", "--anchor", "a b")
    assert external == adapter.build("history", {"rev": 4}, force_external=True) + "#a%20b\n"
    for path in ("/", "/wiki/Home", "/history/12", "/wiki/x/edit"):
        answer = run_json("match", target, path)
        endpoint, arguments = adapter.match(path)
        assert answer["route"]["endpoint"] == endpoint
        assert values(answer) == arguments


@pytest.mark.parametrize(
    ("framework", "target", "path", "arguments", "body"),
    [
        ("bottle", "routes_bottle_app", "/hello/a%20b", {"name": "a b"}, "hello a b"),
        ("falcon", "routes_falcon_app", "/files/a%20b", {"name": "a b"}, "a b"),
        ("pyramid", "routes_pyramid_app", "/items/a%20b", {"item_id": "a b"}, "item a b"),
        ("werkzeug", "routes_werkzeug_map:application", "/wiki/a%2520b%3F",
         {"name": "a%20b?"}, "page a%20b?"),
        ("flask", "routes_mounts", "/ap%69/users/3", {"user_id": 3}, None),
    ],
)  # fmt: skip
def test_match_decodes_the_path_as_a_server_does(
    apps_dir: Path,
    framework: str,
    target: str,
    path: str,
    arguments: dict[str, t.Any],
    body: str | None,
) -> None:
    """PATH_INFO is percent-decoded once, so the arguments are what the view receives."""
    pytest.importorskip(framework)
    answer = run_json("match", target, path)
    assert answer["path"] == path
    assert values(answer) == arguments
    with Client(load(target)).get(path) as response:
        assert response.status_code == 200
        if body is None:  # through both dispatchers: the same mount and rule
            assert (answer["mount"], answer["route"]["endpoint"]) == ("/api", "user")
            assert response.json["script_root"] == "/api"
            assert response.json["endpoint"] == "user"
        else:
            assert response.get_data(as_text=True) == body
