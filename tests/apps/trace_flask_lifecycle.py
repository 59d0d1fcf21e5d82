"""Flask apps exercising every hook wsgiscope traces (tests of wsgiscope.tracing)."""

from __future__ import annotations

import inspect

from flask import (
    Blueprint,
    Flask,
    Response,
    g,
    render_template_string,
    request,
    stream_with_context,
)

CLOSED: list[str] = []

#: Flask 3.2 merged the request context into the app context and passes it
#: to full_dispatch_request.
MERGED = "ctx" in inspect.signature(Flask.full_dispatch_request).parameters


def dispatch(app: Flask, environ: dict) -> Response:
    """Dispatch ``environ`` inside the current request, as each Flask allows."""
    with app.request_context(environ) as ctx:
        if MERGED:
            return app.full_dispatch_request(ctx)
        return app.full_dispatch_request()


class Conflict(Exception):
    pass


def create_second() -> Flask:
    """A second app, called from a view of the first ("chained")."""
    second = Flask("second")

    @second.before_request
    def second_before() -> None:
        g.second = True

    @second.get("/inner")
    def inner() -> str:
        return "inner"

    @second.teardown_request
    def second_teardown(exc: BaseException | None) -> None:
        pass

    return second


second = create_second()

shop = Blueprint("shop", __name__, url_prefix="/shop/<lang>")


@shop.url_value_preprocessor
def pull_lang(endpoint: str | None, values: dict | None) -> None:
    g.lang = values.pop("lang") if values else None


@shop.get("/item/<int:item_id>")
def item(item_id: int) -> str:
    return f"{g.lang}:{item_id}"


def create_app() -> Flask:  # noqa: C901 - one view per traced case
    app = Flask("lifecycle")
    app.config["SECRET_KEY"] = "test-only"
    app.register_blueprint(shop)

    @app.before_request
    def load_user() -> None:
        g.user = "ada"
        g.api_token = "s3cret"

    @app.after_request
    def add_header(response: Response) -> Response:
        response.headers["X-Traced"] = "yes"
        return response

    @app.teardown_request
    def close_db(exc: BaseException | None) -> None:
        pass

    @app.teardown_appcontext
    def release(exc: BaseException | None) -> None:
        pass

    @app.context_processor
    def inject() -> dict[str, str]:
        return {"site": "shop"}

    @app.errorhandler(Conflict)
    def conflict(exc: Conflict) -> tuple[str, int]:
        return "conflict", 409

    @app.get("/")
    def index() -> str:
        return "hello"

    @app.get("/login")
    def login() -> str:
        from flask import session

        session["user_id"] = 42
        return "in"

    @app.get("/template")
    def template() -> str:
        return render_template_string("{{ site }}")

    @app.get("/fail")
    def fail() -> str:
        g.db = "open"
        raise RuntimeError("the view failed")

    @app.get("/conflict")
    def conflicting() -> str:
        raise Conflict("taken")

    @app.get("/redirect")
    def internal_redirect() -> Response:
        return dispatch(app, dict(request.environ, PATH_INFO="/"))

    @app.get("/chain")
    def chain() -> Response:
        return dispatch(second, dict(request.environ, PATH_INFO="/inner"))

    @app.get("/appctx")
    def appctx() -> str:
        with app.app_context():
            g.inside = 1
        return "ok"

    @app.get("/stream")
    def stream() -> Response:
        def generate():
            try:
                yield "a"
                yield request.path
                yield "c"
            finally:
                CLOSED.append("stream")

        return Response(stream_with_context(generate()))

    @app.get("/endless")
    def endless() -> Response:
        def generate():
            try:
                while True:
                    yield b"x" * 1000
            finally:
                CLOSED.append("endless")

        return Response(generate())

    return app


app = create_app()
