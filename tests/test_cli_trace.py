"""``wsgiscope trace`` end to end: real apps, the real CLI, exit codes, safety."""

from __future__ import annotations

import io
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from tracecli_fixtures import APPS, load
from tracing_fixtures import merged_flask

from wsgiscope.cli import cli
from wsgiscope.render.console import make_console
from wsgiscope.render.trace import RenderOptions, render_trace
from wsgiscope.request import RequestSpec, build_environ
from wsgiscope.tracing import run_traced

pytestmark = pytest.mark.flask  # also run under the next Flask (.ci/run)

ROOT = Path(__file__).parent.parent
MISC = str(APPS / "tracecli_misc.py")
#: Frames of wsgiscope's own modules in a rendered traceback.
OWN_FRAMES = re.compile(r"(?:lint|tracing|cli|render)/\w+\.py")
ECHO = str(APPS / "tracecli_echo.py")
UNSAFE = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\u2028\u2029]")


def trace(*args: str, env: dict[str, str] | None = None):
    return CliRunner().invoke(cli, ["trace", *args], env=env, catch_exceptions=False)


def lifecycle(text: str) -> list[str]:
    """The lifecycle lines, tree guides removed, times dropped."""
    lines = text[text.index("lifecycle") : text.index("\n├── environ")].splitlines()[1:]
    return [re.sub(r"  @[\d.]+ms$", "", re.sub(r"^[│├└─ ]+", "", line)) for line in lines]


# -- the demo ------------------------------------------------------------------------


def test_demo_catalog():
    result = trace("wsgiscope.demo", "/catalog/", "user==ada", "--width", "200")
    assert result.exit_code == 0, result.output
    assert result.stderr == ""
    head = result.stdout.splitlines()[0]
    assert re.fullmatch(
        r"GET /catalog/\?user=ada → 200 OK  [\d.]+ms  \d+ B  app wsgiscope\.demo"
        r"  pid \d+ MainThread( greenlet 0x[0-9a-f]+)?",
        head,
    )
    events = [
        line
        for line in lifecycle(result.stdout)
        if not line.startswith(("signal", "environ changed"))
    ]
    # Flask 3.2: one context per request; 3.0/3.1: an app and a request context.
    pushes = (
        ["▶ push context (app + request) shop"]
        if merged_flask()
        else ["▶ push app context shop", "▶ push request context shop"]
    )
    before = len(pushes) + 1
    assert events[: before + 1] == [
        'dispatch / (default) → shop  SCRIPT_NAME="" PATH_INFO=/catalog/',
        *pushes,
        "before_request wsgiscope.demo.create_shop.<locals>.load_user  "
        + events[before].split("load_user  ")[1],
    ]
    assert events[before + 1].startswith("view catalog.index → wsgiscope.demo.index  ")
    assert '"user": "Ada Lovelace"' in result.stdout
    assert "visits=[redacted]" in result.stdout


def test_demo_fail_exits_1_and_the_teardown_shows_the_exception():
    result = trace("wsgiscope.demo", "/fail", "--width", "120")
    assert result.exit_code == 1
    assert result.stderr == ""
    out = result.stdout
    assert "GET /fail → 500 INTERNAL SERVER ERROR" in out
    teardown = out.index("teardown_request wsgiscope.demo.create_shop.<locals>.close_db")
    assert out[teardown:].splitlines()[1].endswith("received RuntimeError: the database is on fire")
    # g when the teardown began (the view's db still there) and after it
    # (close_db removed it), each captured at that moment.
    assert "g at teardown start  user=None, db='connection'" in out
    assert "g after teardown  user=None  removed: db" in out
    assert (
        "the app raised RuntimeError: the database is on fire; the framework answered "
        "500 INTERNAL SERVER ERROR" in out
    )
    # The app's traceback, by rich, with the app's frame and code...
    assert "Traceback (most recent call last)" in out
    assert 'raise RuntimeError("the database is on fire")' in out
    # ...and wsgiscope's own frames without their code.
    assert "orig(self, *args, **kwargs)" not in out


