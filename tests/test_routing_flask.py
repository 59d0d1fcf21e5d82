"""``routes``, ``url`` and ``match`` on Flask apps, checked against Flask itself."""

from __future__ import annotations

import typing as t
from pathlib import Path

import pytest
from routes_fixtures import fails, run, run_json

pytestmark = pytest.mark.flask  # also run under the next Flask (.ci/run)

flask = pytest.importorskip("flask")

SHOP = "routes_flask_shop"


def by_endpoint(routes: list[dict[str, t.Any]]) -> dict[str, dict[str, t.Any]]:
    return {r["endpoint"]: r for r in routes}


def load(name: str) -> t.Any:
    """The app object itself, loaded the way the commands load it."""
    from wsgiscope.loading import load_app, resolve_app_ref

    return load_app(resolve_app_ref(name)).app


def test_routes_json_matches_url_map(apps_dir: Path) -> None:
    routes = run_json("routes", SHOP, "--all-methods")
    app = load(SHOP)
    rules = {(r.rule, r.endpoint) for r in app.url_map.iter_rules()}
    assert {(r["rule"], r["endpoint"]) for r in routes} == rules
    fields = {"path", "rule", "mount", "endpoint", "methods", "view", "arguments", "defaults"}
    fields |= {"host", "subdomain", "framework", "app", "url"}
    for route in routes:
        assert fields <= route.keys()
        assert route["framework"] == "flask"
        assert route["mount"] == ""
        assert route["path"] == route["rule"]
        rule = next(r for r in app.url_map.iter_rules(route["endpoint"]) if r.rule == route["rule"])
        assert set(route["methods"]) == set(rule.methods)
    shop = by_endpoint(routes)
    assert shop["api.v1.item"]["arguments"] == [
        {"name": "item_id", "converter": "int", "regex": r"\d+"}
    ]
    assert shop["api.v1.item"]["group"] == "api.v1"
    assert shop["shop.product"]["group"] == "shop"
    assert shop["home"]["group"] is None
    assert shop["shop.product"]["arguments"][0]["converter"] == "sku"
    assert shop["static"]["view"]["name"] == "flask.app:Flask.send_static_file"
    assert shop["loose"]["strict_slashes"] is False
    assert shop["old_home"]["redirect_to"] == "/"
    view = shop["shop.product"]["view"]
    assert view["name"] == "routes_flask_shop:product"
    file, line = view["location"].rsplit(":", 1)
    assert Path(file).name == "routes_flask_shop.py"
    # the first line of the definition, decorators included (as inspect says)
    source = Path(file).read_text().splitlines()[int(line) - 1 : int(line) + 1]
    assert source == ['@shop.get("/<sku:sku>")', "def product(sku: str) -> t.Any:"]


def test_head_and_options_hidden_by_default(apps_dir: Path) -> None:
    routes = run_json("routes", SHOP)
    assert by_endpoint(routes)["home"]["methods"] == ["GET"]
    assert by_endpoint(routes)["api.v1.create_item"]["methods"] == ["POST"]


def test_every_built_url_is_answered_by_its_rule(apps_dir: Path) -> None:
    """Flask's test client gets 200 at each sample URL, from the same endpoint."""
    routes = run_json("routes", SHOP)
    client = load(SHOP).test_client()
    checked = 0
    for route in routes:
        if route["url"] is None or route["redirect_to"] or "GET" not in route["methods"]:
            continue
        with client.get(route["url"]) as response:
            assert response.status_code == 200, route
            if route["endpoint"] != "static":
                assert response.json["endpoint"] == route["endpoint"]
        checked += 1
    assert checked >= 11
    shop = by_endpoint(routes)
    assert shop["api.v1.item"]["url"] == "/api/v1/items/1"
    assert shop["api.v1.price"]["url"] == "/api/v1/prices/1.0"
    assert shop["colour"]["url"] == "/colour/red"
    assert shop["shop.product"]["url"] == "/shop/SKU-1111"
    assert shop["order"]["url"] == "/orders/12345678-1234-4678-9234-567812345678"
    # a regex wsgiscope cannot sample: not buildable, with the reason
    assert shop["shop.odd"]["url"] is None
    assert "cannot generate" in shop["shop.odd"]["url_error"]


def test_routes_filters_and_sort(apps_dir: Path) -> None:
    posts = run_json("routes", SHOP, "--method", "post")
    assert [r["endpoint"] for r in posts] == ["api.v1.create_item", "widgets"]
    api = run_json("routes", SHOP, "--endpoint", "api.*", "--sort", "endpoint")
    assert [r["endpoint"] for r in api] == [
        "api.status",
        "api.v1.create_item",
        "api.v1.item",
        "api.v1.price",
    ]
    by_rule = run_json("routes", SHOP, "--sort", "rule")
    assert [r["path"] for r in by_rule] == sorted(r["path"] for r in by_rule)


