"""The routing core: route tables, URL building and path matching for a whole app.

An app is a tree (:func:`wsgiscope.structure.inspect_app`): middleware
around a framework app, DispatcherMiddleware mounting other apps under
prefixes, recursively. This module walks that tree and asks each framework
app's adapter (:func:`wsgiscope.frameworks.base.adapter_for`) about its own
table, then puts the mount prefix in front:

- :func:`discover_routes` -- every rule of every mounted app, ``path`` =
  mount prefix + rule; a plain WSGI callable is one opaque route;
- :func:`build_url` -- the URL an app's own builder makes for an endpoint,
  addressed with a mount prefix when the endpoint lives in a mounted app;
- :func:`match` -- which mount answers a path (how SCRIPT_NAME and PATH_INFO
  split at each dispatcher level, exactly as DispatcherMiddleware does) and
  what that app's router answers.

Everything returns data; nothing here prints or imports a framework.
"""

from __future__ import annotations

import dataclasses
import inspect
import types
import typing as t
from urllib.parse import unquote, urlsplit, urlunsplit

from wsgiscope.errors import AdapterError, RouteNotFound, UsageError, WsgiscopeError
from wsgiscope.frameworks import DISPATCHER, PLAIN
from wsgiscope.frameworks.base import Match, Route, adapter_for, nearest
from wsgiscope.structure import AppNode, inspect_app

#: Said of a plain WSGI callable, in ``routes`` and ``match``.
OPAQUE_NOTE = (
    "plain WSGI callable: it receives every path below this mount; its routes are not visible"
)


@dataclasses.dataclass
class Step:
    """One DispatcherMiddleware level on the way to the app that answers.

    :param dispatcher: the dispatcher's label.
    :param prefix: the mount prefix chosen (``""`` for the default app).
    :param script_name: SCRIPT_NAME the mounted app receives.
    :param path_info: PATH_INFO the mounted app receives.
    :param app: the label of the app chosen.
    """

    dispatcher: str
    prefix: str
    script_name: str
    path_info: str
    app: str


@dataclasses.dataclass
class Resolution:
    """The answer of :func:`match`.

    :param steps: the dispatcher levels passed, outermost first.
    :param mount: the full mount prefix of the app that answers (its
        SCRIPT_NAME).
    :param path_info: the PATH_INFO that app's router sees.
    :param result: what the router answered, ``None`` for an opaque app.
    :param note: why there is no router answer (opaque app), or ``None``.
    """

    method: str
    path: str
    host: str | None
    steps: list[Step]
    mount: str
    path_info: str
    app: str
    framework: str
    result: Match | None
    note: str | None = None


@dataclasses.dataclass
class BuiltUrl:
    """The answer of :func:`build_url`: ``url`` carries the mount prefix."""

    url: str
    endpoint: str
    mount: str
    framework: str
    app: str


def discover_routes(app: t.Any) -> list[Route]:
    """Every route of ``app`` and of every app mounted below it.

    Routes come in walk order (each app's table as its adapter gives it,
    mounts after the app that mounts them). An app without an adapter (a
    plain callable, or a framework whose adapter is missing) is one opaque
    route ``<mount>/*`` with :data:`OPAQUE_NOTE`.

    :raises AdapterError: when a framework raises while introspected.
    """
    routes: list[Route] = []
    for prefix, node in _router_nodes(inspect_app(app)):
        adapter = _adapter(node)
        if adapter is None:
            routes.append(_opaque_route(prefix, node))
            continue
        table = _call_adapter(node, "listing its routes", adapter.routes, node.obj)
        for route in table:
            route.mount = prefix
            route.path = prefix + (route.path or route.rule)
            if route.url is not None:
                route.url = with_prefix(route.url, prefix)
            if route.endpoint_url is not None:
                route.endpoint_url = with_prefix(route.endpoint_url, prefix)
        routes.extend(table)
    return routes


#: Methods hidden unless asked for, as ``flask routes`` does.
IMPLIED_METHODS = frozenset({"HEAD", "OPTIONS"})

_SORT_KEYS: dict[str, t.Callable[[Route], tuple[str, ...]]] = {
    "mount": lambda r: (r.mount, r.rule, r.endpoint or ""),
    "rule": lambda r: (r.path, r.endpoint or ""),
    "endpoint": lambda r: (r.endpoint or "", r.path),
    "methods": lambda r: (",".join(r.methods), r.path),
}