def test_demo_internal_redirect_nests_a_request_context():
    result = trace("wsgiscope.demo", "GET", "/old/SKU-1001", "--width", "200", "-p", "ck")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    # Flask 3.2 pushes a whole new context (app + request) inside the view.
    context = "context (app + request)" if merged_flask() else "request context"
    pushes = [line for line in lines if f"push {context} shop" in line]
    assert len(pushes) == 2
    outer, inner = (line.index("▶") for line in pushes)
    assert inner == outer + 8  # under the old_product view, inside the outer context
    view = next(line for line in lines if "view old_product" in line)
    assert view.index("view") == outer + 4
    assert re.search(r"view old_product sku='?SKU-1001'? → ", view)
    inner_view = next(line for line in lines if "view catalog.product" in line)
    assert inner_view.index("view") == inner + 4
    pops = [line for line in lines if f"pop {context} shop" in line]
    assert [line.index("◀") for line in pops] == [inner + 4, outer + 4]


def test_demo_admin_mount():
    result = trace("wsgiscope.demo", "/admin/", "--width", "200")
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "dispatch /admin → admin  SCRIPT_NAME=/admin PATH_INFO=/" in out
    # ProxyFix's change is the app's; the linter's stream watchers are not.
    assert "environ changed  werkzeug.proxy_fix.orig  (-v for values)" in out
    pushed = "context (app + request)" if merged_flask() else "app context"
    assert f"▶ push {pushed} admin" in out
    assert "view dashboard → wsgiscope.demo.create_admin.<locals>.dashboard" in out
    assert '"app": "admin"' in out


def test_demo_json_record():
    result = trace("wsgiscope.demo", "/catalog/SKU-1002", "--json", "--color", "always")
    assert result.exit_code == 0
    assert "\x1b" not in result.stdout
    record = json.loads(result.stdout)
    assert record["format"] == "wsgiscope.trace/1"
    assert record["request"]["path"] == "/catalog/SKU-1002"
    assert record["response"]["status"] == "200 OK"
    kinds = [e["kind"] for e in record["events"]]
    assert kinds.index("push") < kinds.index("hook") < kinds.index("pop")


def test_404_is_not_a_failure():
    result = trace("wsgiscope.demo", "/catalog/SKU-9999", "--width", "200")
    assert result.exit_code == 0
    assert "→ 404 NOT FOUND" in result.stdout


# -- options ----------------------------------------------------------------------


def test_save_appends_json_lines(tmp_path: Path):
    target = tmp_path / "traces.jsonl"
    for path in ("/catalog/", "/fail"):
        trace("wsgiscope.demo", path, "--save", str(target), "-p", "hm")
    records = [json.loads(line) for line in target.read_text().splitlines()]
    assert [r["request"]["path"] for r in records] == ["/catalog/", "/fail"]
    assert records[1]["error"]["type"] == "RuntimeError"


def test_save_to_an_impossible_place(tmp_path: Path):
    result = trace("wsgiscope.demo", "/", "--save", str(tmp_path / "no" / "such.jsonl"))
    assert result.exit_code == 2
    assert result.stderr.startswith("wsgiscope: error: cannot append the record to ")


def test_endless_stream_stops_at_max_body():
    sys.modules.pop("tracecli_misc", None)
    result = trace(f"{MISC}:stream", "/", "--max-body", "1k", "--width", "200")
    assert result.exit_code == 0
    assert "1.0 KiB (truncated)" in result.stdout.splitlines()[0]
    assert (
        "truncated at 1.0 KiB (--max-body): reading stopped there and the iterable was closed"
        in result.stdout
    )
    assert "chunk 00000000" in result.stdout
    assert sys.modules["tracecli_misc"].CLOSED == [True]


@pytest.mark.parametrize(
    ("value", "message"),
    [("lots", "'lots' is not a size"), ("-1", "is not a size")],
)
def test_max_body_must_be_a_size(value, message):
    result = trace("wsgiscope.demo", "/", "--max-body", value)
    assert result.exit_code == 2
    assert message in result.stderr


