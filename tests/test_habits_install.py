"""Installing wsgiscope into a project's environment moves none of its pins.

The built wheel is installed, with pip and PyPI (or the pip cache), into two
fresh virtual environments that hold a project already: a Pyramid 2.1 project
(``pyramid==2.1 setuptools<81``: Pyramid imports ``pkg_resources``, which
setuptools 81+ no longer ships) and a project pinned to ``rich==13.7.0``.
Afterwards ``pip check`` is clean, every package the project had keeps its
version, and the installed ``wsgiscope`` script reads a small Pyramid app's
routes.
"""

from __future__ import annotations

import concurrent.futures
import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent

PYRAMID_APP = """
from pyramid.config import Configurator
from pyramid.response import Response


def home(request):
    return Response("home")


with Configurator() as config:
    config.add_route("home", "/")
    config.add_route("item", "/items/{id}")
    config.add_view(home, route_name="home")
    config.add_view(home, route_name="item")
    app = config.make_wsgi_app()
"""

PLAIN_APP = """
def application(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"plain"]
"""


def sh(*args: str | Path, cwd: Path | None = None, timeout: float = 240) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "WSGISCOPE_"))}
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    result = subprocess.run(
        [str(a) for a in args], capture_output=True, text=True, cwd=cwd, env=env, timeout=timeout
    )
    assert result.returncode == 0, f"{' '.join(map(str, args))}\n{result.stdout}\n{result.stderr}"
    return result.stdout


def pip(python: Path, *args: str | Path) -> str:
    """This interpreter's pip acting on ``python``'s environment (no pip of its own:
    the venvs are made ``--without-pip``, which saves seconds per venv)."""
    return sh(sys.executable, "-m", "pip", "--python", python, *args)


def freeze(python: Path) -> dict[str, str]:
    listed = json.loads(pip(python, "list", "--format", "json"))
    return {p["name"].lower(): p["version"] for p in listed}


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel of this checkout, built from a copy (the tree stays untouched)."""
    source = tmp_path_factory.mktemp("source")
    for name in ("setup.cfg", "pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    shutil.copytree(
        ROOT / "wsgiscope", source / "wsgiscope", ignore=shutil.ignore_patterns("__pycache__")
    )
    out = tmp_path_factory.mktemp("wheel")
    sh(sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
       "-w", out, source)  # fmt: skip
    (built,) = out.glob("wsgiscope-*.whl")
    return built


def project_env(where: Path, pins: list[str], wheel: Path, app: str) -> tuple[dict, dict, str]:
    """A venv with ``pins`` installed, then the wheel; (before, after, routes --json)."""
    sh(sys.executable, "-m", "venv", "--without-pip", where / "venv")
    python = where / "venv" / "bin" / "python"
    pip(python, "install", "-q", "--no-compile", *pins)
    before = freeze(python)
    pip(python, "install", "-q", "--no-compile", wheel)
    after = freeze(python)
    pip(python, "check")
    (where / "app.py").write_text(textwrap.dedent(app))
    routes = sh(where / "venv" / "bin" / "wsgiscope", "routes", "app.py", "--json", cwd=where)
    return before, after, routes


@pytest.mark.slow
@pytest.mark.timeout(400)
def test_installing_into_a_project_moves_none_of_its_pins(wheel: Path, tmp_path: Path) -> None:
    projects = {
        "pyramid": (["pyramid==2.1", "setuptools<81"], PYRAMID_APP),
        "rich": (["rich==13.7.0"], PLAIN_APP),
    }
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        futures = {
            name: pool.submit(project_env, tmp_path / name, pins, wheel, app)
            for name, (pins, app) in projects.items()
        }
        results = {name: future.result() for name, future in futures.items()}

    for name, (before, after, _) in results.items():
        # nothing the project had was upgraded, downgraded or removed
        moved = {p: (v, after.get(p)) for p, v in before.items() if after.get(p) != v}
        assert moved == {}, f"{name}: {moved}"
        assert "wsgiscope" in after
        # no build tooling dragged along at run time
        assert "pbr" not in after
        assert "hdrhistogram" not in after

    before, after, routes = results["pyramid"]
    assert before["pyramid"] == after["pyramid"] == "2.1"
    assert int(after["setuptools"].split(".")[0]) < 81
    document = json.loads(routes)
    assert document["format"] == "wsgiscope.routes/1"
    assert [(r["rule"], r["framework"]) for r in document["routes"]] == [
        ("/", "pyramid"),
        ("/items/{id}", "pyramid"),
    ]

    before, after, routes = results["rich"]
    assert after["rich"] == "13.7.0"
    assert [r["path"] for r in json.loads(routes)["routes"]] == ["/*"]


def test_records_are_encoded_without_orjson(tmp_path: Path) -> None:
    """Where orjson has no wheel it is not installed: records take the json path."""
    program = textwrap.dedent(
        """
        import json, sys
        sys.modules["orjson"] = None  # as if not installed
        from wsgiscope.tracing.sinks import encode_record
        line = encode_record({"format": "wsgiscope.trace/1", "text": "caf\\u00e9", "n": 1})
        assert line.endswith(b"\\n") and line.isascii(), line
        print(json.loads(line)["text"])
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", program],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == "caf\u00e9\n"
