"""A one-file Django project with CSRF-protected forms and a session-backed counter.

``/form/`` renders ``{% csrf_token %}`` (a fresh masked token and a
``csrftoken`` cookie every time), ``/now/`` the time; nothing leaks.
"""

import datetime

import django
from django.conf import settings
from django.http import HttpResponse, JsonResponse
from django.template import engines
from django.urls import path
from django.views.decorators.csrf import ensure_csrf_cookie

if not settings.configured:
    settings.configure(
        DEBUG=False,
        SECRET_KEY="replaytruth-django",
        ALLOWED_HOSTS=["*"],
        ROOT_URLCONF=__name__,
        MIDDLEWARE=[
            "django.middleware.common.CommonMiddleware",
            "django.middleware.csrf.CsrfViewMiddleware",
        ],
        INSTALLED_APPS=[],
        DATABASES={},
        TEMPLATES=[{"BACKEND": "django.template.backends.django.DjangoTemplates"}],
        USE_TZ=True,
    )
    django.setup()

FORM = engines["django"].from_string(
    "<form method='post' action='/comment/'>{% csrf_token %}"
    "<p>Hello {{ name }}</p><input name='text'><button>Send</button></form>\n"
)


@ensure_csrf_cookie
def form(request, name):
    return HttpResponse(FORM.render({"name": name}, request))


def now(request):
    return JsonResponse({"now": datetime.datetime.now().isoformat(), "user": request.GET.get("u")})


urlpatterns = [path("form/<str:name>/", form), path("now/", now)]

from django.core.wsgi import get_wsgi_application  # noqa: E402

application = get_wsgi_application()
