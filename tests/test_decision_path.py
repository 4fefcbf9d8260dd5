"""The decision path's cheaper steps give what the plain ones gave: the audit line is the
dataclass's own JSON, the control-character check of ``next`` is the character-by-character
one, the form is read as ``parse_qsl`` reads it, the redirect and the cookies are the headers
Starlette's responses write, a header is what ``headers.get`` gives, and a body in parts or cut
short is read as ``request.stream()`` reads it."""

from __future__ import annotations

import asyncio
import functools
import json
import logging
from collections.abc import MutableMapping
from dataclasses import asdict
from typing import Any
from urllib.parse import parse_qsl

import pytest
from hypothesis import given
from hypothesis import strategies as st
from starlette.datastructures import Headers
from starlette.responses import RedirectResponse, Response

from consent.endpoints import (
    _CONTROL_CHARACTER,
    MAX_BODY,
    MAX_FORM_FIELDS,
    DecisionEvent,
    _Request,
    _SeeOther,
    form_fields,
)
from tests.support import CHROME, client, header_values, http_scope, make_settings, page_app

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


# --- the form ----------------------------------------------------------------------------------

FORM_TEXT = st.text(alphabet=st.sampled_from("a=&%+2F0x é\u2603;c"), max_size=40)


def _parse_qsl(text: str) -> list[tuple[str, str]] | str:
    try:
        return parse_qsl(
            text,
            keep_blank_values=True,
            strict_parsing=bool(text),
            max_num_fields=MAX_FORM_FIELDS,
        )
    except ValueError:
        return "ValueError"


def _form_fields(text: str) -> list[tuple[str, str]] | str:
    try:
        return form_fields(text)
    except ValueError:
        return "ValueError"


FORM_PART = st.text(alphabet=st.sampled_from("ac%+2F0xé\u2603; "), max_size=8)
WELL_FORMED = st.lists(st.tuples(FORM_PART, FORM_PART), max_size=5).map(
    lambda pairs: "&".join(f"{name}={value}" for name, value in pairs)
)


@given(st.one_of(WELL_FORMED, FORM_TEXT, st.text(max_size=40)))
def test_the_form_is_read_as_parse_qsl_reads_it(text: str) -> None:
    assert _form_fields(text) == _parse_qsl(text)


@pytest.mark.parametrize("count", [MAX_FORM_FIELDS - 1, MAX_FORM_FIELDS, MAX_FORM_FIELDS + 1])
def test_the_form_field_cap_is_parse_qsls(count: int) -> None:
    text = "&".join(["category=analytics"] * count)
    assert _form_fields(text) == _parse_qsl(text)


# --- the answer's headers ----------------------------------------------------------------------


@given(st.text(max_size=60).map(lambda path: "/" + path))
def test_the_redirect_is_starlettes(location: str) -> None:
    ours = _SeeOther(location)
    theirs = RedirectResponse(location, status_code=303)
    assert (ours.status_code, ours.raw_headers, ours.body) == (
        theirs.status_code,
        theirs.raw_headers,
        theirs.body,
    )


@given(
    value=st.one_of(
        st.from_regex(r"[A-Za-z0-9_.:-]{1,40}", fullmatch=True),
        st.from_regex(
            r"[A-Za-z0-9]{0,4}[ ,;\"\\()=@\[\]{}\x7f\x80é]?[A-Za-z0-9]{0,4}", fullmatch=True
        ),
        st.text(alphabet=st.characters(max_codepoint=0xFF), max_size=20),
    ),
    name=st.sampled_from(["consent", "__Host-consent", "consent_notice"]),
    domain=st.sampled_from([None, "example.com"]),
    samesite=st.sampled_from(["lax", "strict"]),
    https=st.booleans(),
    host=st.sampled_from(["localhost", "example.com"]),
    max_age=st.sampled_from([None, 0, 86400 * 180]),
)
def test_a_set_cookie_header_is_starlettes(
    value: str,
    name: str,
    domain: str | None,
    samesite: str,
    https: bool,
    host: str,
    max_age: int | None,
) -> None:
    endpoints = _endpoints(domain, samesite)
    scope = http_scope("/_consent", method="POST", headers={"host": host})
    scope["scheme"] = "https" if https else "http"
    ours = Response()
    endpoints.set_own_cookie(ours, _Request(scope), name, value, max_age)
    theirs = Response()
    theirs.set_cookie(
        name,
        value,
        max_age=max_age,
        path="/",
        domain=domain,
        secure=name.startswith("__Host-") or https or host != "localhost",
        httponly=True,
        samesite=samesite,  # type: ignore[arg-type]
    )
    assert ours.raw_headers == theirs.raw_headers


def test_a_set_cookie_header_is_starlettes_whatever_character_the_value_holds() -> None:
    endpoints = _endpoints(None, "lax")
    request = _Request(http_scope("/_consent", method="POST"))
    for code in range(0x100):
        value = f"a{chr(code)}b"
        ours = Response()
        endpoints.set_own_cookie(ours, request, "consent", value, 60)
        theirs = Response()
        theirs.set_cookie("consent", value, max_age=60, path="/", httponly=True, samesite="lax")
        assert ours.raw_headers == theirs.raw_headers, value


@functools.cache
def _endpoints(domain: str | None, samesite: str) -> Any:
    settings = make_settings(cookie_domain=domain, cookie_samesite=samesite)
    return page_app(settings=settings).endpoints


# --- the request -------------------------------------------------------------------------------

HEADER_NAMES = st.sampled_from([b"referer", b"host", b"content-type", b"idempotency-key", b"x"])


@given(st.lists(st.tuples(HEADER_NAMES, st.binary(max_size=8)), max_size=8), HEADER_NAMES)
def test_a_header_is_what_headers_get_gives(
    headers: list[tuple[bytes, bytes]], name: bytes
) -> None:
    scope = {**http_scope(), "headers": headers}
    assert _Request(scope).header(name) == Headers(scope=scope).get(name.decode())


def _post(
    body_messages: list[dict[str, Any]], content_length: int | None = None
) -> tuple[int, Any]:
    app = page_app()
    headers = {"content-type": "application/x-www-form-urlencoded", "sec-fetch-site": "same-origin"}
    if content_length is not None:
        headers["content-length"] = str(content_length)
    scope = http_scope("/_consent", method="POST", headers=headers)
    messages = list(body_messages)
    sent: list[MutableMapping[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    return (sent[0]["status"], sent[0]) if sent else (0, None)


def test_a_body_in_parts_is_read_whole() -> None:
    parts = [b"action=", b"", b"accept_all&next=%2F", b"pricing"]
    messages = [
        {"type": "http.request", "body": part, "more_body": index < len(parts) - 1}
        for index, part in enumerate(parts)
    ]
    status, start = _post(messages)
    assert status == 303
    assert header_values(start, b"location") == [b"/pricing"]


def test_a_body_past_the_cap_in_parts_is_refused_without_a_content_length() -> None:
    chunk = b"x" * 1024
    count = MAX_BODY // len(chunk) + 1
    messages = [
        {
            "type": "http.request",
            "body": b"action=accept_all&a=" if index == 0 else chunk,
            "more_body": True,
        }
        for index in range(count + 1)
    ]
    messages.append({"type": "http.request", "body": b"", "more_body": False})
    status, _ = _post(messages)
    assert status == 400


def test_a_client_gone_mid_body_gets_no_answer() -> None:
    status, start = _post([{"type": "http.request", "body": b"action=acc", "more_body": True}])
    assert (status, start) == (0, None)
