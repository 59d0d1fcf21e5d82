"""Framework detection and the registry of framework adapters.

:func:`framework_of` names the framework an object belongs to by looking at
its class hierarchy and attributes only: it never imports a framework, so
``wsgiscope info`` on a Flask app does not pay for importing Django. The
modules that know a framework in depth (routes, URL building) are registered
here as dotted paths and imported only when a command needs them.
"""

from __future__ import annotations

import sys
import types
import typing as t

#: Frameworks wsgiscope knows, in the order they are tested.
FRAMEWORKS: tuple[str, ...] = ("flask", "django", "bottle", "falcon", "pyramid", "werkzeug")

#: The label used for an app of no known framework.
PLAIN = "wsgi"
#: The label used for werkzeug's DispatcherMiddleware (and look-alikes).
DISPATCHER = "dispatcher"

_CLASSES: dict[str, tuple[tuple[str, str], ...]] = {
    "flask": (("flask.app", "Flask"), ("flask.sansio.app", "App")),
    "django": (("django.core.handlers.wsgi", "WSGIHandler"),),
    "bottle": (("bottle", "Bottle"),),
    "falcon": (("falcon.app", "App"), ("falcon.api", "API")),
    "pyramid": (("pyramid.router", "Router"),),
}


def _class_names(obj: t.Any) -> set[tuple[str, str]]:
    return {(cls.__module__, cls.__name__) for cls in type(obj).__mro__}


def is_dispatcher(obj: t.Any) -> bool:
    """A werkzeug ``DispatcherMiddleware`` or an object shaped like one."""
    if ("werkzeug.middleware.dispatcher", "DispatcherMiddleware") in _class_names(obj):
        return True
    mounts = _attribute(obj, "mounts")
    return isinstance(mounts, dict) and callable(_attribute(obj, "app"))


def _attribute(obj: t.Any, name: str) -> t.Any:
    """``getattr(obj, name, None)``, also when the app's ``__getattr__`` raises."""
    try:
        return getattr(obj, name, None)
    except Exception:
        return None


def werkzeug_map_of(obj: t.Any) -> t.Any | None:
    """The ``werkzeug.routing.Map`` behind a Map-based app, if there is one.

    Found as the app's ``url_map`` attribute (the werkzeug tutorial's style)
    or as a module-level ``Map`` in the module that defines the callable
    (``@Request.application`` plus a module-level Map).
    """
    if "werkzeug.routing.map" not in sys.modules:
        return None
    map_type = sys.modules["werkzeug.routing.map"].Map
    url_map = _attribute(obj, "url_map")
    if isinstance(url_map, map_type):
        return url_map
    function = obj if isinstance(obj, types.FunctionType) else None
    if function is None:
        return None
    function = t.cast(types.FunctionType, getattr(function, "__wrapped__", function))
    found = [v for v in function.__globals__.values() if isinstance(v, map_type)]
    return found[0] if len(found) == 1 else None


def framework_of(obj: t.Any) -> str | None:
    """The framework whose application ``obj`` is, or ``None``.

    Middleware and plain callables give ``None``; see
    :func:`wsgiscope.structure.inspect_app` for what wraps what.
    """
    names = _class_names(obj)
    for framework, classes in _CLASSES.items():
        if any(c in names for c in classes):
            return framework
    if werkzeug_map_of(obj) is not None:
        return "werkzeug"
    return None
