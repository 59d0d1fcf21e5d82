"""Views of the catalog app: function views, a method-restricted one, a class-based one."""

from django.http import HttpResponse, JsonResponse
from django.views import View
from django.views.decorators.http import require_http_methods


def product(request, sku):
    return JsonResponse({"sku": sku})


def item(request, item_id):
    return JsonResponse({"id": item_id, "type": type(item_id).__name__})


@require_http_methods(["GET", "POST"])
def by_slug(request, slug):
    return HttpResponse(slug)


def by_token(request, token):
    return HttpResponse(str(token))


def files(request, subpath):
    return HttpResponse(subpath)


class Reviews(View):
    def get(self, request, sku):
        return JsonResponse({"sku": sku, "reviews": []})

    def post(self, request, sku):
        return JsonResponse({"sku": sku, "created": True}, status=201)
