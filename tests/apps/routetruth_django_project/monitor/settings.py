"""Settings of a monitoring site whose API is served under two versions."""

SECRET_KEY = "test-only-not-secret"
DEBUG = False
ALLOWED_HOSTS = ["*"]
ROOT_URLCONF = "monitor.urls"
INSTALLED_APPS = ["checks"]
MIDDLEWARE = ["django.middleware.common.CommonMiddleware"]
APPEND_SLASH = True
USE_TZ = True
LOGGING_CONFIG = None
