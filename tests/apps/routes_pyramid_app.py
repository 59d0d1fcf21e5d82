"""A small real Pyramid app: patterns with regexes, a star argument, method predicates."""

from pyramid.config import Configurator


def home(request):
    return "home"


def item(request):
    return f"item {request.matchdict['item_id']}"


def item_update(request):
    return "updated"


def files(request):
    return "/".join(request.matchdict["subpath"])


def sku(request):
    return request.matchdict["code"]


def make_app():
    with Configurator() as config:
        config.add_route("home", "/")
        config.add_route("item", "/items/{item_id}")
        config.add_route("files", "/files/*subpath")
        config.add_route("sku", "/sku/{code:SKU-\\d{4}}", request_method="GET")
        config.add_view(home, route_name="home", renderer="string")
        config.add_view(item, route_name="item", renderer="string", request_method="GET")
        config.add_view(item_update, route_name="item", renderer="string", request_method="PUT")
        config.add_view(files, route_name="files", renderer="string")
        config.add_view(sku, route_name="sku", renderer="string")
        return config.make_wsgi_app()


app = make_app()
