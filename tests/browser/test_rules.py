"""Version rules: minimums, inclusive ranges compared at their own precision, "unsupported"."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from consent.browser.rules import Rule, parse_rule, parse_version


@pytest.mark.parametrize(
    ("text", "rule"),
    [
        ("24", Rule(minimum=(24,))),
        ("24+", Rule(minimum=(24,))),
        (" 2.15 ", Rule(minimum=(2, 15))),
        ("15-18", Rule(minimum=(15,), maximum=(18,))),
        ("15 – 18", Rule(minimum=(15,), maximum=(18,))),
        ("2.15-2.23", Rule(minimum=(2, 15), maximum=(2, 23))),
        ("Unsupported", Rule(unsupported=True)),
    ],
)
def test_parse(text: str, rule: Rule) -> None:
    assert parse_rule(text) == rule


@pytest.mark.parametrize("text", ["", "x", "24-", "-3", "18-15", "2.23-2.15", "1.2.3.4.5", "24++"])
def test_refused(text: str) -> None:
    with pytest.raises(ValueError, match=r"."):
        parse_rule(text)


@pytest.mark.parametrize(
    ("rule", "version", "verdict"),
    [
        ("24", (23, 0, 1271), "outdated"),
        ("24", (24,), "supported"),
        ("24", (120, 0, 6099), "supported"),
        ("15-18", (14, 99), "outdated"),
        ("15-18", (15,), "supported"),
        ("15-18", (18, 0, 1284, 49), "supported"),
        ("15-18", (19,), "newer_than_tested"),
        ("2.15-2.23", (2, 14, 9), "outdated"),
        ("2.15-2.23", (2,), "outdated"),
        ("2.15-2.23", (2, 15), "supported"),
        ("2.15-2.23", (2, 23, 1), "supported"),
        ("2.15-2.23", (2, 24), "newer_than_tested"),
        ("2.15-2.23", (3,), "newer_than_tested"),
        ("unsupported", (99,), "unsupported"),
    ],
)
def test_judge(rule: str, version: tuple[int, ...], verdict: str) -> None:
    assert parse_rule(rule).judge(version) == verdict


@given(st.text(max_size=40))
def test_any_text_parses_or_raises_value_error(text: str) -> None:
    with contextlib.suppress(ValueError):
        parse_rule(text)


@given(
    st.tuples(st.integers(0, 999), st.integers(0, 999)),
    st.tuples(st.integers(0, 999), st.integers(0, 999)),
    st.lists(st.integers(0, 9999), min_size=1, max_size=4),
)
def test_range_verdicts_are_ordered(
    low: tuple[int, int], high: tuple[int, int], version: list[int]
) -> None:
    low, high = min(low, high), max(low, high)
    rule = parse_rule(f"{low[0]}.{low[1]}-{high[0]}.{high[1]}")
    verdict = rule.judge(tuple(version))
    padded = (*version, 0, 0)[:2]
    expected = "outdated" if padded < low else "newer_than_tested" if padded > high else "supported"
    assert verdict == expected


def test_parse_version() -> None:
    assert parse_version("2.15") == (2, 15)
    with pytest.raises(ValueError, match="not a version"):
        parse_version("2.x")
