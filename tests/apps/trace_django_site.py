"""A one-module Django site for the tracing tests (run in a subprocess).

Settings are process-global in Django, so tests import this module only in a
fresh interpreter.
"""

from __future__ import annotations

import django
from django.conf import settings

settings.configure(
    DEBUG=False,
    SECRET_KEY="test-only",
    ALLOWED_HOSTS=["*"],
    ROOT_URLCONF=__name__,
    MIDDLEWARE=[
        "django.middleware.security.SecurityMiddleware",
        "django.middleware.common.CommonMiddleware",
        f"{__name__}.TimingMiddleware",
        f"{__name__}.tagging_middleware",
    ],
    INSTALLED_APPS=[],
    LOGGING_CONFIG=None,
)
django.setup()

from django.http import HttpResponse  # noqa: E402
from django.urls import path  # noqa: E402


class TimingMiddleware:
    """A class-based middleware with its own __call__."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        response["X-Timing"] = "1"
        return response


def tagging_middleware(get_response):
    """A function-based middleware (not reachable at class level)."""

    def middleware(request):
        return get_response(request)

    return middleware


def hello(request, n):
    return HttpResponse(f"hello {n}")


def broken(request):
    raise ValueError("django view failed")


urlpatterns = [
    path("hello/<int:n>/", hello, name="hello"),
    path("broken/", broken, name="broken"),
]

from django.core.wsgi import get_wsgi_application  # noqa: E402

application = get_wsgi_application()
