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
    }
    if any(each.framework == "flask" for _, each in node.walk()):
        from wsgiscope.tracing.flask import describe as flask_tracer

        # Which context adapter traces this Flask (or none: WSGI level only).
        report["flask_tracer"] = flask_tracer()
    return report


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
