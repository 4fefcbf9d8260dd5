"""Settings of the example Django project: no database, no admin, auth or sessions.

The secret key comes from ``DJANGO_SECRET_KEY``; the default is for the demo only.
"""

from __future__ import annotations

import os

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "example-only-django-key-replace-me-in-production")
DEBUG = os.environ.get("DJANGO_DEBUG", "") == "1"
ALLOWED_HOSTS = ["localhost", "127.0.0.1", "[::1]", "testserver"]

INSTALLED_APPS: list[str] = []
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]
ROOT_URLCONF = "examples.django_project.demo_site.urls"
ASGI_APPLICATION = "examples.django_project.demo_site.asgi.application"

DATABASES: dict[str, dict[str, str]] = {}
TEMPLATES: list[dict[str, object]] = []

LANGUAGE_CODE = "en"
USE_I18N = False
USE_TZ = True
TIME_ZONE = "UTC"
