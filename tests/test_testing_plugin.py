"""The pytest plugin and ``wsgiscope.testing``, run as users run them.

Suites written the way a project's own tests are written are run with
pytest's ``pytester`` in a subprocess (the plugin comes from the installed
``pytest11`` entry point, as in a user's project); their outcomes and
failure messages are asserted.
"""

from __future__ import annotations

import shutil
import sys
import textwrap
from pathlib import Path

import pytest

from wsgiscope.testing import assert_isolated, trace_request

pytestmark = pytest.mark.flask

APPS = Path(__file__).parent / "apps"
NOTES = APPS / "plugin_notes"


@pytest.fixture
def notes_app(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    monkeypatch.syspath_prepend(str(NOTES))
    from notes import create_app

    return create_app(str(tmp_path / "notes.sqlite"))


def test_trace_request_records_the_lifecycle(notes_app) -> None:
    result = trace_request(notes_app, "POST", "/login", {"name": "ada"})
    assert result.status_code == 303
    assert result.status == "303 SEE OTHER"
    assert result.hooks() == [
        ("before_request", "notes.load_user"),
        ("view", "notes.login"),
        ("after_request", "notes.no_store"),
        ("teardown_appcontext", "notes.close_db"),
    ]
    result.assert_order(["before_request", "view", "after_request", "teardown_appcontext"])
    result.assert_order(["view:login", "after_request:notes.no_store"])
    # Flask 3.2 pushes one merged context, 3.0/3.1 an app then a request context
    kind, context, app, depth = result.contexts()[0]
    assert (kind, app, depth) == ("push", "notes", 1)
    assert context in ("app", "app+request")
    assert result.contexts()[-1][:2] == ("pop", context)
    assert result.queries() == []  # the login touches no table


def test_trace_request_queries(notes_app) -> None:
    result = trace_request(notes_app, "GET", "/")
    statements = [query["statement"] for query in result.queries()]
    assert any(s.startswith("SELECT body FROM note") for s in statements), statements
    assert trace_request(notes_app, "GET", "/", capture=()).queries() == []


def test_trace_request_teardowns_show_the_exception(notes_app) -> None:
    result = trace_request(notes_app, "GET", "/boom")
    assert result.status_code == 500
    assert isinstance(result.error, RuntimeError)
    assert result.teardowns() == [
        ("teardown_appcontext", "notes.close_db", "RuntimeError: the database is on fire")
    ]


def test_trace_request_json_and_secrets(notes_app) -> None:
    result = trace_request(
        notes_app, "POST", "/notes", json={"body": "x"}, headers={"Authorization": "Bearer t0k"}
    )
    # the view reads request.form: a JSON body gives it no "body" field
    assert result.status_code == 400
    assert result.record["environ"]["HTTP_AUTHORIZATION"] == "[redacted]"
    assert result.record["environ"]["CONTENT_TYPE"] == "application/json"


def test_assert_order_failure_is_a_readable_diff(notes_app) -> None:
    result = trace_request(notes_app, "GET", "/")
    with pytest.raises(AssertionError) as failure:
        result.assert_order(["view", "before_request", "after_request"])
    message = str(failure.value)
    assert "hooks did not run in the expected order" in message
    assert "-view\n" in message or "+before_request" in message
    assert "all hooks: before_request:notes.load_user, view:notes.index" in message


def test_assert_isolated_passes_a_correct_app(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(APPS))
    summary = assert_isolated(
        "replay_user_g:app", ["GET /whoami?user=ada", "GET /whoami?user=bob"], threads=4, n=80
    )
    assert summary["requests"] == 80
    assert summary["isolation"]["leaks"] == summary["isolation"]["divergent"] == 0


def test_assert_isolated_shows_the_leaking_pair(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(APPS))
    from replay_user_global import app

    with pytest.raises(AssertionError) as failure:
        assert_isolated(app, ["GET /whoami?user=ada", "GET /whoami?user=bob"], threads=4, n=200)
    message = str(failure.value)
    assert message.startswith("requests are not isolated under threads=4")
    assert "isolation problems" in message
    assert "user=" in message  # the expected and got bodies, as replay prints them


@pytest.mark.slow
def test_assert_isolated_under_greenlets_in_worker_processes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(APPS)
    with pytest.raises(AssertionError, match="greenlets=20"):
        assert_isolated(
            "replay_user_global:app",
            ["GET /whoami?user=ada", "GET /whoami?user=bob"],
            greenlets=20,
            n=200,
        )


def test_assert_isolated_bad_input(notes_app) -> None:
    with pytest.raises(ValueError, match="at least one request"):
        assert_isolated(notes_app, [])
    with pytest.raises(ValueError, match="starts with '/'"):
        assert_isolated(notes_app, ["GET notes"])
    with pytest.raises(TypeError, match="import path"):
        assert_isolated(lambda environ, start_response: [], ["GET /"], greenlets=2)


# -- the plugin, in a project's own test suite -------------------------------

CONFTEST = """
import pytest
from notes import create_app

@pytest.fixture
def app(tmp_path):
    return create_app(str(tmp_path / "db.sqlite"))
"""


@pytest.fixture
def project(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    shutil.copytree(NOTES / "notes", pytester.path / "notes")
    pytester.makeconftest(CONFTEST)
    monkeypatch.setenv("PYTHONPATH", str(pytester.path))
    return pytester


def test_plugin_fixtures_in_a_passing_suite(project: pytest.Pytester) -> None:
    project.makepyfile(
        test_notes="""
        def test_login_lifecycle(app, wsgiscope_trace):
            result = wsgiscope_trace(app, "POST", "/login", {"name": "ada"})
            assert result.status_code == 303
            result.assert_order(["before_request", "view", "after_request"])
            assert [kind for kind, *_ in result.teardowns()] == ["teardown_appcontext"]

        def test_index_isolated(app, wsgiscope_isolated):
            wsgiscope_isolated(app, ["GET /", "GET /?page=2"], threads=4, n=40)
        """
    )
    result = project.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)


def test_plugin_assert_order_failure_message(project: pytest.Pytester) -> None:
    project.makepyfile(
        test_order="""
        def test_order(app, wsgiscope_trace):
            wsgiscope_trace(app, "GET", "/").assert_order(["after_request", "view"])
        """
    )
    result = project.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        ["*hooks did not run in the expected order*", "*+view", "* after_request", "*-view"]
    )


