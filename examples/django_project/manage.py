#!/usr/bin/env python
"""Django's command-line utility for the example project.

Run from anywhere: ``python examples/django_project/manage.py check``. The repository root is
put on ``sys.path`` so the settings module has the same dotted path as under uvicorn
(``uvicorn examples.django_project.demo_site.asgi:application``, from the repository root).
The consent middleware is ASGI only: ``runserver`` serves WSGI and would show no banner.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path


def main() -> None:
    """Runs a Django management command with the example project's settings."""
    repository = str(Path(__file__).resolve().parents[2])
    if repository not in sys.path:
        sys.path.insert(0, repository)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "examples.django_project.demo_site.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
