"""Replay's isolation report is a proof: no finding on correct stateful apps,
every planted leak found (headers included), with the difference shown."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from replay_fixtures import lines_file, replay

from wsgiscope.cli import cli

BLOG = [
    {"method": "GET", "path": "/"},
    {"method": "GET", "path": "/posts/1"},
    {"method": "GET", "path": "/create"},
    {"method": "GET", "path": "/metrics"},
    {"method": "GET", "path": "/api/time"},
    {"method": "GET", "path": "/flaky"},
    {
        "method": "POST",
        "path": "/api/posts",
        "headers": {"Content-Type": "application/json"},
        "body": {"title": "From replay", "body": "Created while replaying."},
    },
    {"method": "GET", "path": "/api/posts"},
    {"method": "GET", "path": "/posts/1", "query": "page=2"},
]
LOGINS = ("GET /login?user=alice", "GET /login?user=bob", "GET /login?user=carol")


def blog_source(tmp_path: Path) -> str:
    path = tmp_path / "blog.jsonl"
    path.write_text("".join(json.dumps(item) + "\n" for item in BLOG))
    return str(path)


def run_here(*args: str) -> tuple[int, dict, str]:
    result = CliRunner().invoke(cli, ["replay", *args, "--json"])
    assert result.stdout, result.stderr
    return result.exit_code, json.loads(result.stdout), result.stderr


def excluded(data: dict) -> dict[str, list[str]]:
    return {
        item["reason"].split(":")[0]: item["requests"] for item in data["isolation"]["excluded"]
    }


def test_correct_stateful_blog_has_no_isolation_problem(
    apps_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Was: "divergent" for /, /create, /metrics, /api/time, /api/posts and
    # /flaky (timestamps, request ids, CSRF tokens, counters, new posts,
    # errors), exit 1.
    code, data, _ = run_here(
        "replaytruth_blog", blog_source(tmp_path), "--compare", "sequential,threads=8", "-n", "360"
    )
    assert code == 0, data
    sequential, threads = data["compare"]
    for run in (sequential, threads):
        isolation = run["isolation"]
        assert (isolation["leaks"], isolation["divergent"]) == (0, 0), isolation["examples"][:2]
        assert run["errors"] > 0  # /flaky: errors, not divergences
        # /posts/1 (twice), /create, /api/time, /flaky: compared, masks and all
        assert isolation["stable"] == 5
        assert isolation["compared"] > 150
        reasons = excluded(run)
        assert reasons["unsafe method"] == ["POST /api/posts"]
        assert set(reasons["its answer changed after the unsafe requests ran once"]) == {
            "GET /",
            "GET /api/posts",
            "GET /metrics",
        }
    assert threads["max_in_flight"] > 1
    result = CliRunner().invoke(
        cli, ["replay", "replaytruth_blog", blog_source(tmp_path), "-n", "20", "--width", "200"]
    )
    assert result.exit_code == 0
    assert "not compared: 1 request (POST /api/posts): unsafe method" in result.stdout


def test_correct_blog_under_patched_and_unpatched_greenlets(tmp_path: Path) -> None:
    source = blog_source(tmp_path)
    for extra in ([], ["--no-patch"]):
        code, data, stderr = replay(
            "replaytruth_blog", source, "--greenlets", "20", *extra, "-n", "270"
        )
        assert code == 0, (stderr, data and data["isolation"]["examples"][:2])
        assert data is not None
        assert (data["isolation"]["leaks"], data["isolation"]["divergent"]) == (0, 0)
        assert data["isolation"]["stable"] == 5
    assert data["max_in_flight"] >= 1


def test_check_unsafe_compares_them_too(apps_dir: Path, tmp_path: Path) -> None:
    code, data, _ = run_here(
        "replaytruth_blog", blog_source(tmp_path), "--check-unsafe", "-n", "90"
    )
    assert code == 0, data["isolation"]["examples"][:2]
    assert data["isolation"]["excluded"] == []
    assert data["isolation"]["stable"] == 9


def test_django_csrf_token_pages_have_no_isolation_problem(tmp_path: Path) -> None:
    pytest.importorskip("django")
    source = lines_file(tmp_path, "GET /form/ada/", "GET /form/bob/", "GET /now/?u=ada")
    code, data, stderr = replay("replaytruth_django", source, "--threads", "8", "-n", "300")
    assert code == 0, (stderr, data and data["isolation"]["examples"][:2])
    assert data is not None
    assert data["status"] == {"2xx": 300}
    assert data["isolation"]["stable"] == 3
    assert data["isolation"]["compared"] == 300
    assert (data["isolation"]["leaks"], data["isolation"]["divergent"]) == (0, 0)


def test_a_cookie_leaked_through_a_module_global_is_found(apps_dir: Path, tmp_path: Path) -> None:
    # Was: 0 problems, exit 0 (only status and body were compared).
    source = lines_file(tmp_path, *LOGINS)
    code, data, _ = run_here("replaytruth_cookie_leak", source, "--threads", "8", "-n", "270")
    assert code == 1
    isolation = data["isolation"]
    assert isolation["divergent"] > 50
    example = isolation["examples"][0]
    assert example["where"] == "headers"
    assert example["expected"]["body"] == example["got"]["body"]
    minus = [line for line in example["diff"] if line.startswith("-set-cookie: user=")]
    plus = [line for line in example["diff"] if line.startswith("+set-cookie: user=")]
    assert minus
    assert plus
    assert minus != plus
    # the cookie values stay secret: fingerprints tell them apart
    shown = json.dumps([e["diff"] for e in isolation["examples"]])
    assert not any(name in shown for name in ("alice", "bob", "carol"))
    assert "[redacted #" in minus[0]
    # sequential: never a divergence
    code, data, _ = run_here("replaytruth_cookie_leak", source, "-n", "60")
    assert (code, data["isolation"]["divergent"], data["isolation"]["compared"]) == (0, 0, 60)


def test_cookie_leak_under_patched_greenlets(tmp_path: Path) -> None:
    source = lines_file(tmp_path, *LOGINS)
    code, data, _ = replay("replaytruth_cookie_leak", source, "--greenlets", "50", "-n", "300")
    assert code == 1
    assert data is not None
    assert data["isolation"]["divergent"] > 50


def test_divergence_shows_the_first_differing_region(apps_dir: Path, tmp_path: Path) -> None:
    source = lines_file(tmp_path, "GET /whoami?user=alice", "GET /whoami?user=bob")
    result = CliRunner().invoke(
        cli,
        ["replay", "replay_user_global", source, "--threads", "8", "-n", "100", "--width", "200"],
    )
    assert result.exit_code == 1
    assert "first difference in the body:" in result.stdout
    assert "-user=alice" in result.stdout or "-user=bob" in result.stdout
    assert "+user=" in result.stdout
    code, data, _ = run_here(
        "outsafe_flask.py",
        lines_file(tmp_path, "GET /me?user=a", "GET /me?user=b"),
        "--threads",
        "4",
        "-n",
        "40",
    )
    assert code == 1
    example = data["isolation"]["examples"][0]
    paths = {item["path"]: item for item in example["json_paths"]}
    assert paths["$.user"]["expected"] != paths["$.user"]["got"]
    assert paths["$.token"]["got"] == "[redacted]"
    assert example["diff"][0] == "@@ body line 1 @@"


def test_masks_cover_times_tokens_and_ids_but_not_the_user() -> None:
    from wsgiscope.replay.expect import Expected, document

    def answer(user: str, stamp: str, token: str) -> tuple[str, list[tuple[str, str]], bytes]:
        body = f'<p>Hi {user}</p><input value="{token}"><footer>{stamp}</footer>'
        return "200 OK", [("X-Request-Id", token[:8])], body.encode()

    expected = Expected(answer("alice", "2026-12-07T01:00:00.1", "IjE2YzA.ZmX1Ag.abc-_d"))
    assert expected.widen(document(*answer("alice", "2026-12-07T01:00:00.3", "Qk9w.Zm1.x9")))
    assert expected.accepts(*answer("alice", "2026-12-07T02:59:13.999", "Zz.Yy+/=.k"))
    assert not expected.accepts(*answer("bob", "2026-12-07T01:00:00.1", "IjE2YzA.ZmX1Ag.abc-_d"))
    # a body that varies entirely is not compared
    counter = Expected(("200 OK", [], b"41"))
    assert not counter.widen(document("200 OK", [], b"42"))


def _login_records(apps_dir: Path, tmp_path: Path) -> str:
    """Two records as `trace --save` writes them for a logged-in page: the
    Cookie and Authorization headers redacted."""
    from wsgiscope.loading import AppRef, load_app
    from wsgiscope.request import RequestSpec, build_environ
    from wsgiscope.tracing import run_traced

    app = load_app(AppRef("replay_echo:app", "argument", apps_dir)).app
    path = tmp_path / "traces.jsonl"
    with path.open("w") as file:
        for target in ("/account", "/orders?page=2"):
            spec = RequestSpec(
                path=target, headers=[("Cookie", "sid=s3cr3t"), ("Authorization", "Bearer t0k")]
            )
            record = run_traced(app, build_environ(spec, app)).record
            file.write(json.dumps(record) + "\n")
    return str(path)


def test_redacted_secrets_are_warned_about_and_headers_added(
    apps_dir: Path, tmp_path: Path
) -> None:
    # Was: the redacted Cookie/Authorization were dropped without a word.
    source = _login_records(apps_dir, tmp_path)
    environ = json.loads(Path(source).read_text().splitlines()[0])["environ"]
    assert environ["HTTP_COOKIE"] == environ["HTTP_AUTHORIZATION"] == "[redacted]"
    result = CliRunner().invoke(cli, ["replay", "replay_echo:app", source, "-n", "4", "--json"])
    assert result.exit_code == 0, result.stderr
    assert "2 of 2 requests had secrets redacted in the source" in result.stderr
    assert "Authorization, Cookie headers" in result.stderr
    assert "-H 'Cookie: ...'" in result.stderr
    # -H puts them back (replacing any of the same name), and the warning goes
    args = ["-H", "Cookie: sid=abc", "-H", "Authorization: Bearer xyz", "-H", "X-Trace: 1"]
    result = CliRunner().invoke(
        cli, ["replay", "replay_echo:app", source, *args, "-n", "4", "--json"]
    )
    assert result.exit_code == 0, result.stderr
    assert "redacted" not in result.stderr
    from wsgiscope.replay.sources import load_sources, with_headers

    requests = with_headers(load_sources([source]).requests, [("Cookie", "sid=abc")])
    assert all(("Cookie", "sid=abc") in r.headers for r in requests)
    assert all(r.redacted == ("Authorization",) for r in requests)


@pytest.mark.parametrize("header", ["NoColon", "Bad Name: x", ": empty"])
def test_bad_header_option_is_a_usage_error(apps_dir: Path, header: str) -> None:
    result = CliRunner().invoke(cli, ["replay", "replay_plain", "-H", header, "-n", "2"])
    assert result.exit_code == 2
    assert f"invalid header {header!r}" in result.stderr
    assert "Traceback" not in result.stderr


def test_login_then_replay_with_a_real_session(apps_dir: Path, tmp_path: Path) -> None:
    # The documented flow: log in, save the logged-in request with
    # --keep-secrets (0600, said), replay it; or replay a redacted record
    # with -H 'Cookie: ...' from the real login.
    import os
    import stat

    runner = CliRunner()
    login = runner.invoke(
        cli,
        ["trace", "replaytruth_blog", "POST", "/login", "-f", "username=ada",
         "password=correct horse", "--show-secrets", "--json"],
    )  # fmt: skip
    assert login.exit_code == 0, login.stderr
    headers = json.loads(login.stdout)["response"]["headers"]
    cookie = next(v for n, v in headers if n == "Set-Cookie").split(";")[0]
    assert cookie.startswith("session=")
    kept, redacted = tmp_path / "kept.jsonl", tmp_path / "redacted.jsonl"
    result = runner.invoke(
        cli,
        ["trace", "replaytruth_blog", "/account", f"Cookie:{cookie}", "--save", str(kept),
         "--keep-secrets"],
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    assert "keeps secrets" in result.stderr
    assert "0600" in result.stderr
    assert stat.S_IMODE(os.stat(kept).st_mode) == 0o600
    assert "session=" not in result.stdout  # the output stays redacted
    assert cookie in kept.read_text()
    runner.invoke(cli, ["trace", "replaytruth_blog", "/account", f"Cookie:{cookie}",
                        "--save", str(redacted)])  # fmt: skip
    assert cookie not in redacted.read_text()

    def account(*args: str) -> tuple[dict, str]:
        result = runner.invoke(
            cli, ["replay", "replaytruth_blog", *args, "--threads", "4", "-n", "40", "--json"]
        )
        assert result.exit_code == 0, result.stderr
        return json.loads(result.stdout), result.stderr

    data, stderr = account(str(redacted))
    assert data["status"] == {"3xx": 40}  # logged out: redirected to the login page
    assert "1 of 1 requests had secrets redacted in the source (Cookie headers)" in stderr
    for args in ([str(kept)], [str(redacted), "-H", f"Cookie: {cookie}"]):
        data, stderr = account(*args)
        assert data["status"] == {"2xx": 40}, args
        assert "redacted" not in stderr
        assert data["isolation"]["stable"] == 1


def test_keep_secrets_needs_save(apps_dir: Path) -> None:
    result = CliRunner().invoke(cli, ["trace", "replaytruth_blog", "/", "--keep-secrets"])
    assert result.exit_code == 2
    assert "--keep-secrets only applies to the record --save writes" in result.stderr
    result = CliRunner().invoke(cli, ["serve", "replaytruth_blog", "--keep-secrets"])
    assert result.exit_code == 2
    assert "--keep-secrets only applies to a --record FILE" in result.stderr


@pytest.mark.slow
def test_serve_keep_secrets_then_replay_the_logged_in_session(tmp_path: Path) -> None:
    # A real login over HTTP on `serve --record FILE --keep-secrets`: the file
    # keeps the session cookie (0600, said), the live output does not, and
    # replaying the file answers the logged-in page.
    import os
    import stat

    import httpx
    from serve_fixtures import ServeRun

    record = tmp_path / "session.jsonl"
    app = "tests/apps/replaytruth_blog.py:app"
    with ServeRun(tmp_path, "--record", str(record), "--keep-secrets", "--json", app=app) as run:
        base = run.wait_ready()
        with httpx.Client(base_url=base) as client:
            login = client.post("/login", data={"username": "ada", "password": "correct horse"})
            assert login.status_code == 200
            cookie = client.cookies["session"]
            assert client.get("/account").status_code == 200
        run.stop()
    assert "keeps secrets" in run.stderr
    assert stat.S_IMODE(os.stat(record).st_mode) == 0o600
    assert cookie in record.read_text()
    assert "password=correct+horse" in record.read_text()
    shown = [json.loads(line) for line in run.stdout.splitlines()]
    # (a record is written when the response is closed: not always in request order)
    by_path = {r["request"]["path"]: r for r in shown}
    assert sorted(by_path) == ["/account", "/login"]
    assert cookie not in run.stdout
    assert "correct+horse" not in run.stdout
    assert by_path["/account"]["environ"]["HTTP_COOKIE"] == "[redacted]"
    account = tmp_path / "account.jsonl"
    account.write_text(
        "".join(line + "\n" for line in record.read_text().splitlines() if '"/account"' in line)
    )
    code, data, stderr = replay("replaytruth_blog", str(account), "--threads", "4", "-n", "40")
    assert code == 0, stderr
    assert data is not None
    assert data["status"] == {"2xx": 40}  # logged in
    assert "redacted" not in stderr


def test_redact_record_gives_the_record_a_redacting_tracer_writes(apps_dir: Path) -> None:
    import hashlib

    from wsgiscope.capture import DEFAULT_CAPTURE
    from wsgiscope.loading import AppRef, load_app
    from wsgiscope.request import RequestSpec, build_environ
    from wsgiscope.tracing import run_traced
    from wsgiscope.tracing.kept import redact_record

    secret = "s3cr3t-TOKEN-42"
    form = ("Content-Type", "application/x-www-form-urlencoded")
    specs = {
        "outsafe_flask:app": [
            RequestSpec(
                path=f"/login?token={secret}",
                method="POST",
                headers=[form, ("Cookie", f"sid={secret}"), ("Authorization", f"Bearer {secret}")],
                body=f"user=a&password={secret}".encode(),
            ),
            RequestSpec(path=f"/go?api_key={secret}"),
            RequestSpec(path="/me?user=a"),
            RequestSpec(
                path="/login",
                method="POST",
                headers=[("Content-Type", "application/json")],
                body=json.dumps({"password": secret, "user": "x"}).encode(),
            ),
        ],
        "replaytruth_blog:app": [
            RequestSpec(path="/login", method="POST", headers=[form],
                        body=b"username=ada&password=correct+horse"),
            RequestSpec(path="/login", method="POST", headers=[form],
                        body=b"username=ada&password=wrong+horse"),
            RequestSpec(path="/create"),
        ],
    }  # fmt: skip
    for ref, requests in specs.items():
        app = load_app(AppRef(ref, "argument", apps_dir)).app
        for spec in requests:
            environ = build_environ(spec, app)
            result = run_traced(app, environ, keep_secrets=True, capture=DEFAULT_CAPTURE)
            assert result.unredacted is not None
            redacted = redact_record(result.unredacted)
            for name in result.record:
                if name != "id":
                    assert redacted[name] == result.record[name], (spec.path, name)
            assert secret not in json.dumps(redacted)
            assert "correct+horse" not in json.dumps(redacted)
            assert "wrong+horse" not in json.dumps(redacted)
            digests = [hashlib.sha256(p).hexdigest() for p in (b"correct horse", b"wrong horse")]
            kinds = {e["kind"] for e in result.unredacted["events"]}
            if spec.path == "/login" and ref.startswith("replaytruth"):
                assert "sql" in kinds  # captured, with the password's hash as a parameter
                assert any(d in json.dumps(result.unredacted) for d in digests)
                assert not any(d in json.dumps(redacted) for d in digests)


def test_counters_times_and_tokens_are_compared_masked(apps_dir: Path, tmp_path: Path) -> None:
    # No unsafe request: /metrics (counters, lines appearing as paths are
    # first hit), /api/time (JSON times and ids) and /create (a CSRF token in
    # a fresh session cookie) are all compared, and none diverges.
    source = lines_file(tmp_path, "GET /metrics", "GET /api/time", "GET /create")
    code, data, _ = run_here("replaytruth_blog", source, "--threads", "8", "-n", "300")
    assert code == 0, data["isolation"]["examples"][:2]
    isolation = data["isolation"]
    assert (isolation["stable"], isolation["compared"], isolation["excluded"]) == (3, 300, [])
    assert (isolation["leaks"], isolation["divergent"]) == (0, 0)


def test_records_with_sql_and_g_after_are_valid_for_tail_and_serve(apps_dir: Path) -> None:
    # Was: serve and tail skipped every record of a request that ran SQL
    # ("'events[6].parameters' is an array") or whose g changed in teardown.
    from wsgiscope.capture import DEFAULT_CAPTURE
    from wsgiscope.loading import AppRef, load_app
    from wsgiscope.recordcheck import record_problem
    from wsgiscope.request import RequestSpec, build_environ
    from wsgiscope.tracing import run_traced

    app = load_app(AppRef("replaytruth_blog:app", "argument", apps_dir)).app
    form = [("Content-Type", "application/x-www-form-urlencoded")]
    spec = RequestSpec(
        path="/login", method="POST", headers=form, body=b"username=ada&password=correct+horse"
    )
    result = run_traced(app, build_environ(spec, app), capture=DEFAULT_CAPTURE, keep_secrets=True)
    assert result.unredacted is not None
    for record in (result.record, result.unredacted):
        kinds = {e["kind"] for e in record["events"]}
        assert "sql" in kinds
        assert record_problem(json.loads(json.dumps(record))) is None
