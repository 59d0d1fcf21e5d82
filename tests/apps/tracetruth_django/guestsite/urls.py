"""The project's URLconf: the guestbook app included under ``/``."""

from django.urls import include, path

urlpatterns = [
    path("", include("guestbook.urls")),
]
