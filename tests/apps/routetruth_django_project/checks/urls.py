"""The API's URLconf, included once per version."""

from django.urls import path

from checks import views

urlpatterns = [
    path("checks/", views.CheckList.as_view(), name="checks"),
    path("checks/<int:check_id>/", views.check_detail, name="check-detail"),
    path("ping/", views.ping),  # unnamed: reverse() finds it by its view
]