def test_routes_tree_and_table(apps_dir: Path) -> None:
    tree = run("routes", SHOP, "--width", "200")
    assert tree.exit_code == 0, tree.stderr
    lines = tree.stdout.splitlines()
    assert lines[0].startswith("routes of routes_flask_shop  17 rules, 1 app")
    assert any("api.v1  (3)" in line for line in lines)
    assert any("not buildable: <odd:code>" in line for line in lines)
    assert "\x1b" not in tree.stdout
    table = run("routes", SHOP, "--table", "--width", "250")
    assert table.exit_code == 0, table.stderr
    assert "Endpoint" in table.stdout.splitlines()[0]
    assert "/shop/SKU-1111" in table.stdout


@pytest.mark.parametrize(
    ("endpoint", "values", "kwargs"),
    [
        ("api.v1.item", {"item_id": "7"}, {}),
        ("users", {"page": "3"}, {}),
        ("users", {}, {}),
        ("shop.product", {"sku": "SKU-4321", "ref": "mail"}, {}),
        ("shop.tags", {"tags": "a+b"}, {}),
        ("home", {}, {"_external": True}),
        ("home", {}, {"_anchor": "top part"}),
        ("home", {}, {"_scheme": "https", "_external": True}),
        ("api.v1.create_item", {}, {"_method": "POST"}),
    ],
)
def test_url_equals_url_for(
    apps_dir: Path, endpoint: str, values: dict[str, str], kwargs: dict[str, t.Any]
) -> None:
    options = {
        "_external": ["--external"],
        "_anchor": ["--anchor", kwargs.get("_anchor", "")],
        "_scheme": ["--scheme", kwargs.get("_scheme", "")],
        "_method": ["--method", kwargs.get("_method", "")],
    }
    args = [item for key in kwargs for item in options[key]]
    result = run("url", SHOP, endpoint, *[f"{k}={v}" for k, v in values.items()], *args)
    assert result.exit_code == 0, result.stderr
    app = load(SHOP)
    converted = {k: (v.split("+") if k == "tags" else v) for k, v in values.items()}
    with app.test_request_context():
        expected = flask.url_for(endpoint, **converted, **kwargs)
    assert result.stdout == expected + "\n"
    if "_method" not in kwargs and "_external" not in kwargs:
        assert app.test_client().get(expected).status_code == 200


def test_url_json(apps_dir: Path) -> None:
    built = run_json("url", SHOP, "api.v1.item", "item_id=5")
    assert built == {
        "format": "wsgiscope.url/1",
        "url": "/api/v1/items/5",
        "endpoint": "api.v1.item",
        "mount": "",
        "framework": "flask",
        "app": "Flask app 'routes_flask_shop'",
    }


def test_url_errors(apps_dir: Path) -> None:
    error = fails("url", SHOP, "api.v1.itme")
    assert "no endpoint 'api.v1.itme'" in error
    assert "did you mean: api.v1.item" in error
    error = fails("url", SHOP, "api.v1.item")
    assert "<int:item_id>" in error
    assert "missing: item_id" in error
    error = fails("url", SHOP, "api.v1.item", "item_id=seven")
    assert "'seven' is not a valid <int:item_id>" in error
    error = fails("url", SHOP, "shop.product", "sku=nope")
    assert "<sku:sku>" in error
    assert r"SKU-\d{4}" in error
    error = fails("url", SHOP, "home", "a=1", "b")
    assert "malformed value 'b'" in error
    error = fails("url", SHOP, "api.v1.create_item", "--method", "DELETE")
    assert "accepts method DELETE" in error
    unknown = run("url", SHOP, "home", "--frobnicate")
    assert unknown.exit_code == 2
    assert "No such option '--frobnicate'" in unknown.stderr


def test_match_against_flask(apps_dir: Path) -> None:
    """match answers the endpoint and argument types the real request gets."""
    client = load(SHOP).test_client()
    for path in ["/api/v1/items/42", "/api/v1/prices/2.5", "/shop/tags/x+y", "/users/"]:
        answer = run_json("match", SHOP, path)
        real = client.get(path).json
        assert answer["status"] == 200
        assert answer["route"]["endpoint"] == real["endpoint"]
        assert {k: [v["type"], v["value"]] for k, v in answer["arguments"].items()} == real["args"]
    uuid = run_json("match", SHOP, "/orders/12345678-1234-4678-9234-567812345678")
    assert uuid["arguments"]["order"]["type"] == "UUID"


