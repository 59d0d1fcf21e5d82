"""The catalog app's URLconf (included twice, once namespaced)."""

from django.urls import path, register_converter

from catalog import converters, views

app_name = "catalog"
register_converter(converters.SkuConverter, "sku")

urlpatterns = [
    path("products/<sku:sku>/", views.product, name="product"),
    path("items/<int:item_id>/", views.item, name="item"),
    path("tags/<slug:slug>/", views.by_slug, name="tag"),
    path("tokens/<uuid:token>/", views.by_token, name="token"),
    path("files/<path:subpath>", views.files, name="files"),
    path("products/<sku:sku>/reviews/", views.Reviews.as_view(), name="reviews"),
]
