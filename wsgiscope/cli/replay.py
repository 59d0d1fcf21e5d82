"""``wsgiscope replay``: replay requests in-process, concurrently, and check isolation."""

from __future__ import annotations

import os
import typing as t

import click

from wsgiscope.cli.options import app_option, console, output_options, print_json
from wsgiscope.cli.redaction import redact_option

if t.TYPE_CHECKING:
    from wsgiscope.replay.plan import Mode
    from wsgiscope.replay.runner import AppHandle
    from wsgiscope.replay.sources import ReplayRequest, SourceResult

#: Source file suffixes told apart from an APP given as a file path.
_APP_SUFFIXES = (".py",)


@click.command(short_help="Replay requests under threads, greenlets or processes.")
@click.argument("words", nargs=-1, metavar="[APP] [SOURCE]...")
@app_option
@click.option(
    "--threads",
    type=click.IntRange(0, 10_000),
    is_flag=False,
    flag_value=0,
    help="Replay with N threads (without N: -c threads).",
)
@click.option(
    "--greenlets",
    type=click.IntRange(0, 100_000),
    is_flag=False,
    flag_value=0,
    help="Replay with a gevent pool of N greenlets, monkey-patched first (without N: -c).",
)
@click.option(
    "--processes",
    type=click.IntRange(0, 256),
    is_flag=False,
    flag_value=0,
    help="Worker processes, each loading the app (combines with --threads/--greenlets; "
    "without N: -c processes) [default: 1].",
)
@click.option(
    "-c",
    "--concurrency",
    type=click.IntRange(1, 100_000),
    help="N at once, as hey/oha's -c: threads unless --greenlets or --processes is given.",
)
@click.option(
    "--no-patch", is_flag=True, help="Greenlets without gevent.monkey.patch_all() (to compare)."
)
@click.option(
    "-n",
    "--requests",
    "count",
    type=click.IntRange(1),
    help="Total requests, cycling the source [default: 1000, at least one pass].",
)
@click.option(
    "-z", "--duration", metavar="TIME", help="Run for TIME (30s, 500ms, 2m) instead of -n."
)
@click.option(
    "-t",
    "--timeout",
    metavar="TIME",
    help="A request longer than TIME counts as a timeout (it is not interrupted).",
)
@click.option(
    "-q",
    "--rate",
    type=click.FloatRange(0, min_open=True),
    help="Open-loop arrival rate, requests/s (latency counts from each intended start).",
)
@click.option(
    "--warmup",
    type=click.IntRange(0),
    default=0,
    show_default=True,
    help="Requests run first, unmeasured.",
)
@click.option(
    "--compare",
    metavar="MODES",
    help="Run several modes on the same requests, side by side: sequential,threads=16,...",
)
@click.option(
    "--host-filter",
    "host_filter",
    multiple=True,
    metavar="HOST",
    help="HAR: replay entries for HOST only ('*' for all; repeatable) "
    "[default: the first entry's host].",
)
@click.option("--skip-invalid", is_flag=True, help="Skip malformed source lines/entries.")
@click.option(
    "-H",
    "--header",
    "extra_headers",
    multiple=True,
    metavar="'NAME: VALUE'",
    help="Add a header to every replayed request, replacing one of that name "
    "(repeatable), e.g. -H 'Cookie: session=...'.",
)
@click.option("--no-check", is_flag=True, help="Skip the isolation checks.")
@click.option(
    "--check-unsafe",
    is_flag=True,
    help="Also compare POST/PUT/PATCH/DELETE answers and the answers they change.",
)
@click.option("--fail-on-errors", is_flag=True, help="Exit 1 when any request errored (5xx).")
@click.option(
    "--fail-if",
    "fail_if",
    multiple=True,
    metavar="EXPR",
    help="Exit 1 when EXPR holds, k6-style: 'p95>50ms', 'errors>1%', 'rps<100' (repeatable).",
)
@click.option(
    "--csv",
    "csv_prefix",
    metavar="PREFIX",
    help="Also write PREFIX_stats.csv and PREFIX_stats_history.csv (Locust's columns).",
)
@click.option(
    "--hdr-log",
    "hdr_log",
    metavar="FILE",
    help="Also write the latencies as an HdrHistogram interval log (.hlog).",
)
@click.option(
    "--locust-file",
    type=click.Path(dir_okay=False, writable=True),
    metavar="FILE",
    help="Write a locustfile that runs this replay on Locust, instead of replaying.",
)
@click.option(
    "--queries",
    is_flag=True,
    help="Count each endpoint's SQL statements (mean, max); the requests run traced.",
)
@click.option(
    "--html", "html_file", metavar="FILE", help="Also write a self-contained HTML report."
)
@redact_option
@output_options
def replay(
    words: tuple[str, ...],
    app_option: str | None,
    threads: int | None,
    greenlets: int | None,
    processes: int | None,
    concurrency: int | None,
    no_patch: bool,
    count: int | None,
    duration: str | None,
    timeout: str | None,
    rate: float | None,
    warmup: int,
    compare: str | None,
    host_filter: tuple[str, ...],
    skip_invalid: bool,
    extra_headers: tuple[str, ...],
    no_check: bool,
    check_unsafe: bool,
    fail_on_errors: bool,
    fail_if: tuple[str, ...],
    csv_prefix: str | None,
    hdr_log: str | None,
    locust_file: str | None,
    queries: bool,
    html_file: str | None,
    as_json: bool,
    color: str,
    width: int | None,
) -> None:
    """Replay requests against APP in-process under threads, greenlets or processes.

    SOURCE is a JSON Lines trace file, a HAR file, or a text file of
    'GET /path' lines (headers below each); without one, every route of
    the route table that can be built is replayed with GET and HEAD.
    Every request gets a fresh environ; nothing goes through a socket.

    Isolation is checked: Flask's request, g and session must belong to the
    request at every hook and teardown, and every answer (status, headers,
    body) must be one the request gives sequentially, what varies between
    sequential runs (times, tokens, ids, counters) masked. Unsafe methods
    and the answers they change are not compared unless --check-unsafe.
    Exit status 1 when a leak or divergence is found.

    \b
      wsgiscope replay --greenlets 100
      wsgiscope replay app:app traces.jsonl --threads 16 -n 20000
      wsgiscope replay app:app session.har --processes 2 --greenlets 50 --duration 30s
      wsgiscope replay app:app --compare sequential,threads=16,greenlets=100
      wsgiscope replay app:app -c 8 -z 10s --fail-if 'p95>50ms' --csv run
    """
    from wsgiscope.errors import ExitCode, UsageError
    from wsgiscope.replay.plan import (
        DEFAULT_REQUESTS,
        ReplayPlan,
        mode_from_options,
        parse_duration,
        parse_mode,
    )
    from wsgiscope.replay.report import parse_threshold
    from wsgiscope.replay.sources import parse_header_option, with_headers

    headers = [parse_header_option(text) for text in extra_headers]
    app_word, source_words = _split_words(words)
    thresholds = [parse_threshold(text) for text in fail_if]
    if timeout is None and any(item.metric == "timeouts" for item in thresholds):
        raise UsageError("--fail-if on timeouts needs -t/--timeout", hint="e.g. -t 1s")
    threads, greenlets, processes = _concurrency(threads, greenlets, processes, concurrency)
    if count is not None and duration is not None:
        raise UsageError("-n/--requests and --duration cannot be combined", hint="pick one")
    if compare:
        if threads or greenlets:
            raise UsageError(
                "--compare lists the modes itself: drop --threads/--greenlets",
                hint="e.g. --compare sequential,threads=16,greenlets=100",
            )
        modes = [parse_mode(item, processes, not no_patch) for item in compare.split(",") if item]
    else:
        modes = [mode_from_options(threads, greenlets, processes, not no_patch)]
    from wsgiscope.loading import resolve_app_ref
    from wsgiscope.replay.runner import AppHandle

    target = AppHandle(resolve_app_ref(app_word, app_option))
    if locust_file is not None:
        _write_locustfile(locust_file, target, source_words, skip_invalid, host_filter)
        return
    _check_writable(csv_prefix, hdr_log)
    sources, requests = _requests(target, modes, source_words, skip_invalid, host_filter)
    requests = with_headers(requests, headers)
    _warn_redacted(requests)
    seconds = parse_duration(duration) if duration is not None else None
    plan = ReplayPlan(
        requests=None if seconds is not None else (count or max(DEFAULT_REQUESTS, len(requests))),
        duration=seconds,
        rate=rate,
        warmup=warmup,
        check=not no_check,
        check_unsafe=check_unsafe,
        queries=queries,
        timeout=parse_duration(timeout) if timeout is not None else None,
    )
    summaries, interrupted = _run(
        target, requests, modes, plan, as_json, color, width, record=bool(csv_prefix)
    )
    if not summaries:  # Ctrl-C before the first mode measured anything
        click.echo("wsgiscope: interrupted before any request was measured", err=True)
        raise SystemExit(int(ExitCode.INTERRUPTED))
    # What only --csv and --hdr-log read (the histogram, the progress samples).
    extras = [{k: s.pop(k) for k in list(s) if k.startswith("_")} for s in summaries]
    notes = _source_notes(sources, source_words)
    if as_json:
        document: dict[str, t.Any] = (
            summaries[0] if len(summaries) == 1 and not compare else {"compare": summaries}
        )
        document["source"] = notes
        print_json(document, format="wsgiscope.replay/1")
    else:
        from wsgiscope.render.replay import render_compare, render_summary

        out = console(color, width)
        out.print(render_compare(summaries) if compare else render_summary(summaries[0], notes))
        if compare:
            for summary in summaries:
                out.print(render_summary(summary, notes, findings_only=True))
    if csv_prefix or hdr_log:
        _write_files(
            [{**s, **e} for s, e in zip(summaries, extras, strict=True)], csv_prefix, hdr_log
        )
    if html_file:
        from wsgiscope.render.html import replay_report, write_html

        write_html(html_file, replay_report(summaries, notes, " ".join(words)))
    if interrupted:
        raise SystemExit(int(ExitCode.INTERRUPTED))
    failed = _failed_thresholds(thresholds, summaries, len(summaries) > 1)
    problems = sum(s["isolation"]["leaks"] + s["isolation"]["divergent"] for s in summaries)
    if problems or failed or (fail_on_errors and any(s["errors"] for s in summaries)):
        raise SystemExit(int(ExitCode.PROBLEM))


