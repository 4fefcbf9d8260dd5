"""The decision path's cheaper steps give what the plain ones gave: the audit line is the
dataclass's own JSON, and the control-character check of ``next`` is the character-by-character
one."""

from __future__ import annotations

import json
import logging
from dataclasses import asdict

import pytest
from hypothesis import given
from hypothesis import strategies as st

from consent.endpoints import _CONTROL_CHARACTER, DecisionEvent
from tests.support import CHROME, client, page_app

SAME_ORIGIN = {"origin": "http://localhost", "user-agent": CHROME}


def test_the_audit_line_is_the_events_json(caplog: pytest.LogCaptureFixture) -> None:
    events: list[DecisionEvent] = []
    app = page_app(on_decision=events.append)
    with client(app) as browser, caplog.at_level(logging.INFO, logger="consent.audit"):
        browser.post("/_consent", json={"action": "accept_all"}, headers=SAME_ORIGIN)
        browser.post("/_consent", json={"action": "reject_all"}, headers=SAME_ORIGIN)
    lines = [record.getMessage() for record in caplog.records if record.name == "consent.audit"]
    assert lines == [
        f"consent decision {json.dumps(asdict(event), sort_keys=True)}" for event in events
    ]
    assert len(lines) == 2


def test_no_audit_line_when_the_audit_log_is_off(caplog: pytest.LogCaptureFixture) -> None:
    events: list[DecisionEvent] = []
    app = page_app(on_decision=events.append)
    with client(app) as browser, caplog.at_level(logging.WARNING, logger="consent.audit"):
        response = browser.post("/_consent", json={"action": "accept_all"}, headers=SAME_ORIGIN)
    assert response.status_code == 200
    assert [record for record in caplog.records if record.name == "consent.audit"] == []
    assert len(events) == 1  # the callback still has its event


@given(st.text(alphabet=st.characters(max_codepoint=0x2FF)))
def test_the_control_character_check_is_the_character_by_character_one(value: str) -> None:
    by_character = any(ord(char) < 0x20 or ord(char) == 0x7F for char in value)
    assert (_CONTROL_CHARACTER.search(value) is not None) == by_character
