"""Minimum-version rules (``"24"``, ``"24+"``, ``"15-18"``, ``"2.15-2.23"``, ``"unsupported"``).

Versions are compared as tuples of integers. A bound is compared at its own precision: the range
``"15-18"`` accepts 18.0.1025 (its major is 18), and ``"2.15-2.23"`` accepts 2.23.1 but not 2.24.
A missing component counts as 0, so SeaMonkey "2" is below 2.15.
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
    raise ValueError("expected a minimum ('24' or '24+'), a range ('15-18') or 'unsupported'")


def format_version(version: Version) -> str:
    return ".".join(str(part) for part in version)


def _pad(version: Version, length: int) -> Version:
    return version + (0,) * (length - len(version))


def _at_precision(version: Version, bound: Version) -> Version:
    """``version`` cut or zero-padded to the number of components ``bound`` has."""
    return _pad(version[: len(bound)], len(bound))