def _concurrency(
    threads: int | None, greenlets: int | None, processes: int | None, concurrency: int | None
) -> tuple[int | None, int | None, int]:
    """``-c N`` with ``--threads``/``--greenlets``/``--processes`` (given without N)
    choosing the mode, threads by default: ``(threads, greenlets, processes)``."""
    from wsgiscope.errors import UsageError

    given = {"--threads": threads, "--greenlets": greenlets, "--processes": processes}
    bare = [name for name, value in given.items() if value == 0]
    if concurrency is None:
        if bare:
            raise UsageError(f"{bare[0]} without a number needs -c N", hint=f"{bare[0]} 8, or -c 8")
        return threads, greenlets, processes or 1
    if len(bare) > 1:
        raise UsageError(
            f"-c applies to one of {' and '.join(bare)}", hint="give the others a number"
        )
    if bare == ["--processes"]:
        return threads, greenlets, concurrency
    if threads or greenlets:
        which = "--threads" if threads else "--greenlets"
        raise UsageError(
            f"-c {concurrency} and {which} {threads or greenlets} both give the concurrency",
            hint=f"give it once: -c {concurrency} {which}",
        )
    if bare == ["--greenlets"]:
        return None, concurrency, processes or 1
    return concurrency, None, processes or 1


def _failed_thresholds(
    thresholds: list[t.Any], summaries: list[dict[str, t.Any]], labelled: bool
) -> bool:
    """Say on stderr which ``--fail-if`` thresholds each mode crossed."""
    from wsgiscope.replay.report import failed_thresholds

    failed = False
    for summary in summaries:
        for text in failed_thresholds(thresholds, summary):
            failed = True
            where = f"{summary['label']}: " if labelled else ""
            click.echo(f"wsgiscope: threshold failed: {where}{text}", err=True)
    return failed


