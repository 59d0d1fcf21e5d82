"""The loader: every import form, where APP comes from, every loading error."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from wsgiscope.errors import AppLoadError
from wsgiscope.loading import AppRef, load_app, parse_import_path, resolve_app_ref

pytestmark = pytest.mark.flask  # also run under the next Flask (.ci/run)

PLAIN = """
def application(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"hi"]
"""


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("WSGISCOPE_APP", raising=False)
    return tmp_path


def write(base: Path, relative: str, *sources: str) -> Path:
    path = base / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(textwrap.dedent(source) for source in sources))
    return path


def load(base: Path, import_path: str):  # type: ignore[no-untyped-def]
    return load_app(AppRef(import_path, "argument", base))


def load_error(base: Path, import_path: str) -> AppLoadError:
    with pytest.raises(AppLoadError) as info:
        load(base, import_path)
    assert "\n" not in info.value.message
    return info.value


# -- forms that load ---------------------------------------------------------


def test_module_colon_attr(project: Path) -> None:
    write(project, "plain_a.py", PLAIN)
    loaded = load(project, "plain_a:application")
    assert loaded.attr_path == "application"
    assert loaded.file == str(project / "plain_a.py")


def test_module_alone_discovers_application_then_app(project: Path) -> None:
    write(project, "both_b.py", PLAIN, "\napp = object()\n")
    assert load(project, "both_b").attr_path == "application"
    write(project, "only_app_c.py", PLAIN.replace("application", "app"))
    assert load(project, "only_app_c").attr_path == "app"


def test_module_alone_calls_create_app(project: Path) -> None:
    write(project, "factory_d.py", PLAIN, "\ndef create_app():\n    return application\n")
    write(
        project,
        "factory_e.py",
        PLAIN.replace("application", "_wsgi") + "\ndef make_app():\n    return _wsgi\n",
    )
    assert load(project, "factory_d").attr_path == "application"
    assert load(project, "factory_e").attr_path == "make_app()"


def test_factory_call_with_literal_arguments(project: Path) -> None:
    write(
        project,
        "factory_f.py",
        PLAIN,
        """
        SEEN = []
        def create_app(name, debug=False, extra=None):
            SEEN.append((name, debug, extra))
            return application
        """,
    )
    loaded = load(project, 'factory_f:create_app("x", debug=True, extra={"a": [1, 2.5]})')
    assert loaded.module.SEEN == [("x", True, {"a": [1, 2.5]})]
    assert loaded.attr_path == "create_app('x', debug=True, extra={'a': [1, 2.5]})"


def test_factory_without_parentheses_is_called(project: Path) -> None:
    write(project, "factory_g.py", PLAIN, "\ndef create_app():\n    return application\n")
    assert load(project, "factory_g:create_app").attr_path == "create_app()"


def test_dotted_attribute(project: Path) -> None:
    write(
        project,
        "holder_h.py",
        PLAIN,
        """
        class Holder:
            pass
        holder = Holder()
        holder.inner = Holder()
        holder.inner.app = application
        """,
    )
    assert load(project, "holder_h:holder.inner.app").app.__name__ == "application"


def test_package_module(project: Path) -> None:
    write(project, "pkg_i/__init__.py", "")
    write(project, "pkg_i/web/__init__.py", "")
    write(project, "pkg_i/web/wsgi.py", PLAIN)
    assert load(project, "pkg_i.web.wsgi:application").module.__name__ == "pkg_i.web.wsgi"


def test_file_path_with_and_without_attr(project: Path) -> None:
    write(project, "src_j/pkg_j/__init__.py", "")
    write(project, "src_j/pkg_j/server.py", PLAIN)
    loaded = load(project, "src_j/pkg_j/server.py")
    assert loaded.module.__name__ == "pkg_j.server"
    assert load(project, "src_j/pkg_j/server.py:application").attr_path == "application"
    assert load(project, "src_j/pkg_j/server").module.__name__ == "pkg_j.server"


def test_flask_app_object_and_factory(project: Path) -> None:
    pytest.importorskip("flask")
    write(
        project,
        "flask_k.py",
        """
        from flask import Flask
        def create_app(name="k"):
            return Flask(name)
        """,
    )
    loaded = load(project, 'flask_k:create_app("shop")')
    assert loaded.app.name == "shop"
    assert load(project, "flask_k").app.name == "k"


# -- where APP comes from ----------------------------------------------------


def test_resolution_order(project: Path) -> None:
    env = {"WSGISCOPE_APP": "env_app:app"}
    write(project, "pyproject.toml", '[tool.wsgiscope]\napp = "pp:app"\n')
    write(project, "wsgi.py", PLAIN)
    assert resolve_app_ref("arg:app", "opt:app", project, env).source == "argument"
    assert resolve_app_ref(None, "opt:app", project, env).source == "--app"
    assert resolve_app_ref(None, None, project, env).import_path == "env_app:app"
    ref = resolve_app_ref(None, None, project, {})
    assert (ref.import_path, ref.source) == ("pp:app", f"pyproject ({project / 'pyproject.toml'})")
    (project / "pyproject.toml").write_text("[tool.other]\n")
    assert resolve_app_ref(None, None, project, {}) == AppRef("wsgi", "discovery", project)


def test_pyproject_in_a_parent_directory(project: Path) -> None:
    write(project, "pyproject.toml", '[tool.wsgiscope]\napp = "pp:app"\n')
    sub = project / "a" / "b"
    sub.mkdir(parents=True)
    ref = resolve_app_ref(None, None, sub, {})
    assert ref.import_path == "pp:app"
    assert ref.base_dir == project


def test_discovery_prefers_wsgi_then_app_then_django(project: Path) -> None:
    write(project, "manage.py", "")
    write(project, "site_l/wsgi.py", PLAIN)
    assert resolve_app_ref(None, None, project, {}).import_path == "site_l.wsgi"
    write(project, "app.py", PLAIN)
    assert resolve_app_ref(None, None, project, {}).import_path == "app"
    write(project, "wsgi.py", PLAIN)
    assert resolve_app_ref(None, None, project, {}).import_path == "wsgi"


def test_nothing_to_discover(project: Path) -> None:
    with pytest.raises(AppLoadError) as info:
        resolve_app_ref(None, None, project, {})
    assert "no app given and none found" in info.value.message
    assert "WSGISCOPE_APP" in (info.value.hint or "")


def test_bad_pyproject_value(project: Path) -> None:
    write(project, "pyproject.toml", "[tool.wsgiscope]\napp = 3\n")
    with pytest.raises(AppLoadError, match="must be a non-empty string"):
        resolve_app_ref(None, None, project, {})


# -- every loading error is told apart ---------------------------------------


def test_module_not_found_says_name_and_directory(project: Path) -> None:
    error = load_error(project, "nope_m:app")
    assert error.message == f"module 'nope_m' not found (looked for 'nope_m' from {project})"


def test_module_importing_a_missing_module(project: Path) -> None:
    write(project, "imports_n.py", "import os\nimport not_installed_xyz\n")
    error = load_error(project, "imports_n:app")
    assert "it imports 'not_installed_xyz'" in error.message
    assert f"{project / 'imports_n.py'}:2" in error.message
    assert "not found (looked" not in error.message


def test_module_raising_while_importing(project: Path) -> None:
    write(project, "raises_o.py", "x = 1\nraise RuntimeError('no database')\n")
    error = load_error(project, "raises_o")
    assert error.message == (
        f"importing 'raises_o' raised RuntimeError: no database at {project / 'raises_o.py'}:2"
    )


def test_syntax_error(project: Path) -> None:
    write(project, "syntax_p.py", "def broken(:\n    pass\n")
    error = load_error(project, "syntax_p:app")
    assert error.message.startswith(f"syntax error in {project / 'syntax_p.py'}:1: ")
    assert error.hint == "def broken(:"


def test_missing_attribute_lists_wsgi_names(project: Path) -> None:
    write(
        project, "names_q.py", PLAIN, "\ndef create_app():\n    return application\nCONFIG = {}\n"
    )
    error = load_error(project, "names_q:aplication")
    assert error.message == "names_q has no attribute 'aplication' (did you mean 'application'?)"
    assert error.hint == "WSGI-looking names in 'names_q': application, create_app"


def test_module_without_any_app(project: Path) -> None:
    write(project, "empty_r.py", "VALUE = 1\n")
    error = load_error(project, "empty_r")
    assert "has no 'application', 'app', 'create_app' or 'make_app'" in error.message
    assert error.hint == "'empty_r' defines nothing that looks like a WSGI app"


def test_factory_raised(project: Path) -> None:
    write(project, "factory_s.py", "def create_app():\n    raise ValueError('bad config')\n")
    error = load_error(project, "factory_s:create_app()")
    assert error.message == (
        "factory factory_s:create_app() raised ValueError: bad config "
        f"at {project / 'factory_s.py'}:2"
    )


def test_factory_needs_arguments(project: Path) -> None:
    write(project, "factory_t.py", "def create_app(config_name, debug):\n    pass\n")
    error = load_error(project, "factory_t:create_app()")
    assert "cannot be called with these arguments: missing a required argument" in error.message
    assert error.hint == (
        "it needs config_name, debug: e.g. 'factory_t:create_app(config_name=..., debug=...)'"
    )


def test_factory_typeerror_inside_is_not_disguised(project: Path) -> None:
    write(project, "factory_u.py", "def create_app():\n    return len(3)\n")
    error = load_error(project, "factory_u:create_app()")
    assert error.message.startswith("factory factory_u:create_app() raised TypeError:")


@pytest.mark.parametrize(
    ("attr", "expected"),
    [
        ("CONFIG", "is a dict, not a WSGI application"),
        ("NUMBER", "is an int, not a WSGI application"),
        ("NOTHING", "is None, not a WSGI application"),
        ("three", "is the function three with signature (a, b, c), which cannot take"),
        ("Klass", "is the class Klass, not an instance of it"),
    ],
)
def test_not_a_wsgi_app(project: Path, attr: str, expected: str) -> None:
    write(
        project,
        "notwsgi_v.py",
        """
        CONFIG = {"debug": True}
        NUMBER = 3
        NOTHING = None
        def three(a, b, c):
            pass
        class Klass:
            def __call__(self, environ, start_response):
                pass
        """,
    )
    error = load_error(project, f"notwsgi_v:{attr}")
    assert expected in error.message


def test_file_path_that_does_not_exist(project: Path) -> None:
    error = load_error(project, "missing/dir/app.py")
    assert error.message == f"file not found: missing/dir/app.py (looked in {project}/missing/dir)"


@pytest.mark.parametrize(
    ("import_path", "expected"),
    [
        ("a:b:c", "malformed import path 'a:b:c': more than one ':'"),
        ("mod:fn(", "malformed import path 'mod:fn(': 'fn(' is not an attribute name or a call"),
        ("mod:fn(os.environ)", "the arguments of 'fn(os.environ)' must be literals"),
        ("mod:fn(*args)", "the arguments of 'fn(*args)' must be literals"),
        ("mod:", "malformed import path 'mod:': nothing after ':'"),
        ("my-mod:app", "'my-mod' is not a module name"),
        ("mod:a[0]", "'a[0]' is not an attribute name or a call"),
        ("", "the import path is empty"),
    ],
)
def test_malformed_import_strings(import_path: str, expected: str) -> None:
    with pytest.raises(AppLoadError) as info:
        parse_import_path(import_path)
    assert expected in info.value.message


def test_literal_arguments_are_never_evaluated(project: Path) -> None:
    write(project, "factory_w.py", PLAIN, "\ndef create_app(x):\n    return application\n")
    with pytest.raises(AppLoadError, match="must be literals"):
        load(project, "factory_w:create_app(__import__('os').system('false'))")


def test_missing_attribute_beside_context_proxies(project: Path) -> None:
    pytest.importorskip("flask")
    write(
        project,
        "proxies_x.py",
        "from flask import Flask, g, request, session\n",
        "application = Flask('x')\n",
    )
    error = load_error(project, "proxies_x:app")
    assert error.hint == "WSGI-looking names in 'proxies_x': application"
