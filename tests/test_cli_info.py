"""``wsgiscope info``: the report, its JSON, and what it sees through."""

from __future__ import annotations

import json
import typing as t
from pathlib import Path

import pytest
from click.testing import CliRunner

from wsgiscope.cli import cli

pytest.importorskip("flask")

pytestmark = pytest.mark.flask  # also run under the next Flask (.ci/run)


def info_json(app: str) -> dict[str, t.Any]:
    result = CliRunner().invoke(cli, ["info", app, "--json"])
    assert result.exit_code == 0, result.stderr
    assert result.stderr == ""
    return t.cast("dict[str, t.Any]", json.loads(result.stdout))


def chain(node: dict[str, t.Any]) -> list[tuple[str, str | None]]:
    return [(link["object"], link["via"]) for link in node["chain"]]


def test_demo_structure(apps_dir: Path) -> None:
    report = info_json("wsgiscope.demo")
    assert report["import_path"] == "wsgiscope.demo"
    assert report["source"] == "argument"
    assert report["attribute"] == "application"
    assert report["file"].endswith("wsgiscope/demo.py")
    assert report["object"] == "ProxyFix"
    assert report["framework"] == "dispatcher"
    assert chain(report) == [("ProxyFix", "app"), ("DispatcherMiddleware", None)]
    mounts = [(m["prefix"], m["framework"], m["object"]) for m in report["mounts"]]
    assert mounts == [("", "flask", "Flask app 'shop'"), ("/admin", "flask", "Flask app 'admin'")]


def test_middleware_chain_down_to_flask(apps_dir: Path) -> None:
    report = info_json("info_structures:proxied")
    assert report["framework"] == "flask"
    assert chain(report) == [("ProxyFix", "app"), ("Timing", "app"), ("Flask app 'shop'", None)]
    assert report["chain"][1]["type"] == "info_structures.Timing"


def test_wsgi_app_wrapped_in_place(apps_dir: Path) -> None:
    report = info_json("info_structures:inplace")
    assert chain(report) == [("Flask app 'inplace'", None), ("ProxyFix", "wsgi_app")]


def test_dispatcher_installed_as_wsgi_app(apps_dir: Path) -> None:
    report = info_json("info_structures:front")
    assert chain(report) == [("Flask app 'front'", None), ("DispatcherMiddleware", "wsgi_app")]
    assert [(m["prefix"], m["object"]) for m in report["mounts"]] == [("/api", "Flask app 'api'")]


def test_nested_dispatchers(apps_dir: Path) -> None:
    report = info_json("info_structures:nested")
    top = {m["prefix"]: m for m in report["mounts"]}
    assert set(top) == {"", "/a", "/z"}
    assert top[""]["framework"] == "wsgi"
    assert top[""]["object"] == "function info_structures.plain"
    assert top["/z"]["framework"] == "wsgi"
    assert chain(top["/z"]) == [("Timing", "app"), ("function info_structures.plain", None)]
    inner = {m["prefix"]: m["object"] for m in top["/a"]["mounts"]}
    assert inner == {"": "Flask app 'one'", "/b": "Flask app 'two'"}


def test_plain_wsgi(apps_dir: Path) -> None:
    report = info_json("info_structures:plain")
    assert (report["framework"], report["object"]) == ("wsgi", "function info_structures.plain")
    assert report["mounts"] == []


def test_text_output(apps_dir: Path) -> None:
    result = CliRunner().invoke(cli, ["info", "wsgiscope.demo", "--width", "100"])
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["app", "wsgiscope.demo", "(argument)"]
    assert "framework  dispatcher" in result.stdout
    assert "│   └── Flask app 'shop' flask.app.Flask" in result.stdout
    assert "└── /admin  flask" in result.stdout
    assert "\x1b[" not in result.stdout


def test_source_is_reported(apps_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WSGISCOPE_APP", "info_structures:shop")
    assert info_json("")["source"] == "WSGISCOPE_APP"
    result = CliRunner().invoke(cli, ["info", "--app", "info_structures:plain", "--json"])
    assert json.loads(result.stdout)["source"] == "--app"


def test_odd_objects_still_give_valid_json(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "odd_app.py").write_text(
        "class Odd:\n"
        "    app = None\n"
        "    def __call__(self, environ, start_response):\n"
        "        return [b'']\n"
        "odd = Odd()\n"
        "Odd.__name__ = 'Odd\\x1b[31m\\u202e'\n"
    )
    result = CliRunner().invoke(cli, ["info", "odd_app:odd", "--json"])
    assert result.exit_code == 0
    report = json.loads(result.stdout)
    assert report["object"] == "Odd\x1b[31m\u202e"
    assert "\x1b" not in result.stdout
    text = CliRunner().invoke(cli, ["info", "odd_app:odd"]).stdout
    assert "\x1b" not in text
    assert "\\x1b[31m\\u202e" in text


def test_mount_prefixes_that_are_not_str(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A bytes key beside str ones: the dispatcher never matches it, wsgiscope
    # shows it as its repr, after the others, instead of failing to sort them.
    monkeypatch.chdir(tmp_path)
    (tmp_path / "bytes_mounts.py").write_text(
        "from werkzeug.middleware.dispatcher import DispatcherMiddleware\n"
        "def plain(environ, start_response):\n"
        "    start_response('200 OK', [])\n"
        "    return [b'']\n"
        "app = DispatcherMiddleware(plain, {'/a': plain, b'/b': plain})\n"
    )
    report = info_json("bytes_mounts:app")
    assert [m["prefix"] for m in report["mounts"]] == ["", "/a", "b'/b'"]
    for command in (["routes"], ["routes", "--json"], ["match"]):
        args = [*command, "bytes_mounts:app", *(["/a/x"] if command == ["match"] else [])]
        result = CliRunner().invoke(cli, args)
        assert result.exit_code == 0, result.output
    assert "b'/b'" in CliRunner().invoke(cli, ["routes", "bytes_mounts:app"]).stdout
