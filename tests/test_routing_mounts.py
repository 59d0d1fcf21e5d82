"""Mounted apps: nested DispatcherMiddleware, a werkzeug Map app, a plain WSGI
callable, middleware around them, and a Flask app wrapped in place."""

from __future__ import annotations

import typing as t
from pathlib import Path

import pytest
from routes_fixtures import fails, run, run_json

pytest.importorskip("flask")

pytestmark = pytest.mark.flask  # also run under the next Flask (.ci/run)

MOUNTS = "routes_mounts"


def load(name: str) -> t.Any:
    from wsgiscope.loading import load_app, resolve_app_ref

    return load_app(resolve_app_ref(name)).app


def client(name: str) -> t.Any:
    from werkzeug.test import Client

    return Client(load(name))


def test_every_mount_listed_with_its_prefix(apps_dir: Path) -> None:
    routes = run_json("routes", MOUNTS)
    mounts = [(r["mount"], r["framework"]) for r in routes]
    assert sorted(set(mounts)) == [
        ("", "flask"),
        ("/api", "flask"),
        ("/api/v2", "werkzeug"),
        ("/legacy", "wsgi"),
    ]
    paths = {r["path"] for r in routes}
    assert {"/", "/api/", "/api/users/<int:user_id>", "/api/v2/wiki/<name>"} <= paths
    for route in routes:
        assert route["path"] == route["mount"] + route["rule"]
    legacy = next(r for r in routes if r["mount"] == "/legacy")
    assert legacy["opaque"] is True
    assert legacy["endpoint"] is None
    assert legacy["url"] == "/legacy/"
    assert "plain WSGI callable" in legacy["note"]


def test_built_urls_reach_their_rule_through_the_whole_stack(apps_dir: Path) -> None:
    """Each sample URL, requested through ProxyFix and both dispatchers, is answered."""
    http = client(MOUNTS)
    for route in run_json("routes", MOUNTS):
        if route["url"] is None or route["redirect_to"]:
            continue
        with http.get(route["url"]) as response:
            assert response.status_code == 200, route
            if route["framework"] == "flask":
                assert response.json["endpoint"] == route["endpoint"]
                assert response.json["script_root"] == route["mount"]


@pytest.mark.parametrize(
    ("path", "steps", "mount", "path_info"),
    [
        ("/", [("", "", "/")], "", "/"),
        (
            "/api/users/3",
            [("/api", "/api", "/users/3"), ("", "/api", "/users/3")],
            "/api",
            "/users/3",
        ),
        (
            "/api/v2/wiki/Home",
            [("/api", "/api", "/v2/wiki/Home"), ("/v2", "/api/v2", "/wiki/Home")],
            "/api/v2",
            "/wiki/Home",
        ),
        ("/legacy/a/b", [("/legacy", "/legacy", "/a/b")], "/legacy", "/a/b"),
        ("/apix", [("", "", "/apix")], "", "/apix"),
        ("/api?next=/legacy/x", [("/api", "/api", ""), ("", "/api", "")], "/api", ""),
    ],
)
def test_match_splits_like_dispatcher(
    apps_dir: Path,
    path: str,
    steps: list[tuple[str, str, str]],
    mount: str,
    path_info: str,
) -> None:
    answer = run_json("match", MOUNTS, path, exit_code=1 if path == "/apix" else 0)
    assert answer["path"] == path
    assert [(s["prefix"], s["script_name"], s["path_info"]) for s in answer["steps"]] == steps
    assert (answer["mount"], answer["path_info"]) == (mount, path_info)
    # the app that really answers sees the same SCRIPT_NAME and PATH_INFO
    with client(MOUNTS).get(path) as response:
        if answer["status"] == 308:
            assert response.status_code == 308
        elif answer["framework"] == "flask" and answer["status"] == 200:
            assert response.json["script_root"] == mount
            assert response.json["path"] == path_info
        elif answer["framework"] == "wsgi":
            assert response.get_data(as_text=True) == f"legacy {mount} {path_info}"


