"""``consent cookies``: the cookie inventory read against the categories' declarations.

Each category, and each service after its category (``analytics.matomo``), lists the names seen
that it declares (by name or glob) and the patterns it declares that were never seen; then come
the names nobody declares. A site's CI can run
``consent cookies --check``, which fails while any name is undeclared.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field

from consent.choice.enforcement import UNDECLARED, CookiePolicy
from consent.choice.inventory import MAX_NAME_BYTES, MAX_NAMES, Inventory, Sighting
from consent.settings import ConsentSettings


@dataclass(frozen=True, slots=True)
class CategoryReport:
    """One category or service: the names seen that it declares, and its patterns never seen."""

    name: str
    seen: dict[str, Sighting] = field(default_factory=dict)
    never_seen: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class CookieReport:
    categories: tuple[CategoryReport, ...]
    undeclared: dict[str, Sighting]
    inventory: Inventory


def build_report(settings: ConsentSettings, inventory: Inventory) -> CookieReport:
    """The inventory by category, judged by today's settings (not by the category noted when
    each name was first seen)."""
    policy = CookiePolicy(settings)
    owners = settings.cookie_owners()
    by_category: dict[str, dict[str, Sighting]] = {name: {} for name in owners}
    undeclared: dict[str, Sighting] = {}
    for name in sorted(inventory.names):
        declaring = policy.category_of(name)
        if declaring == UNDECLARED:
            undeclared[name] = inventory.names[name]
        else:
            by_category.setdefault(declaring, {})[name] = inventory.names[name]
    categories = []
    for category_name, category in owners.items():
        seen = by_category[category_name]
        never = tuple(
            pattern
            for pattern in category.cookies
            if not any(fnmatch.fnmatchcase(name, pattern) for name in seen)
        )
        categories.append(CategoryReport(category_name, seen, never))
    return CookieReport(tuple(categories), undeclared, inventory)


def _origin(sighting: Sighting) -> str:
    if sighting.set_by_server:
        return "set by the server"
    return "seen only from browsers (set by a script)"


def _line(name: str, sighting: Sighting, width: int) -> str:
    shown = name.encode("unicode_escape").decode("ascii")
    return (
        f"  {shown:<{width}}  {_origin(sighting):<42}  "
        f"first seen {sighting.first_seen}, last seen {sighting.last_seen}"
    )


def report_text(report: CookieReport, source: str) -> str:
    """The report as the command prints it."""
    inventory = report.inventory
    names = [*report.undeclared, *(n for c in report.categories for n in c.seen)]
    width = max([len(name) for name in names] + [12])
    count = len(inventory.names)
    lines = [
        f"Cookie inventory {source}: {count} name{'s' if count != 1 else ''}"
        + (f", updated {inventory.updated}" if inventory.updated else "")
    ]
    for category in report.categories:
        lines.append(f"\n{category.name}")
        for name, sighting in category.seen.items():
            lines.append(_line(name, sighting, width))
        for pattern in category.never_seen:
            lines.append(f"  {pattern:<{width}}  declared, never seen")
        if not category.seen and not category.never_seen:
            lines.append("  (declares no cookies)")
    lines.append("\nundeclared")
    for name, sighting in report.undeclared.items():
        lines.append(_line(name, sighting, width))
    if not report.undeclared:
        lines.append("  (none)")
    if inventory.dropped or inventory.oversized:
        lines.append(
            f"\nCounted, not kept: {inventory.dropped} sighting(s) of names past the "
            f"{MAX_NAMES}-name limit, {inventory.oversized} of names over {MAX_NAME_BYTES} "
            "bytes or Cookie headers too long to read."
        )
    return "\n".join(lines)


def check_message(report: CookieReport) -> str | None:
    """Why ``--check`` fails, or None when every name seen is declared."""
    if not report.undeclared:
        return None
    count = len(report.undeclared)
    listed = ", ".join(
        f"{name} ({'set by the server' if s.set_by_server else 'set by a script'})"
        for name, s in report.undeclared.items()
    )
    return (
        f"{count} undeclared cookie{'s' if count != 1 else ''}: {listed}. Declare "
        f"{'each' if count != 1 else 'it'} in a category (categories.<name>.cookies or "
        "declarations) or one of its services, or remove what sets it."
    )