def test_print_selects_sections():
    out = trace("wsgiscope.demo", "/catalog/", "--print", "body").stdout
    assert "lifecycle" not in out
    assert "environ" not in out
    assert "Content-Type" not in out
    assert '"products"' in out
    out = trace("wsgiscope.demo", "/catalog/", "--print", "environ", "--width", "200").stdout
    assert "environ\n" in out
    assert "SERVER_PROTOCOL = HTTP/1.1" in out
    assert "wsgi.url_scheme = http" in out
    assert "lifecycle" not in out


def test_bad_print_value_is_a_usage_error():
    result = trace("wsgiscope.demo", "/", "--print", "headers")
    assert result.exit_code == 2
    assert "unknown section 'headers'" in result.stderr


def test_verbose_shows_the_whole_environ():
    out = trace("wsgiscope.demo", "/catalog/", "-v", "--width", "200").stdout
    assert "environ\n" in out
    assert "REQUEST_URI = /catalog/" in out
    assert "wsgi.multithread = False" in out


def test_secrets_are_redacted_unless_asked():
    args = ["wsgiscope.demo", "/catalog/", "Cookie:session=abc123", "Authorization:Bearer t0k3n"]
    out = trace(*args, "-v", "--width", "200").stdout
    assert "abc123" not in out
    assert "t0k3n" not in out
    assert "HTTP_AUTHORIZATION = [redacted]" in out
    record = trace(*args, "--json").stdout
    assert "abc123" not in record
    assert "t0k3n" not in record
    shown = trace(*args, "-v", "--width", "200", "--show-secrets").stdout
    assert "HTTP_AUTHORIZATION = Bearer t0k3n" in shown
    assert "HTTP_COOKIE = session=abc123" in shown


def test_items_reach_the_app():
    result = trace(
        f"{ECHO}:app", "PATCH", "/echo", "q==1", "X-Trace:yes", "name=Ada", "n:=2", "--width", "200"
    )
    assert result.exit_code == 0, result.output
    assert "PATCH /echo?q=1 → 200 OK" in result.stdout
    assert '"json": {' in result.stdout
    assert '"n": 2,' in result.stdout
    assert '"X-Trace": "yes"' in result.stdout


def test_json_body_flag_and_raw(tmp_path: Path):
    out = trace(f"{ECHO}:app", "/echo", "a=1", "-j", "--width", "200").stdout
    assert '"a": "1"' in out
    assert "POST /echo" in out
    out = trace(f"{ECHO}:app", "PUT", "/echo", "--raw", "plain words", "--width", "200").stdout
    assert '"data": "plain words"' in out
    (tmp_path / "body.json").write_text('{"from": "file"}')
    out = trace(f"{ECHO}:app", "/echo", f"@{tmp_path / 'body.json'}", "--width", "200").stdout
    assert '"from": "file"' in out


def test_configured_flask_base_url():
    out = trace(f"{ECHO}:configured", "/echo", "--width", "200").stdout
    assert '"url": "https://shop.example:8443/shop/echo"' in out


# -- exit codes and errors -----------------------------------------------------------


def test_5xx_without_exception_exits_1():
    result = trace(f"{MISC}:unavailable", "/")
    assert result.exit_code == 1
    assert "→ 503 SERVICE UNAVAILABLE" in result.stdout
    assert "the app raised" not in result.stdout


def test_propagated_exception_exits_1_with_the_apps_traceback():
    result = trace(f"{MISC}:crash", "/", "--width", "120")
    assert result.exit_code == 1
    out = result.stdout
    assert "the app raised LookupError: no such thing: \\x1b]0;pwned\\x07[bold]x[/bold]" in out
    assert "propagated out of the app" in out
    assert "tracecli_misc.py" in out
    # wsgiscope's own wrappers (the tracer, the PEP 3333 checker) are not the app
    assert not OWN_FRAMES.search(out)
    assert "\x1b]0;" not in out
    assert "\x07" not in out


def test_pep3333_findings_fill_the_lint_section():
    result = trace(f"{MISC}:hop_by_hop", "/", "-p", "hm", "--width", "200")
    assert result.exit_code == 0
    assert result.stdout.endswith(
        "└── lint  1\n    └── WSGI209  hop-by-hop header 'Connection' set by the application\n"
    )
    record = json.loads(trace(f"{MISC}:hop_by_hop", "/", "--json").stdout)
    assert [finding["rule"] for finding in record["lint"]] == ["WSGI209"]
    unchecked = trace(f"{MISC}:hop_by_hop", "/", "--no-lint", "--json").stdout
    assert json.loads(unchecked)["lint"] == []


