"""What a replayed request is expected to answer, and how far it may vary.

The divergence check judges every answer given under concurrency against
the answers the same request gives when it runs **sequentially**:
run-to-run variation is not a leak. This module owns that judgement:

* An answer is compared as one text, its *document*: the status line, the
  response headers (names lower-cased, sorted; ``Date`` and
  ``Content-Length`` left out: the server's clock and the body's size) and
  the body decoded as UTF-8. Headers carry per-user data too: one user's
  ``Set-Cookie`` or ``Location`` sent to another is a leak.
* :func:`baseline` runs each distinct request twice in a row before the
  run. Where the two answers differ (a timestamp, a CSRF token, a request
  id, a counter) the differing spans are *masked*: widened to the whole
  value they sit in (``12:30:05``, ``IjE2…Zg.ZmX1Ag.abc``), and matched as
  wildcards from then on (:class:`Expected`). A request whose body is
  masked entirely, whose status changes, or whose sequential runs fail
  (5xx, exceptions) has no expected answer and is not compared.
* Unsafe methods (anything but GET, HEAD, OPTIONS, TRACE) change state, so
  the answers of later requests legitimately change with them: unless
  asked (``check_unsafe``), they are not compared, and neither are the safe
  requests whose answer changed after each unsafe request ran once (a list
  page after ``POST /create``). Every exclusion is counted with its reason.
* An answer that does not match during the run is only a *candidate*: once
  the run has ended, the request runs once more, sequentially. If that
  answer differs from the baseline too (the clock moved on, a counter
  grew), the mask widens to cover it and the candidates are judged again;
  a request whose answer changed out of recognition is excluded ("changed
  during the run"). What is left is a divergence, shown with its evidence:
  the first differing region as a small unified diff (:func:`difference`)
  and, for JSON bodies, the paths that differ.

Answers with a 5xx status or an exception are *errors*, never divergences,
and in sequential mode nothing is a divergence (there was no concurrency).
"""

from __future__ import annotations

import dataclasses
import io
import re
import threading
import typing as t

from wsgiscope.redact import REDACTED, is_secret_field, is_secret_header, redact_text

if t.TYPE_CHECKING:
    from wsgiscope.replay.engine import Entry
    from wsgiscope.replay.isolation import Findings

#: Methods that do not change state (RFC 9110 "safe" methods).
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
#: Response headers left out of the comparison (the clock; the body's size).
IGNORED_HEADERS = frozenset({"date", "content-length"})
#: Characters of a body taken into a document; the rest is hashed.
BODY_LIMIT = 256 * 1024
#: Wildcards past which an answer counts as varying entirely.
MAX_WILDCARDS = 200
#: Candidate answers kept per request, and in all (bytes), for the judgement after the run.
CANDIDATES_PER_ENTRY = 20
CANDIDATE_BYTES = 8 * 1024 * 1024
#: Lines of a difference shown; characters of one line.
DIFF_LINES = 12
DIFF_WIDTH = 160
#: JSON paths shown per divergence.
JSON_PATHS = 10

#: Exclusion reasons, as reported.
UNSAFE = "unsafe method: it changes state (--check-unsafe compares it)"
STATEFUL = (
    "its answer changed after the unsafe requests ran once: it depends on the state "
    "they change (--check-unsafe compares it)"
)
UNSTABLE = "its answer varies entirely between two sequential runs"
FAILING = "it failed in the sequential runs (5xx or an exception): an error, not a divergence"
CHANGED = "its sequential answer changed beyond recognition during the run"

_TOKEN = re.compile(r"\w+|\s+|[^\w\s]")
#: Tokens a mask widens over: the rest of a value (a time, a token, an id).
_VALUE = re.compile(r"[\w.:+\-/]+")
_SPACE = re.compile(r"\s")
_QUOTES = re.compile(r"[<>\"']")

Answer = tuple[str, list[tuple[str, str]], bytes]


