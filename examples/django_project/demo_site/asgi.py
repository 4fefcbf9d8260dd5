"""The ASGI entry point: ``uvicorn examples.django_project.demo_site.asgi:application``.

Run it from the repository root (or with the root on ``sys.path``). Django's ASGI application
is wrapped in ``ConsentMiddleware`` with the settings from ``examples/policy.toml``; the
middleware answers ``/_consent/...`` itself and publishes ``scope["state"]["consent"]`` and
``scope["state"]["browser"]``, which the views read as ``request.scope["state"]``.
"""

from __future__ import annotations

import os
from pathlib import Path

from django.core.asgi import get_asgi_application

from consent import ConsentMiddleware, ConsentSettings

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "examples.django_project.demo_site.settings")

POLICY = Path(__file__).resolve().parents[2] / "policy.toml"

django_application = get_asgi_application()
application = ConsentMiddleware(django_application, settings=ConsentSettings.from_toml(POLICY))