def _check_writable(csv_prefix: str | None, hdr_log: str | None) -> None:
    """Fail before the run, not after it, when a report file cannot be written."""
    from wsgiscope.errors import UsageError

    paths = [f"{csv_prefix}_stats.csv", f"{csv_prefix}_stats_history.csv"] if csv_prefix else []
    paths += [hdr_log] if hdr_log else []
    for path in paths:
        try:
            with open(path, "a"):
                pass
        except OSError as exc:
            raise UsageError(f"cannot write {path}: {exc.strerror or exc}") from None


def _write_files(
    summaries: list[dict[str, t.Any]], csv_prefix: str | None, hdr_log: str | None
) -> None:
    from wsgiscope.errors import UsageError
    from wsgiscope.replay.files import write_csv, write_hdr_log

    try:
        if csv_prefix:
            write_csv(csv_prefix, summaries)
        if hdr_log:
            write_hdr_log(hdr_log, summaries)
    except OSError as exc:
        raise UsageError(
            f"cannot write {exc.filename or 'the report file'}: {exc.strerror or exc}"
        ) from None


def _warn_redacted(requests: list[ReplayRequest]) -> None:
    """Say how many requests lost secrets redacted in their source records."""
    lost = [r for r in requests if r.redacted]
    if not lost:
        return
    names = sorted({name for r in lost for name in r.redacted}, key=str.lower)
    headers = [n for n in names if n != "body"]
    what = ", ".join(headers) + (" headers" if headers else "")
    if "body" in names:
        what += (" and " if headers else "") + "body fields"
    click.echo(
        f"wsgiscope: warning: {len(lost):,} of {len(requests):,} requests had secrets redacted "
        f"in the source ({what}): they are replayed without them, so their answers will "
        "differ from the recorded ones (a logged-in page answers as to a stranger); "
        "add them with -H 'Cookie: ...' / -H 'Authorization: ...', or record with "
        "--keep-secrets",
        err=True,
    )