def document(status: str, headers: t.Sequence[tuple[str, str]], body: bytes) -> str:
    """The text an answer is compared as (see the module doc)."""
    lines = sorted(
        f"{name.lower()}: {value}" for name, value in headers if name.lower() not in IGNORED_HEADERS
    )
    text = body[:BODY_LIMIT].decode("utf-8", "replace")
    if len(body) > BODY_LIMIT:
        import hashlib

        text += f"\n[{len(body):,} bytes, sha256 {hashlib.sha256(body).hexdigest()}]"
    return status + "\n" + "".join(line + "\n" for line in lines) + "\n" + text


def _body_start(doc: str) -> int:
    return doc.index("\n\n") + 2


class Expected:
    """The expected answer of one request: an exact answer and a masked template.

    ``status``, ``headers`` and ``body_hash`` are the first baseline answer
    as the app gave it (the engine's fast path compares them directly);
    :meth:`accepts` judges any other answer against the template.
    """

    __slots__ = (
        "_lock",
        "body_hash",
        "docs",
        "headers",
        "inserts",
        "json_masked",
        "masked",
        "pattern",
        "preview",
        "sample",
        "spaces",
        "status",
        "tokens",
        "wildcards",
    )

    def __init__(self, answer: Answer) -> None:
        from wsgiscope.replay.isolation import preview

        status, headers, body = answer
        self.status = status
        self.headers = list(headers)
        self.body_hash = hash(body)
        self.preview = preview(body)
        self.sample = document(status, headers, body)
        self.tokens: list[str] = _TOKEN.findall(self.sample)
        self.masked: list[bool] = [False] * len(self.tokens)
        #: Wildcards inserted before token ``i`` (text only in other answers).
        self.inserts: set[int] = set()
        #: Token positions whose wildcard may span whitespace / quotes.
        self.spaces: dict[int, int] = {}
        self.docs: set[int] = {hash(self.sample)}
        self.pattern: re.Pattern[str] | None = None
        self.wildcards = 0
        self.json_masked: set[str] = set()
        self._lock = threading.Lock()

    # -- building ------------------------------------------------------------

    def widen(self, doc: str) -> bool:
        """Mask what ``doc`` (a sequential answer) changes; ``False`` when
        nothing meaningful is left to compare (the request is unstable)."""
        if hash(doc) in self.docs or self.accepts_doc(doc):
            self.docs.add(hash(doc))
            return True
        other = _TOKEN.findall(doc)
        for tag, i1, i2, j1, j2 in _opcodes(self.tokens, other):
            if tag == "equal":
                continue
            wide = 2 if any(_SPACE.search(x) for x in (*self.tokens[i1:i2], *other[j1:j2])) else 0
            if not wide and any(_QUOTES.search(x) for x in (*self.tokens[i1:i2], *other[j1:j2])):
                wide = 1
            if i1 == i2:
                self.inserts.add(i1)
                self.spaces[i1] = max(self.spaces.get(i1, 0), wide)
            for i in range(i1, i2):
                self.masked[i] = True
                self.spaces[i] = max(self.spaces.get(i, 0), wide)
        self._widen_values()
        self._json_mask(doc)
        if not self._compile():
            return False
        assert self.pattern is not None
        if self.pattern.fullmatch(doc) is None:
            return False  # pragma: no cover - the masks cover every difference
        self.docs.add(hash(doc))
        return True

    def _widen_values(self) -> None:
        tokens, masked = self.tokens, self.masked
        size = len(tokens)
        for start in sorted({i for i, m in enumerate(masked) if m} | self.inserts):
            left = start - 1
            while left >= 0 and not masked[left] and _VALUE.fullmatch(tokens[left]):
                masked[left] = True
                left -= 1
            right = start + 1 if start < size and masked[start] else start
            while right < size and not masked[right] and _VALUE.fullmatch(tokens[right]):
                masked[right] = True
                right += 1
            # base64 padding belongs to the value
            while right < size and tokens[right] == "=" and not masked[right]:
                masked[right] = True
                right += 1

    def _compile(self) -> bool:
        """Build the pattern; ``False`` when the status changes, the body is
        masked entirely or there are too many wildcards."""
        tokens, masked, size = self.tokens, self.masked, len(self.tokens)
        status_tokens = len(_TOKEN.findall(self.sample.partition("\n")[0]))
        body_start = len(_TOKEN.findall(self.sample[: _body_start(self.sample)]))
        parts: list[str] = []
        literal: list[str] = []
        wildcards = 0
        body_literal = body_masked = False
        i = 0
        while i <= size:
            if i in self.inserts or (i < size and masked[i]):
                if i < status_tokens:
                    return False  # the status itself changes
                wide = 0
                while i in self.inserts or (i < size and masked[i]):
                    wide = max(wide, self.spaces.get(i, 0))
                    if i < size and masked[i]:
                        i += 1
                    else:
                        break
                if literal:
                    parts.append(re.escape("".join(literal)))
                    literal = []
                parts.append((r"[^\s<>\"']*?", r"\S*?", r".*?")[wide])
                wildcards += 1
                body_masked = body_masked or i > body_start
            if i >= size:
                break
            literal.append(tokens[i])
            if i >= body_start and not tokens[i].isspace():
                body_literal = True
            i += 1
        if literal:
            parts.append(re.escape("".join(literal)))
        if wildcards > MAX_WILDCARDS or (body_masked and not body_literal):
            return False
        self.wildcards = wildcards
        self.pattern = re.compile("".join(parts), re.DOTALL)
        return True

    def _json_mask(self, doc: str) -> None:
        mine, other = _json_body(self.sample), _json_body(doc)
        if mine is not _NOT_JSON and other is not _NOT_JSON:
            self.json_masked.update(p for p, _, _ in _json_paths(mine, other, "$", 1000))

    # -- judging -------------------------------------------------------------

    def accepts_doc(self, doc: str) -> bool:
        """Whether ``doc`` is one of the answers this request gives sequentially."""
        if hash(doc) in self.docs:
            return True
        if self.pattern is None or self.pattern.fullmatch(doc) is None:
            return False
        if len(self.docs) < 256:
            with self._lock:
                self.docs.add(hash(doc))
        return True

    def accepts(self, status: str, headers: list[tuple[str, str]], body: bytes) -> bool:
        return self.accepts_doc(document(status, headers, body))


