"""Loading the app the way the user already does (issue #16).

``wsgiscope --app X routes`` as ``flask --app X routes``; ``FLASK_APP`` from
``.flaskenv``/``.env``/``--env-file`` read as flask reads them; Flask's
``find_best_app``; PasteDeploy ``.ini`` files as ``pserve`` loads them; a
file path puts only its package root on ``sys.path``. Environment files are
read into the process's environment, so these tests run the installed entry
point in a fresh process (the shell's view) rather than CliRunner.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import typing as t
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent

PLAIN = """
def application(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"%s"]
"""

FLASK_API = """
from flask import Flask

api = Flask("%s")


@api.route("/posts")
def posts():
    return "posts"
"""


def write(root: Path, files: dict[str, str]) -> Path:
    for relative, source in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(source))
    return root


def run(*args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """The installed ``wsgiscope`` script (else ``python -m wsgiscope``) in ``cwd``."""
    script = Path(sys.executable).parent / "wsgiscope"
    command = [str(script)] if script.exists() else [sys.executable, "-m", "wsgiscope"]
    environment = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("WSGISCOPE_", "FLASK_")) or k == "WSGISCOPE_CHECK_SCHEMAS"
    }
    environment.update(PYTHONPATH=str(ROOT), **env)
    return subprocess.run(
        [*command, *args], capture_output=True, text=True, cwd=cwd, env=environment, timeout=60
    )


def info(*args: str, cwd: Path, **env: str) -> dict[str, t.Any]:
    result = (
        run(*args, "info", "--json", cwd=cwd, **env)
        if args[:1] == ("--app",)
        else run("info", *args, "--json", cwd=cwd, **env)
    )
    assert result.returncode == 0, result.stderr
    return t.cast("dict[str, t.Any]", json.loads(result.stdout))


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write(
        tmp_path_factory.mktemp("habits"),
        {
            "one.py": PLAIN % "one",
            "two.py": PLAIN % "two",
            "three.py": PLAIN % "three",
            "pyproject.toml": '[tool.wsgiscope]\napp = "three"\n',
            "app.py": PLAIN % "discovered",
        },
    )


# -- --app on the group, and the precedence of every source ----------------------


@pytest.mark.slow
def test_app_on_the_group_as_flask_22_orders_it(project: Path) -> None:
    result = run("--app", "one", "trace", "/", cwd=project, NO_COLOR="1")
    assert result.returncode == 0, result.stderr
    assert "one" in result.stdout.splitlines()[-1]
    assert info("--app", "one", cwd=project)["source"] == "--app"
    # a command's own --app, then its APP argument, win over the group's
    assert run("--app", "one", "info", "--app", "two", "--json", cwd=project).stdout.count(
        '"module": "two"'
    )
    assert info("three", "--app", "two", cwd=project)["module"] == "three"


@pytest.mark.slow
def test_precedence_argument_app_wsgiscope_app_flask_app_pyproject_discovery(
    project: Path,
) -> None:
    env = {"WSGISCOPE_APP": "two", "FLASK_APP": "one"}
    assert info("--app", "one", cwd=project, **env)["module"] == "one"
    report = info(cwd=project, **env)
    assert (report["module"], report["source"]) == ("two", "WSGISCOPE_APP")
    report = info(cwd=project, FLASK_APP="one")
    assert (report["module"], report["source"]) == ("one", "FLASK_APP")
    report = info(cwd=project)
    assert report["module"] == "three"
    assert report["source"].startswith("pyproject")
    (project / "pyproject.toml").rename(project / "pyproject.off")
    try:
        assert info(cwd=project)["source"] == "discovery"
    finally:
        (project / "pyproject.off").rename(project / "pyproject.toml")


# -- .flaskenv, .env, --env-file ---------------------------------------------------


@pytest.mark.slow
def test_flaskenv_names_the_app_as_for_flask(tmp_path: Path) -> None:
    pytest.importorskip("dotenv")
    pytest.importorskip("flask")
    write(
        tmp_path,
        {
            "microblog.py": FLASK_API % "microblog",
            ".flaskenv": "FLASK_APP=microblog.py\nGREETING=flaskenv\n",
            "sub/.keep": "",
        },
    )
    result = run("routes", cwd=tmp_path, NO_COLOR="1")
    assert result.returncode == 0, result.stderr
    assert "/posts" in result.stdout
    report = info(cwd=tmp_path)
    assert report["source"] == "FLASK_APP (from .flaskenv)"
    assert (report["attribute"], report["framework"]) == ("api", "flask")
    # found from a subdirectory too (searched upwards, as python-dotenv does);
    # FLASK_APP stays relative to the current directory, as for flask
    result = run("routes", cwd=tmp_path / "sub")
    assert "came from FLASK_APP (from ../.flaskenv)" in result.stderr
    # an error about it says where it came from
    (tmp_path / ".flaskenv").write_text("FLASK_APP=nowhere.py\n")
    result = run("routes", cwd=tmp_path)
    assert result.returncode == 2
    assert "came from FLASK_APP (from .flaskenv)" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.slow
def test_env_file_order_and_the_real_environment_wins(tmp_path: Path) -> None:
    pytest.importorskip("dotenv")
    write(
        tmp_path,
        {
            "envapp.py": """
                import os

                def application(environ, start_response):
                    start_response("200 OK", [("Content-Type", "text/plain")])
                    return [os.environ.get("WHO", "-").encode()]
            """,
            ".flaskenv": "FLASK_APP=envapp\nWHO=flaskenv\n",
            ".env": "WHO=dotenv\n",
            "prod.env": "WHO=prod\n",
        },
    )

    def who(*args: str, **env: str) -> str:
        result = run(*args, "trace", "/", "--json", cwd=tmp_path, **env)
        assert result.returncode == 0, result.stderr
        return t.cast(str, json.loads(result.stdout)["response"]["body_preview"])

    assert who() == "dotenv"  # .env over .flaskenv
    assert who("--env-file", "prod.env") == "prod"  # --env-file over both
    assert who("-e", "prod.env", WHO="shell") == "shell"  # never over the environment
    # FLASK_SKIP_DOTENV: the default files are not read (so no app either)
    result = run("trace", "/", cwd=tmp_path, FLASK_SKIP_DOTENV="1")
    assert result.returncode == 2
    assert "no app given" in result.stderr
    missing = run("--env-file", "nope.env", "routes", cwd=tmp_path)
    assert missing.returncode == 2
    assert missing.stderr.startswith("wsgiscope: error: ")
    assert "nope.env" in missing.stderr


# -- Flask's find_best_app ----------------------------------------------------------

FIND = {
    "fb_api.py": FLASK_API % "fb_api",
    "fb_two.py": FLASK_API % "fb_two" + "\nadmin = Flask('admin')\n",
    "fb_factory.py": """
        from flask import Flask

        def create_app():
            app = Flask("made")
            app.add_url_rule("/made", "made", lambda: "made")
            return app
    """,
    "fb_make.py": """
        from flask import Flask

        def make_app():
            return Flask("made_by_make_app")
    """,
}


@pytest.mark.parametrize(
    ("module", "attribute", "app"),
    [
        ("fb_api", "api", "Flask app 'fb_api'"),
        ("fb_factory", "create_app()", "Flask app 'made'"),
        ("fb_make", "make_app()", "Flask app 'made_by_make_app'"),
    ],
)
def test_find_best_app(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, module: str, attribute: str, app: str
) -> None:
    pytest.importorskip("flask")
    from click.testing import CliRunner

    from wsgiscope.cli import cli

    write(tmp_path, FIND)
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["info", module, "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert (report["attribute"], report["app"]) == (attribute, app)


def test_several_flask_apps_are_named_not_guessed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("flask")
    from click.testing import CliRunner

    from wsgiscope.cli import cli

    write(tmp_path, FIND)
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["routes", "fb_two"])
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        "wsgiscope: error: module 'fb_two' holds several Flask apps: api, admin",
        "hint: name one, e.g. 'fb_two:api' (as flask asks too)",
    ]


# -- PasteDeploy .ini ----------------------------------------------------------------

PASTE = {
    "shop.py": """
        import logging

        from pyramid.config import Configurator
        from pyramid.response import Response

        log = logging.getLogger("shop")


        def home(request):
            return Response("home " + request.registry.settings["shop.greeting"])


        def main(global_config, **settings):
            log.info("building the shop from %s", global_config["__file__"])
            with Configurator(settings=settings) as config:
                config.add_route("home", "/")
                config.add_route("item", "/items/{id}")
                config.add_view(home, route_name="home")
                config.add_view(home, route_name="item")
                return config.make_wsgi_app()
    """,
    "development.ini": """
        [app:main]
        use = call:shop:main
        shop.greeting = hello

        [app:other]
        use = call:shop:main
        shop.greeting = other

        [loggers]
        keys = root, shop

        [handlers]
        keys = console

        [formatters]
        keys = generic

        [logger_root]
        level = WARN
        handlers = console

        [logger_shop]
        level = INFO
        handlers =
        qualname = shop

        [handler_console]
        class = StreamHandler
        args = (sys.stderr,)
        level = NOTSET
        formatter = generic

        [formatter_generic]
        format = INI-LOG %(levelname)s [%(name)s] %(message)s
    """,
}


@pytest.mark.slow
def test_pastedeploy_ini_loads_as_pserve_does(tmp_path: Path) -> None:
    pytest.importorskip("pyramid")
    pytest.importorskip("paste.deploy")
    write(tmp_path, PASTE)
    result = run("routes", "development.ini", "--json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert [r["rule"] for r in json.loads(result.stdout)["routes"]] == ["/", "/items/{id}"]
    # logging comes from the file's [loggers] sections (to stderr)
    assert f"INI-LOG INFO [shop] building the shop from {tmp_path / 'development.ini'}" in (
        result.stderr
    )
    # settings come from the named app's section
    result = run("trace", "development.ini#other", "/items/3", "--json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["response"]["body_preview"] == "home other"
    report = info("development.ini#main", cwd=tmp_path)
    assert (report["file"], report["attribute"]) == (str(tmp_path / "development.ini"), "main")
    assert [p["name"] for p in report["frameworks"]] == ["pyramid"]


@pytest.mark.parametrize(
    ("app", "message"),
    [
        (
            "development.ini#nope",
            "development.ini has no app named 'nope' (apps there: main, other)",
        ),
        ("missing.ini", "PasteDeploy file not found: missing.ini (looked in {root})"),
        ("notpaste.ini", "notpaste.ini has no app named 'main' (apps there: none)"),
        ("broken.ini", "cannot read {root}/broken.ini as a PasteDeploy file:"),
    ],
)
def test_pastedeploy_errors_are_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, app: str, message: str
) -> None:
    from click.testing import CliRunner

    from wsgiscope.cli import cli

    write(tmp_path, {**PASTE, "notpaste.ini": "[tool]\nx = 1\n", "broken.ini": "no section\n"})
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["routes", app])
    assert result.exit_code == 2
    first = result.stderr.splitlines()[0]
    assert first.startswith("wsgiscope: error: " + message.format(root=tmp_path))
    assert len(result.stderr.splitlines()) <= 2


# -- sys.path as flask and gunicorn put it ------------------------------------------


@pytest.mark.slow
def test_a_file_path_does_not_put_the_current_directory_first(tmp_path: Path) -> None:
    """In a clone of a framework's repository, its source tree must not shadow
    the installed framework: only the file's package root goes on sys.path."""
    pytest.importorskip("bottle")
    write(
        tmp_path,
        {
            # the framework's own (here: broken) source tree at the top of the clone
            "bottle.py": "raise ImportError('the source tree was imported')\n",
            "examples/hello.py": """
                import bottle

                app = bottle.Bottle()

                @app.route("/hello")
                def hello():
                    return "hi"
            """,
        },
    )
    report = info("examples/hello.py", cwd=tmp_path)
    (bottle,) = report["frameworks"]
    assert bottle["name"] == "bottle"
    assert bottle["version"]
    # the installed bottle (not the clone's bottle.py, which would have raised)
    assert not bottle["file"].startswith(str(tmp_path))
    # the module form keeps the current directory first, as flask and gunicorn
    result = run("info", "--app", "examples.hello", cwd=tmp_path)
    assert result.returncode == 2
    assert "the source tree was imported" in result.stderr


