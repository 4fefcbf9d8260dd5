"""What every example serves, whatever its framework: the page, its cookies, the policy file.

Each ``*_app.py`` (and the Django project) only wires these into its framework and shows how that
framework reads ``scope["state"]["consent"]`` and ``scope["state"]["browser"]``.
"""

from __future__ import annotations

from html import escape
from pathlib import Path
from typing import Any

from consent import BrowserInfo, ConsentState

POLICY = Path(__file__).with_name("policy.toml")

#: The cookies ``/`` sets on every visit: one per category. The middleware lets through only
#: those the visitor allowed. Each is ``(name, value, max_age)``; ``session`` is HttpOnly.
DEMO_COOKIES: tuple[tuple[str, str, int | None], ...] = (
    ("session", "demo-session", None),
    ("_ga", "GA1.1.123456789.1700000000", 3600 * 24 * 365),
    ("_fbp", "fb.1.1700000000.123456789", 3600 * 24 * 90),
)

PRIVACY = "<p>What we collect, why, and for how long.</p>"

#: A tracker pasted into the page that no category declares, left in on purpose: it sets
#: ``_hjid`` from a script, whatever the visitor chose, and ``consent cookies --check`` reports
#: it as "seen only from browsers (set by a script)" once browsers have sent it back.
UNDECLARED_TRACKER = """<script>
document.cookie = "_hjid=demo-undeclared; path=/; max-age=31536000";
</script>"""


def page(title: str, body: str) -> str:
    """A complete HTML document with a ``<header>`` and a ``<main>`` landmark."""
    return f"""<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(title)}</title></head>
<body>
<header><p><a href="/">asgi-consent demo</a></p></header>
<main>
<h1>{escape(title)}</h1>
{body}
</main>
</body>
</html>"""


def home_page(consent: ConsentState, browser: BrowserInfo) -> str:
    """The home page: what the visitor decided and which browser they use."""
    browser_line = f"{browser.family} {browser.version_string}: {browser.verdict}"
    rows = "".join(
        f"<li>{escape(name)}: {'allowed' if consent.allows(name) else 'refused'}</li>"
        for name in ("necessary", "analytics", "marketing")
    )
    body = f"""
<p>This page sets a <code>session</code>, an <code>_ga</code> and an <code>_fbp</code> cookie.
Only the categories you allowed reach your browser.</p>
<h2>Your consent</h2>
<p id="decided">Decided: {"yes" if consent.decided else "no"}</p>
<ul id="categories">{rows}</ul>
<h2>Your browser</h2>
<p id="browser">{escape(browser_line)}</p>
<p><a href="/_consent/settings?next=/" data-consent-open>Change your cookie settings</a></p>
<p id="analytics-script">The analytics script has not run.</p>
<script type="text/plain" data-consent-category="analytics">
document.getElementById("analytics-script").textContent = "The analytics script ran.";
</script>
{UNDECLARED_TRACKER}
"""
    return page("Welcome", body)


def status(consent: ConsentState, browser: BrowserInfo) -> dict[str, Any]:
    """``/api/status``: the consent and verdict as JSON."""
    return {"consent": sorted(consent.granted), "browser": browser.verdict}
