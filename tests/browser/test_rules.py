"""Version rules: minimums, inclusive ranges compared at their own precision, "unsupported", and
relative rules ("-3", "esr", "not dead") made absolute against a release history."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from consent.browser.rules import (
    Releases,
    Rule,
    describe_rule,
    is_relative,
    parse_rule,
    parse_version,
    resolve_rule,
)

#: A release history with a jump in its numbering (as Safari's from 18 to 26) and dead releases.
HISTORY = Releases(
    name="browser",
    versions=((3,), (4, 1), (4, 2), (18,), (18, 5), (26,), (26, 1), (27,)),
    dead=frozenset({(3,), (4, 1)}),
    esr=None,
)


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


@pytest.mark.parametrize(
    ("text", "rule"),
    [
        ("-0", Rule(minimum=(27,))),
        ("-1", Rule(minimum=(26,))),
        (" - 2 ", Rule(minimum=(18,))),
        ("-3", Rule(minimum=(4,))),
        ("-99", Rule(minimum=(3,))),  # further back than the history: all of it
        ("not dead", Rule(minimum=(4, 2))),
        ("Not  Dead", Rule(minimum=(4, 2))),
        ("24", Rule(minimum=(24,))),  # absolute rules read as parse_rule reads them
    ],
)
def test_relative_rules(text: str, rule: Rule) -> None:
    assert resolve_rule(text, HISTORY) == rule


def test_relative_rules_need_their_data() -> None:
    all_dead = Releases(name="ie", versions=((10,), (11,)), dead=frozenset(), all_dead=True)
    assert resolve_rule("not dead", all_dead) == Rule(unsupported=True)
    assert resolve_rule("esr", Releases(name="firefox", versions=(), esr=(115,))) == Rule(
        minimum=(115,)
    )
    for text, releases, problem in [
        ("-3", None, "write a version"),
        ("esr", HISTORY, "'esr' is a Firefox release; browser has none"),
        ("-100", HISTORY, "at most 99 majors"),
        ("-1", Releases(name="op_mini", versions=()), "numbers no release of op_mini"),
        ("- 3x", HISTORY, "a rule relative to the newest release"),
    ]:
        with pytest.raises(ValueError, match=problem):
            resolve_rule(text, releases)


@given(st.text(max_size=40))
def test_an_absolute_rule_resolves_as_it_parses(text: str) -> None:
    """``resolve_rule`` reads what is not relative exactly as ``parse_rule`` does."""
    if is_relative(text):
        return
    parsed: Rule | ValueError
    resolved: Rule | ValueError
    try:
        parsed = parse_rule(text)
    except ValueError as error:
        parsed = error
    try:
        resolved = resolve_rule(text, HISTORY)
    except ValueError as error:
        resolved = error
    if isinstance(parsed, Rule):
        assert resolved == resolve_rule(text, None) == parsed
    else:
        assert isinstance(resolved, ValueError)
        # The same refusal; one that expected another form also names the relative forms.
        assert str(resolved).startswith(str(parsed).removesuffix(" or 'unsupported'"))


@pytest.mark.parametrize(
    ("rule", "words"),
    [
        (Rule(minimum=(24,)), ">= 24"),
        (Rule(minimum=(15,), maximum=(18,)), "15-18"),
        (Rule(unsupported=True), "unsupported"),
        (Rule(), "any version"),
    ],
)
def test_describe_rule(rule: Rule, words: str) -> None:
    assert describe_rule(rule) == words
