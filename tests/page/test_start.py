"""StartPlans: a start message's rewrite, worked out once and kept per status and headers."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from consent.page import start as plans
from consent.page.start import (
    PASS_THROUGH,
    OptedOut,
    PagePlan,
    Plan,
    SetsCookies,
    StartPlans,
)

HTML = (b"content-type", b"text/html; charset=utf-8")
TAIL = [(b"vary", b"Cookie"), (b"accept-ch", b"Sec-CH-UA-Full-Version-List")]


def drop_analytics(
    headers: Sequence[tuple[bytes, bytes]], granted: frozenset[str]
) -> list[tuple[bytes, bytes]] | None:
    """A cookie filter: ``_ga`` needs "analytics"."""
    if "analytics" in granted:
        return None
    kept = [
        (n, v) for n, v in headers if not (n.lower() == b"set-cookie" and v.startswith(b"_ga="))
    ]
    return kept if len(kept) < len(headers) else None


def make_plans() -> StartPlans:
    return StartPlans(
        lambda app_vary: b"Cookie" if app_vary is None else app_vary + b", Cookie",
        TAIL[1:],
        drop_analytics,
    )


def answer(plan: Plan, snippet_length: int) -> object:
    """What a plan does with a start message, comparable between plans."""
    if isinstance(plan, PagePlan):
        return ("page", plan.charset, plan.headers(snippet_length))
    if isinstance(plan, OptedOut):
        return ("opted out", plan.headers())
    if isinstance(plan, SetsCookies):
        return tuple(
            (list(headers), None if page is None else answer(page, snippet_length))
            for headers, page in map(plan.for_consent, (frozenset(), frozenset({"analytics"})))
        )
    return plan


def fresh(headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    """Equal headers in new objects, as a server's next response has them."""
    return [(bytes(bytearray(name)), bytes(bytearray(value))) for name, value in headers]


def test_a_page_gets_its_length_and_vary_rewritten() -> None:
    plan = make_plans().plan(200, [(b"content-length", b"10"), HTML, (b"etag", b'"x"')])
    assert isinstance(plan, PagePlan) and plan.charset == "utf-8"
    assert plan.headers(5) == [HTML, (b"etag", b'W/"x"'), (b"content-length", b"15"), *TAIL]
    assert plan.headers(0) == [HTML, (b"etag", b'"x"'), (b"content-length", b"10"), *TAIL]


def test_equal_start_messages_share_one_plan() -> None:
    start_plans = make_plans()
    headers = [(b"content-length", b"10"), HTML]
    first = start_plans.plan(200, headers)
    assert start_plans.plan(200, fresh(headers)) is first
    assert start_plans.plan(404, fresh(headers)) is not first
    assert start_plans.plan(200, [(b"content-length", b"11"), HTML]) is not first


def test_each_call_gets_its_own_header_list() -> None:
    plan = make_plans().plan(200, [HTML])
    assert isinstance(plan, PagePlan)
    plan.headers(3).append((b"x-mine", b"1"))
    assert plan.headers(3) == [HTML, *TAIL]


def test_what_is_not_a_page_to_inject_into() -> None:
    start_plans = make_plans()
    assert start_plans.plan(200, [(b"content-type", b"application/json")]) is PASS_THROUGH
    assert start_plans.plan(204, [HTML]) is PASS_THROUGH
    assert start_plans.plan(200, [HTML, (b"content-encoding", b"gzip")]) is PASS_THROUGH
    assert isinstance(start_plans.plan(200, [HTML, (b"set-cookie", b"a=1")]), SetsCookies)


def test_a_page_that_sets_cookies_is_filtered_then_planned_for_each_consent() -> None:
    cookies = [(b"set-cookie", b"_ga=1"), (b"set-cookie", b"session=2")]
    plan = make_plans().plan(200, [HTML, *cookies])
    assert isinstance(plan, SetsCookies)
    headers, page = plan.for_consent(frozenset())
    assert list(headers) == [HTML, cookies[1]]
    assert isinstance(page, PagePlan)
    headers, page = plan.for_consent(frozenset({"analytics"}))
    assert list(headers) == [HTML, *cookies]
    json = make_plans().plan(200, [(b"content-type", b"application/json"), *cookies])
    assert isinstance(json, SetsCookies)
    assert json.for_consent(frozenset())[1] is None


def test_the_opt_out_header_is_removed_whatever_else_the_page_says() -> None:
    for extra in ([], [(b"content-encoding", b"br")]):
        plan = make_plans().plan(200, [HTML, (b"X-Consent-Skip", b"1"), *extra])
        assert isinstance(plan, OptedOut) and plan.headers() == [HTML, *extra]


def test_unhashable_and_large_headers_are_planned_but_not_kept() -> None:
    start_plans = make_plans()
    as_lists = start_plans.plan(200, [[b"content-type", b"text/html"]])  # type: ignore[list-item]
    assert isinstance(as_lists, PagePlan)
    large = [HTML, (b"content-security-policy", b"x" * plans.MAX_KEPT_HEADERS)]
    assert isinstance(start_plans.plan(200, large), PagePlan)
    assert start_plans.plan(200, large) is not start_plans.plan(200, large)


