"""A Flask app with a rule whose URL cannot be built (its converter refuses)."""

from flask import Flask
from werkzeug.routing import BaseConverter


class UserConverter(BaseConverter):
    def to_url(self, value):
        raise ValueError("users are built from User objects only")


app = Flask(__name__)
app.url_map.converters["user"] = UserConverter


@app.route("/")
def index():
    return "home"


@app.route("/u/<user:name>")
def profile(name):
    return name