def _write_locustfile(
    path: str,
    target: AppHandle,
    source_words: list[str],
    skip_invalid: bool,
    host_filter: tuple[str, ...],
) -> None:
    """Check the sources read, then write the locustfile (and say so)."""
    from wsgiscope.errors import UsageError
    from wsgiscope.replay.locustfile import write_locustfile

    if source_words:  # a bad source is reported now, not in every Locust worker
        from wsgiscope.replay.sources import load_sources

        load_sources(source_words, skip_invalid=skip_invalid, host_filter=host_filter or None)
    ref = target.ref
    try:
        written = write_locustfile(path, ref.import_path, ref.base_dir, source_words)
    except OSError as exc:
        raise UsageError(f"cannot write the locustfile {path}: {exc.strerror or exc}") from None
    click.echo(
        f"wsgiscope: wrote {written}; run it with: locust -f {written} --headless "
        "-u 16 -r 16 -t 30s (or --master, and --worker on each machine)",
        err=True,
    )


def _split_words(words: tuple[str, ...]) -> tuple[str | None, list[str]]:
    """``[APP] [SOURCE]...``: a first word naming an existing non-.py file is a SOURCE."""
    if not words:
        return None, []
    first = words[0]
    if os.path.isfile(first) and not first.endswith(_APP_SUFFIXES):
        return None, list(words)
    return first, list(words[1:])