_NOT_JSON = object()


def _opcodes(a: list[str], b: list[str]) -> list[tuple[str, int, int, int, int]]:
    """difflib opcodes of two token lists, the common ends stripped first."""
    prefix = 0
    limit = min(len(a), len(b))
    while prefix < limit and a[prefix] == b[prefix]:
        prefix += 1
    suffix = 0
    while suffix < limit - prefix and a[-1 - suffix] == b[-1 - suffix]:
        suffix += 1
    middle_a, middle_b = a[prefix : len(a) - suffix], b[prefix : len(b) - suffix]
    codes: list[tuple[str, int, int, int, int]] = []
    if prefix:
        codes.append(("equal", 0, prefix, 0, prefix))
    if middle_a or middle_b:
        import difflib

        matcher = difflib.SequenceMatcher(
            None, middle_a, middle_b, autojunk=len(middle_a) + len(middle_b) > 4000
        )
        for tag, i1, i2, j1, j2 in matcher.get_opcodes():
            codes.append((tag, i1 + prefix, i2 + prefix, j1 + prefix, j2 + prefix))
    if suffix:
        codes.append(("equal", len(a) - suffix, len(a), len(b) - suffix, len(b)))
    return codes


# -- the baseline ----------------------------------------------------------------


def _environ(entry: Entry) -> dict[str, t.Any]:
    from wsgiscope.replay.isolation import REQUEST_ID

    environ = entry.environ.copy()
    environ["wsgi.input"] = io.BytesIO(entry.body)
    environ[REQUEST_ID] = -1
    return environ


