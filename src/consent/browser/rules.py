"""Minimum-version rules (``"24"``, ``"24+"``, ``"15-18"``, ``"2.15-2.23"``, ``"unsupported"``),
and rules relative to a browser's releases (``"-3"``, ``"esr"``, ``"not dead"``).

Versions are compared as tuples of integers. A bound is compared at its own precision: the range
``"15-18"`` accepts 18.0.1025 (its major is 18), and ``"2.15-2.23"`` accepts 2.23.1 but not 2.24.
A missing component counts as 0, so SeaMonkey "2" is below 2.15.

``parse_rule`` reads an absolute rule alone. ``resolve_rule`` reads either kind: a relative rule
becomes an absolute one against the release history it is given (``Releases``, from the shipped
caniuse data), once, when the settings are loaded.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal, get_args

Verdict = Literal["supported", "outdated", "newer_than_tested", "unsupported", "unknown", "bot"]
VERDICTS: tuple[str, ...] = get_args(Verdict)

Version = tuple[int, ...]

_VERSION = r"\d{1,6}(?:\.\d{1,6}){0,3}"
_MINIMUM = re.compile(rf"^\s*({_VERSION})\s*\+?\s*$")
_RANGE = re.compile(rf"^\s*({_VERSION})\s*[-\u2013]\s*({_VERSION})\s*$")
#: The most major releases a relative rule may reach back (``"-99"``).
MAX_MAJORS_BACK = 99
_MAJORS_BACK = re.compile(r"^\s*-\s*(\d{1,6})\s*$")
_NOT_DEAD = re.compile(r"^\s*not\s+dead\s*$")
_ESR = "esr"
_EXPECTED = "expected a minimum ('24' or '24+'), a range ('15-18') or 'unsupported'"


@dataclass(frozen=True, slots=True)
class Rule:
    """What a site accepts of one browser: a minimum, an inclusive range, or nothing at all."""

    minimum: Version | None = None
    maximum: Version | None = None
    unsupported: bool = False

    def judge(self, version: Version) -> Verdict:
        """The verdict for a browser of this family at ``version`` (never empty)."""
        if self.unsupported:
            return "unsupported"
        if self.minimum is not None and _at_precision(version, self.minimum) < self.minimum:
            return "outdated"
        if self.maximum is not None and _at_precision(version, self.maximum) > self.maximum:
            return "newer_than_tested"
        return "supported"


def parse_version(text: str) -> Version:
    """``"2.15"`` → ``(2, 15)``; raises ValueError on anything but dotted integers."""
    if not re.fullmatch(_VERSION, text.strip()):
        raise ValueError(f"{text!r} is not a version such as '24' or '2.15'")
    return tuple(int(part) for part in text.strip().split("."))


def parse_rule(text: str) -> Rule:
    """Parse one rule; the error says what was expected."""
    cleaned = text.strip().lower()
    if cleaned == "unsupported":
        return Rule(unsupported=True)
    if match := _MINIMUM.match(cleaned):
        return Rule(minimum=parse_version(match.group(1)))
    if match := _RANGE.match(cleaned):
        low, high = parse_version(match.group(1)), parse_version(match.group(2))
        if _pad(low, len(high)) > _pad(high, len(low)):
            raise ValueError(
                f"range minimum {match.group(1)} is above its maximum {match.group(2)}"
            )
        return Rule(minimum=low, maximum=high)
    raise ValueError(_EXPECTED)


@dataclass(frozen=True, slots=True)
class Releases:
    """What relative rules read of one browser's release history."""

    #: The browser as the release data names it (``chrome``, ``ios_saf``), for messages.
    name: str
    #: Its numbered releases, oldest first (a joined ``15.2-15.3`` by its lower end).
    versions: tuple[Version, ...]
    #: The releases browserslist calls dead (no longer maintained).
    dead: frozenset[Version] = frozenset()
    #: Whether every release is dead, numbered or not (Opera Mini's one release is ``all``).
    all_dead: bool = False
    #: Firefox's Extended Support Release, for ``"esr"``; None for other browsers.
    esr: Version | None = None


def is_relative(text: str) -> bool:
    """Whether ``text`` is a relative rule, which needs release data to mean a version."""
    cleaned = text.strip().lower()
    return bool(_MAJORS_BACK.match(cleaned) or _NOT_DEAD.match(cleaned)) or cleaned == _ESR


def resolve_rule(text: str, releases: Releases | None) -> Rule:
    """A rule as ``parse_rule`` reads it, or a relative one made absolute with ``releases``.

    ``"-3"``: the newest major release and the 3 majors before it (Chrome 158's: 155 and newer;
    majors are counted as released, so Safari's ``"-1"`` after 18 and 26 is 18 and newer).
    ``"esr"``: Firefox's Extended Support Release and newer. ``"not dead"``: every release
    browserslist does not call dead, so ``unsupported`` for a browser that is all dead (Internet
    Explorer). A browser newer than every known release is within each of them.
    """
    cleaned = text.strip().lower()
    if not is_relative(cleaned):
        try:
            return parse_rule(text)
        except ValueError as error:
            if str(error) != _EXPECTED:
                raise
            raise ValueError(
                "expected a minimum ('24' or '24+'), a range ('15-18'), 'unsupported', or a "
                "rule relative to the newest release ('-3', 'esr', 'not dead')"
            ) from None
    if releases is None:
        raise ValueError(
            f"{text.strip()!r} is relative to a browser's releases, and the release data knows "
            "none of this browser: write a version such as '24'"
        )
    if cleaned == _ESR:
        if releases.esr is None:
            raise ValueError(f"'esr' is a Firefox release; {releases.name} has none")
        return Rule(minimum=releases.esr)
    if _NOT_DEAD.match(cleaned):
        if releases.all_dead:
            return Rule(unsupported=True)
        alive = [version for version in releases.versions if version not in releases.dead]
        return Rule(minimum=alive[0]) if alive else Rule()
    match = _MAJORS_BACK.match(cleaned)
    assert match is not None
    majors = list(dict.fromkeys(version[0] for version in releases.versions))
    if not majors:
        raise ValueError(f"the release data numbers no release of {releases.name}")
    back = int(match.group(1))
    if back > MAX_MAJORS_BACK:
        raise ValueError(f"a relative rule reaches back at most {MAX_MAJORS_BACK} majors")
    return Rule(minimum=(majors[max(len(majors) - 1 - back, 0)],))


def describe_rule(rule: Rule) -> str:
    """A rule in words: ``">= 24"``, ``"15-18"``, ``"unsupported"``, ``"any version"``."""
    if rule.unsupported:
        return "unsupported"
    if rule.minimum is None:
        return "any version" if rule.maximum is None else f"<= {format_version(rule.maximum)}"
    if rule.maximum is None:
        return f">= {format_version(rule.minimum)}"
    return f"{format_version(rule.minimum)}-{format_version(rule.maximum)}"


def format_version(version: Version) -> str:
    return ".".join(str(part) for part in version)


def _pad(version: Version, length: int) -> Version:
    return version + (0,) * (length - len(version))


def _at_precision(version: Version, bound: Version) -> Version:
    """``version`` cut or zero-padded to the number of components ``bound`` has."""
    return _pad(version[: len(bound)], len(bound))
