"""A one-file Django project with CSRF protection, for ``export pytest``."""

import django
from django.conf import settings
from django.http import HttpResponse, JsonResponse
from django.urls import path

if not settings.configured:
    settings.configure(
        DEBUG=False,
        SECRET_KEY="export-tests",
        ALLOWED_HOSTS=["localhost", "testserver"],
        ROOT_URLCONF=__name__,
        MIDDLEWARE=["django.middleware.csrf.CsrfViewMiddleware"],
        INSTALLED_APPS=[],
        DATABASES={},
    )
    django.setup()


def hello(request, name):
    return JsonResponse({"name": name, "q": request.GET.get("q")})


def submit(request):
    return HttpResponse("stored", status=201)


urlpatterns = [path("hello/<str:name>", hello), path("submit", submit)]

from django.core.wsgi import get_wsgi_application  # noqa: E402

application = get_wsgi_application()
