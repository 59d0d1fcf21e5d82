"""A Flask app whose teardowns fail, change ``g`` and hold values whose repr needs the request.

Used by the tracing tests of every Flask line (3.0 to 3.2): the teardown
order, which teardowns still run after one raised, and when ``g`` is seen.
"""

from __future__ import annotations

from flask import Flask, g, has_request_context, request

#: Whether each repr() of a User ran while a request was current.
REPRS: list[bool] = []


class User:
    """A user whose repr names the request (as an ORM object's might, lazily)."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        REPRS.append(has_request_context())
        return f"<User {self.name} via {request.path}>"


class Connection:
    def __init__(self) -> None:
        self.closed = False

    def __repr__(self) -> str:
        return f"<Connection {'closed' if self.closed else 'open'}>"


def create_app() -> Flask:
    app = Flask("teardowns")

    @app.before_request
    def load() -> None:
        g.user = User("ada")
        g.db = Connection()

    @app.get("/")
    def index() -> str:
        return "ok"

    @app.get("/boom")
    def boom() -> str:
        g.failing = True
        raise KeyError("boom")

    # Registered first, run last (Flask runs teardowns in reverse order).
    @app.teardown_request
    def close_db(exc: BaseException | None) -> None:
        db = g.pop("db", None)
        if db is not None:
            db.closed = True
        g.audit = "closed"

    @app.teardown_request
    def flush_cache(exc: BaseException | None) -> None:
        if g.get("failing"):
            raise RuntimeError("the cache is gone")

    @app.teardown_appcontext
    def release(exc: BaseException | None) -> None:
        if g.get("failing"):
            raise ValueError("the pool is gone")

    return app


app = create_app()
