"""Loading through the command line: every import form, every loading error.

Each error is checked as a user meets it: through click (``CliRunner``) and
through the real entry point in a fresh process (the installed ``wsgiscope``
script when there is one, else ``python -m wsgiscope``): exit code 2, nothing
on stdout, one ``wsgiscope: error:`` line plus at most a hint, no traceback.
"""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
import textwrap
import typing as t
from pathlib import Path

import pytest
from click.testing import CliRunner

from wsgiscope.cli import cli

pytestmark = pytest.mark.flask  # also run under the next Flask (.ci/run)

ROOT = Path(__file__).parent.parent

PLAIN = """
def application(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"hi"]
"""

#: relative path -> source of the project every test here loads from.
FILES = {
    "cl_plain.py": PLAIN
    + "\nCONFIG = {}\nclass Klass:\n    pass\ndef three(a, b, c):\n    pass\n"
    + "def build():\n    return application\n",
    "cl_factory.py": PLAIN
    + "\nSEEN = []\ndef create_app(name, debug=False):\n"
    + "    SEEN.append((name, debug))\n    return application\n",
    "cl_make.py": PLAIN.replace("application", "_wsgi") + "\ndef make_app():\n    return _wsgi\n",
    "cl_holder.py": PLAIN.replace("def application", "def wsgi")
    + "\nclass Holder:\n    pass\nsite = Holder()\nsite.app = wsgi\n",
    "cl_strapp.py": "application = 'not an app'\n",
    "cl_lazy.py": "def __getattr__(name):\n    raise RuntimeError('lazy ' + name)\n",
    "cl_pkg/__init__.py": "",
    "cl_pkg/web/__init__.py": "",
    "cl_pkg/web/wsgi.py": PLAIN,
    "cl_pkg/broken.py": "import cl_pkg.missing_sub\n",
    "src/cl_srcpkg/__init__.py": "",
    "src/cl_srcpkg/server.py": PLAIN,
    "cl_imports.py": "import os\nimport not_installed_xyz\n",
    "cl_raises.py": "x = 1\nraise RuntimeError('no database')\n",
    "cl_exits.py": "import sys\nsys.exit(3)\n",
    "cl_syntax.py": "def broken(:\n    pass\n",
    "cl_badstr.py": "class Odd(Exception):\n    def __str__(self):\n"
    + "        raise ValueError('no str')\nraise Odd()\n",
    "cl_ctrl_c.py": "import os, signal\nos.kill(os.getpid(), signal.SIGINT)\n",
    "cl_imports_syntax.py": "import cl_syntax\n",
    "cl_fac_raises.py": "def create_app():\n    raise ValueError('bad config')\n",
    "cl_fac_exits.py": "import sys\ndef create_app():\n    sys.exit('no config')\n",
    "cl_printy.py": "print('loading cl_printy')\n"
    + PLAIN.replace('start_response("200', 'print("in a request")\n    start_response("200'),
    "notes.txt": "not python\n",
    "empty_dir/readme.md": "",
    "shadow/click.py": PLAIN,
    "types.py": PLAIN,
}


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("project")
    for relative, source in FILES.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(source))
    return root


@pytest.fixture
def project(tree: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tree)
    monkeypatch.delenv("WSGISCOPE_APP", raising=False)
    return tree


def invoke(*args: str, env: dict[str, str] | None = None) -> t.Any:
    return CliRunner().invoke(cli, list(args), env=env)


