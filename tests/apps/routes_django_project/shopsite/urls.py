"""Root URLconf: include() with namespaces, path converters, re_path (named and unnamed groups)."""

from django.http import HttpResponse
from django.urls import include, path, re_path


def home(request):
    return HttpResponse("home")


def archive(request, year, month):
    return HttpResponse(f"archive {year}-{month}")


def page(request, number):
    return HttpResponse(f"page {number}")


def unnamed(request):
    return HttpResponse("unnamed")


urlpatterns = [
    path("", home, name="home"),
    path("shop/", include("catalog.urls")),
    path("v2/shop/", include("catalog.urls", namespace="catalog-v2")),
    re_path(r"^archive/(?P<year>[0-9]{4})/(?P<month>[0-9]{2})/$", archive, name="archive"),
    path("plain/", unnamed),
    re_path(r"^page/([0-9]+)/$", page, name="page"),  # an unnamed group: positional
]
