"""Views answer JSON naming the pattern that matched, so tests see which rule a URL reaches."""

from django.http import JsonResponse
from django.views import View
from django.views.decorators.http import require_GET


def _answer(request, **kwargs):
    match = request.resolver_match
    return JsonResponse({"route": match.route, "name": match.url_name, "kwargs": kwargs})


def dashboard(request):
    return _answer(request)


class CheckList(View):
    def get(self, request):
        return _answer(request)

    def post(self, request):
        return _answer(request)


@require_GET
def check_detail(request, check_id):
    return _answer(request, check_id=check_id)


def results(request, check_id):
    return _answer(request, check_id=check_id)


def report(request, year):
    return _answer(request, year=year)


def ping(request):
    return _answer(request)