def test_match_opaque_mount(apps_dir: Path) -> None:
    answer = run_json("match", MOUNTS, "/legacy/anything")
    assert answer["status"] is None
    assert "plain WSGI callable" in answer["note"]
    text = run("match", MOUNTS, "/legacy/anything", "--width", "150")
    assert text.exit_code == 0
    assert "plain WSGI callable" in text.stdout
    assert "SCRIPT_NAME '/legacy'  PATH_INFO '/anything'" in text.stdout


def test_werkzeug_map_app(apps_dir: Path) -> None:
    target = "routes_werkzeug_map:application"
    routes = {r["endpoint"]: r for r in run_json("routes", target)}
    assert routes["page"]["view"]["name"] == "routes_werkzeug_map:page"
    assert routes["history"]["url"] == "/history/1"
    assert routes["about"]["redirect_to"] == "/wiki/About"
    http = client(target)
    for route in routes.values():
        if not route["redirect_to"]:
            with http.get(route["url"]) as response:
                assert response.status_code == 200
    answer = run_json("match", target, "/history/12")
    assert answer["route"]["endpoint"] == "history"
    assert answer["arguments"]["rev"] == {"value": 12, "type": "int", "repr": "12"}
    moved = run_json("match", target, "/about")
    with http.get("/about") as response:
        assert (moved["status"], moved["location"]) == (response.status_code, response.location)
    assert run_json("match", target, "DELETE", "/wiki/x/edit", exit_code=1)["allowed"] == [
        "GET",
        "HEAD",
        "POST",
    ]
    assert run("url", target, "page", "name=Home Page").stdout == "/wiki/Home%20Page\n"


def test_url_through_mounts(apps_dir: Path) -> None:
    # an endpoint only the mounted app has is found there, with its prefix
    assert run("url", MOUNTS, "user", "user_id=4").stdout == "/api/users/4\n"
    assert run("url", MOUNTS, "/api:user", "user_id=4").stdout == "/api/users/4\n"
    assert run("url", MOUNTS, "history", "rev=2", "--mount", "/api/v2/").stdout == (
        "/api/v2/history/2\n"
    )
    external = run("url", MOUNTS, "page", "name=x", "--external").stdout
    assert external == "http://localhost/api/v2/wiki/x\n"
    assert run_json("url", MOUNTS, "api_index")["mount"] == "/api"
    assert "no app is mounted at '/nope'" in fails("url", MOUNTS, "index", "--mount", "/nope")
    assert "no named routes" in fails("url", MOUNTS, "x", "--mount", "/legacy")
    assert "no endpoint 'usr'" in fails("url", MOUNTS, "usr")


def test_wrapped_in_place(apps_dir: Path) -> None:
    target = "routes_mounts:wrapped"
    routes = run_json("routes", target)
    assert [(r["endpoint"], r["url"]) for r in routes] == [("hello", "/hello/example")]
    answer = run_json("match", target, "/hello/ada")
    assert answer["route"]["endpoint"] == "hello"
    assert answer["steps"] == []


def test_demo_tree(apps_dir: Path) -> None:
    result = run("routes", "wsgiscope.demo", "--width", "200")
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines[0] == "routes of wsgiscope.demo  9 rules, 2 apps"
    assert lines[1].startswith("├── /  Flask app 'shop'  flask  (7 rules)")
    assert any(line.startswith("└── /admin  Flask app 'admin'  flask  (2 rules)") for line in lines)


def test_introspection_raising(apps_dir: Path) -> None:
    error = fails("routes", "routes_broken")
    assert (
        "raised RuntimeError while wsgiscope was listing its routes: the rules are on fire" in error
    )
    assert "--traceback" in error
    fails("url", "routes_broken", "index")


