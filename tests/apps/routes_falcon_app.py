"""A small real Falcon app: typed fields, suffixed responders, several methods."""

import falcon


class ItemResource:
    def on_get(self, req, resp, item_id):
        resp.media = {"id": item_id}

    def on_put(self, req, resp, item_id):
        resp.media = {"id": item_id, "updated": True}

    def on_get_collection(self, req, resp):
        resp.media = {"items": []}

    def on_post_collection(self, req, resp):
        resp.status = falcon.HTTP_201
        resp.media = {"created": True}


class FileResource:
    def on_get(self, req, resp, name):
        resp.text = name


class EventResource:
    def on_get(self, req, resp, when, token):
        resp.media = {"when": when.isoformat(), "token": str(token)}


app = falcon.App()
items = ItemResource()
app.add_route("/items", items, suffix="collection")
app.add_route("/items/{item_id:int}", items)
app.add_route("/files/{name:path}", FileResource())
app.add_route("/events/{when:dt}/{token:uuid}", EventResource())