def entry_point(*args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """The installed console script if there is one, else ``python -m wsgiscope``."""
    script = Path(sys.executable).parent / "wsgiscope"
    command = [str(script)] if script.exists() else [sys.executable, "-m", "wsgiscope"]
    environment = {**os.environ, "PYTHONPATH": str(ROOT), **env}
    if "WSGISCOPE_APP" not in env:
        environment.pop("WSGISCOPE_APP", None)
    return subprocess.run(
        [*command, *args], capture_output=True, text=True, cwd=cwd, env=environment, timeout=60
    )


# -- every import form loads, through the CLI ---------------------------------


@pytest.mark.parametrize(
    ("import_path", "module", "attribute"),
    [
        ("cl_plain:application", "cl_plain", "application"),
        ("cl_plain", "cl_plain", "application"),
        ("cl_make", "cl_make", "make_app()"),
        ("cl_factory:create_app('shop')", "cl_factory", "create_app('shop')"),
        (
            'cl_factory:create_app("x", debug=True)',
            "cl_factory",
            "create_app('x', debug=True)",
        ),
        ("cl_holder:site.app", "cl_holder", "site.app"),
        ("cl_pkg.web.wsgi:application", "cl_pkg.web.wsgi", "application"),
        ("cl_pkg/web/wsgi.py", "cl_pkg.web.wsgi", "application"),
        ("src/cl_srcpkg/server.py", "cl_srcpkg.server", "application"),
        ("src/cl_srcpkg/server.py:application", "cl_srcpkg.server", "application"),
        ("./cl_plain.py", "cl_plain", "application"),
    ],
)
def test_every_import_form_loads(
    project: Path, import_path: str, module: str, attribute: str
) -> None:
    result = invoke("info", import_path, "--json")
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    assert (report["module"], report["attribute"]) == (module, attribute)
    assert (report["import_path"], report["source"]) == (import_path, "argument")
    assert report["framework"] == "wsgi"


def test_every_source_of_app(
    project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert json.loads(invoke("info", "--app", "cl_plain", "--json").stdout)["source"] == "--app"
    env = {"WSGISCOPE_APP": "cl_holder:site.app"}
    report = json.loads(invoke("info", "--json", env=env).stdout)
    assert (report["source"], report["attribute"]) == ("WSGISCOPE_APP", "site.app")
    # pyproject.toml in a parent directory: the import is resolved from there
    (tmp_path / "pyproject.toml").write_text('[tool.wsgiscope]\napp = "cl_pp:application"\n')
    (tmp_path / "cl_pp.py").write_text(PLAIN)
    (tmp_path / "sub" / "deeper").mkdir(parents=True)
    monkeypatch.chdir(tmp_path / "sub" / "deeper")
    report = json.loads(invoke("info", "--json").stdout)
    assert report["source"] == f"pyproject ({tmp_path / 'pyproject.toml'})"
    assert report["file"] == str(tmp_path / "cl_pp.py")
    # discovery: app.py in the current directory
    (tmp_path / "pyproject.toml").unlink()
    (tmp_path / "sub" / "deeper" / "app.py").write_text(PLAIN)
    report = json.loads(invoke("info", "--json").stdout)
    assert (report["source"], report["module"]) == ("discovery", "app")


@pytest.mark.parametrize(
    ("import_path", "framework"),
    [
        ("routes_werkzeug_map", "werkzeug"),
        ("info_structures:shop", "flask"),
        ("info_plain:application", "wsgi"),
        ("routes_mounts", "dispatcher"),
    ],
)
def test_info_names_the_framework(apps_dir: Path, import_path: str, framework: str) -> None:
    # bottle, falcon and pyramid: test_frameworks_adapters.py; django: test_frameworks_django.py
    pytest.importorskip("flask")
    result = invoke("info", import_path, "--json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["framework"] == framework


# -- every loading error: one line, a hint, exit 2 -----------------------------

#: (id, APP, the error line after "wsgiscope: error: ", the hint line or None).
#: ``{root}`` is the project directory.
ERRORS = [
    (
        "module-not-found",
        "cl_nope:app",
        "module 'cl_nope' not found (looked for 'cl_nope' from {root})",
        "run wsgiscope from the project directory, or pass a file path",
    ),
    (
        "module-not-found-beside-a-namesake",
        "cl_plian:application",
        "module 'cl_plian' not found (looked for 'cl_plian' from {root}; did you mean 'cl_plain'?)",
        "run wsgiscope from the project directory, or pass a file path",
    ),
    (
        "submodule-not-found",
        "cl_pkg.webs.wsgi",
        "module 'cl_pkg.webs.wsgi' not found (looked for 'cl_pkg.webs' from {root}; "
        "did you mean 'cl_pkg.web'?)",
        "run wsgiscope from the project directory, or pass a file path",
    ),
    (
        "imports-a-missing-module",
        "cl_imports",
        "importing 'cl_imports' failed at {root}/cl_imports.py:2: it imports "
        "'not_installed_xyz', which is not installed or not found",
        "install 'not_installed_xyz' or fix the import",
    ),
    (
        "imports-a-missing-submodule",
        "cl_pkg.broken",
        "importing 'cl_pkg.broken' failed at {root}/cl_pkg/broken.py:1: it imports "
        "'cl_pkg.missing_sub', which does not exist",
        "'cl_pkg' has no module 'missing_sub': fix the import",
    ),
    (
        "raises-while-importing",
        "cl_raises:application",
        "importing 'cl_raises' raised RuntimeError: no database at {root}/cl_raises.py:2",
        None,
    ),
    (
        "raises-an-exception-whose-str-raises",
        "cl_badstr",
        "importing 'cl_badstr' raised Odd: <str() of it raised ValueError> "
        "at {root}/cl_badstr.py:4",
        None,
    ),
    (
        "exits-while-importing",
        "cl_exits",
        "importing 'cl_exits' called sys.exit(3) at {root}/cl_exits.py:2",
        "importing the app must not exit: keep sys.exit() under if __name__ == '__main__':",
    ),
    (
        "syntax-error",
        "cl_syntax:app",
        "syntax error in {root}/cl_syntax.py:1: invalid syntax",
        "def broken(:",
    ),
    (
        "syntax-error-in-an-imported-module",
        "cl_imports_syntax",
        "syntax error in {root}/cl_syntax.py:1: invalid syntax",
        "def broken(:",
    ),
    (
        "missing-attribute",
        "cl_factory:aplication",
        "cl_factory has no attribute 'aplication' (did you mean 'application'?)",
        "WSGI-looking names in 'cl_factory': application, create_app",
    ),
    (
        "missing-dotted-attribute",
        "cl_holder:site.ap",
        "cl_holder:site has no attribute 'ap' (did you mean 'app'?)",
        None,
    ),
    (
        "getting-the-attribute-raised",
        "cl_lazy:app",
        "getting cl_lazy:app raised RuntimeError: lazy app at {root}/cl_lazy.py:2",
        None,
    ),
    (
        "no-app-name-in-the-module",
        "cl_holder",
        "module 'cl_holder' has no 'application', 'app', 'create_app' or 'make_app'",
        "WSGI-looking names in 'cl_holder': wsgi; name one, e.g. 'cl_holder:wsgi'",
    ),
    (
        "app-name-that-is-no-app",
        "cl_strapp",
        "cl_strapp:application is a str, not a WSGI application",
        "a WSGI app is a callable taking (environ, start_response)",
    ),
    (
        "factory-raised",
        "cl_fac_raises:create_app()",
        "factory cl_fac_raises:create_app() raised ValueError: bad config "
        "at {root}/cl_fac_raises.py:2",
        None,
    ),
    (
        "factory-exited",
        "cl_fac_exits",
        "factory cl_fac_exits:create_app() called sys.exit('no config') "
        "at {root}/cl_fac_exits.py:3",
        None,
    ),
    (
        "factory-needs-arguments",
        "cl_factory:create_app()",
        "factory cl_factory:create_app() cannot be called with these arguments: "
        "missing a required argument: 'name'",
        "it needs name: e.g. 'cl_factory:create_app(name=...)'",
    ),
    (
        "factory-named-without-the-arguments-it-needs",
        "cl_factory:create_app",
        "factory cl_factory:create_app() cannot be called with these arguments: "
        "missing a required argument: 'name'",
        "it needs name: e.g. 'cl_factory:create_app(name=...)'",
    ),
    (
        "factory-given-wrong-arguments",
        "cl_factory:create_app('x', colour=1)",
        "factory cl_factory:create_app('x', colour=1) cannot be called with these "
        "arguments: got an unexpected keyword argument 'colour'",
        "it needs name: e.g. 'cl_factory:create_app(name=...)'",
    ),
    (
        "not-callable",
        "cl_plain:CONFIG",
        "cl_plain:CONFIG is a dict, not a WSGI application",
        "a WSGI app is a callable taking (environ, start_response)",
    ),
    (
        "a-factory-not-called",
        "cl_plain:build",
        "cl_plain:build is the function build with signature (), which cannot "
        "take (environ, start_response)",
        "a WSGI app is a callable taking (environ, start_response); "
        "if build is a factory, call it: 'cl_plain:build()'",
    ),
    (
        "a-class",
        "cl_plain:Klass",
        "cl_plain:Klass is the class Klass, not an instance of it",
        "create the app in the module (app = Klass(...)) or name a factory",
    ),
    (
        "wrong-signature",
        "cl_plain:three",
        "cl_plain:three is the function three with signature (a, b, c), which cannot "
        "take (environ, start_response)",
        "a WSGI app is a callable taking (environ, start_response)",
    ),
    (
        "file-not-found",
        "missing/dir/app.py",
        "file not found: missing/dir/app.py (looked in {root}/missing/dir)",
        "check the path, or use a module name such as 'app:app'",
    ),
    (
        "a-directory",
        "empty_dir/",
        "empty_dir is a directory, not a .py file or a package",
        "name the file that holds the app, e.g. 'empty_dir/app.py'",
    ),
    (
        "not-a-python-file",
        "notes.txt",
        "notes.txt is a file but not a Python module: an APP file must end in .py",
        "use 'module:attr', 'module:factory()', 'module', 'path/to/file.py[:attr]' "
        "or 'package.module:obj.attr'",
    ),
    (
        "file-shadowed-by-an-imported-module",
        "shadow/click.py",
        "shadow/click.py cannot be imported as 'click': that name is already the "
        "module at " + __import__("click").__file__,
        "rename click.py (or its package) to a name of its own",
    ),
    (
        "module-shadowed-by-the-standard-library",
        "types",
        "'types' is Python's own 'types' module ("
        + __import__("types").__file__
        + "), not {root}/types.py",
        "rename types.py to a name Python does not use",
    ),
    (
        "two-colons",
        "a:b:c",
        "malformed import path 'a:b:c': more than one ':'",
        "use 'module:attr', 'module:factory()', 'module', 'path/to/file.py[:attr]' "
        "or 'package.module:obj.attr'",
    ),
    (
        "unclosed-call",
        "mod:fn(",
        "malformed import path 'mod:fn(': 'fn(' is not an attribute name or a call",
        "use 'module:attr', 'module:factory()', 'module', 'path/to/file.py[:attr]' "
        "or 'package.module:obj.attr'",
    ),
    (
        "non-literal-arguments",
        "cl_factory:create_app(__import__('os').getcwd())",
        "malformed import path \"cl_factory:create_app(__import__('os').getcwd())\": the "
        "arguments of \"create_app(__import__('os').getcwd())\" must be literals "
        "(strings, numbers, True/False/None, lists, dicts)",
        None,
    ),
]


def expected_lines(root: Path, message: str, hint: str | None) -> list[str]:
    lines = [f"wsgiscope: error: {message.format(root=root)}"]
    return [*lines, f"hint: {hint}"] if hint else lines


@pytest.mark.parametrize(
    ("import_path", "message", "hint"),
    [case[1:] for case in ERRORS],
    ids=[case[0] for case in ERRORS],
)
def test_loading_error_through_click(
    project: Path, import_path: str, message: str, hint: str | None
) -> None:
    result = invoke("info", import_path)
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.splitlines() == expected_lines(project, message, hint)
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_loading_errors_through_the_entry_point(tree: Path) -> None:
    for name, import_path, message, hint in ERRORS:
        result = entry_point("info", import_path, cwd=tree)
        assert result.returncode == 2, name
        assert result.stdout == "", name
        assert result.stderr.splitlines() == expected_lines(tree, message, hint), name


def test_error_says_where_an_app_not_typed_came_from(tree: Path, tmp_path: Path) -> None:
    result = entry_point("routes", cwd=tree, WSGISCOPE_APP="cl_nope")
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr.splitlines()[0] == (
        f"wsgiscope: error: module 'cl_nope' not found (looked for 'cl_nope' from {tree}); "
        "APP 'cl_nope' came from WSGISCOPE_APP"
    )
    (tmp_path / "pyproject.toml").write_text('[tool.wsgiscope]\napp = "cl_gone:app"\n')
    result = invoke_in(tmp_path, "info")
    assert result.stderr.splitlines()[0].endswith(
        f"; APP 'cl_gone:app' came from pyproject ({tmp_path / 'pyproject.toml'})"
    )
    (tmp_path / "pyproject.toml").unlink()
    (tmp_path / "wsgi.py").write_text("raise RuntimeError('boom')\n")
    result = invoke_in(tmp_path, "info")
    assert result.stderr.splitlines()[0] == (
        f"wsgiscope: error: importing 'wsgi' raised RuntimeError: boom at {tmp_path}/wsgi.py:1; "
        f"APP 'wsgi' was found by discovery in {tmp_path}"
    )


def invoke_in(directory: Path, *args: str) -> t.Any:
    previous = Path.cwd()
    os.chdir(directory)
    try:
        result = invoke(*args, env={"WSGISCOPE_APP": ""})
    finally:
        os.chdir(previous)
    assert (result.exit_code, result.stdout) == (2, "")
    return result


def test_ctrl_c_while_the_app_loads_exits_130(project: Path) -> None:
    # click would print "Aborted!" and exit 1 (DESIGN.md, known pitfalls)
    for command in (["info"], ["routes"], ["url", "cl_ctrl_c", "x"], ["match", "cl_ctrl_c", "/"]):
        arguments = command if len(command) > 1 else [*command, "cl_ctrl_c"]
        result = entry_point(*arguments, cwd=project)
        assert (result.returncode, result.stdout) == (130, ""), command
        assert result.stderr == "wsgiscope: interrupted\n", command
    result = invoke("info", "cl_ctrl_c")
    assert (result.exit_code, result.stderr) == (130, "wsgiscope: interrupted\n")


def test_a_long_list_of_names_is_cut(project: Path) -> None:
    result = invoke("info", "typing:nope")
    assert result.exit_code == 2
    hint = result.stderr.splitlines()[1]
    assert hint.startswith("hint: WSGI-looking names in 'typing': ")
    assert hint.endswith(" more")
    assert hint.count(",") == 7


# -- odd apps: what they print, what they raise, how they wrap -----------------


def test_what_the_app_prints_never_spoils_json(tree: Path) -> None:
    result = entry_point("info", "cl_printy", "--json", cwd=tree)
    assert json.loads(result.stdout)["module"] == "cl_printy"
    assert result.stderr == "loading cl_printy\n"
    result = entry_point("trace", "cl_printy", "/", "--json", cwd=tree)
    assert json.loads(result.stdout)["response"]["status"] == "200 OK"
    assert result.stderr == "loading cl_printy\nin a request\n"
    result = entry_point("lint", "cl_printy", "--json", cwd=tree)
    # The plain app sends its body on HEAD too: the one finding.
    assert [f["rule"] for f in json.loads(result.stdout)["findings"]] == ["WSGI303"]
    (tree / "cl_printy.txt").write_text("GET /\n")
    result = entry_point("replay", "cl_printy", "cl_printy.txt", "-n", "3", "--json", cwd=tree)
    assert json.loads(result.stdout)["requests"] == 3
    assert result.stderr.count("in a request\n") >= 3
    assert result.stderr.startswith("loading cl_printy\nin a request\n")


def test_objects_that_raise_or_loop(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "cl_odd.py").write_text(
        textwrap.dedent(
            """
            class Angry:
                def __getattr__(self, name):
                    raise RuntimeError("no attribute for you")
                def __call__(self, environ, start_response):
                    return [b""]
            angry = Angry()

            class Loop:
                def __call__(self, environ, start_response):
                    return [b""]
            first, second = Loop(), Loop()
            first.app, second.app = second, first
            """
        )
    )
    result = invoke("info", "cl_odd:angry", "--json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["chain"] == [
        {"object": "Angry", "type": "cl_odd.Angry", "via": None}
    ]
    result = invoke("info", "cl_odd:first", "--json")
    assert result.exit_code == 0, result.stderr
    chain = json.loads(result.stdout)["chain"]
    assert [(link["object"], link["via"]) for link in chain] == [("Loop", "app"), ("Loop", None)]


# -- the shell: help, start-up, colour -----------------------------------------


def test_help_summaries_are_whole_on_80_columns() -> None:
    result = invoke("--help", env={"COLUMNS": "80"})
    commands = result.stdout.split("Commands:\n", 1)[1].splitlines()
    from wsgiscope.cli import COMMANDS

    assert len(commands) == len(COMMANDS)
    assert [line for line in commands if line.endswith("...")] == []


def on_a_terminal(*args: str, **env: str) -> str:
    """Run the entry point with stdout on a pseudo-terminal; what it printed."""
    leader, follower = pty.openpty()
    environment = {**os.environ, "PYTHONPATH": str(ROOT), "TERM": "xterm-256color", **env}
    for name in ("NO_COLOR", "FORCE_COLOR"):
        if name not in env:
            environment.pop(name, None)
    process = subprocess.run(
        [sys.executable, "-m", "wsgiscope", *args],
        stdout=follower,
        stderr=subprocess.PIPE,
        cwd=ROOT,
        env=environment,
        timeout=60,
    )
    os.close(follower)
    chunks = []
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # EIO: the terminal is closed and drained
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(leader)
    assert process.returncode == 0, process.stderr
    return b"".join(chunks).decode()


def test_colour_on_a_terminal_unless_no_color() -> None:
    assert "\x1b[" in on_a_terminal("info", "wsgiscope.demo")
    plain = on_a_terminal("info", "wsgiscope.demo", NO_COLOR="1")
    assert "\x1b[" not in plain
    assert "Flask app 'shop'" in plain


def test_ci_runs_the_readme_test_command() -> None:
    readme = (ROOT / "README.md").read_text()
    quick_start = readme.split("## Quick start", 1)[1].split("```console\n", 1)[1]
    test_command = quick_start.splitlines()[1].removeprefix("$ ")
    assert "pytest" in test_command
    assert test_command in (ROOT / ".ci" / "run").read_text().splitlines()
