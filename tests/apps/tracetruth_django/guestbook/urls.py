"""The guestbook's URLs: the form, a page per city (non-ASCII slugs), a search."""

from django.urls import path

from guestbook import views

app_name = "guestbook"
urlpatterns = [
    path("", views.sign, name="sign"),
    path("city/<str:name>/", views.city, name="city"),
    path("search/", views.search, name="search"),
]
