"""What an app object is made of: middleware chain, framework app, mounts.

:func:`inspect_app` walks from the object the loader returned down through
wrapping middleware (``.app``, ``.application``, ``.wsgi_app`` ...) to the
framework application, notices a Flask app whose ``wsgi_app`` was wrapped in
place, and expands every ``DispatcherMiddleware`` into its mounts,
recursively. The result is plain data (:class:`AppNode`) for ``info``,
``routes`` and the other commands to use.
"""

from __future__ import annotations

import dataclasses
import inspect
import typing as t

from wsgiscope.frameworks import DISPATCHER, PLAIN, framework_of, is_dispatcher

#: Attributes through which middleware commonly holds the app it wraps.
WRAPPED_ATTRIBUTES = ("app", "application", "wsgi_app", "_app", "wrapped", "__wrapped__")

#: How deep middleware may nest before wsgiscope stops following it.
MAX_DEPTH = 50


@dataclasses.dataclass
class Link:
    """One object on the way from the loaded object to the app.

    :param obj: the object itself.
    :param label: a one-line description, e.g. ``"ProxyFix"``.
    :param via: the attribute that led to the next link (``"app"``), or
        ``"wsgi_app"`` for middleware installed on a Flask app in place.
    """

    obj: t.Any
    label: str
    type_name: str
    via: str | None = None


@dataclasses.dataclass
class Mount:
    """An app mounted under a URL prefix by a dispatcher.

    :param prefix: the mount prefix, ``""`` for the dispatcher's default app.
    """

    prefix: str
    node: AppNode


@dataclasses.dataclass
class AppNode:
    """An application at one level of the structure.

    :param obj: the innermost object: the framework app, the dispatcher,
        or the plain callable.
    :param framework: one of :data:`wsgiscope.frameworks.FRAMEWORKS`,
        ``"dispatcher"`` or ``"wsgi"``.
    :param chain: the links from the outermost object down to ``obj``
        included (middleware first).
    :param mounts: apps mounted below this one, ``""`` first when a
        dispatcher has a default app other than this one.
    """

    obj: t.Any
    framework: str
    label: str
    type_name: str
    chain: list[Link]
    mounts: list[Mount] = dataclasses.field(default_factory=list)

    def walk(self, prefix: str = "") -> t.Iterator[tuple[str, AppNode]]:
        """Every node with the full mount prefix it answers under."""
        yield prefix, self
        for mount in self.mounts:
            yield from mount.node.walk(prefix + mount.prefix)


def type_name(obj: t.Any) -> str:
    """``module.QualName`` of ``obj``'s class (or of a function itself)."""
    if inspect.isroutine(obj):
        return f"{getattr(obj, '__module__', '?')}.{getattr(obj, '__qualname__', repr(obj))}"
    cls = type(obj)
    return f"{cls.__module__}.{cls.__qualname__}"


def describe(obj: t.Any, framework: str | None = None) -> str:
    """A short human label: ``Flask app 'shop'``, ``ProxyFix`` ..."""
    framework = framework or framework_of(obj)
    if framework == "flask":
        return f"Flask app {getattr(obj, 'name', '?')!r}"
    if framework == "django":
        import os

        settings = os.environ.get("DJANGO_SETTINGS_MODULE", "?")
        return f"Django WSGIHandler (settings {settings})"
    if framework == "bottle":
        return "Bottle app"
    if framework == "falcon":
        return f"Falcon {type(obj).__name__}"
    if framework == "pyramid":
        return "Pyramid Router"
    if inspect.ismethod(obj):
        owner = obj.__self__
        owner_label = describe(owner) if framework_of(owner) else type(owner).__name__
        return f"{owner_label}.{obj.__name__}"
    if inspect.isroutine(obj):
        label = f"{getattr(obj, '__module__', '?')}.{getattr(obj, '__qualname__', '?')}"
        return f"werkzeug app {label}" if framework == "werkzeug" else f"function {label}"
    if framework == "werkzeug":
        return f"werkzeug app {type(obj).__name__}"
    if is_dispatcher(obj):
        return "DispatcherMiddleware"
    return type(obj).__name__


