"""Refreshes the README's screenshots: ``.venv/bin/python scripts/screenshots.py [pytest options]``.

The tests that take screenshots save them through ``tests.support.screenshot_dir``: into a
temporary folder on an ordinary test run, and into ``docs/screenshots/`` when
``CONSENT_SCREENSHOTS_DIR`` says so, as this command does. Chromium's banner, dialog and notice
land in ``docs/screenshots/``, the old engines' renderings in ``docs/screenshots/old-engines/``.
It also sets ``CI``, so that a missing browser or display fails the run instead of leaving an
old picture in place. Arguments are passed on to pytest (``-k dialog``, ``-x``, …).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
FOLDER = REPO / "docs" / "screenshots"
#: Every test that saves a screenshot with ``screenshot_dir``: one that is added goes here too.
SCREENSHOT_TESTS = (
    "tests/test_browser_e2e.py::test_accessibility_and_screenshot",
    "tests/test_old_engines.py::test_engine_is_served_the_notice_and_renders_it",
)


def main(arguments: list[str]) -> int:
    environment = {**os.environ, "CONSENT_SCREENSHOTS_DIR": str(FOLDER), "CI": "1"}
    started = time.time()
    command = [sys.executable, "-m", "pytest", *SCREENSHOT_TESTS, *arguments]
    status = subprocess.run(command, cwd=REPO, env=environment, check=False).returncode
    refreshed = sorted(
        str(path.relative_to(REPO))
        for path in FOLDER.rglob("*.png")
        if path.stat().st_mtime >= started
    )
    print("screenshots: refreshed " + (", ".join(refreshed) if refreshed else "nothing"))
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
