"""The fast parser against uap-core's labelled corpus and the reference ``user_agents.parse``.

The corpus is ``tests/data/uap-core/test_ua.yaml`` (Apache-2.0, see ``tests/data/README.md``), or
``$CONSENT_UA_CORPUS`` to try another release. This check is never skipped.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
import user_agents
import yaml
from user_agents.parsers import parse_browser

from consent.browser.classify import FastUserAgent, is_spider
from tests.support import REPO

try:
    from yaml import CSafeLoader as SafeLoader
except ImportError:  # pragma: no cover - PyYAML built without libyaml
    from yaml import SafeLoader  # type: ignore[assignment]

#: Measured with ua-parser-builtins 202610: the fast parser agrees with every label (1,601 cases).
MIN_LABEL_AGREEMENT = 1.0


CORPUS = REPO / "tests" / "data" / "uap-core" / "test_ua.yaml"


def corpus_path() -> Path:
    if configured := os.environ.get("CONSENT_UA_CORPUS"):
        return Path(configured)
    return CORPUS


@pytest.fixture(scope="module")
def cases() -> list[dict[str, Any]]:
    path = corpus_path()
    if not path.is_file():
        pytest.fail(
            f"the uap-core corpus test_ua.yaml is not at {path}: it is part of the repository "
            "(tests/data/uap-core/), or set CONSENT_UA_CORPUS to another copy"
        )
    with path.open("rb") as handle:
        loaded: list[dict[str, Any]] = yaml.load(handle, Loader=SafeLoader)["test_cases"]
    assert len(loaded) > 1000, f"{path} has only {len(loaded)} cases"
    return loaded


@pytest.fixture(scope="module")
def parsed(cases: list[dict[str, Any]]) -> list[tuple[Any, Any]]:
    """Each case parsed by the fast path and by the reference (slow) ``user_agents.parse``."""
    return [
        (FastUserAgent(case["user_agent_string"]), user_agents.parse(case["user_agent_string"]))
        for case in cases
    ]


def test_browser_is_the_same_as_user_agents(parsed: list[tuple[Any, Any]]) -> None:
    mismatches = [
        f"{fast.ua_string!r}: fast {fast.browser}, user_agents {reference.browser}"
        for fast, reference in parsed
        if fast.browser != reference.browser
    ]
    assert not mismatches, f"{len(mismatches)} of {len(parsed)} differ:\n" + "\n".join(mismatches)


def test_os_and_device_are_the_same_but_for_far_bot_names(parsed: list[tuple[Any, Any]]) -> None:
    """ua-parser-rs drops uap-core's ``^.{0,100}`` guard, so it also finds bot names that start
    after the 100th character: those agents are "Spider" devices (bots) on the fast path only.
    """
    mismatches = [
        f"{fast.ua_string!r}: fast {fast.os} {fast.device}, "
        f"user_agents {reference.os} {reference.device}"
        for fast, reference in parsed
        if fast.os != reference.os
        or (fast.device != reference.device and fast.device.family != "Spider")
    ]
    assert not mismatches, f"{len(mismatches)} of {len(parsed)} differ:\n" + "\n".join(mismatches)


def test_fast_parser_agrees_with_the_labels(
    cases: list[dict[str, Any]], parsed: list[tuple[Any, Any]]
) -> None:
    wrong_family, wrong_version = [], []
    for case, (fast, _) in zip(cases, parsed, strict=True):
        labelled = parse_browser(case["family"], case["major"], case["minor"], case["patch"])
        if fast.browser.family != labelled.family:
            wrong_family.append(f"{fast.ua_string!r}: {fast.browser} labelled {labelled}")
        elif fast.browser != labelled:
            wrong_version.append(f"{fast.ua_string!r}: {fast.browser} labelled {labelled}")
    for wrong in (wrong_family, wrong_version):
        agreement = 1 - len(wrong) / len(cases)
        assert agreement >= MIN_LABEL_AGREEMENT, f"{len(wrong)} disagree:\n" + "\n".join(wrong)


def test_is_spider_is_is_bot_on_every_case(parsed: list[tuple[Any, Any]]) -> None:
    """The pre-check that spares the whole device parse finds every bot the parse finds."""
    mismatches = [
        fast.ua_string
        for fast, _ in parsed
        if is_spider(fast.ua_string, named_browser=True) != fast.is_bot
    ]
    assert not mismatches, f"{len(mismatches)} differ:\n" + "\n".join(mismatches)
    assert sum(fast.is_bot for fast, _ in parsed) > 500  # the corpus is rich in bots