def inspect_app(obj: t.Any) -> AppNode:
    """Describe ``obj`` as an :class:`AppNode` tree (see the module doc)."""
    return _inspect(obj, depth=0)


def _inspect(obj: t.Any, depth: int) -> AppNode:
    chain: list[Link] = []
    current = obj
    for _ in range(MAX_DEPTH):
        framework = framework_of(current)
        if framework is not None:
            chain.append(Link(current, describe(current, framework), type_name(current)))
            node = AppNode(current, framework, chain[-1].label, type_name(current), chain)
            if framework == "flask":
                _inspect_wsgi_app(node, depth)
            return node
        if is_dispatcher(current):
            chain.append(Link(current, "DispatcherMiddleware", type_name(current)))
            node = AppNode(current, DISPATCHER, "DispatcherMiddleware", type_name(current), chain)
            node.mounts = _dispatcher_mounts(current, depth)
            return node
        attribute, inner = _wrapped(current)
        if inner is None or any(link.obj is inner for link in chain):
            break  # the end, or middleware that wraps itself in a loop
        chain.append(Link(current, describe(current), type_name(current), via=attribute))
        current = inner
    label = describe(current)
    if not chain or chain[-1].obj is not current:
        chain.append(Link(current, label, type_name(current)))
    return AppNode(current, PLAIN, label, type_name(current), chain)


def _wrapped(obj: t.Any) -> tuple[str | None, t.Any]:
    if inspect.isroutine(obj):
        inner = getattr(obj, "__wrapped__", None)
        return ("__wrapped__", inner) if callable(inner) else (None, None)
    for attribute in WRAPPED_ATTRIBUTES:
        try:
            inner = getattr(obj, attribute, None)
        except Exception:  # a property of the user's middleware may raise
            continue
        if inner is not None and inner is not obj and callable(inner):
            return attribute, inner
    return None, None


def _dispatcher_mounts(dispatcher: t.Any, depth: int) -> list[Mount]:
    if depth >= MAX_DEPTH:
        return []
    mounts = [Mount("", _inspect(dispatcher.app, depth + 1))]
    for prefix, app in _sorted_mounts(dispatcher.mounts):
        mounts.append(Mount(prefix, _inspect(app, depth + 1)))
    return mounts


def _sorted_mounts(mounts: t.Mapping[t.Any, t.Any]) -> list[tuple[str, t.Any]]:
    """A dispatcher's mounts by prefix. A key that is not a str (``b"/x"``,
    which the dispatcher never matches) is kept as its repr, sorted last."""
    prefixes = [(k if isinstance(k, str) else repr(k), app) for k, app in mounts.items()]
    return sorted(prefixes, key=lambda item: (item[0][:2] in ("b'", 'b"'), item[0]))


def _inspect_wsgi_app(node: AppNode, depth: int) -> None:
    """Follow a Flask app's ``wsgi_app`` when middleware replaced it in place."""
    app = node.obj
    current = app.__dict__.get("wsgi_app") if hasattr(app, "__dict__") else None
    for _ in range(MAX_DEPTH):
        if current is None or _is_own_wsgi_app(app, current):
            return
        if is_dispatcher(current):
            node.chain.append(
                Link(current, "DispatcherMiddleware", type_name(current), via="wsgi_app")
            )
            mounts = []
            if not _is_own_wsgi_app(app, current.app):
                mounts.append(Mount("", _inspect(current.app, depth + 1)))
            for prefix, mounted in _sorted_mounts(current.mounts):
                mounts.append(Mount(prefix, _inspect(mounted, depth + 1)))
            node.mounts = mounts
            return
        node.chain.append(Link(current, describe(current), type_name(current), via="wsgi_app"))
        _, current = _wrapped(current)


def _is_own_wsgi_app(app: t.Any, obj: t.Any) -> bool:
    return inspect.ismethod(obj) and obj.__self__ is app and obj.__name__ == "wsgi_app"
