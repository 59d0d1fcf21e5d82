"""What every framework adapter provides, and the data it returns.

An adapter is a module ``wsgiscope.frameworks.<name>`` (imported lazily, see
:func:`adapter_for`) with these functions, each taking the framework's app
object as found by :func:`wsgiscope.structure.inspect_app` (``node.obj``):

``routes(app) -> list[Route]``
    the app's own route table, paths relative to the app (no mount prefix:
    :func:`wsgiscope.routing.discover_routes` adds it to ``path`` and
    ``url``), each with ``url`` built by the framework's own URL builder from
    sample arguments (:func:`wsgiscope.frameworks.samples.sample_values`), or
    ``url=None`` and ``url_error`` saying why. ``url`` is built from the rule
    itself, so it reaches that rule; ``endpoint_url`` is what the framework's
    builder makes for the endpoint from the same values (another rule's URL
    when the endpoint has several). ``group`` is the blueprint /
    namespace / include the rule belongs to, ``None`` for the app itself.
``build_url(app, endpoint, values, *, external=False, method=None,
anchor=None, scheme=None, script_name="") -> str``
    the URL the framework builds for ``endpoint`` from ``values`` (a dict of
    strings as typed on the command line); unknown values become the query
    string where the framework does that. ``script_name`` is the mount prefix
    the app answers under; an adapter whose function has no ``script_name``
    parameter returns URLs relative to the app and the routing core inserts
    the prefix itself. Raise :class:`~wsgiscope.errors.RouteNotFound` for an
    unknown endpoint (with the closest names, see :func:`nearest`) and
    :class:`~wsgiscope.errors.UsageError` for missing or invalid values
    (naming the arguments the rule needs and their converters).
``match(app, method, path, host=None, script_name="") -> Match``
    what the framework's router answers for ``method`` on ``path`` (the
    PATH_INFO the app receives: percent-decoded as a server decodes it, mount
    prefix already removed; see :func:`url_path` to build a request from it). ``script_name``
    is optional as for ``build_url``; a redirect ``location`` that starts with
    ``/`` is prefixed by the core when the adapter does not take it. A 404 may
    leave ``nearest`` empty: the core fills it from ``routes(app)``.

Adapters raise :class:`wsgiscope.errors.RouteNotFound` for an unknown
endpoint, :class:`wsgiscope.errors.AdapterError` when the framework raises
while being introspected (the core also wraps any other exception into one),
and import their framework only inside their functions.
"""

from __future__ import annotations

import dataclasses
import importlib
import types
import typing as t

from wsgiscope.errors import RouteNotFound, UsageError

#: framework name -> adapter module (dotted path, imported on first use).
ADAPTERS: dict[str, str] = {
    "flask": "wsgiscope.frameworks.flask",
    "werkzeug": "wsgiscope.frameworks.werkzeug",
    "django": "wsgiscope.frameworks.django",
    "bottle": "wsgiscope.frameworks.bottle",
    "falcon": "wsgiscope.frameworks.falcon",
    "pyramid": "wsgiscope.frameworks.pyramid",
}


@dataclasses.dataclass
class Argument:
    """A rule argument: ``name`` and its converter (``int``, ``path``, ``sku``...)."""

    name: str
    converter: str
    regex: str | None = None


@dataclasses.dataclass
class View:
    """The function that answers: ``module:qualname`` and ``file:line``."""

    name: str
    location: str | None = None


@dataclasses.dataclass
class Route:
    """One rule of a route table.

    ``path`` is the full path a client uses (mount prefix + rule); adapters
    fill it with ``rule`` and the routing core adds the prefix. ``group`` is
    the blueprint / namespace / include the rule belongs to (``None`` for the
    app itself).
    """

    rule: str
    endpoint: str | None  # None only for an opaque mount
    methods: list[str]
    view: View | None
    framework: str
    app: str
    path: str = ""
    mount: str = ""
    group: str | None = None
    arguments: list[Argument] = dataclasses.field(default_factory=list)
    defaults: dict[str, t.Any] = dataclasses.field(default_factory=dict)
    host: str | None = None
    subdomain: str | None = None
    strict_slashes: bool | None = None
    redirect_to: str | None = None
    url: str | None = None
    url_error: str | None = None
    #: The URL the framework's builder (``url_for``, ``reverse``,
    #: ``route_path``, ``get_url``) makes for the *endpoint* from the same
    #: values; it differs from ``url`` (built from this rule itself) when the
    #: endpoint has several rules and the builder picks another one.
    endpoint_url: str | None = None
    sample_values: dict[str, t.Any] = dataclasses.field(default_factory=dict)
    #: ``True`` for a plain WSGI callable (or an app of a framework without an
    #: adapter): one mount that accepts every path, its routes unknown.
    opaque: bool = False
    #: A one-line remark shown with the rule (why it is opaque ...).
    note: str | None = None

    def to_json(self) -> dict[str, t.Any]:
        """The documented JSON object of ``routes --json``."""
        # by hand rather than dataclasses.asdict, whose deep copies cost more
        # than everything else on a table of thousands of rules
        data = {name: getattr(self, name) for name in _ROUTE_FIELDS}
        data["methods"] = list(self.methods)
        data["view"] = (
            {"name": self.view.name, "location": self.view.location} if self.view else None
        )
        data["arguments"] = [
            {"name": a.name, "converter": a.converter, "regex": a.regex} for a in self.arguments
        ]
        data["defaults"] = dict(self.defaults)
        data["sample_values"] = dict(self.sample_values)
        return data