def sample(app: t.Any, entry: Entry) -> Answer | None:
    """One sequential answer; ``None`` for a 5xx or an exception."""
    from wsgiscope.replay.engine import call_app, is_ctrl_c

    box: list[t.Any] = [[]]
    try:
        status, body = call_app(app, _environ(entry), box)
    except (Exception, SystemExit, KeyboardInterrupt) as exc:
        # the app's own sys.exit() or KeyboardInterrupt is an error; Ctrl-C is not
        if is_ctrl_c(exc):
            raise
        return None
    if not status or status[:1] == "5":
        return None
    return status, list(box[0]), body


def _good(app: t.Any, entry: Entry, wanted: int, tries: int) -> list[Answer]:
    answers: list[Answer] = []
    for _ in range(tries):
        answer = sample(app, entry)
        if answer is not None:
            answers.append(answer)
            if len(answers) == wanted:
                break
    return answers


def baseline(
    app: t.Any, entries: t.Sequence[Entry], findings: Findings, check_unsafe: bool
) -> None:
    """Give every distinct request that can be judged its :class:`Expected`."""
    distinct: list[Entry] = []
    seen: set[int] = set()
    for entry in entries:
        if id(entry) not in seen:
            seen.add(id(entry))
            distinct.append(entry)
    safe = [e for e in distinct if e.request.method in SAFE_METHODS]
    unsafe = [e for e in distinct if e.request.method not in SAFE_METHODS]
    samples: dict[int, list[Answer]] = {id(e): _good(app, e, 2, 4) for e in safe}
    after: dict[int, Answer | None] = {}
    if unsafe:
        for entry in unsafe:
            samples[id(entry)] = _good(app, entry, 1, 1)
        for entry in safe:
            after[id(entry)] = sample(app, entry)
        if check_unsafe:
            for entry in unsafe:
                samples[id(entry)] += _good(app, entry, 1, 2)
    for entry in distinct:
        entry.expected = None
        if entry.request.method not in SAFE_METHODS and not check_unsafe:
            findings.exclude(UNSAFE, entry.request.describe())
            continue
        answers = samples[id(entry)]
        if len(answers) < 2:
            findings.exclude(FAILING, entry.request.describe())
            continue
        expected = Expected(answers[0])
        if not expected.widen(document(*answers[1])):
            findings.exclude(UNSTABLE, entry.request.describe())
            findings.unstable += 1
            continue
        later = after.get(id(entry))
        if later is not None and not expected.accepts(*later):
            if not check_unsafe:
                findings.exclude(STATEFUL, entry.request.describe())
                continue
            if not expected.widen(document(*later)):
                findings.exclude(UNSTABLE, entry.request.describe())
                findings.unstable += 1
                continue
        entry.expected = expected
        findings.stable += 1


# -- candidates, judged after the run ------------------------------------------------


@dataclasses.dataclass
class Candidates:
    """Answers that did not match during the run, kept for the judgement after it."""

    by_entry: dict[int, tuple[Entry, list[tuple[str, int, int]], list[int]]] = dataclasses.field(
        default_factory=dict
    )
    stored_bytes: int = 0
    lock: t.Any = dataclasses.field(default_factory=threading.Lock)

    def add(self, entry: Entry, doc: str, ident: int, number: int) -> None:
        with self.lock:
            item = self.by_entry.get(id(entry))
            if item is None:
                item = self.by_entry[id(entry)] = (entry, [], [0])
            item[2][0] += 1
            if len(item[1]) < CANDIDATES_PER_ENTRY and self.stored_bytes < CANDIDATE_BYTES:
                item[1].append((doc, ident, number))
                self.stored_bytes += len(doc)

    def judge(self, app: t.Any, findings: Findings, recheck: bool) -> None:
        """Run each request with candidates once more (``recheck``), widen its
        template by that answer, and report what still does not match."""
        for entry, stored, total in self.by_entry.values():
            expected = entry.expected
            assert expected is not None
            count = total[0]
            if recheck:
                later = sample(app, entry)
                if later is not None and not expected.accepts(*later):
                    if not expected.widen(document(*later)):
                        findings.exclude(CHANGED, entry.request.describe())
                        findings.stable -= 1
                        continue
                    # Judged again; answers beyond those kept cannot be.
                    findings.unjudged += count - len(stored)
                    stored = [c for c in stored if not expected.accepts_doc(c[0])]
                    count = len(stored)
            for doc, ident, number in stored:
                findings.add_divergence(divergence_example(entry, doc, ident, number))
            findings.divergent += count - len(stored)