def select_routes(
    routes: list[Route],
    *,
    sort: str = "mount",
    method: str | None = None,
    endpoint_glob: str | None = None,
    all_methods: bool = False,
) -> list[Route]:
    """Filter and order a route table the way ``routes`` options ask.

    :param sort: ``mount`` (mount prefix, then rule), ``rule`` (full path),
        ``endpoint`` or ``methods``.
    :param method: keep rules accepting this method (opaque mounts accept all).
    :param endpoint_glob: keep endpoints matching this :mod:`fnmatch` pattern.
    :param all_methods: keep HEAD and OPTIONS in ``methods`` (hidden otherwise).
    """
    import fnmatch

    selected = []
    wanted = method.upper() if method else None
    for route in routes:
        if wanted and wanted not in route.methods and "*" not in route.methods:
            continue
        if endpoint_glob is not None and (
            route.endpoint is None or not fnmatch.fnmatchcase(route.endpoint, endpoint_glob)
        ):
            continue
        if not all_methods:
            shown = [m for m in route.methods if m not in IMPLIED_METHODS]
            route.methods = shown or route.methods
        selected.append(route)
    selected.sort(key=_SORT_KEYS[sort])
    return selected


def build_url(
    app: t.Any,
    endpoint: str,
    values: dict[str, str] | None = None,
    *,
    mount: str | None = None,
    external: bool = False,
    method: str | None = None,
    anchor: str | None = None,
    scheme: str | None = None,
) -> BuiltUrl:
    """The URL ``endpoint`` builds to, as the owning app's framework builds it.

    ``endpoint`` may be written ``MOUNT:ENDPOINT`` (``/admin:dashboard``)
    instead of passing ``mount``. Without a mount the app that has the
    endpoint answers; when several mounted apps have it, none is picked
    silently: :class:`UsageError` lists each candidate mount with the URL it
    builds.

    :raises RouteNotFound: unknown endpoint (with the closest names) or
        unknown mount.
    :raises UsageError: missing or invalid values; an ambiguous endpoint.
    """
    values = dict(values or {})
    if mount is None and endpoint.startswith("/") and ":" in endpoint:
        mount, _, endpoint = endpoint.partition(":")
    nodes = _router_nodes(inspect_app(app))
    options = {"external": external, "method": method, "anchor": anchor, "scheme": scheme}
    if mount is not None:
        prefix = normalise_mount(mount)
        candidates = [(p, n) for p, n in nodes if p == prefix]
        if not candidates:
            known = [p or "/" for p, _ in nodes]
            raise RouteNotFound(
                f"no app is mounted at {mount!r}",
                hint=f"mounts: {', '.join(known)}",
            )
        return _build(candidates[0], endpoint, values, options)
    routable = [(p, n) for p, n in nodes if _adapter(n) is not None]
    if not routable:
        prefix, node = nodes[0]
        raise RouteNotFound(
            f"the app at {prefix or '/'} has no named routes ({_opaque_note(node)})",
            hint="wsgiscope routes shows what it can see",
        )
    if len(routable) > 1:
        owners = [(p, n) for p, n in routable if _owns(n, endpoint)]
        if len(owners) > 1:
            raise _ambiguous(endpoint, owners, values, options)
        if owners:
            return _build(owners[0], endpoint, values, options)
    return _build(routable[0], endpoint, values, options)


def _owns(node: AppNode, endpoint: str) -> bool:
    """Whether the app of ``node`` has a rule named ``endpoint``."""
    try:
        return any(route.endpoint == endpoint for route in _node_routes(node))
    except AdapterError:
        return False  # its own error shows if it is the one asked


def _ambiguous(
    endpoint: str,
    owners: list[tuple[str, AppNode]],
    values: dict[str, str],
    options: dict[str, t.Any],
) -> UsageError:
    """The error for an endpoint several mounted apps have: each candidate
    with the URL it builds (or why it cannot), and how to choose."""
    candidates = []
    for prefix, node in owners:
        try:
            built = _build((prefix, node), endpoint, values, options).url
        except WsgiscopeError as exc:
            built = f"not buildable: {exc.message}"
        candidates.append(f"--mount {prefix or '/'} ({node.label}): {built}")
    return UsageError(
        f"endpoint {endpoint!r} exists in {len(owners)} mounted apps; "
        "choose one with --mount PREFIX (or write MOUNT:ENDPOINT)",
        hint="; ".join(candidates),
    )


