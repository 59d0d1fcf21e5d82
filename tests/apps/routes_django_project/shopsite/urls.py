"""Root URLconf: include() with namespaces, path converters, re_path."""

from django.http import HttpResponse
from django.urls import include, path, re_path


def home(request):
    return HttpResponse("home")


def archive(request, year, month):
    return HttpResponse(f"archive {year}-{month}")


def unnamed(request):
    return HttpResponse("unnamed")


urlpatterns = [
    path("", home, name="home"),
    path("shop/", include("catalog.urls")),
    path("v2/shop/", include("catalog.urls", namespace="catalog-v2")),
    re_path(r"^archive/(?P<year>[0-9]{4})/(?P<month>[0-9]{2})/$", archive, name="archive"),
    path("plain/", unnamed),
]