# -- evidence ------------------------------------------------------------------------


def divergence_example(entry: Entry, doc: str, ident: int, number: int) -> dict[str, t.Any]:
    """A divergence as reported in ``isolation.examples``: the request, both
    answers' status and start, and the first differing region."""
    from wsgiscope.replay.isolation import preview

    expected = entry.expected
    assert expected is not None
    status = doc.partition("\n")[0]
    body = doc[_body_start(doc) :]
    where, diff = difference(expected, doc)
    example: dict[str, t.Any] = {
        "kind": "divergent",
        "request": entry.request.describe(),
        "request_id": number,
        "expected": {"status": expected.status, "body": expected.preview},
        "got": {"status": status, "body": preview(body.encode("utf-8"))},
        "where": where,
        "diff": diff,
        "worker": ident,
    }
    mine, other = _json_body(expected.sample), _json_body(doc)
    if mine is not _NOT_JSON and other is not _NOT_JSON:
        paths = [
            {"path": path, "expected": _json_value(path, a), "got": _json_value(path, b)}
            for path, a, b in _json_paths(mine, other, "$", 1000)
            if path not in expected.json_masked
        ]
        example["json_paths"] = paths[:JSON_PATHS]
    return example


def difference(expected: Expected, doc: str) -> tuple[str, list[str]]:
    """Where the first difference not explained by a mask lies (``status``,
    ``headers`` or ``body``) and a small unified diff around it."""
    other = _TOKEN.findall(doc)
    tokens = expected.tokens
    region: tuple[int, int, int, int] | None = None
    fallback: tuple[int, int, int, int] | None = None
    for tag, i1, i2, j1, j2 in _opcodes(tokens, other):
        if tag == "equal":
            continue
        fallback = fallback or (i1, i2, j1, j2)
        covered = i1 in expected.inserts if i1 == i2 else all(expected.masked[i1:i2])
        if covered:
            wide = max(expected.spaces.get(i, 0) for i in range(i1, max(i2, i1 + 1)))
            got = "".join(other[j1:j2])
            if wide == 2 or not (_SPACE.search(got) or (wide == 0 and _QUOTES.search(got))):
                continue
        region = (i1, i2, j1, j2)
        break
    region = region or fallback
    if region is None:
        return "body", []
    i1, i2, j1, j2 = region
    start_a = sum(len(x) for x in tokens[:i1])
    end_a = start_a + sum(len(x) for x in tokens[i1:i2])
    start_b = sum(len(x) for x in other[:j1])
    end_b = start_b + sum(len(x) for x in other[j1:j2])
    head = _body_start(expected.sample)
    first_line = expected.sample.index("\n")
    where = "status" if start_a <= first_line else ("headers" if start_a < head else "body")
    return where, _hunk(expected.sample, doc, (start_a, end_a), (start_b, end_b))


def _lines_around(text: str, start: int, end: int) -> tuple[int, list[str], int]:
    """The index of the line holding ``start``, the lines up to ``end``, and the column."""
    line_start = text.rfind("\n", 0, start) + 1
    line_end = text.find("\n", max(end, start))
    line_end = len(text) if line_end < 0 else line_end
    number = text.count("\n", 0, line_start)
    return number, text[line_start:line_end].split("\n"), start - line_start


