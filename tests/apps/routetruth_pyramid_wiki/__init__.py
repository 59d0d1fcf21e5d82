"""A Pyramid wiki as the tutorial builds it, with an add-on brought in by ``config.include()``.

``main`` is the PasteDeploy entry point (``routetruth_pyramid_wiki.ini``,
which ``proutes`` reads); ``app`` is the same app made at import, for
wsgiscope. The wiki's own routes are added by its ``routes`` include, the
add-on's by ``config.include("routetruth_pyramid_toolbar")``.
"""

from __future__ import annotations

import typing as t

from pyramid.config import Configurator


def view_wiki(request: t.Any) -> dict[str, t.Any]:
    return {"route": request.matched_route.name}


def view_page(request: t.Any) -> dict[str, t.Any]:
    return {"route": request.matched_route.name, "page": request.matchdict["pagename"]}


def edit_page(request: t.Any) -> dict[str, t.Any]:
    return {"route": request.matched_route.name, "page": request.matchdict["pagename"]}


def routes(config: Configurator) -> None:
    config.add_route("view_wiki", "/")
    config.add_route("add_page", "/add_page/{pagename}")
    config.add_route("view_page", "/{pagename}")
    config.add_route("edit_page", "/{pagename}/edit_page")
    # added after /{pagename}, which Pyramid tries first: /about never gets here
    config.add_route("about", "/about")
    config.add_view(view_wiki, route_name="about", renderer="json")
    config.add_view(view_wiki, route_name="view_wiki", renderer="json")
    config.add_view(edit_page, route_name="add_page", renderer="json")
    config.add_view(view_page, route_name="view_page", renderer="json", request_method="GET")
    config.add_view(edit_page, route_name="edit_page", renderer="json")


def main(global_config: t.Any = None, **settings: t.Any) -> t.Any:
    with Configurator(settings=settings) as config:
        config.include("routetruth_pyramid_toolbar")
        config.include(routes)
        return config.make_wsgi_app()


app = main()