LEAKY_SUITE = """
import pytest

@pytest.fixture
def pushed(app):
    ctx = app.app_context()
    ctx.push()  # never popped: the classic leaking fixture
    from flask import g
    g.user = "ada"
    yield app

@pytest.fixture
def well_behaved(app):
    with app.test_request_context("/"):
        yield app

def test_uses_leaky_fixture(pushed):
    assert pushed.name == "notes"

def test_uses_good_fixture(well_behaved):
    assert well_behaved.name == "notes"

def test_leaks_a_request_context(app):
    app.test_request_context("/notes", method="POST").push()

@pytest.mark.wsgiscope_leaks
def test_marked(pushed):
    pass
"""


def test_plugin_leak_option_names_where_contexts_were_pushed(project: pytest.Pytester) -> None:
    project.makepyfile(test_leaky=LEAKY_SUITE)
    result = project.runpytest_subprocess("-p", "no:cacheprovider", "--wsgiscope-leaks")
    result.assert_outcomes(passed=4, errors=3)
    result.stdout.fnmatch_lines(
        [
            "*test_uses_leaky_fixture left 1 Flask context pushed (popped now):",
            "*app context of app 'notes', g still holding: user, "
            "pushed at *test_leaky.py:6 in pushed",
        ]
    )
    result.stdout.fnmatch_lines(
        [
            "*test_leaks_a_request_context left 1 Flask context pushed*",
            "*request context of app 'notes' (POST /notes)*pushed at *test_leaky.py:23 in "
            "test_leaks_a_request_context",
        ]
    )
    assert "test_uses_good_fixture left" not in result.stdout.str()


def test_plugin_is_inactive_until_asked(project: pytest.Pytester) -> None:
    project.makepyfile(test_leaky=LEAKY_SUITE)
    result = project.runpytest_subprocess("-p", "no:cacheprovider")
    # only the marked test is checked without the option
    result.assert_outcomes(passed=4, errors=1)
    result.stdout.fnmatch_lines(["*test_marked left 1 Flask context pushed*"])


# -- framework CLIs ------------------------------------------------------------


def _run(args: list[str], cwd: Path) -> tuple[int, str, str]:
    import subprocess

    env = {k: v for k, v in __import__("os").environ.items() if not k.startswith("FLASK_")}
    env.pop("WSGISCOPE_APP", None)
    env["NO_COLOR"] = "1"
    done = subprocess.run(args, cwd=cwd, capture_output=True, text=True, env=env, timeout=60)
    return done.returncode, done.stdout, done.stderr


def _flask() -> str:
    return str(Path(sys.executable).with_name("flask"))


