"""Root URLconf: the same API URLconf included under ``api/v1/`` and ``api/v3/``.

Neither include has a namespace, as in many real projects that version an
API by prefix: the names ``checks``, ``check-detail`` and the unnamed
``ping`` pattern exist twice, and ``reverse`` builds the last included one
(``/api/v3/...``) for both. ``api/v3/`` adds ``check-results``.
"""

from checks import views
from django.urls import include, path, re_path

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("api/v1/", include("checks.urls")),
    path("api/v3/", include("checks.urls")),
    path("api/v3/checks/<int:check_id>/results/", views.results, name="check-results"),
    re_path(r"^reports/(?P<year>[0-9]{4})/$", views.report, name="report"),
]
