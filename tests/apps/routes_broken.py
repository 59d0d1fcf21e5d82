"""Apps whose routing raises while wsgiscope introspects it."""

from __future__ import annotations

import typing as t

from werkzeug.middleware.dispatcher import DispatcherMiddleware
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response


class BrokenMap(Map):
    def iter_rules(self, endpoint: str | None = None) -> t.Iterator[Rule]:
        raise RuntimeError("the rules are on fire")


class MapApp:
    """A werkzeug-tutorial style app whose Map cannot list its rules."""

    def __init__(self) -> None:
        self.url_map = BrokenMap([Rule("/", endpoint="index")])

    def __call__(self, environ: dict[str, t.Any], start_response: t.Any) -> t.Any:
        return Response("index")(environ, start_response)


application = MapApp()
request_class = Request


front = Map([Rule("/", endpoint="home")])


@Request.application
def front_app(request: Request) -> Response:
    front.bind_to_environ(request.environ).match()
    return Response("home")


#: a working Map app with the broken one mounted under /broken
mounted = DispatcherMiddleware(front_app, {"/broken": application})
