"""A werkzeug app: ``@Request.application`` plus a module-level ``Map``."""

from __future__ import annotations

import typing as t

from werkzeug.exceptions import HTTPException
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

url_map = Map(
    [
        Rule("/", endpoint="index"),
        Rule("/wiki/<name>", endpoint="page"),
        Rule("/wiki/<name>/edit", endpoint="edit", methods=["GET", "POST"]),
        Rule("/history/<int:rev>", endpoint="history"),
        Rule("/about", endpoint="about", redirect_to="/wiki/About"),
    ]
)


def index() -> str:
    return "index"


def page(name: str) -> str:
    return f"page {name}"


def edit(name: str) -> str:
    return f"edit {name}"


def history(rev: int) -> str:
    return f"history {rev}"


@Request.application
def application(request: Request) -> t.Any:
    adapter = url_map.bind_to_environ(request.environ)
    try:
        endpoint, values = adapter.match()
    except HTTPException as exc:
        return exc
    return Response(globals()[endpoint](**values))


class Wiki:
    """The werkzeug tutorial's shape: a class with ``url_map`` and ``on_<endpoint>``."""

    def __init__(self) -> None:
        self.url_map = Map([Rule("/", endpoint="home"), Rule("/<int:page_id>", endpoint="page")])

    def on_home(self, request: Request) -> Response:
        return Response("home")

    def on_page(self, request: Request, page_id: int) -> Response:
        return Response(f"page {page_id}")

    @Request.application
    def __call__(self, request: Request) -> t.Any:
        try:
            endpoint, values = self.url_map.bind_to_environ(request.environ).match()
        except HTTPException as exc:
            return exc
        return getattr(self, f"on_{endpoint}")(request, **values)


wiki = Wiki()
