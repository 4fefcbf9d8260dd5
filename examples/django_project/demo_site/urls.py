"""URLs of the example Django project."""

from __future__ import annotations

from django.urls import path

from . import views

urlpatterns = [
    path("", views.home, name="home"),
    path("privacy", views.privacy, name="privacy"),
    path("api/status", views.api_status, name="api-status"),
]