def test_info_says_which_file_each_framework_came_from(apps_dir: Path) -> None:
    pytest.importorskip("flask")
    import flask
    import werkzeug
    from click.testing import CliRunner

    from wsgiscope.cli import cli

    result = CliRunner().invoke(cli, ["info", "wsgiscope.demo", "--json"])
    assert result.exit_code == 0, result.output
    found = {p["name"]: p["file"] for p in json.loads(result.stdout)["frameworks"]}
    assert found == {"werkzeug": werkzeug.__file__, "flask": flask.__file__}
    text = CliRunner().invoke(cli, ["info", "wsgiscope.demo", "--width", "200"]).stdout
    lines = text.splitlines()
    assert any(line.split()[:1] == ["flask"] and flask.__file__ in line for line in lines)


@pytest.mark.slow
def test_serve_a_pastedeploy_file(tmp_path: Path) -> None:
    pytest.importorskip("pyramid")
    pytest.importorskip("paste.deploy")
    import httpx
    from serve_fixtures import ServeRun

    write(tmp_path, PASTE)
    with ServeRun(tmp_path, app=f"{tmp_path / 'development.ini'}#other") as run:
        base = run.wait_ready(60)
        assert httpx.get(base + "items/7").text == "home other"
        assert run.stop() == 130
    assert "INI-LOG INFO [shop] building the shop" in run.stderr
    assert run.stdout.split()[2:5] == ["GET", "/items/7", "200"]