def test_responses_that_change_need_no_pass_over_their_headers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    start_plans = make_plans()
    passes: list[int] = []
    make = start_plans._make

    def counted(status: int, headers: list[tuple[bytes, bytes]]) -> plans.Plan:
        passes.append(1)
        return make(status, headers)

    monkeypatch.setattr(start_plans, "_make", counted)
    for number in range(50):
        json = [(b"content-length", b"%d" % number), (b"content-type", b"application/json")]
        image = [(b"content-type", b"image/png"), (b"etag", b'"%d"' % number)]
        django = [(b"Content-Type", b"text/css"), (b"Content-Length", b"%d" % number)]
        for headers in (json, image, django, [(b"x-request-id", b"%d" % number)]):
            assert start_plans.plan(200, headers) is PASS_THROUGH
    assert passes == []
    cookie = [(b"content-type", b"application/json"), (b"Set-Cookie", b"a=1")]
    assert isinstance(start_plans.plan(200, cookie), SetsCookies)
    assert isinstance(start_plans.plan(200, [(b"Content-Type", b"text/html")]), PagePlan)
    assert passes == [1, 1]


def test_plans_are_bounded() -> None:
    start_plans = make_plans()
    for number in range(plans.MAX_PLANS * 2 + 1):
        start_plans.plan(200, [HTML, (b"x-request-id", b"%d" % number)])
        assert len(start_plans._plans) <= plans.MAX_PLANS
    for number in range(plans.MAX_PLANS * 2 + 1):
        start_plans.plan(200, [(b"content-type", b"x/%d" % number), (b"x-%d" % number, b"1")])
        assert len(start_plans._content_type_at) <= plans.MAX_PLANS
        assert len(start_plans._charsets) <= plans.MAX_PLANS
    page = start_plans.plan(200, [HTML])
    assert isinstance(page, PagePlan)
    for length in range(plans.MAX_FINALS * 2 + 1):
        page.headers(length)
        assert len(page._finals) <= plans.MAX_FINALS


headers_pool = st.sampled_from(
    [
        HTML,
        (b"Content-Type", b"text/html; charset=latin-1"),
        (b"content-type", b"application/json"),
        (b"content-length", b"20"),
        (b"content-length", b"twenty"),
        (b"vary", b"Accept-Encoding"),
        (b"etag", b'"v1"'),
        (b"etag", b'W/"v1"'),
        (b"content-encoding", b"identity"),
        (b"content-encoding", b"gzip"),
        (b"x-consent-skip", b"1"),
        (b"set-cookie", b"_ga=1"),
        (b"x-other", b"1"),
    ]
)


@given(
    headers=st.lists(headers_pool, max_size=6),
    status=st.sampled_from([200, 204, 304, 404]),
    snippet_length=st.integers(0, 3),
)
def test_a_kept_plan_answers_as_a_new_one(
    headers: list[tuple[bytes, bytes]], status: int, snippet_length: int
) -> None:
    start_plans = make_plans()
    first = start_plans.plan(status, headers)
    kept = start_plans.plan(status, fresh(headers))
    new = make_plans().plan(status, fresh(headers))
    assert kept is first
    assert type(kept) is type(new)
    assert answer(kept, snippet_length) == answer(new, snippet_length)


names = st.sampled_from(
    [
        *(b"content-type", b"Content-Type", b"CONTENT-TYPE", b"x-content-type-options"),
        *(b"set-cookie", b"Set-Cookie", b"content-encoding", b"Content-Encoding"),
        *(b"content-length", b"etag", b"vary", b"x-consent-skip"),
    ]
)
values = st.sampled_from(
    [
        *(b"text/html", b"TEXT/HTML; charset=ISO-8859-1", b"text/html; charset=utf-16"),
        *(b"application/xhtml+xml", b"application/json", b"image/png", b"text/plain"),
        *(b"gzip", b"1", b""),
    ]
)
#: One for all examples: its answers from names seen before must be right for new values.
SHARED_PLANS = make_plans()


@given(
    headers=st.lists(st.tuples(names, values), max_size=6),
    status=st.sampled_from([200, 204, 304, 404]),
)
@example(headers=[(b"content-type", b"image/png"), (b"Content-Type", b"text/html")], status=200)
@example(headers=[(b"content-type", b"text/html"), (b"CONTENT-TYPE", b"text/plain")], status=200)
def test_the_answer_from_header_names_is_that_of_the_pass(
    headers: list[tuple[bytes, bytes]], status: int
) -> None:
    planned = SHARED_PLANS.plan(status, headers)
    passed = make_plans()._make(status, fresh(headers))
    assert type(planned) is type(passed)
    assert answer(planned, 3) == answer(passed, 3)
