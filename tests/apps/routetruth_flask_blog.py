"""A Flask blog as tutorials write it: blueprints, one endpoint with several rules.

- ``index`` answers ``/`` and ``/index`` (two ``@app.route`` decorators on
  one view): ``url_for("index")`` builds ``/index`` (werkzeug sorts the
  endpoint's rules by their build order), so a tool that shows
  ``url_for``'s URL for the rule ``/`` never requests ``/``;
- ``blog.posts`` answers ``/posts/`` (``page`` defaults to 1) and
  ``/posts/page/<int:page>``;
- ``auth`` is a blueprint under ``/auth``; ``admin`` is a second Flask app
  mounted at ``/admin`` with DispatcherMiddleware (``composite``), whose
  endpoints ``index`` and ``blog.posts`` have the same names as the main
  app's.

Every view answers JSON naming the rule that matched, so tests can check
that a URL reaches the rule it is listed for.
"""

from __future__ import annotations

import typing as t

from flask import Blueprint, Flask, jsonify, request
from werkzeug.middleware.dispatcher import DispatcherMiddleware


def echo(**_: t.Any) -> t.Any:
    rule = request.url_rule.rule if request.url_rule else None
    return jsonify(endpoint=request.endpoint, rule=rule, script_root=request.script_root)


def make_blog(name: str) -> Flask:
    app = Flask(name, static_folder=None)
    app.config["SECRET_KEY"] = "dev"

    blog = Blueprint("blog", __name__)
    blog.add_url_rule("/posts/", "posts", echo, defaults={"page": 1})
    blog.add_url_rule("/posts/page/<int:page>", "posts", echo)
    blog.add_url_rule("/posts/<int:post_id>/update", "update", echo, methods=["GET", "POST"])
    blog.add_url_rule("/posts/create", "create", echo, methods=["GET", "POST"])

    auth = Blueprint("auth", __name__, url_prefix="/auth")
    auth.add_url_rule("/register", "register", echo, methods=["GET", "POST"])
    auth.add_url_rule("/login", "login", echo, methods=["GET", "POST"])
    auth.add_url_rule("/logout", "logout", echo)

    app.register_blueprint(blog)
    app.register_blueprint(auth)

    @app.route("/")
    @app.route("/index")
    def index() -> t.Any:
        return echo()

    @app.route("/about")
    def about() -> t.Any:
        return echo()

    # a second view on the same path, left over from a refactor: werkzeug
    # matches the first rule added, so this one is never called
    @app.route("/about", endpoint="about_us")
    def about_us() -> t.Any:
        return echo()

    return app


app = make_blog("blog")
admin = make_blog("admin")


@admin.route("/users/<int:user_id>/permissions/<string:permission_name>/history")
def permission_history_for_user_account(user_id: int, permission_name: str) -> t.Any:
    return echo()


#: the blog at / and its admin app at /admin, both with ``index`` and ``blog.posts``
composite = DispatcherMiddleware(app, {"/admin": admin})