@pytest.mark.slow
def test_without_python_dotenv_a_tip_as_flask_prints_it(tmp_path: Path) -> None:
    write(tmp_path, {"app.py": PLAIN % "plain", ".flaskenv": "FLASK_APP=app.py\n"})
    program = "import sys; sys.modules['dotenv'] = None; from wsgiscope.cli import main; main()"

    def without_dotenv(*args: str) -> subprocess.CompletedProcess[str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("FLASK_", "WSGISCOPE_A"))}
        return subprocess.run(
            [sys.executable, "-c", program, *args], capture_output=True, text=True,
            cwd=tmp_path, env={**env, "PYTHONPATH": str(ROOT)}, timeout=60,
        )  # fmt: skip

    result = without_dotenv("info", "--json")
    assert result.returncode == 0, result.stderr  # discovery still finds app.py
    assert result.stderr == (
        "wsgiscope: tip: there are .env files present; install python-dotenv "
        "to use them (as flask does)\n"
    )
    result = without_dotenv("--env-file", ".flaskenv", "info")
    assert result.returncode == 2
    assert result.stderr.splitlines()[-2:] == [
        "wsgiscope: error: --env-file .flaskenv: python-dotenv is not installed",
        "hint: pip install python-dotenv (as for 'flask --env-file')",
    ]


def test_env_files_are_looked_for_as_python_dotenv_finds_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The check that decides whether python-dotenv is imported at all finds
    # what find_dotenv(usecwd=True) finds: a file or a FIFO, from the current
    # directory upwards, not a directory named like one (a venv in .env).
    dotenv = pytest.importorskip("dotenv")
    from wsgiscope.envfiles import _find_upwards

    deep = tmp_path / "a" / "b"
    deep.mkdir(parents=True)
    (tmp_path / "a" / ".env").mkdir()  # a virtualenv called .env
    os.mkfifo(tmp_path / ".env")
    (deep / ".flaskenv").write_text("X=1\n")
    for cwd in (tmp_path, tmp_path / "a", deep):
        monkeypatch.chdir(cwd)
        for name in (".env", ".flaskenv"):
            assert _find_upwards(name) == dotenv.find_dotenv(name, usecwd=True)
    monkeypatch.chdir(deep)
    assert _find_upwards(".env") == str(tmp_path / ".env")
    assert _find_upwards(".flaskenv") == str(deep / ".flaskenv")
    monkeypatch.chdir(tmp_path)
    assert _find_upwards(".flaskenv") == ""