def test_match_404_405_redirects(apps_dir: Path) -> None:
    client = load(SHOP).test_client()
    missing = run_json("match", SHOP, "/api/v1/item/3", exit_code=1)
    assert missing["status"] == 404 == client.get("/api/v1/item/3").status_code
    assert "/api/v1/items/<int:item_id>" in missing["nearest"]
    wrong = run_json("match", SHOP, "DELETE", "/api/v1/items/", exit_code=1)
    assert wrong["status"] == 405 == client.delete("/api/v1/items/").status_code
    assert wrong["allowed"] == ["OPTIONS", "POST"]
    slash = run_json("match", SHOP, "/users")
    real = client.get("/users")
    assert (slash["status"], slash["location"]) == (real.status_code, real.location)
    moved = run_json("match", SHOP, "/old-home")
    real = client.get("/old-home")
    assert moved["status"] == real.status_code == 308
    assert moved["location"] == real.location
    text = run("match", SHOP, "post", "/api/v1/items/7", "--width", "120")
    assert text.exit_code == 1
    assert "405 method not allowed" in text.stdout
    assert "GET, HEAD, OPTIONS" in text.stdout


def test_match_path_shapes(apps_dir: Path) -> None:
    answer = run_json("match", SHOP, "/api/status")
    assert answer["path"] == "/api/status"
    assert answer["status"] == 200
    fails("match", SHOP, "api/status")  # parsed like trace: a PATH starts with '/' (#22.11)
    fails("match", SHOP, "GET", "POST", "/x")
    fails("match", "GET")
    fails("match", SHOP, "GET", "/", "/x", "/y")


def test_subdomains(apps_dir: Path) -> None:
    target = "routes_flask_hosts:subdomains"
    routes = by_endpoint(run_json("routes", target))
    assert routes["api.ping"]["subdomain"] == "api"
    assert routes["api.ping"]["url"] == "http://api.shop.test/ping"
    assert routes["profile"]["subdomain"] == "<user>"
    client = load(target).test_client()
    for route in routes.values():
        response = client.get(route["url"])
        assert response.status_code == 200
        assert response.json["endpoint"] == route["endpoint"]
    ping = run_json("match", target, "/ping", "--host", "api.shop.test")
    assert ping["route"]["endpoint"] == "api.ping"
    assert run_json("match", target, "/ping", exit_code=1)["status"] == 404
    profile = run_json("match", target, "/profile", "--host", "ada.shop.test")
    assert profile["arguments"]["user"]["value"] == "ada"
    assert run("url", target, "profile", "user=ada").stdout == "http://ada.shop.test/profile\n"
    assert run("url", target, "home").stdout == "/\n"


def test_host_matching(apps_dir: Path) -> None:
    target = "routes_flask_hosts:hosts"
    routes = by_endpoint(run_json("routes", target))
    assert routes["dashboard"]["host"] == "<tenant>.example.test"
    assert routes["dashboard"]["subdomain"] is None
    client = load(target).test_client()
    for route in routes.values():
        response = client.get(route["url"])
        assert response.status_code == 200, route
    answer = run_json("match", target, "/dashboard/3", "--host", "acme.example.test")
    assert answer["route"]["endpoint"] == "dashboard"
    assert answer["arguments"]["tenant"]["value"] == "acme"
    assert answer["arguments"]["page"] == {"value": 3, "type": "int", "repr": "3"}
    assert run_json("match", target, "/dashboard/3", exit_code=1)["status"] == 404
    built = run("url", target, "dashboard", "tenant=acme", "page=2").stdout
    assert built == "http://acme.example.test/dashboard/2\n"


def test_server_name_application_root_scheme(apps_dir: Path) -> None:
    """url and the sample URLs follow the config as url_for in a test request does."""
    target = "routes_flask_hosts:configured"
    app = load(target)
    with app.test_request_context():
        expected = flask.url_for("item", n=3)
        external = flask.url_for("item", n=3, _external=True)
    assert run("url", target, "item", "n=3").stdout == expected + "\n"
    assert run("url", target, "item", "n=3", "--external").stdout == external + "\n"
    assert external == "https://shop.test/root/items/3"
    [route] = run_json("routes", target)
    assert route["url"] == "/root/items/1"
    # deployed as APPLICATION_ROOT says: under /root
    from werkzeug.middleware.dispatcher import DispatcherMiddleware
    from werkzeug.test import Client

    deployed = Client(DispatcherMiddleware(app, {"/root": app}))
    with deployed.get(route["url"], base_url="https://shop.test") as response:
        assert response.status_code == 200
    answer = run_json("match", target, "/items/5")
    assert answer["arguments"]["n"]["value"] == 5


def test_class_based_view(apps_dir: Path) -> None:
    widgets = by_endpoint(run_json("routes", SHOP))["widgets"]
    assert widgets["methods"] == ["GET", "POST"]
    assert widgets["view"]["name"] == "routes_flask_shop:Widgets"
    file, line = widgets["view"]["location"].rsplit(":", 1)
    assert Path(file).read_text().splitlines()[int(line) - 1] == "class Widgets(MethodView):"
