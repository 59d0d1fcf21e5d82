"""wsgiscope: a command-line microscope for WSGI applications.

The package root only carries the version and lazy re-exports, so that
``import wsgiscope`` stays cheap (the CLI's start-up time depends on it).
"""

from __future__ import annotations

import typing as t

__version__ = "0.1.0.dev0"

__all__ = ["TraceMiddleware", "__version__"]

#: Public names re-exported lazily: name -> "module:attribute".
_LAZY: dict[str, str] = {
    "TraceMiddleware": "wsgiscope.tracing.middleware:TraceMiddleware",
}


def __getattr__(name: str) -> t.Any:
    target = _LAZY.get(name)
    if target is None:
        raise AttributeError(f"module 'wsgiscope' has no attribute {name!r}")
    import importlib

    module_name, _, attr = target.partition(":")
    value = getattr(importlib.import_module(module_name), attr)
    globals()[name] = value
    return value