@pytest.mark.slow
def test_flask_scope_loads_what_flask_run_loads() -> None:
    code, out, err = _run([_flask(), "scope", "routes", "--json"], NOTES)
    assert code == 0, err
    assert "notes.index" in out
    assert "/login" in out
    code, out, err = _run([_flask(), "scope", "trace", "GET", "/", "--json"], NOTES)
    assert code == 0, err
    # NOTES_GREETING comes from .flaskenv, read by Flask's CLI
    assert "hello from .flaskenv" in out
    code, out, err = _run([_flask(), "scope", "trace", "GET", "/boom"], NOTES)
    assert code == 1
    assert "RuntimeError" in out + err
    code, out, _ = _run(
        [_flask(), "--app", "notes:create_app", "scope", "url", "notes.index"], NOTES
    )
    assert (code, out.strip()) == (0, "/")


@pytest.mark.slow
def test_flask_scope_replay_in_worker_processes() -> None:
    code, out, err = _run(
        [_flask(), "scope", "replay", "--greenlets", "4", "-n", "20", "--json"], NOTES
    )
    assert code == 0, err
    assert '"requests": 20' in out


@pytest.mark.slow
def test_flask_scope_bad_app_is_one_line() -> None:
    code, _out, err = _run([_flask(), "--app", "nosuch", "scope", "routes"], NOTES)
    assert code == 2
    assert "Traceback" not in err
    assert err.splitlines()[0] == "wsgiscope: error: Could not import 'nosuch'."


DJANGO_SITE = APPS / "plugin_django_site"


@pytest.mark.slow
def test_manage_py_wsgiscope() -> None:
    manage = [sys.executable, "manage.py"]
    code, out, err = _run([*manage, "help"], DJANGO_SITE)
    assert code == 0
    assert "wsgiscope" in out
    code, out, err = _run([*manage, "wsgiscope", "routes", "--json"], DJANGO_SITE)
    assert code == 0, err
    assert "posts:detail" in out
    assert "/posts/<int:pk>/" in out
    code, out, err = _run([*manage, "wsgiscope", "trace", "GET", "/posts/2/"], DJANGO_SITE)
    assert code == 0, err
    assert "Second post" in out
    assert "view posts:detail" in out
    code, out, err = _run([*manage, "wsgiscope", "info"], DJANGO_SITE)
    assert code == 0, err
    assert "blogsite.wsgi:application" in out
    code, out, err = _run([*manage, "wsgiscope", "routes", "--bogus"], DJANGO_SITE)
    assert code == 2
    assert err.splitlines()[0] == "wsgiscope: error: No such option '--bogus'."
    assert "manage.py wsgiscope routes --help" in err


@pytest.mark.slow
def test_manage_py_wsgiscope_bad_wsgi_application(tmp_path: Path) -> None:
    site = tmp_path / "site"
    shutil.copytree(DJANGO_SITE, site)
    settings = site / "blogsite" / "settings.py"
    settings.write_text(
        settings.read_text().replace('"blogsite.wsgi.application"', '"blogsite.wsgi.nothing"')
    )
    code, _, err = _run([sys.executable, "manage.py", "wsgiscope", "routes"], site)
    assert code == 2
    assert "Traceback" not in err
    assert err.startswith("wsgiscope: error: cannot load WSGI_APPLICATION blogsite.wsgi.nothing")


@pytest.mark.slow
def test_call_command() -> None:
    script = textwrap.dedent(
        """
        import os, django
        os.environ["DJANGO_SETTINGS_MODULE"] = "blogsite.settings"
        django.setup()
        from django.core.management import CommandError, call_command
        call_command("wsgiscope", "url", "posts:detail", "pk=2")
        try:
            call_command("wsgiscope", "url", "posts:nothing")
        except CommandError as exc:
            print("error:", exc)
        """
    )
    code, out, err = _run([sys.executable, "-c", script], DJANGO_SITE)
    assert code == 0, err
    assert out.splitlines() == ["/posts/2/", "error: wsgiscope exited with status 2"]
    assert "posts:nothing" in err


@pytest.mark.slow
def test_docs_examples_run(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every titled block of docs/testing.md, run as a project's test suite."""
    import re

    text = (Path(__file__).parent.parent / "docs" / "testing.md").read_text()
    blocks = re.findall(r'```python title="([^"]+)"\n(.*?)```', text, re.S)
    assert [name for name, _ in blocks] == [
        "conftest.py",
        "test_lifecycle.py",
        "test_isolation.py",
        "test_leaks.py",
    ]
    shutil.copytree(NOTES / "notes", pytester.path / "notes")
    for name, code in blocks:
        (pytester.path / name).write_text(code)
    monkeypatch.setenv("PYTHONPATH", str(pytester.path))
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=5)