#: ``routes --json`` key order: what a reader looks for first.
_ROUTE_FIELDS = (
    "path", "rule", "mount", "endpoint", "methods", "view", "arguments", "defaults",
    "host", "subdomain", "framework", "app", "url", "url_error", "group",
    "strict_slashes", "redirect_to", "sample_values", "opaque", "note", "endpoint_url",
)  # fmt: skip


@dataclasses.dataclass
class Match:
    """What a router answered for one request.

    ``status`` is 200 for a match, 404, 405 (``allowed`` filled) or a
    redirect code (``location`` filled); ``nearest`` holds the closest rules
    for a 404.
    """

    status: int
    route: Route | None = None
    arguments: dict[str, t.Any] = dataclasses.field(default_factory=dict)
    allowed: list[str] = dataclasses.field(default_factory=list)
    location: str | None = None
    nearest: list[str] = dataclasses.field(default_factory=list)


def add_note(route: Route, note: str) -> None:
    """Append ``note`` to the route's one-line remark."""
    route.note = f"{route.note}; {note}" if route.note else note


def shadowed_note(url: str, endpoint: str | None, rule: str) -> str:
    """The remark for a rule whose own URL another rule answers first."""
    return f"shadowed: {url} is answered by {endpoint} {rule}, matched first"


def nearest(word: str, candidates: t.Iterable[str], n: int = 5, cutoff: float = 0.5) -> list[str]:
    """The candidates closest to ``word`` (difflib), best first."""
    import difflib

    return difflib.get_close_matches(word, list(candidates), n=n, cutoff=cutoff)


def adapter_for(framework: str) -> types.ModuleType | None:
    """The adapter module for ``framework``, or ``None`` if there is none."""
    target = ADAPTERS.get(framework)
    return importlib.import_module(target) if target else None


def first_line(exc: BaseException) -> str:
    """An exception as one line of text."""
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}".rstrip(": ")


def unknown_endpoint(owner: str, endpoint: str, known: t.Iterable[str]) -> RouteNotFound:
    """The error for an endpoint ``owner`` does not know, with the closest names."""
    close = nearest(endpoint, known)
    return RouteNotFound(
        f"{owner} has no route named {endpoint!r}",
        hint=f"did you mean: {', '.join(close)}" if close else "see: wsgiscope routes",
    )


def missing_arguments(
    endpoint: str, rule: str, arguments: t.Iterable[str], missing: t.Iterable[str]
) -> UsageError:
    """The error for a URL that lacks values: what the rule needs, what is missing."""
    return UsageError(
        f"cannot build a URL for {endpoint!r}: {rule} needs {', '.join(arguments)} "
        f"(missing: {', '.join(missing)})",
        hint="pass them as NAME=VALUE",
    )


def url_path(path_info: str) -> str:
    """A decoded PATH_INFO quoted back into a URL path.

    For request builders that decode the path they are given (werkzeug's
    ``EnvironBuilder``, webob's ``Request.blank``): the app then receives
    exactly ``path_info``, a ``%`` or ``?`` in it included.
    """
    from urllib.parse import quote

    return quote(path_info, safe="/:@!$&'()*+,;=")


def finish_url(url: str, *, external: bool, scheme: str | None, anchor: str | None) -> str:
    """An app-relative URL made external (``localhost``) and given its anchor.

    For adapters whose framework builds paths only (no host): the host is the
    one wsgiscope's requests use, ``localhost``. The anchor is quoted as
    Flask's ``url_for`` quotes it.
    """
    from urllib.parse import quote

    if external or scheme:
        url = f"{scheme or 'http'}://localhost{url}"
    return f"{url}#{quote(anchor, safe=ANCHOR_SAFE)}" if anchor else url


#: Characters ``url_for`` leaves unquoted in an anchor.
ANCHOR_SAFE = "%!#$&'()*+,/:;=?@"


def check_method(endpoint: str, methods: t.Sequence[str], method: str | None) -> None:
    """Refuse ``--method`` for a route that does not accept it.

    For frameworks whose builder ignores the method: ``url_for`` refuses a
    method no rule of the endpoint accepts, and so does wsgiscope for them.
    ``methods`` containing ``*`` accepts every method.

    :raises UsageError: naming the methods the route accepts.
    """
    if method is None or "*" in methods or method.upper() in methods:
        return
    raise UsageError(
        f"no rule of endpoint {endpoint!r} accepts method {method.upper()}",
        hint=f"it accepts {', '.join(methods)}",
    )
