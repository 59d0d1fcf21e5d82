"""A one-module Django site with a narrow ALLOWED_HOSTS (run in a subprocess).

``testserver`` is not allowed here, so ``trace`` must build requests for
the first concrete allowed host, or Django would answer 400.
"""

import django
from django.conf import settings

settings.configure(
    DEBUG=False,
    SECRET_KEY="test-only",
    ALLOWED_HOSTS=["shop.example", ".example"],
    ROOT_URLCONF=__name__,
    MIDDLEWARE=["django.middleware.common.CommonMiddleware"],
    INSTALLED_APPS=[],
    LOGGING_CONFIG=None,
)
django.setup()

from django.core.wsgi import get_wsgi_application  # noqa: E402
from django.http import JsonResponse  # noqa: E402
from django.urls import path  # noqa: E402


def where(request):
    return JsonResponse({"host": request.get_host(), "url": request.build_absolute_uri()})


urlpatterns = [path("where/", where)]

application = get_wsgi_application()
