from django.db import models


class Shelf(models.Model):
    name = models.CharField(max_length=50)

    class Meta:
        app_label = "beneath_django_library"


class Volume(models.Model):
    title = models.CharField(max_length=50)
    shelf = models.ForeignKey(Shelf, related_name="volumes", on_delete=models.CASCADE)

    class Meta:
        app_label = "beneath_django_library"
