"""A Django site on SQLite (in memory) with an ORM N+1, a template and logging.

``/shelves/`` lists every shelf and, for each, its volumes through the
reverse relation (one query per shelf: the N+1), rendered by a Django
template; ``/shelves.json`` does the same in the view. Settings are
process-global: tests import this module only in a fresh interpreter.
"""

from __future__ import annotations

import logging

import django
from django.conf import settings

settings.configure(
    DEBUG=False,
    SECRET_KEY="test-only",
    ALLOWED_HOSTS=["*"],
    ROOT_URLCONF=__name__,
    MIDDLEWARE=["django.middleware.common.CommonMiddleware"],
    INSTALLED_APPS=["tests.apps.beneath_django_library"],
    DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}},
    TEMPLATES=[
        {
            "BACKEND": "django.template.backends.django.DjangoTemplates",
            "OPTIONS": {
                "loaders": [
                    (
                        "django.template.loaders.locmem.Loader",
                        {
                            "shelves.html": "{% for shelf in shelves %}{{ shelf.name }}: "
                            "{% for v in shelf.volumes.all %}{{ v.title }} {% endfor %}\n"
                            "{% endfor %}"
                        },
                    )
                ]
            },
        }
    ],
    LOGGING_CONFIG=None,
    USE_TZ=True,
)
django.setup()

from django.db import connection  # noqa: E402
from django.http import JsonResponse  # noqa: E402
from django.shortcuts import render  # noqa: E402
from django.urls import path  # noqa: E402

from tests.apps.beneath_django_library.models import Shelf, Volume  # noqa: E402

log = logging.getLogger("library")


def setup_data(shelves: int = 3) -> None:
    with connection.schema_editor() as editor:
        editor.create_model(Shelf)
        editor.create_model(Volume)
    for n in range(shelves):
        shelf = Shelf.objects.create(name=f"shelf {n}")
        for i in range(2):
            Volume.objects.create(title=f"volume {n}.{i}", shelf=shelf)


def shelves(request):
    log.warning("listing shelves")
    return render(request, "shelves.html", {"shelves": Shelf.objects.order_by("id")})


def shelves_json(request):
    data = {s.name: [v.title for v in s.volumes.all()] for s in Shelf.objects.order_by("id")}
    return JsonResponse(data)


urlpatterns = [
    path("shelves/", shelves, name="shelves"),
    path("shelves.json", shelves_json, name="shelves-json"),
]

setup_data()

from django.core.wsgi import get_wsgi_application  # noqa: E402

application = get_wsgi_application()