def test_ctrl_c_while_the_app_runs_exits_130():
    result = trace(f"{MISC}:interrupt", "/")
    assert result.exit_code == 130
    assert result.stderr == "wsgiscope: interrupted\n"
    assert "interrupted (Ctrl-C) while the app ran" in result.stdout


def test_an_apps_own_keyboard_interrupt_is_its_error():
    result = trace(f"{MISC}:own_keyboard_interrupt", "/", "--width", "200")
    assert result.exit_code == 1
    assert result.stderr == ""
    assert "the app raised KeyboardInterrupt: raised by the app" in result.stdout
    assert "interrupted (Ctrl-C)" not in result.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["wsgiscope.demo"], "wsgiscope: error: no PATH given\n"),
        (["wsgiscope.demo", "catalog"], "wsgiscope: error: expected a PATH starting with '/'"),
        (["wsgiscope.demo", "/", "n:=nope"], "wsgiscope: error: invalid JSON in 'n:=nope'"),
        (["wsgiscope.demo", "/", "@/no/such/file"], "wsgiscope: error: file not found"),
        (["wsgiscope.demo", "/", "Bad Header:x"], "wsgiscope: error: invalid header name"),
        (["no_such_module_x", "/"], "wsgiscope: error: "),
    ],
)
def test_usage_and_loading_errors_exit_2(args, message):
    result = trace(*args)
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.startswith(message)
    assert "Traceback" not in result.stderr


# -- safety -------------------------------------------------------------------------------


def test_markup_path_and_terminal_title_header_print_literally():
    result = trace(
        f"{MISC}:evil",
        "/[bold red]x[/]",
        "X-Evil:\x1b]0;title\x07",
        "--width",
        "200",
        "--color",
        "always",
    )
    out = result.stdout
    plain = re.sub(r"\x1b\[[0-9;]*m", "", out)
    assert "GET /[bold red]x[/] → 200 OK" in plain
    assert "HTTP_X_EVIL = \\x1b]0;title\\x07" in plain
    assert "X-Reflected: \\x1b]0;title\\x07" in plain
    assert "\x07" not in out
    assert not re.sub(r"\x1b\[[0-9;]*m", "", out).count("\x1b")


latin1 = st.text(st.characters(min_codepoint=0, max_codepoint=255), max_size=30)
header_value = latin1.filter(lambda v: not set(v) & {"\r", "\n", "\x00"})
token = st.text("abcdefghijklmnopqrstuvwxyz0123456789", min_size=12, max_size=16)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(path=latin1, value=header_value, secret=token)
def test_generated_requests_render_as_data_and_keep_secrets(path, value, secret):
    secret = "zq" + secret
    assume(secret not in value + path)
    args = [
        f"{MISC}:evil",
        "/" + path,
        f"X-Evil:{value}",
        f"Authorization:Basic {secret}",
        f"X-Session-Token:{secret}",
        f"X-Api-Key:{secret}",
        f"password=={secret}",
        "-v",
        "--width",
        "200",
    ]
    out = trace(*args).stdout
    assert not UNSAFE.search(out)
    assert secret not in out
    record = trace(*args, "--json").stdout
    assert secret not in record
    assert "\x1b" not in record


@settings(max_examples=25, deadline=None)
@given(name=latin1, value=latin1, path=latin1)
def test_generated_environ_keys_render_as_data(name, value, path):
    app = load("tracecli_misc.py:evil")
    environ = build_environ(RequestSpec("/x"), app)
    environ["PATH_INFO"] = "/" + path
    environ["HTTP_" + name] = value
    environ["HTTP_COOKIE"] = "sid=s3cr3tcookie"
    result = run_traced(app, environ)
    stream = io.StringIO()
    make_console("never", 200, stream).print(
        render_trace(result.record, RenderOptions(verbose=True))
    )
    out = stream.getvalue()
    assert not UNSAFE.search(out)
    assert "s3cr3tcookie" not in out