def _requests(
    target: AppHandle,
    modes: list[Mode],
    source_words: list[str],
    skip_invalid: bool,
    host_filter: tuple[str, ...],
) -> tuple[SourceResult | None, list[ReplayRequest]]:
    from wsgiscope.errors import SourceError
    from wsgiscope.replay.sources import load_sources, requests_from_routes

    if source_words:
        sources = load_sources(
            source_words, skip_invalid=skip_invalid, host_filter=host_filter or None
        )
        if not sources.requests:
            raise SourceError(
                f"no requests to replay in {', '.join(source_words)}"
                + (f" ({sources.invalid} invalid skipped)" if sources.invalid else "")
                + (
                    f" ({sources.other_hosts} for other hosts skipped)"
                    if sources.other_hosts
                    else ""
                ),
                hint="check the file, or --host-filter '*' to replay every host of a HAR",
            )
        return sources, sources.requests
    if all(mode.in_subprocess for mode in modes):
        # Keep the app out of this process (it may monkey-patch on import).
        from wsgiscope.replay.runner import routes_in_worker

        requests = routes_in_worker(target.ref, modes[0].kind == "greenlets" and modes[0].patch)
    else:
        from wsgiscope.routing import discover_routes

        requests = requests_from_routes(discover_routes(target.loaded.app))
    if not requests:
        raise SourceError(
            "no request source given and no route of the app can be built with sample arguments",
            hint="give a SOURCE: a JSON Lines trace file, a HAR file or 'GET /path' lines",
        )
    return None, requests


def _source_notes(sources: SourceResult | None, words: list[str]) -> dict[str, t.Any]:
    if sources is None:
        return {"kind": "routes", "files": [], "requests": None, "invalid": 0, "other_hosts": 0}
    return {
        "kind": "files",
        "files": words,
        "requests": len(sources.requests),
        "invalid": sources.invalid,
        "invalid_examples": sources.invalid_examples,
        "other_hosts": sources.other_hosts,
        "skipped_hosts": sources.skipped_hosts,
    }


def _run(
    target: AppHandle,
    requests: list[ReplayRequest],
    modes: list[Mode],
    plan: t.Any,
    as_json: bool,
    color: str,
    width: int | None,
    record: bool = False,
) -> tuple[list[dict[str, t.Any]], bool]:
    """Run each mode with a progress bar on a terminal; stop at Ctrl-C."""
    import contextlib
    import sys
    import time

    from wsgiscope.interrupts import watching_ctrl_c
    from wsgiscope.render.console import make_console
    from wsgiscope.render.replay import progress_bar
    from wsgiscope.replay.files import History
    from wsgiscope.replay.runner import run_mode, summarize

    err = make_console(t.cast(t.Any, color), width, stream=sys.stderr)
    show = err.is_terminal and not as_json
    summaries: list[dict[str, t.Any]] = []
    for mode in modes:
        # What the app prints goes to stderr: stdout is the summary (--json stays JSON).
        # watching_ctrl_c: a KeyboardInterrupt the app raises itself is that
        # request's error, only a Ctrl-C stops the run
        with (
            contextlib.redirect_stdout(sys.stderr),
            progress_bar(err, mode.label, plan.requests, plan.duration, show) as update,
            watching_ctrl_c(),
        ):
            history = History(update) if record else None
            started = time.time()
            try:
                result = run_mode(target, requests, mode, plan, history or update)
            except KeyboardInterrupt:  # between polls: nothing measured for this mode
                return summaries, True
        summary = summarize(result)
        summary["_hist"] = result.stats.hist.to_pairs()
        summary["_started"], summary["_ended"] = started, time.time()
        summary["_history"] = history.samples if history is not None else []
        for warning in result.warnings:
            click.echo(f"wsgiscope: warning: {warning}", err=True)
        summaries.append(summary)
        if result.interrupted:
            return summaries, True
    return summaries, False
