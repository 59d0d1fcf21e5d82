"""A Falcon API as Falcon's examples build one: resources, a sink and a static route.

- ``/things`` and ``/things/{thing_id:int}`` (one resource, a suffixed
  responder for the collection);
- the same ``HealthResource`` added at ``/health`` and ``/healthz`` (one
  endpoint name, two routes);
- a sink for ``/proxy/...`` (``add_sink``), which Falcon calls for any method
  on any path the routes do not take, with the regex's named groups as
  keyword arguments;
- ``/static/`` serving ``routetruth_falcon_static/`` (``add_static_route``).
"""

from __future__ import annotations

import pathlib
import typing as t

import falcon

STATIC = pathlib.Path(__file__).parent / "routetruth_falcon_static"


class ThingsResource:
    def on_get(self, req: falcon.Request, resp: falcon.Response, thing_id: int) -> None:
        resp.media = {"route": req.uri_template, "thing_id": thing_id}

    def on_get_collection(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.media = {"route": req.uri_template, "things": []}

    def on_post_collection(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.status = falcon.HTTP_201
        resp.media = {"route": req.uri_template}


class HealthResource:
    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.media = {"route": req.uri_template, "ok": True}


def proxy_sink(req: falcon.Request, resp: falcon.Response, service: str, **_: t.Any) -> None:
    """Forwards /proxy/<service>/... (here: answers what it would forward)."""
    resp.media = {"sink": "proxy", "service": service, "path": req.path}


app = falcon.App()
things = ThingsResource()
app.add_route("/things", things, suffix="collection")
app.add_route("/things/{thing_id:int}", things)
health = HealthResource()
app.add_route("/health", health)
app.add_route("/healthz", health)
app.add_sink(proxy_sink, r"/proxy/(?P<service>[a-z]+)")
app.add_static_route("/static", str(STATIC))