# -- the real entry point -------------------------------------------------------------------


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "wsgiscope", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", "COLUMNS": "100"},
    )


def test_entry_point_demo():
    ok = run("trace", "wsgiscope.demo", "/catalog/")
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.startswith("GET /catalog/ → 200 OK")
    assert "\x1b[" not in ok.stdout  # piped: no colour
    # Flask logs the exception to wsgi.errors: kept with the trace, cut short...
    failed = run("trace", "wsgiscope.demo", "/fail")
    assert failed.returncode == 1
    assert failed.stderr == ""
    out = failed.stdout
    log = out[out.index("app log (wsgi.errors)") : out.index("the app raised")].rstrip()
    log = log.splitlines()
    assert "ERROR in app: Exception on /fail [GET]" in log[1]
    # four log lines shown (a long site-packages path may wrap one), then the rest counted
    assert re.search(r"… \d+ more lines \(-v for all\)$", log[-1])
    assert len(log) <= 10
    # ...and written to stderr beside JSON.
    failed = run("trace", "wsgiscope.demo", "/fail", "--json")
    assert failed.returncode == 1
    assert json.loads(failed.stdout)["response"]["status_code"] == 500
    assert "ERROR in app: Exception on /fail [GET]" in failed.stderr


def test_ctrl_c_in_a_view_still_shows_and_saves_what_happened(tmp_path: Path):
    ready, saved = tmp_path / "ready", tmp_path / "saved.jsonl"
    proc = subprocess.Popen(
        [sys.executable, "-m", "wsgiscope", "trace", f"{MISC}:sleepy", "/slow", "--save", saved],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env={
            "PYTHONPATH": f"{ROOT}{os.pathsep}{APPS}",
            "PATH": "/usr/bin:/bin",
            "COLUMNS": "100",
            "TRACECLI_READY": str(ready),
        },
    )
    deadline = time.monotonic() + 30
    while not ready.exists() and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.02)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130
    assert err == "wsgiscope: interrupted\n"
    assert out.startswith("GET /slow → ")
    # the teardown ran, and saw the interrupt
    assert "teardown_request tracecli_misc.close_connection" in out
    assert "interrupted (Ctrl-C) while the app ran" in out
    assert "the app raised" not in out
    assert "in slow" in out  # where the app was when interrupted
    assert not OWN_FRAMES.search(out.split("interrupted (Ctrl-C)")[1])
    (record,) = [json.loads(line) for line in saved.read_text().splitlines()]
    assert record["error"]["type"] == "KeyboardInterrupt"
    teardown = next(e for e in record["events"] if e.get("hook") == "teardown_request")
    assert teardown["exception"].startswith("KeyboardInterrupt")


def test_help_imports_nothing_heavy():
    code = (
        "import sys\n"
        "from wsgiscope.cli import cli\n"
        "try:\n    cli.main(['trace', '--help'], prog_name='wsgiscope')\n"
        "except SystemExit:\n    pass\n"
        "print(sorted(m for m in ('rich', 'werkzeug', 'flask', 'gevent') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
        env={"PYTHONPATH": str(ROOT)},
    )
    assert out.stdout.splitlines()[-1] == "[]"
    assert "[APP] [METHOD] PATH [ITEM]..." in out.stdout


def test_django_site_gets_an_allowed_host():
    pytest.importorskip("django")
    result = run("trace", "tests/apps/tracecli_django.py", "/where/", "--json")
    assert result.returncode == 0, result.stderr
    record = json.loads(result.stdout)
    assert record["environ"]["HTTP_HOST"] == "shop.example"
    assert '"url": "http://shop.example/where/"' in record["response"]["body_preview"]


def test_app_from_option_or_environment():
    by_option = trace("--app", "wsgiscope.demo", "/admin/", "-p", "hm")
    assert by_option.stdout.startswith("GET /admin/ → 200 OK")
    by_env = trace("POST", "/catalog/", "a=1", "-p", "hm", env={"WSGISCOPE_APP": "wsgiscope.demo"})
    assert by_env.stdout.startswith("POST /catalog/ → 405 METHOD NOT ALLOWED")
    assert by_env.exit_code == 0