def test_flask_wsgi_app_replaced_by_a_dispatcher(apps_dir: Path) -> None:
    target = "routes_mounts:combined"
    routes = run_json("routes", target)
    assert sorted((r["mount"], r["endpoint"]) for r in routes) == [
        ("", "index"),
        ("/api", "api_index"),
        ("/api", "user"),
    ]
    top = run_json("match", target, "/")
    assert (top["app"], top["route"]["endpoint"]) == ("Flask app 'combined'", "index")
    assert [s["prefix"] for s in top["steps"]] == [""]
    mounted = run_json("match", target, "/api/users/2")
    assert (mounted["mount"], mounted["route"]["endpoint"]) == ("/api", "user")
    with client(target).get("/api/users/2") as response:
        assert response.json["script_root"] == "/api"


def test_werkzeug_tutorial_class(apps_dir: Path) -> None:
    target = "routes_werkzeug_map:wiki"
    routes = {r["endpoint"]: r for r in run_json("routes", target)}
    assert routes["page"]["view"]["name"] == "routes_werkzeug_map:Wiki.on_page"
    assert routes["page"]["url"] == "/1"
    with client(target).get("/1") as response:
        assert response.get_data(as_text=True) == "page 1"
    assert run_json("match", target, "/7")["arguments"]["page_id"]["type"] == "int"


def test_middleware_holding_wsgi_app_is_unwrapped(apps_dir: Path) -> None:
    target = "routes_mounts:held"
    routes = run_json("routes", target)
    assert sorted((r["endpoint"], r["url"]) for r in routes) == [
        ("api_index", "/"),
        ("user", "/users/1"),
    ]
    assert {r["app"] for r in routes} == {"Flask app 'api'"}
    answer = run_json("match", target, "/users/3")
    assert (answer["route"]["endpoint"], answer["arguments"]["user_id"]["value"]) == ("user", 3)
    assert run("url", target, "user", "user_id=3").stdout == "/users/3\n"
    with client(target).get("/users/3") as response:
        assert response.json["endpoint"] == "user"


def test_sort_by_mount_and_by_methods(apps_dir: Path) -> None:
    by_mount = run_json("routes", MOUNTS, "--sort", "mount")
    keys = [(r["mount"], r["rule"]) for r in by_mount]
    assert keys == sorted(keys)
    assert [r["mount"] for r in by_mount][:1] == [""]
    assert by_mount == run_json("routes", MOUNTS)  # the default
    by_methods = run_json("routes", MOUNTS, "--sort", "methods", "--all-methods")
    keys = [(",".join(r["methods"]), r["path"]) for r in by_methods]
    assert keys == sorted(keys)
    assert by_methods[0]["methods"] == ["*"]
    posts = run_json("routes", MOUNTS, "--method", "POST")
    # rules that accept POST, and the mounts that accept every method
    assert [(r["path"], r["methods"]) for r in posts] == [
        ("/api/v2/", ["*"]),
        ("/api/v2/about", ["*"]),
        ("/api/v2/history/<int:rev>", ["*"]),
        ("/api/v2/wiki/<name>", ["*"]),
        ("/api/v2/wiki/<name>/edit", ["GET", "POST"]),
        ("/legacy/*", ["*"]),
    ]


def test_nearest_rules_come_from_every_mount(apps_dir: Path) -> None:
    """A typo in the mount prefix still finds the rule under the right mount."""
    answer = run_json("match", MOUNTS, "/ap/users/3", exit_code=1)
    assert (answer["status"], answer["app"]) == (404, "Flask app 'front'")
    assert answer["nearest"][0] == "/api/users/<int:user_id>"
    with client(MOUNTS).get("/ap/users/3") as response:
        assert response.status_code == 404
    assert run_json("match", "wsgiscope.demo", "/admn/", exit_code=1)["nearest"][0] == "/admin/"


def test_nearest_rules_skip_a_broken_mount(apps_dir: Path) -> None:
    """Another mount's routing raising does not hide the answer; the answering one's does."""
    answer = run_json("match", "routes_broken:mounted", "/hom", exit_code=1)
    assert (answer["status"], answer["nearest"]) == (404, ["/"])
    with client("routes_broken:mounted").get("/hom") as response:
        assert response.status_code == 404
    error = fails("match", "routes_broken:mounted", "/broken/x")
    assert "raised RuntimeError while wsgiscope was listing its routes" in error
