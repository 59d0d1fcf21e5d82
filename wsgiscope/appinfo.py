"""The ``info`` report: what an APP resolved to, as plain JSON-ready data."""

from __future__ import annotations

import typing as t

from wsgiscope.loading import LoadedApp
from wsgiscope.structure import AppNode, Link, describe, inspect_app, type_name


def describe_loaded(loaded: LoadedApp) -> dict[str, t.Any]:
    """The ``info`` report for ``loaded`` (documented in the README)."""
    node = inspect_app(loaded.app)
    report: dict[str, t.Any] = {
        "import_path": loaded.ref.import_path,
        "source": loaded.ref.source,
        "module": loaded.module.__name__,
        "file": loaded.file,
        "attribute": loaded.attr_path,
        "object": describe(loaded.app),
        "type": type_name(loaded.app),
        "framework": node.framework,
        "app": node.label,
        "chain": [_link(link) for link in node.chain],
        "mounts": [_mount(m.prefix, m.node) for m in node.mounts],
        "frameworks": frameworks_used(node),
    }
    if any(each.framework == "flask" for _, each in node.walk()):
        from wsgiscope.tracing.flask import describe as flask_tracer

        # Which context adapter traces this Flask (or none: WSGI level only).
        report["flask_tracer"] = flask_tracer()
    return report


#: Framework (as :mod:`wsgiscope.frameworks` names it) -> the packages it is made of.
_PACKAGES = {
    "flask": ("flask", "werkzeug"),
    "werkzeug": ("werkzeug",),
    "dispatcher": ("werkzeug",),
    "django": ("django",),
    "bottle": ("bottle",),
    "falcon": ("falcon",),
    "pyramid": ("pyramid",),
}


def frameworks_used(node: AppNode) -> list[dict[str, t.Any]]:
    """Each framework package the app uses: its version and the file it came from.

    A framework's own source tree in the project directory shadows the
    installed one; this says which one was imported.
    """
    import sys
    from importlib import metadata

    names: list[str] = []
    for _, found in node.walk():
        for package in _PACKAGES.get(found.framework, ()):
            if package not in names:
                names.append(package)
    result = []
    for name in names:
        module = sys.modules.get(name)
        if module is None:
            continue
        try:
            version: str | None = metadata.version(name)
        except metadata.PackageNotFoundError:  # a source tree: its own __version__
            version = vars(module).get("__version__")
        result.append({"name": name, "version": version, "file": getattr(module, "__file__", None)})
    return result


def _link(link: Link) -> dict[str, t.Any]:
    return {"object": link.label, "type": link.type_name, "via": link.via}


def _mount(prefix: str, node: AppNode) -> dict[str, t.Any]:
    return {
        "prefix": prefix,
        "framework": node.framework,
        "object": node.label,
        "type": node.type_name,
        "chain": [_link(link) for link in node.chain],
        "mounts": [_mount(m.prefix, m.node) for m in node.mounts],
    }
