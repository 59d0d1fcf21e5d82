"""Every rule its own URL, and every rule the framework dispatches to listed.

Issue #15, points 9 and 10, on realistic apps in ``tests/apps/routetruth_*``:

- an endpoint with several rules (Flask ``/`` and ``/index``, a blueprint's
  ``/posts/`` and ``/posts/page/<int:page>``, a werkzeug Map, Bottle routes
  sharing a name, Django's API URLconf included under ``api/v1/`` and
  ``api/v3/``): each rule's ``url`` is requested for real and must reach that
  rule; ``endpoint_url`` holds what ``url_for``/``reverse``/``get_url``
  builds, shown in the text when it differs; ``lint`` and ``replay``
  (generated from the table) request every rule;
- Falcon sinks and static routes, Pyramid routes added by ``config.include``
  and external routes: ``falcon-inspect-app`` and ``proutes`` are run and
  must list nothing that ``routes`` lacks, and ``match`` names what the
  framework really calls.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import typing as t
from pathlib import Path

import pytest
from routes_fixtures import fails, run, run_json
from werkzeug.test import Client

ROOT = Path(__file__).parent.parent
APPS = Path(__file__).parent / "apps"
BLOG = "routetruth_flask_blog:composite"


def load(name: str) -> t.Any:
    from wsgiscope.loading import load_app, resolve_app_ref

    return load_app(resolve_app_ref(name)).app


def text(*args: str) -> str:
    result = run(*args, "--color", "never")
    assert result.exit_code == 0, result.stderr
    return result.stdout


def by_path(routes: list[dict[str, t.Any]]) -> dict[str, dict[str, t.Any]]:
    return {route["path"]: route for route in routes}


def by_endpoint(routes: list[dict[str, t.Any]]) -> list[dict[str, t.Any]]:
    return sorted(routes, key=lambda route: (route["mount"], route["endpoint"], route["rule"]))


# -- point 9: one endpoint, several rules --------------------------------------


def test_flask_each_rule_gets_its_own_url(apps_dir: Path) -> None:
    routes = by_path(run_json("routes", BLOG))
    assert (routes["/"]["url"], routes["/"]["endpoint_url"]) == ("/", "/index")
    assert (routes["/index"]["url"], routes["/index"]["endpoint_url"]) == ("/index", "/index")
    # the mounted admin app: its prefix on both
    assert (routes["/admin/"]["url"], routes["/admin/"]["endpoint_url"]) == (
        "/admin/",
        "/admin/index",
    )
    # page=1 is /posts/'s default: werkzeug would redirect /posts/page/1 there
    page = routes["/posts/page/<int:page>"]
    assert (page["url"], page["sample_values"]) == ("/posts/page/2", {"page": 2})
    http = Client(load(BLOG))
    for route in by_endpoint(run_json("routes", BLOG)):
        assert route["url"] is not None, route
        response = http.get(route["url"])
        assert response.status_code == 200, (route["path"], response.status_code)
        assert response.json["rule"] == route["rule"], route["path"]
        assert response.json["script_root"] == route["mount"]
        if route["endpoint"] == "about_us":  # the same path added twice: the first wins
            assert response.json["endpoint"] == "about"
            assert route["note"] == "shadowed: /about is answered by about /about, matched first"
        else:
            assert response.json["endpoint"] == route["endpoint"], route["path"]
            assert route["note"] is None or "shadowed" not in route["note"]


def test_flask_text_shows_what_url_for_builds_when_it_differs(apps_dir: Path) -> None:
    lines = text("routes", "routetruth_flask_blog:app", "--width", "200").splitlines()
    root = next(line for line in lines if re.search(r"GET\s+/\s+index\s", line))
    assert "url_for builds /index" in root
    index = next(line for line in lines if re.search(r"GET\s+/index\s", line))
    assert "builds" not in index


def test_lint_and_replay_request_every_rule(apps_dir: Path) -> None:
    report = run_json("lint", "routetruth_flask_blog:app")
    requested = {(r["method"], r["path"]) for r in report["requests"]}
    for path in ("/", "/index", "/posts/", "/posts/page/2"):
        assert ("GET", path) in requested, path

    from wsgiscope.replay.sources import requests_from_routes
    from wsgiscope.routing import discover_routes

    replayed = {r.path for r in requests_from_routes(discover_routes(load(BLOG)))}
    assert {"/", "/index", "/admin/", "/admin/index", "/posts/page/2"} <= replayed


def test_werkzeug_map_rules_and_build(apps_dir: Path) -> None:
    app = load("routetruth_werkzeug_wiki")
    routes = by_path(run_json("routes", "routetruth_werkzeug_wiki"))
    adapter = app.url_map.bind("localhost")
    assert routes["/feed"]["endpoint_url"] == adapter.build("feed") == "/rss"
    assert routes["/feed"]["url"] == "/feed"
    http = Client(app)
    for route in routes.values():
        assert http.get(route["url"]).json["rule"] == route["rule"]
    assert "MapAdapter.build builds /rss" in text("routes", "routetruth_werkzeug_wiki")


def test_bottle_rules_sharing_a_name(apps_dir: Path) -> None:
    pytest.importorskip("bottle")
    app = load("routetruth_bottle_app:app")
    routes = by_path(run_json("routes", "routetruth_bottle_app:app"))
    year = routes["/archive/<year:int>"]
    assert year["url"] == "/archive/1"
    assert year["endpoint_url"] == app.get_url("archive", year=1) == "/archive?year=1"
    http = Client(app)
    for route in routes.values():
        assert http.get(route["url"]).json["rule"] == route["rule"]


DJANGO = """
import json
from werkzeug.test import Client
from django.urls import reverse
from wsgiscope.loading import AppRef, load_app
from wsgiscope.routing import discover_routes
app = load_app(AppRef("monitor.wsgi", "argument", __import__("pathlib").Path.cwd())).app
client = Client(app)
table = [r.to_json() for r in discover_routes(app)]
print(json.dumps({
    "routes": table,
    "reached": {r["path"]: client.get(r["url"]).json for r in table},
    "reverse": reverse("checks"),
}))
"""


def run_django(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    env.pop("WSGISCOPE_APP", None)
    return subprocess.run(
        [sys.executable, *args],
        capture_output=True,
        text=True,
        cwd=APPS / "routetruth_django_project",
        env=env,
        timeout=120,
    )


def test_django_versioned_includes_each_pattern_its_own_url() -> None:
    pytest.importorskip("django")
    result = run_django("-c", DJANGO)
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout)
    routes = by_path(answer["routes"])
    assert answer["reverse"] == "/api/v3/checks/"  # Django's own answer for the name
    v1 = routes["/api/v1/checks/"]
    assert (v1["url"], v1["endpoint_url"]) == ("/api/v1/checks/", "/api/v3/checks/")
    ping = routes["/api/v1/ping/"]  # unnamed: reversed by its view, the same for both
    assert (ping["url"], ping["endpoint_url"]) == ("/api/v1/ping/", "/api/v3/ping/")
    assert routes["/api/v1/checks/<int:check_id>/"]["url"] == "/api/v1/checks/1/"
    for path, reached in answer["reached"].items():
        # every URL reaches its own pattern (resolver_match.route is the full route)
        route = reached["route"].removeprefix("^").removesuffix("$")
        assert "/" + route == path, (path, reached)
    shown = run_django("-m", "wsgiscope", "routes", "monitor/wsgi.py", "--width", "250")
    assert shown.returncode == 0, shown.stderr
    line = next(x for x in shown.stdout.splitlines() if "/api/v1/checks/ " in x)
    assert "reverse builds /api/v3/checks/" in line


# -- point 10: sinks, static routes, included routes ---------------------------


def test_falcon_sinks_and_static_routes_listed_and_matched(apps_dir: Path) -> None:
    pytest.importorskip("falcon")
    routes = by_path(run_json("routes", "routetruth_falcon_api:app"))
    sink = routes["/proxy/(?P<service>[a-z]+)"]
    assert (sink["endpoint"], sink["methods"]) == ("sink:proxy_sink", ["*"])
    static = routes["/static/"]
    assert (static["endpoint"], static["url"]) == ("static:/static/", "/static/css/site.css")
    # one resource at two templates: `url` builds the first, each its own
    assert routes["/healthz"]["url"] == "/healthz"
    assert routes["/healthz"]["endpoint_url"] == "/health"

    http = Client(load("routetruth_falcon_api:app"))
    answer = run_json("match", "routetruth_falcon_api:app", "POST", "/proxy/users/1")
    assert answer["status"] == 200
    assert answer["route"]["endpoint"] == "sink:proxy_sink"
    assert answer["arguments"]["service"]["value"] == "users"
    assert http.post("/proxy/users/1").json == {
        "sink": "proxy",
        "service": "users",
        "path": "/proxy/users/1",
    }
    answer = run_json("match", "routetruth_falcon_api:app", static["url"])
    assert answer["route"]["endpoint"] == "static:/static/"
    with http.get(static["url"]) as response:
        assert response.get_data(as_text=True) == "body { color: #333; }\n"
    # a route still wins over a sink, as in Falcon
    assert run_json("match", "routetruth_falcon_api:app", "/things/3")["route"]["endpoint"] == (
        "ThingsResource"
    )
    assert run_json("match", "routetruth_falcon_api:app", "/nope", exit_code=1)["status"] == 404
    assert http.get("/nope").status_code == 404
    error = fails("url", "routetruth_falcon_api:app", "sink:proxy_sink")
    assert "no URL template" in error


def test_falcon_inspect_app_lists_nothing_routes_lacks(apps_dir: Path) -> None:
    pytest.importorskip("falcon")
    script = Path(sys.executable).parent / "falcon-inspect-app"
    if not script.exists():
        pytest.skip("falcon-inspect-app is not installed next to this Python")
    env = {**os.environ, "PYTHONPATH": str(APPS)}
    result = subprocess.run(
        [str(script), "routetruth_falcon_api:app"],
        capture_output=True,
        text=True,
        cwd=APPS,
        env=env,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    listed = re.findall(r"^\s*[⇒↦⇥] (\S+)", result.stdout, re.MULTILINE)
    assert len(listed) == 6, result.stdout  # 4 routes, 1 static route, 1 sink
    rules = {route["rule"] for route in run_json("routes", "routetruth_falcon_api:app")}
    assert set(listed) <= rules


def test_pyramid_included_and_external_routes(apps_dir: Path) -> None:
    pytest.importorskip("pyramid")
    app = "routetruth_pyramid_wiki:app"
    routes = {route["endpoint"]: route for route in run_json("routes", app)}
    api = routes["toolbar_api_requests"]  # added by a nested include with a route_prefix
    assert (api["rule"], api["url"]) == (
        "/_toolbar/api/requests/{request_id}",
        "/_toolbar/api/requests/example",
    )
    docs = routes["toolbar_docs"]  # static=True: builds URLs, never matched
    assert docs["rule"] == "https://docs.example.com/toolbar/{page}"
    assert docs["url"] is None
    assert docs["endpoint_url"] == "https://docs.example.com/toolbar/example"
    assert text("url", app, "toolbar_docs", "page=setup") == (
        "https://docs.example.com/toolbar/setup\n"
    )
    http = Client(load(app))
    for name, route in routes.items():
        if route["url"] is None or name.startswith("__"):
            continue
        # /about was added after /{pagename}, which Pyramid tries first
        answering = "view_page" if name == "about" else name
        assert http.get(route["url"]).json["route"] == answering, name
        answer = run_json("match", app, route["url"])
        assert answer["route"]["endpoint"] == answering
        assert ("shadowed" in (route["note"] or "")) == (name == "about")
    assert routes["about"]["note"] == (
        "shadowed: /about is answered by view_page /{pagename}, matched first"
    )
    with http.get(routes["___toolbar/static/"]["url"]) as response:
        assert response.status_code == 404  # no such file
    with http.get("/_toolbar/static/toolbar.css") as response:
        assert response.get_data(as_text=True) == "/* toolbar */\n"
    answer = run_json("match", app, "/_toolbar/static/toolbar.css")
    assert answer["route"]["endpoint"] == "___toolbar/static/"


def test_proutes_lists_nothing_routes_lacks(apps_dir: Path) -> None:
    pytest.importorskip("pyramid")
    script = Path(sys.executable).parent / "proutes"
    if not script.exists():
        pytest.skip("proutes is not installed next to this Python")
    env = {**os.environ, "PYTHONPATH": str(APPS)}
    result = subprocess.run(
        [str(script), "routetruth_pyramid_wiki.ini"],
        capture_output=True,
        text=True,
        cwd=APPS,
        env=env,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    listed = {tuple(line.split()[:2]) for line in result.stdout.splitlines()[2:] if line.strip()}
    assert len(listed) == 9, result.stdout
    shown = {
        (route["endpoint"], route["rule"])
        for route in run_json("routes", "routetruth_pyramid_wiki:app")
    }
    assert listed <= shown, listed - shown


# -- point 11: an endpoint several mounted apps have ---------------------------


def test_url_ambiguous_endpoint_lists_every_mount(apps_dir: Path) -> None:
    error = fails("url", BLOG, "index")
    first, hint = error.splitlines()
    assert "endpoint 'index' exists in 2 mounted apps" in first
    assert "--mount" in first
    assert "--mount / (Flask app 'blog'): /index" in hint
    assert "--mount /admin (Flask app 'admin'): /admin/index" in hint
    # each candidate is built with the values given, or says why it cannot be
    hint = fails("url", BLOG, "blog.update").splitlines()[1]
    assert hint.count("not buildable: cannot build a URL for 'blog.update'") == 2
    result = run("url", BLOG, "blog.posts", "page=3", "--json")
    assert (result.exit_code, result.stdout) == (2, "")
    assert "/admin/posts/page/3" in result.stderr


def test_url_chosen_mount_answers(apps_dir: Path) -> None:
    assert text("url", BLOG, "index", "--mount", "/admin") == "/admin/index\n"
    assert text("url", BLOG, "/admin:index") == "/admin/index\n"
    assert text("url", BLOG, "index", "--mount", "/") == "/index\n"
    # an endpoint only one mounted app has needs no --mount
    built = run_json(
        "url", BLOG, "permission_history_for_user_account", "user_id=4", "permission_name=edit"
    )
    assert (built["url"], built["mount"]) == ("/admin/users/4/permissions/edit/history", "/admin")
    with Client(load(BLOG)).get(built["url"]) as response:
        assert response.json["script_root"] == "/admin"
    # a single app keeps answering as before
    assert text("url", "routetruth_flask_blog:app", "index") == "/index\n"