def _crop(line: str, column: int) -> str:
    if len(line) <= DIFF_WIDTH:
        return line
    begin = max(0, min(column - DIFF_WIDTH // 3, len(line) - DIFF_WIDTH))
    return (
        ("…" if begin else "")
        + line[begin : begin + DIFF_WIDTH]
        + ("…" if begin + DIFF_WIDTH < len(line) else "")
    )


def _shown(line: str) -> str:
    """A line of an answer as it may be shown: secret header values and
    secret-named members redacted (a fingerprint tells different values apart)."""
    name, sep, value = line.partition(": ")
    if sep and name and " " not in name and is_secret_header(name):
        return f"{name}: {_fingerprint_cookie(value) if 'cookie' in name else _fingerprint(value)}"
    return redact_text(line)


#: Fingerprints of secret values are keyed per process: they tell two values
#: apart in one report without letting anyone guess a value from its fingerprint.
_FINGERPRINT_KEY: list[bytes] = []


def _fingerprint(value: str) -> str:
    import hashlib
    import hmac
    import secrets

    if not _FINGERPRINT_KEY:
        _FINGERPRINT_KEY.append(secrets.token_bytes(16))
    digest = hmac.new(_FINGERPRINT_KEY[0], value.encode(), hashlib.sha256).hexdigest()[:6]
    return f"{REDACTED[:-1]} #{digest}]"


def _fingerprint_cookie(value: str) -> str:
    cookie, sep, attributes = value.partition(";")
    name, eq, content = cookie.partition("=")
    shown = f"{name}={_fingerprint(content)}" if eq else _fingerprint(cookie)
    return shown + sep + attributes


def _hunk(expected: str, got: str, a: tuple[int, int], b: tuple[int, int]) -> list[str]:
    line_a, old, column_a = _lines_around(expected, *a)
    line_b, new, column_b = _lines_around(got, *b)
    body_a = expected.count("\n", 0, _body_start(expected))
    body_b = got.count("\n", 0, _body_start(got))
    if line_a >= body_a:
        head = f"@@ body line {line_a - body_a + 1}"
        head += "" if line_b - body_b == line_a - body_a else f", got line {line_b - body_b + 1}"
        lines = [head + " @@"]
    else:
        lines = ["@@ status and headers @@"]
    if line_a > 0:
        before = expected.split("\n", line_a)[line_a - 1]
        if before:
            lines.append(" " + _crop(_shown(before), column_a))
    half = (DIFF_LINES - len(lines)) // 2
    lines += ["-" + _crop(_shown(x), column_a) for x in old[:half]]
    lines += ["+" + _crop(_shown(x), column_b) for x in new[:half]]
    return lines


def _json_body(doc: str) -> t.Any:
    import json

    body = doc[_body_start(doc) :].strip()
    if body[:1] not in ("{", "["):
        return _NOT_JSON
    try:
        return json.loads(body)
    except ValueError:
        return _NOT_JSON


def _json_paths(a: t.Any, b: t.Any, path: str, limit: int) -> list[tuple[str, t.Any, t.Any]]:
    """Paths where two JSON values differ (first ``limit``)."""
    out: list[tuple[str, t.Any, t.Any]] = []

    def walk(x: t.Any, y: t.Any, where: str) -> None:
        if len(out) >= limit:
            return
        if isinstance(x, dict) and isinstance(y, dict):
            for key in list(x) + [k for k in y if k not in x]:
                walk(x.get(key, _NOT_JSON), y.get(key, _NOT_JSON), f"{where}.{key}")
        elif isinstance(x, list) and isinstance(y, list):
            for index in range(max(len(x), len(y))):
                walk(
                    x[index] if index < len(x) else _NOT_JSON,
                    y[index] if index < len(y) else _NOT_JSON,
                    f"{where}[{index}]",
                )
        elif x != y or type(x) is not type(y):
            out.append((where, x, y))

    walk(a, b, path)
    return out


def _json_value(path: str, value: t.Any) -> t.Any:
    import json

    if value is _NOT_JSON:
        return "(absent)"
    key = re.split(r"[.\[]", path)[-1]
    if is_secret_field(key):
        return REDACTED
    text = json.dumps(value)
    return value if len(text) <= 120 else text[:120] + "…"
