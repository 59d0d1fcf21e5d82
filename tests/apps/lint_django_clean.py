"""A conforming Django app in one file (settings configured on import)."""

from django.conf import settings

if not settings.configured:
    settings.configure(
        DEBUG=False,
        SECRET_KEY="lint-tests",
        ROOT_URLCONF=__name__,
        ALLOWED_HOSTS=["*"],
        MIDDLEWARE=["django.middleware.common.CommonMiddleware"],
        INSTALLED_APPS=[],
        USE_TZ=True,
    )

from django.core.wsgi import get_wsgi_application
from django.http import HttpResponse, HttpResponseRedirect, JsonResponse, StreamingHttpResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt


def index(request):
    return JsonResponse({"hello": "world"})


@csrf_exempt
def form(request):
    if request.method == "POST":
        return HttpResponse("got " + request.POST.get("name", ""))
    return HttpResponse("<form method=post><input name=name></form>")


def stream(request):
    return StreamingHttpResponse((f"{n}\n" for n in range(3)), content_type="text/plain")


def go(request):
    return HttpResponseRedirect("/")


urlpatterns = [
    path("", index),
    path("form/", form),
    path("stream/", stream),
    path("go/", go),
]

application = get_wsgi_application()
