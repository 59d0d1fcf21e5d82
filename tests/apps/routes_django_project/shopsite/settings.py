"""Settings of the small Django project the route tests load."""

SECRET_KEY = "test-only-not-secret"
DEBUG = False
ALLOWED_HOSTS = ["*"]
ROOT_URLCONF = "shopsite.urls"
INSTALLED_APPS = ["catalog"]
MIDDLEWARE = ["django.middleware.common.CommonMiddleware"]
APPEND_SLASH = True
USE_TZ = True
LOGGING_CONFIG = None