def match(app: t.Any, method: str, path: str, host: str | None = None) -> Resolution:
    """Which app and rule answer ``method path``, as a server would route it.

    Each DispatcherMiddleware level splits the path exactly as werkzeug's
    does (longest mounted prefix wins, the rest is PATH_INFO); the app found
    is then asked through its adapter. ``host`` is the Host the request
    carries (default: the app's SERVER_NAME, else ``localhost``).

    :raises UsageError: a path that does not start with ``/``.
    """
    if not path.startswith("/"):
        raise UsageError(f"the path {path!r} does not start with '/'", hint=f"try /{path}")
    method = method.upper()
    root = node = inspect_app(app)
    steps: list[Step] = []
    # as a server does: the query string split off, the path percent-decoded
    script_name, path_info = "", unquote(path.partition("?")[0])
    while node.mounts:
        prefix, chosen, script, rest = _dispatch(node, path_info)
        script_name += script
        path_info = rest
        steps.append(Step(node.chain[-1].label, prefix, script_name, path_info, chosen.label))
        if chosen is node:  # a Flask app whose wsgi_app was replaced: it answers itself
            break
        node = chosen
    adapter = _adapter(node)
    resolution = Resolution(
        method, path, host, steps, script_name, path_info, node.label, node.framework, None
    )
    if adapter is None:
        resolution.note = _opaque_note(node)
        return resolution
    result = _call_adapter(
        node,
        "matching a path",
        adapter.match,
        node.obj,
        method,
        path_info,
        host,
        script_name=script_name,
    )
    if result.route is not None:
        result.route.mount = script_name
        result.route.path = script_name + (result.route.path or result.route.rule)
    if result.status == 404 and not result.nearest:
        result.nearest = _nearest_rules(root, node, unquote(path.partition("?")[0]))
    resolution.result = result
    return resolution


def resolution_json(resolution: Resolution) -> dict[str, t.Any]:
    """The documented JSON object of ``match --json``.

    Converted arguments are ``{"value": ..., "type": "int", "repr": "3"}``:
    the value as JSON (its ``repr`` when JSON cannot carry it) and its Python
    type.
    """
    result = resolution.result
    data: dict[str, t.Any] = {
        "method": resolution.method,
        "path": resolution.path,
        "host": resolution.host,
        "steps": [dataclasses.asdict(step) for step in resolution.steps],
        "mount": resolution.mount,
        "script_name": resolution.mount,
        "path_info": resolution.path_info,
        "app": resolution.app,
        "framework": resolution.framework,
        "status": result.status if result else None,
        "route": result.route.to_json() if result and result.route else None,
        "arguments": {
            name: {"value": _json_value(value), "type": type(value).__name__, "repr": repr(value)}
            for name, value in (result.arguments if result else {}).items()
        },
        "allowed": result.allowed if result else [],
        "location": result.location if result else None,
        "nearest": result.nearest if result else [],
        "note": resolution.note,
    }
    return data


def _json_value(value: t.Any) -> t.Any:
    """``value`` when JSON carries it as is (containers too), else its ``repr``."""
    import json

    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (list, tuple, dict)):
        try:
            json.dumps(value)
        except (TypeError, ValueError):
            return repr(value)
        return value
    return repr(value)


def normalise_mount(mount: str) -> str:
    """``"/api/"`` -> ``"/api"``; ``"/"`` and ``""`` -> ``""`` (the top app)."""
    mount = mount.strip()
    if mount in ("", "/"):
        return ""
    if not mount.startswith("/"):
        mount = "/" + mount
    return mount.rstrip("/")


def with_prefix(url: str, prefix: str) -> str:
    """``url`` with the mount ``prefix`` inserted before its path."""
    if not prefix:
        return url
    if url.startswith("/"):
        return prefix + url
    parts = urlsplit(url)
    if parts.scheme or parts.netloc:
        return urlunsplit(parts._replace(path=prefix + (parts.path or "/")))
    return prefix + "/" + url


def _router_nodes(root: AppNode) -> list[tuple[str, AppNode]]:
    """Every (prefix, node) that answers requests itself (dispatchers skipped)."""
    return [(prefix, node) for prefix, node in root.walk() if node.framework != DISPATCHER]


def _adapter(node: AppNode) -> types.ModuleType | None:
    if node.framework in (PLAIN, DISPATCHER):
        return None
    try:
        return adapter_for(node.framework)
    except ModuleNotFoundError as exc:
        if exc.name and exc.name.startswith("wsgiscope."):
            return None  # no adapter module for this framework (yet)
        raise


