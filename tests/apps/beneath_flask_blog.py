"""A Flask-SQLAlchemy blog on SQLite with a real N+1, logging and an outbound call.

- ``before_request`` loads the current user (one query);
- ``/authors`` renders a template that walks each author's ``books``, a
  lazy relationship: one query for the authors, then one per author, run
  from inside the template (the N+1);
- ``/api/authors`` does the same in the view and answers JSON;
- ``POST /users`` inserts a user (a ``password_hash`` parameter);
- ``/upstream`` calls ``app.config["UPSTREAM"]`` with urllib and requests;
- views log to the app's logger (INFO) and to ``blog.audit`` (WARNING).
"""

from __future__ import annotations

import logging
import urllib.request

from flask import Flask, g, jsonify, render_template
from flask_sqlalchemy import SQLAlchemy
from jinja2 import DictLoader
from sqlalchemy import ForeignKey
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


class Base(DeclarativeBase):
    pass


db = SQLAlchemy(model_class=Base)
audit = logging.getLogger("blog.audit")


class User(db.Model):
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str]
    password_hash: Mapped[str]


class Author(db.Model):
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str]
    books: Mapped[list[Book]] = relationship(back_populates="author", lazy="select")


class Book(db.Model):
    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str]
    author_id: Mapped[int] = mapped_column(ForeignKey("author.id"))
    author: Mapped[Author] = relationship(back_populates="books")


TEMPLATES = {
    "authors.html": (
        "{% for author in authors %}{{ author.name }}: "
        "{% for book in author.books %}{{ book.title }}; {% endfor %}\n{% endfor %}"
    ),
}


def create_app(authors: int = 4) -> Flask:
    app = Flask("blog")
    app.config["SQLALCHEMY_DATABASE_URI"] = "sqlite://"
    app.config["UPSTREAM"] = "http://127.0.0.1:9/"
    app.jinja_loader = DictLoader(TEMPLATES)
    db.init_app(app)
    with app.app_context():
        db.create_all()
        db.session.add(User(id=1, name="ada", password_hash="pbkdf2:secret-hash"))
        for n in range(authors):
            author = Author(name=f"author {n}")
            author.books = [Book(title=f"book {n}.{i}") for i in range(2)]
            db.session.add(author)
        db.session.commit()

    @app.before_request
    def load_user() -> None:
        g.user = db.session.get(User, 1)

    @app.get("/authors")
    def authors() -> str:
        everyone = db.session.scalars(db.select(Author).order_by(Author.id)).all()
        app.logger.info("listing %d authors", len(everyone))
        return render_template("authors.html", authors=everyone)

    @app.get("/api/authors")
    def api_authors() -> object:
        everyone = db.session.scalars(db.select(Author).order_by(Author.id)).all()
        audit.warning("api listing by user %s", g.user.name)
        return jsonify({a.name: [b.title for b in a.books] for a in everyone})

    @app.post("/users")
    def add_user() -> object:
        user = User(name="grace", password_hash="pbkdf2:very-secret")
        db.session.add(user)
        db.session.commit()
        return jsonify({"id": user.id})

    @app.get("/upstream")
    def upstream() -> object:
        import requests

        base = app.config["UPSTREAM"]
        with urllib.request.urlopen(f"{base}data?token=abc123&page=1") as answer:
            first = answer.read()
        second = requests.get(f"{base}missing", timeout=5)
        return jsonify({"first": first.decode(), "second": second.status_code})

    return app


app = create_app()
