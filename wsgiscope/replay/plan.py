"""How a replay runs: the mode, how many workers and processes, how long.

A :class:`Mode` is one way of running (``sequential``, ``threads=16``,
``greenlets=100``, each optionally over several processes); a
:class:`ReplayPlan` adds what is the same for every mode of a ``--compare``
run: how many requests (or for how long), at what arrival rate, the warm-up
and whether isolation is checked. Both are plain, picklable data: worker
processes receive them as they are.
"""

from __future__ import annotations

import dataclasses
import re
import typing as t

from wsgiscope.errors import UsageError

Kind = t.Literal["sequential", "threads", "greenlets"]

#: Requests replayed when neither ``-n`` nor ``--duration`` is given (at
#: least one pass over the source).
DEFAULT_REQUESTS = 1000


@dataclasses.dataclass(frozen=True)
class Mode:
    """One way of running the requests.

    :param kind: ``"sequential"``, ``"threads"`` or ``"greenlets"``.
    :param workers: threads or greenlets per process (1 for sequential).
    :param processes: worker processes, each loading the app; 1 runs
        sequential and thread modes in this process.
    :param patch: greenlets only: ``gevent.monkey.patch_all()`` first.
    """

    kind: Kind = "sequential"
    workers: int = 1
    processes: int = 1
    patch: bool = True

    @property
    def label(self) -> str:
        """``threads=16``, ``greenlets=100 (unpatched)``, ``2x sequential``..."""
        text = self.kind if self.kind == "sequential" else f"{self.kind}={self.workers}"
        if self.kind == "greenlets" and not self.patch:
            text += " (unpatched)"
        return f"{self.processes}x {text}" if self.processes > 1 else text

    @property
    def in_subprocess(self) -> bool:
        """Greenlets and several processes run in fresh worker processes."""
        return self.kind == "greenlets" or self.processes > 1


@dataclasses.dataclass(frozen=True)
class ReplayPlan:
    """What every mode of one run shares.

    :param requests: total requests, cycling the source; ``None`` with a
        duration.
    :param duration: seconds to run for, instead of a count.
    :param rate: open-loop arrival rate (requests per second, all workers
        together); latencies count from each request's intended start.
    :param warmup: requests run first and not measured.
    :param check: run the isolation checks.
    :param check_unsafe: compare the answers of unsafe methods and of the
        requests whose answer they change too.
    :param queries: count each endpoint's SQL statements (``--queries``,
        see :mod:`wsgiscope.capture.counting`).
    :param timeout: a request that took longer counts as a timeout.
    """

    requests: int | None = DEFAULT_REQUESTS
    duration: float | None = None
    rate: float | None = None
    warmup: int = 0
    check: bool = True
    check_unsafe: bool = False
    queries: bool = False
    #: ``-t/--timeout``: seconds after which a request counts as a timeout.
    timeout: float | None = None


_MODE = re.compile(r"^(sequential|threads|greenlets)(?:[=:](\d+))?$")


def parse_mode(text: str, processes: int = 1, patch: bool = True) -> Mode:
    """``sequential``, ``threads=16``, ``greenlets=100`` (``--compare`` items).

    :raises UsageError: for anything else.
    """
    match = _MODE.match(text.strip().lower())
    if match is None:
        raise UsageError(
            f"unknown mode {text!r}",
            hint="use sequential, threads=N or greenlets=N, e.g. "
            "--compare sequential,threads=16,greenlets=100",
        )
    kind = t.cast(Kind, match.group(1))
    if kind == "sequential":
        return Mode("sequential", 1, processes, patch)
    digits = match.group(2) or ("16" if kind == "threads" else "100")
    workers = int(digits) if len(digits) <= 7 else MAX_WORKERS[kind] + 1
    if workers < 1:
        raise UsageError(f"{kind} needs at least one worker, got {workers}")
    if workers > MAX_WORKERS[kind]:
        raise UsageError(
            f"{kind}={digits[:12]} is more than the {MAX_WORKERS[kind]:,} {kind} replay allows",
            hint=f"the same limit as --{kind}",
        )
    return Mode(kind, workers, processes, patch)


#: The most workers one mode may ask for, however it is asked
#: (``--threads``, ``--greenlets``, ``--compare``).
MAX_WORKERS = {"threads": 10_000, "greenlets": 100_000}


def mode_from_options(
    threads: int | None, greenlets: int | None, processes: int, patch: bool
) -> Mode:
    """The mode ``--threads``/``--greenlets``/``--processes`` ask for.

    :raises UsageError: when both ``--threads`` and ``--greenlets`` are given.
    """
    if threads and greenlets:
        raise UsageError(
            "--threads and --greenlets cannot be combined",
            hint="pick one, or compare them: --compare threads=16,greenlets=100",
        )
    if threads:
        return Mode("threads", threads, processes, patch)
    if greenlets:
        return Mode("greenlets", greenlets, processes, patch)
    return Mode("sequential", 1, processes, patch)


def parse_duration(text: str) -> float:
    """``30``, ``30s``, ``500ms``, ``2m``, ``1h`` -> seconds.

    :raises UsageError: for anything else.
    """
    from wsgiscope.units import parse_duration as seconds

    try:
        value = seconds(text)
    except ValueError:
        value = 0.0
    if value <= 0:
        raise UsageError(f"invalid duration {text!r}", hint="use e.g. 30s, 500ms, 2m or 1h")
    return value