def _opaque_note(node: AppNode) -> str:
    if node.framework == PLAIN:
        return OPAQUE_NOTE
    return (
        f"wsgiscope has no route adapter for {node.framework}; "
        "it receives every path below this mount"
    )


def _opaque_route(prefix: str, node: AppNode) -> Route:
    return Route(
        rule="/*",
        endpoint=None,
        methods=["*"],
        view=None,
        framework=node.framework,
        app=node.label,
        path=prefix + "/*",
        mount=prefix,
        url=prefix + "/",
        opaque=True,
        note=_opaque_note(node),
    )


def _dispatch(node: AppNode, path_info: str) -> tuple[str, AppNode, str, str]:
    """werkzeug ``DispatcherMiddleware.__call__``'s split, on the structure tree.

    Returns (prefix chosen, node chosen, script part, new PATH_INFO).
    """
    mounts = {m.prefix: m.node for m in node.mounts if m.prefix}
    default = next((m.node for m in node.mounts if m.prefix == ""), node)
    script = path_info
    rest = ""
    while "/" in script:
        if script in mounts:
            return script, mounts[script], script, rest
        script, last_item = script.rsplit("/", 1)
        rest = f"/{last_item}{rest}"
    chosen = mounts.get(script)
    if chosen is not None:
        return script, chosen, script, rest
    return "", default, script, rest


def _accepts(function: t.Callable[..., t.Any], name: str) -> bool:
    try:
        return name in inspect.signature(function).parameters
    except (TypeError, ValueError):
        return False


def _call_adapter(
    node: AppNode,
    doing: str,
    function: t.Callable[..., t.Any],
    *args: t.Any,
    script_name: str | None = None,
    **kwargs: t.Any,
) -> t.Any:
    """Call an adapter function; anything but our own errors becomes AdapterError."""
    prefix_later = False
    if script_name is not None:
        if _accepts(function, "script_name"):
            kwargs["script_name"] = script_name
        else:
            prefix_later = True
    try:
        result = function(*args, **kwargs)
    except WsgiscopeError:
        raise
    except Exception as exc:
        raise AdapterError(
            f"{node.label} raised {type(exc).__name__} while wsgiscope was {doing}: {exc}",
            hint="run with --traceback to see where",
        ) from exc
    if prefix_later and script_name:
        if isinstance(result, str):
            return with_prefix(result, script_name)
        if isinstance(result, Match) and result.location and result.location.startswith("/"):
            result.location = script_name + result.location
    return result


def _node_routes(node: AppNode) -> list[Route]:
    adapter = _adapter(node)
    if adapter is None:
        return []
    return t.cast(
        "list[Route]", _call_adapter(node, "listing its routes", adapter.routes, node.obj)
    )


def _build(
    target: tuple[str, AppNode], endpoint: str, values: dict[str, str], options: dict[str, t.Any]
) -> BuiltUrl:
    prefix, node = target
    adapter = _adapter(node)
    if adapter is None:
        raise RouteNotFound(
            f"the app at {prefix or '/'} has no named routes ({_opaque_note(node)})"
        )
    url = _call_adapter(
        node,
        "building a URL",
        adapter.build_url,
        node.obj,
        endpoint,
        values,
        script_name=prefix,
        **options,
    )
    return BuiltUrl(url, endpoint, prefix, node.framework, node.label)


def _nearest_rules(root: AppNode, answering: AppNode, path: str) -> list[str]:
    """The rules of the whole app closest to ``path``, compared by full path.

    Every mounted app's rules take part, so a typo in a mount prefix
    (``/ap/users/3``) still finds ``/api/users/<int:user_id>``. Rules are
    compared by their text and by their sample URL.
    """
    by_key: dict[str, str] = {}
    for prefix, node in _router_nodes(root):
        try:
            routes = _node_routes(node)
        except AdapterError:
            if node is answering:
                raise
            continue  # another mount's broken routing does not hide this answer
        for route in routes:
            full = prefix + route.rule
            by_key.setdefault(full, full)
            if route.url and route.url.startswith("/"):
                by_key.setdefault(with_prefix(route.url, prefix), full)
    found: list[str] = []
    for key in nearest(path, by_key, n=10, cutoff=0.3):
        if by_key[key] not in found:
            found.append(by_key[key])
    return found[:5]
