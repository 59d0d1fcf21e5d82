"""A werkzeug-tutorial-style app (a Map, ``on_<endpoint>`` methods) whose
``page`` endpoint has two rules: ``/`` (``name`` defaults to ``"Home"``) and
``/page/<name>``; ``feed`` answers ``/feed`` and ``/rss``."""

from __future__ import annotations

import json
import typing as t

from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response


class Wiki:
    url_map = Map(
        [
            Rule("/", endpoint="page", defaults={"name": "Home"}),
            Rule("/page/<name>", endpoint="page"),
            Rule("/rss", endpoint="feed"),
            Rule("/feed", endpoint="feed"),
        ]
    )

    def on_page(self, request: Request, rule: str, name: str) -> Response:
        return self.answer(rule, name=name)

    def on_feed(self, request: Request, rule: str) -> Response:
        return self.answer(rule)

    def answer(self, rule: str, **values: t.Any) -> Response:
        return Response(json.dumps({"rule": rule, **values}), mimetype="application/json")

    def __call__(self, environ: dict[str, t.Any], start_response: t.Any) -> t.Any:
        adapter = self.url_map.bind_to_environ(environ)
        rule, values = adapter.match(return_rule=True)
        response = getattr(self, f"on_{rule.endpoint}")(Request(environ), rule.rule, **values)
        return response(environ, start_response)


application = Wiki()
