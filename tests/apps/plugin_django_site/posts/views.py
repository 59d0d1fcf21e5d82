from django.http import Http404, JsonResponse

POSTS = {1: "Hello, world", 2: "Second post"}


def index(request):
    visits = request.session.get("visits", 0) + 1
    request.session["visits"] = visits
    return JsonResponse({"posts": sorted(POSTS), "visits": visits})


def detail(request, pk):
    if pk not in POSTS:
        raise Http404("no such post")
    return JsonResponse({"id": pk, "title": POSTS[pk]})
