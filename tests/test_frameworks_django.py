"""The Django adapter and loader on a real project (subprocesses: settings are global)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import typing as t
from pathlib import Path

import pytest

pytest.importorskip("django")

ROOT = Path(__file__).parent.parent
PROJECT = Path(__file__).parent / "apps" / "routes_django_project"

CHECK = """
import json
from werkzeug.test import Client
from django.urls import reverse, resolve
from wsgiscope.loading import AppRef, load_app
from wsgiscope.routing import discover_routes, build_url, match
app = load_app(AppRef("shopsite.wsgi", "argument", __import__("pathlib").Path.cwd())).app
client = Client(app)
table = discover_routes(app)
out = {"routes": [r.to_json() for r in table],
       "status": [client.get(r.url).status_code for r in table],
       "reverse": reverse("catalog-v2:item", kwargs={"item_id": 5}),
       "built": build_url(app, "catalog-v2:item", {"item_id": "5", "q": "x"}).url,
       "match": match(app, "GET", "/shop/items/7/").result.arguments,
       "resolve": resolve("/shop/items/7/").kwargs,
       "delete": [match(app, "DELETE", "/shop/tags/x/").result.status,
                  client.delete("/shop/tags/x/").status_code],
       "slash": [match(app, "GET", "/shop/items/7").result.location,
                 client.get("/shop/items/7").headers.get("Location")],
       "positional": [build_url(app, "page", {"0": "12"}).url, reverse("page", args=["12"])],
       "positional_match": [match(app, "GET", "/page/12/").result.arguments,
                            list(resolve("/page/12/").args)],
       "decoded": [match(app, "GET", "/shop/files/a%20b").result.arguments,
                   client.get("/shop/files/a%20b").get_data(as_text=True)]}
print(json.dumps(out, default=repr))
"""


def run(*args: str, cwd: Path = PROJECT) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    env.pop("WSGISCOPE_APP", None)
    return subprocess.run(
        [sys.executable, *args], capture_output=True, text=True, cwd=cwd, env=env, timeout=120
    )


@pytest.fixture(scope="module")
def answers() -> dict[str, t.Any]:
    result = run("-c", CHECK)
    assert result.returncode == 0, result.stderr
    return t.cast("dict[str, t.Any]", json.loads(result.stdout))


def test_urlconf_walked_through_includes_and_namespaces(answers: dict[str, t.Any]) -> None:
    routes = {r["endpoint"]: r for r in answers["routes"]}
    assert len(routes) == 16
    assert routes["catalog:item"]["path"] == "/shop/items/<int:item_id>/"
    assert routes["catalog-v2:item"]["group"] == "catalog-v2"
    assert [(a["name"], a["converter"]) for a in routes["catalog:product"]["arguments"]] == [
        ("sku", "sku")
    ]
    assert routes["archive"]["arguments"] == [
        {"name": "year", "converter": "regex", "regex": None},
        {"name": "month", "converter": "regex", "regex": None},
    ]
    assert routes["catalog:tag"]["methods"] == ["GET", "POST"]
    assert routes["catalog:reviews"]["methods"] == ["GET", "HEAD", "OPTIONS", "POST"]
    assert routes["catalog:reviews"]["view"]["name"] == "catalog.views:Reviews"
    assert routes["home"]["methods"] == ["*"]
    assert routes["shopsite.urls.unnamed"]["url"] == "/plain/"
    # a re_path group without a name is a positional argument, named by its position
    assert routes["page"]["arguments"] == [{"name": "0", "converter": "regex", "regex": None}]
    assert routes["page"]["url"] == "/page/0/"  # generated from [0-9]+


def test_every_built_url_answers_200(answers: dict[str, t.Any]) -> None:
    assert all(r["url"] for r in answers["routes"])
    assert answers["status"] == [200] * len(answers["routes"])


def test_url_and_match_agree_with_reverse_and_resolve(answers: dict[str, t.Any]) -> None:
    assert answers["built"] == answers["reverse"] + "?q=x"
    assert answers["match"] == answers["resolve"] == {"item_id": 7}
    assert answers["delete"] == [405, 405]
    assert answers["slash"] == ["/shop/items/7/", "/shop/items/7/"]
    assert answers["positional"] == ["/page/12/", "/page/12/"]
    assert answers["positional_match"] == [{"0": "12"}, ["12"]]
    # the path percent-decoded, as the view receives it
    assert answers["decoded"] == [{"subpath": "a b"}, "a b"]


@pytest.mark.parametrize(
    ("cwd", "args"),
    [
        (PROJECT, ["shopsite.wsgi"]),
        (PROJECT, []),  # discovery beside manage.py
        (PROJECT.parent, ["routes_django_project/shopsite/wsgi.py"]),
    ],
)
def test_django_project_loads_every_way(cwd: Path, args: list[str]) -> None:
    result = run("-m", "wsgiscope", "info", *args, "--json", cwd=cwd)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["framework"] == "django"
    assert report["module"] == "shopsite.wsgi"


def test_cli_routes_url_match(answers: dict[str, t.Any]) -> None:
    routes = run("-m", "wsgiscope", "routes", "--json")
    assert routes.returncode == 0, routes.stderr
    table = json.loads(routes.stdout)["routes"]
    assert len(table) == 16
    # the same URLs as the table whose every URL Django answered with 200
    assert sorted((r["endpoint"], r["url"]) for r in table) == sorted(
        (r["endpoint"], r["url"]) for r in answers["routes"]
    )
    url = run("-m", "wsgiscope", "url", "catalog:product", "sku=SKU-1234")
    assert url.stdout == "/shop/products/SKU-1234/\n"
    wrong = run("-m", "wsgiscope", "url", "catalog:itm")
    assert wrong.returncode == 2
    assert wrong.stderr.splitlines() == [
        "wsgiscope: error: the Django URLconf has no route named 'catalog:itm'",
        "hint: did you mean: catalog:item, catalog-v2:item, catalog:tag, catalog:token, "
        "catalog:files",
    ]
    missing = run("-m", "wsgiscope", "url", "catalog:item")
    assert missing.returncode == 2
    assert "needs <int:item_id> (missing: item_id)" in missing.stderr
    matched = run("-m", "wsgiscope", "match", "/archive/2024/01/", "--json")
    assert json.loads(matched.stdout)["arguments"]["year"]["value"] == "2024"
    positional = run("-m", "wsgiscope", "url", "page", "0=7", "ref=mail", "--anchor", "top part")
    assert (positional.returncode, positional.stdout) == (0, "/page/7/?ref=mail#top%20part\n")
    nothing = run("-m", "wsgiscope", "url", "page")
    assert nothing.stderr.startswith(
        "wsgiscope: error: cannot build a URL for 'page': /page/([0-9]+)/ needs <regex:0> "
        "(missing: 0)"
    )
    wrong = run("-m", "wsgiscope", "url", "catalog:tag", "slug=x", "--method", "DELETE")
    assert wrong.returncode == 2
    assert wrong.stderr.splitlines() == [
        "wsgiscope: error: no rule of endpoint 'catalog:tag' accepts method DELETE",
        "hint: it accepts GET, POST",
    ]
    assert run("-m", "wsgiscope", "url", "catalog:tag", "slug=x", "--method", "post").stdout == (
        "/shop/tags/x/\n"
    )
