"""A debug-toolbar-like add-on that a Pyramid app brings in with ``config.include()``.

Like ``pyramid_debugtoolbar`` and friends, everything it adds comes from its
``includeme``: a route serving the toolbar's pages, a static view for its
assets, a route to its documentation that is external (``static=True``: used
to build URLs only, never matched) and, through a nested include with a
``route_prefix``, an API of its own.
"""

from __future__ import annotations

import typing as t

from pyramid.config import Configurator


def toolbar_page(request: t.Any) -> dict[str, t.Any]:
    return {"toolbar": "/".join(request.matchdict["subpath"]), "route": request.matched_route.name}


def toolbar_requests(request: t.Any) -> dict[str, t.Any]:
    return {"request_id": request.matchdict["request_id"], "route": request.matched_route.name}


def api(config: Configurator) -> None:
    config.add_route("toolbar_api_requests", "/requests/{request_id}")
    config.add_view(toolbar_requests, route_name="toolbar_api_requests", renderer="json")


def includeme(config: Configurator) -> None:
    config.add_static_view("_toolbar/static", "routetruth_pyramid_toolbar:static")
    config.add_route("toolbar_docs", "https://docs.example.com/toolbar/{page}", static=True)
    config.include(api, route_prefix="/_toolbar/api")
    config.add_route("toolbar", "/_toolbar/*subpath")  # last: it takes every other path
    config.add_view(toolbar_page, route_name="toolbar", renderer="json")
