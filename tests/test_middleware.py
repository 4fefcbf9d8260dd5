"""The middleware end to end in-process: what it injects, strips, and leaves alone."""

from __future__ import annotations

import asyncio
import gc
import tracemalloc
from collections.abc import Callable, Iterator
from functools import cache
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, StreamingResponse
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket

from consent import ConsentMiddleware
from consent.visitor import _JUDGED, _repeated, cookie_header, request_cookies
from tests.support import (
    CHROME,
    GOOGLEBOT,
    OLD_FIREFOX,
    PAGE,
    call,
    client,
    header_values,
    http_scope,
    make_settings,
    page_app,
    raw_app,
)

HTML = [(b"content-type", b"text/html; charset=utf-8")]


def middleware(app: Any, **overrides: Any) -> ConsentMiddleware:
    return ConsentMiddleware(app, settings=make_settings(**overrides))


def consent_cookie(choice: str = "accept_all", **overrides: Any) -> str:
    app = page_app(make_settings(**overrides))
    with client(app, follow_redirects=False) as browser:
        response = browser.post(
            "/_consent", data={"action": choice}, headers={"origin": "http://localhost"}
        )
    value = response.cookies["consent"]
    return f"consent={value}"


# --- injection ---------------------------------------------------------------------------------


def test_new_visitor_gets_the_banner_once_right_after_body() -> None:
    start, body = call(
        middleware(raw_app(HTML, [PAGE.encode()])), http_scope(headers={"user-agent": CHROME})
    )
    html = body.decode()
    assert html.count('id="consent-banner"') == 1
    assert html.index("<body>") < html.index('id="consent-banner"') < html.index("<main>")
    assert 'id="browser-notice"' not in html
    assert html.endswith("</main></body></html>")
    assert start["status"] == 200


def test_old_browser_gets_the_notice_with_requirements() -> None:
    _, body = call(
        middleware(raw_app(HTML, [PAGE.encode()])), http_scope(headers={"user-agent": OLD_FIREFOX})
    )
    html = body.decode()
    assert html.count('id="browser-notice"') == 1
    assert (
        "Google Chrome 24+, Mozilla Firefox 20+, Internet Explorer 11, Opera 15\u201318, "
        "Apple Safari 7+, SeaMonkey 2.15\u20132.23" in html
    )
    assert "You&#39;re using an old version of your browser, so some features" in html
    assert 'href="https://www.mozilla.org/firefox/new/"' in html


def test_notice_verdicts_are_configurable() -> None:
    app = middleware(raw_app(HTML, [PAGE.encode()]), notice_verdicts=["unknown"])
    _, body = call(app, http_scope(headers={"user-agent": OLD_FIREFOX}))
    assert b'id="browser-notice"' not in body
    _, body = call(app, http_scope(headers={"user-agent": "SomethingNew/1.0"}))
    assert b'id="browser-notice"' in body


def test_dismissed_notice_stays_away() -> None:
    app = middleware(raw_app(HTML, [PAGE.encode()]))
    scope = http_scope(headers={"user-agent": OLD_FIREFOX, "cookie": "consent_browser_notice=1"})
    _, body = call(app, scope)
    assert b'id="browser-notice"' not in body


def test_decided_visitor_gets_no_banner_but_the_settings_control() -> None:
    app = middleware(raw_app(HTML, [PAGE.encode()]))
    _, body = call(app, http_scope(headers={"user-agent": CHROME, "cookie": consent_cookie()}))
    assert b'id="consent-banner"' not in body
    assert b'id="consent-settings-control"' in body
    assert b'data-granted="analytics marketing necessary"' in body


def test_decided_visitor_page_stays_light() -> None:
    app = middleware(raw_app(HTML, [PAGE.encode()]))
    _, undecided = call(app, http_scope(headers={"user-agent": CHROME}))
    _, decided = call(app, http_scope(headers={"user-agent": CHROME, "cookie": consent_cookie()}))
    assert b'<dialog id="consent-preferences"' in undecided
    assert b"<dialog" not in decided  # consent.js fetches it when the visitor asks
    assert len(decided) - len(PAGE) < 1000


def test_bots_see_nothing_but_enforcement_still_applies() -> None:
    app = middleware(raw_app([*HTML, (b"set-cookie", b"_ga=1")], [PAGE.encode()]))
    start, body = call(app, http_scope(headers={"user-agent": GOOGLEBOT}))
    assert body == PAGE.encode()
    assert header_values(start, b"set-cookie") == []


def test_content_length_is_recomputed() -> None:
    page = PAGE.encode()
    headers = [*HTML, (b"content-length", str(len(page)).encode())]
    start, body = call(
        middleware(raw_app(headers, [page])), http_scope(headers={"user-agent": CHROME})
    )
    assert header_values(start, b"content-length") == [str(len(body)).encode()]
    assert len(body) > len(page)


def test_streamed_response_with_a_split_marker() -> None:
    page = PAGE.encode()
    cut = page.index(b"<body") + 3
    chunks = [page[:cut], page[cut : cut + 2], page[cut + 2 :]]
    _, body = call(middleware(raw_app(HTML, chunks)), http_scope(headers={"user-agent": CHROME}))
    _, whole = call(middleware(raw_app(HTML, [page])), http_scope(headers={"user-agent": CHROME}))
    assert body == whole


def test_strong_etag_becomes_weak() -> None:
    headers = [*HTML, (b"etag", b'"abc"')]
    start, _ = call(middleware(raw_app(headers, [PAGE.encode()])), http_scope())
    assert header_values(start, b"etag") == [b'W/"abc"']


def test_vary_is_merged_once() -> None:
    headers = [*HTML, (b"Vary", b"Accept-Encoding, cookie")]
    start, _ = call(middleware(raw_app(headers, [PAGE.encode()])), http_scope())
    assert header_values(start, b"vary") == [
        b"Accept-Encoding, cookie, User-Agent, Accept-Language, Sec-CH-UA, "
        b"Sec-CH-UA-Full-Version-List, Sec-GPC"
    ]
    start, _ = call(middleware(raw_app([*HTML, (b"vary", b"*")], [PAGE.encode()])), http_scope())
    assert header_values(start, b"vary") == [b"*"]


def test_accept_ch_when_asked() -> None:
    app = middleware(raw_app(HTML, [PAGE.encode()]), accept_client_hints=True)
    start, _ = call(app, http_scope())
    assert header_values(start, b"accept-ch") == [b"Sec-CH-UA-Full-Version-List"]


@pytest.mark.parametrize(
    ("headers", "status", "method"),
    [
        ([(b"content-type", b"application/json")], 200, "GET"),
        ([(b"content-type", b"text/plain")], 200, "GET"),
        ([*HTML, (b"content-encoding", b"gzip")], 200, "GET"),
        (HTML, 204, "GET"),
        (HTML, 304, "GET"),
        ([(b"content-type", b"text/html; charset=utf-16")], 200, "GET"),
        ([], 200, "GET"),
        (None, 200, "GET"),
        ((), 200, "GET"),
    ],
)
def test_responses_left_alone(headers: Any, status: int, method: str) -> None:
    page = PAGE.encode()
    start, body = call(middleware(raw_app(headers, [page], status)), http_scope(method=method))
    assert body == page
    assert header_values(start, b"vary") == []


def test_head_gets_the_headers_of_get_without_a_body() -> None:
    page = PAGE.encode()
    headers = [*HTML, (b"content-length", str(len(page)).encode())]
    app = middleware(raw_app(headers, [page]))
    get_start, get_body = call(app, http_scope(headers={"user-agent": CHROME}))
    head_start, head_body = call(app, http_scope(method="HEAD", headers={"user-agent": CHROME}))
    assert head_body == page  # the app's own bytes, untouched (servers drop a HEAD body)
    assert header_values(head_start, b"content-length") == [str(len(get_body)).encode()]
    assert header_values(head_start, b"vary") == header_values(get_start, b"vary")


def test_app_can_mark_a_response_to_skip() -> None:
    headers = [*HTML, (b"X-Consent-Skip", b"1")]
    start, body = call(middleware(raw_app(headers, [PAGE.encode()])), http_scope())
    assert body == PAGE.encode()
    assert header_values(start, b"x-consent-skip") == []


def test_skip_paths() -> None:
    app = middleware(
        raw_app([*HTML, (b"set-cookie", b"_ga=1")], [PAGE.encode()]), skip_paths=["/admin"]
    )
    start, body = call(app, http_scope("/admin/page"))
    assert body == PAGE.encode()
    assert header_values(start, b"set-cookie") == []


def test_uppercase_header_names_and_tuple_headers() -> None:
    headers = (
        (b"Content-Type", b"TEXT/HTML"),
        (b"Set-Cookie", b"_fbp=1"),
        (b"Set-Cookie", b"session=1"),
    )
    start, body = call(middleware(raw_app(headers, [PAGE.encode()])), http_scope())
    assert b'id="consent-banner"' in body
    assert header_values(start, b"set-cookie") == [b"session=1"]


@pytest.mark.parametrize(
    "cookies", [[], [(b"set-cookie", b"_ga=1"), (b"set-cookie", b"session=1")]]
)
def test_start_headers_may_be_any_iterable(cookies: list[tuple[bytes, bytes]]) -> None:
    """ASGI allows any iterable of header pairs; a generator can be read only once."""
    headers = [*HTML, (b"x-app", b"1"), *cookies]
    start, body = call(middleware(raw_app(iter(headers), [PAGE.encode()])), http_scope())
    assert b'id="consent-banner"' in body
    assert isinstance(start["headers"], list)
    assert header_values(start, b"x-app") == [b"1"]
    assert header_values(start, b"set-cookie") == ([b"session=1"] if cookies else [])


@pytest.mark.parametrize("as_tuple", [False, True])
def test_split_cookie_headers_are_joined(as_tuple: bool) -> None:
    """HTTP/2 may send the Cookie header in parts; the consent cookie can be in any of them."""
    scope = http_scope(headers={"user-agent": CHROME})
    scope["headers"] += [(b"cookie", b"session=1"), (b"cookie", consent_cookie().encode())]
    if as_tuple:
        scope["headers"] = tuple(scope["headers"])
    _, body = call(middleware(raw_app(HTML, [PAGE.encode()])), scope)
    assert b'id="consent-banner"' not in body
    assert b'id="consent-settings-control"' in body


def test_a_visitor_is_cached_by_our_cookies_not_the_whole_cookie_header() -> None:
    """Analytics scripts rewrite their cookies on every page: a returning visitor whose other
    cookies changed is still the same visitor, and still one cache lookup."""
    app = middleware(raw_app(HTML, [PAGE.encode()]))
    decided = consent_cookie()
    seen = []
    for visit in range(3):
        cookies = f"_ga_XYZ=GS1.1.1717171717.4.1.{1717172000 + visit}.0.0.0; {decided}"
        visitor = app.site.visitor(http_scope(headers={"user-agent": CHROME, "cookie": cookies}))
        seen.append(visitor)
        assert visitor.consent.decided
    assert seen[0] is seen[1] is seen[2]
    undecided = app.site.visitor(http_scope(headers={"user-agent": CHROME, "cookie": "_ga=1"}))
    assert not undecided.consent.decided
    dismissed = app.site.visitor(
        http_scope(headers={"user-agent": CHROME, "cookie": f"{decided}; consent_browser_notice=1"})
    )
    assert dismissed is not seen[0] and dismissed.notice_dismissed


@cache
def consent_cookies() -> dict[str, str]:
    decided = consent_cookie()
    return {
        "decided": decided,
        "refused": consent_cookie("reject_all"),
        "none": "",
        "forged": decided[:-3] + "AAA",
    }


_COOKIE_NOISE = st.sampled_from(["_ga=GA1.1.1", "_ga_XYZ=GS1.1.17", "session=s", "x=consent=1", ""])


@given(
    st.lists(
        st.tuples(
            st.sampled_from([CHROME, OLD_FIREFOX]),
            st.sampled_from(["decided", "refused", "none", "forged"]),
            st.booleans(),
            st.lists(_COOKIE_NOISE, max_size=3),
        ),
        min_size=1,
        max_size=12,
    )
)
@settings(max_examples=60, deadline=None)
def test_cached_visitors_judge_as_new_ones(
    requests: list[tuple[str, str, bool, list[str]]],
) -> None:
    """Whatever the order of requests and their other cookies, both cache levels give the
    visitor a site without caches would judge."""
    cached = ConsentMiddleware(page_app(), settings=make_settings()).site
    uncached = ConsentMiddleware(
        page_app(), settings=make_settings(consent_cache_size=0, browser_cache_size=0)
    ).site
    for agent, choice, dismissed, noise in requests:
        cookies = [*noise, consent_cookies()[choice]]
        if dismissed:
            cookies.insert(len(noise) // 2, "consent_browser_notice=1")
        scope = http_scope(headers={"user-agent": agent, "cookie": "; ".join(cookies)})
        got, expected = cached.visitor(scope), uncached.visitor(scope)
        assert got.consent == expected.consent
        assert got.browser == expected.browser
        assert got.notice() == expected.notice()


def test_visitor_caches_are_bounded_and_keep_no_large_keys() -> None:
    app = middleware(raw_app(HTML, [PAGE.encode()]), consent_cache_size=8)
    site, decided = app.site, consent_cookie()
    for i in range(50):
        site.visitor(http_scope(headers={"user-agent": f"{CHROME} x{i}", "cookie": decided}))
    assert site._by_headers.cache_info().currsize == 8
    assert site._by_cookie_values.cache_info().currsize == 8

    app = middleware(raw_app(HTML, [PAGE.encode()]))
    site = app.site
    many_cookies = f"a={'x' * 5000}; {decided}"
    first, second = (
        site.visitor(http_scope(headers={"user-agent": CHROME, "cookie": many_cookies}))
        for _ in range(2)
    )
    assert first is second and first.consent.decided  # kept by our cookies' values only
    assert site._by_headers.cache_info().currsize == 0
    assert site._by_cookie_values.cache_info().currsize == 1
    site.visitor(http_scope(headers={"user-agent": "x" * 5000, "cookie": decided}))
    assert site._by_cookie_values.cache_info().currsize == 1  # a huge agent is kept nowhere


def test_cache_clear_forgets_visitors_and_verdicts_but_keeps_rendered_markup() -> None:
    site = middleware(raw_app(HTML, [PAGE.encode()])).site
    scope = http_scope(headers={"user-agent": CHROME, "cookie": consent_cookie()})
    before = site.visitor(scope)
    template = before.template(before.consent, "utf-8")
    site.cache_clear()
    assert site.classifier.cache_info().currsize == 0
    after = site.visitor(scope)
    assert after is not before and after.browser == before.browser
    assert after.template(after.consent, "utf-8") is template  # the same rendered snippet
    assert site.visitor(scope) is after


def test_cookie_header_parts_are_joined_for_every_reader() -> None:
    parts = [(b"cookie", b"a=1"), (b"user-agent", b"x"), (b"cookie", b""), (b"cookie", b"b=2")]
    assert cookie_header(parts) == b"a=1; b=2"
    assert request_cookies({"headers": parts}) == {"a": "1", "b": "2"}
    assert request_cookies({"headers": []}) == {}


JUDGED_OR_NOT = st.sampled_from(
    [*_JUDGED, b"host", b"accept", b"referer", b"sec-ch-ua-mobile", b"x-forwarded-for"]
)


@settings(max_examples=200)
@given(
    st.lists(
        st.tuples(JUDGED_OR_NOT, st.binary(max_size=40)), max_size=12, unique_by=lambda h: h[0]
    ),
    st.booleans(),
)
def test_judged_headers_are_read_as_the_general_pass_reads_them(
    headers: list[tuple[bytes, bytes]], oversize: bool
) -> None:
    """The fast path (every name once) picks the same values, in the same order, as the pass
    that also handles repeated names; and a visitor past the size bound is not cached."""
    if oversize:
        headers = [h for h in headers if h[0] != b"user-agent"] + [(b"user-agent", b"v" * 5000)]
    site = page_app().site
    cached: list[tuple[Any, ...]] = []
    uncached: list[tuple[Any, ...]] = []
    site._by_headers = lambda *judged: cached.append(judged)  # type: ignore[assignment]
    site._by_cookies = lambda *judged: uncached.append(judged)  # type: ignore[assignment,method-assign]
    site.visitor_by_headers(headers)
    assert (uncached if oversize else cached) == [_repeated(headers)]
    assert (cached if oversize else uncached) == []


def test_last_repeated_user_agent_is_judged() -> None:
    scope = http_scope(headers={"user-agent": CHROME})
    scope["headers"] += [(b"cookie", b"a=1"), (b"user-agent", OLD_FIREFOX.encode())]
    _, body = call(middleware(raw_app(HTML, [PAGE.encode()])), scope)
    assert b'id="browser-notice"' in body


def test_latin1_page_gets_latin1_text() -> None:
    page = "<html><body>caf\xe9</body></html>".encode("latin-1")
    headers = [(b"content-type", b"text/html; charset=ISO-8859-1")]
    _, body = call(
        middleware(raw_app(headers, [page])), http_scope(headers={"accept-language": "de"})
    )
    assert "W\xe4hlen Sie aus".encode("latin-1") in body
    assert "caf\xe9".encode("latin-1") in body
    assert b"\xc3" not in body  # nothing UTF-8 encoded slipped in


def test_language_is_negotiated() -> None:
    app = middleware(raw_app(HTML, [PAGE.encode()]))
    for header, lang in (
        ("fr-CH, fr;q=0.9", "fr"),
        ("de", "de"),
        ("es", "es"),
        ("it", "it"),
        ("pt", "en"),
    ):
        _, body = call(app, http_scope(headers={"accept-language": header}))
        assert f'id="consent-banner" class="consent-banner" lang="{lang}"'.encode() in body


def test_texts_can_be_overridden_from_settings() -> None:
    app = middleware(
        raw_app(HTML, [PAGE.encode()]),
        texts={"fr": {"banner.title": "Vos cookies <à vous>"}, "nl": {"banner.title": "Cookies"}},
    )
    _, body = call(app, http_scope(headers={"accept-language": "fr"}))
    assert "Vos cookies &lt;à vous&gt;".encode() in body
    _, body = call(app, http_scope(headers={"accept-language": "nl"}))
    assert b'lang="nl"' in body and b">Cookies</h2>" in body


def test_gpc_visitor_is_told_and_refused() -> None:
    app = middleware(raw_app([*HTML, (b"set-cookie", b"_ga=1")], [PAGE.encode()]))
    start, body = call(app, http_scope(headers={"sec-gpc": "1"}))
    assert b"Global Privacy Control" in body
    assert header_values(start, b"set-cookie") == []
    start, body = call(app, http_scope(headers={"sec-gpc": "1", "cookie": consent_cookie()}))
    assert b"Global Privacy Control" not in body
    assert header_values(start, b"set-cookie") == [b"_ga=1"]


def test_csp_nonce_is_put_on_our_tags() -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        scope["state"]["csp_nonce"] = 'abc"123'
        await raw_app(HTML, [PAGE.encode()])(scope, receive, send)

    _, body = call(middleware(app), http_scope())
    assert body.count(b' nonce="abc&#34;123"') == 2
    _, body = call(middleware(raw_app(HTML, [PAGE.encode()])), http_scope())
    assert b"nonce=" not in body
    assert b"<script" in body and b"<script>" not in body


def test_next_path_in_forms_is_the_current_page_escaped() -> None:
    scope = http_scope("/shop")
    scope["query_string"] = b'q="><script>'
    _, body = call(middleware(raw_app(HTML, [PAGE.encode()])), scope)
    assert b'value="/shop?q=&#34;&gt;&lt;script&gt;"' in body


def test_pathsend_is_hidden_only_when_present() -> None:
    seen: list[dict[str, Any]] = []
    app = middleware(raw_app(HTML, [PAGE.encode()], seen=seen))
    scope = http_scope()
    scope["extensions"] = {"http.response.pathsend": {}, "http.response.trailers": {}}
    call(app, scope)
    assert seen[0]["extensions"] == {"http.response.trailers": {}}
    assert "http.response.pathsend" in scope["extensions"]
    plain = http_scope()
    call(app, plain)
    assert seen[1] is plain


# --- enforcement and state ------------------------------------------------------------------


def test_first_response_is_already_enforced() -> None:
    with client(page_app()) as browser:
        response = browser.get("/", headers={"user-agent": CHROME})
        assert set(response.cookies.keys()) == {"session", "mystery"}


def test_accepting_lets_every_category_through() -> None:
    with client(page_app()) as browser:
        browser.post(
            "/_consent", data={"action": "accept_all"}, headers={"origin": "http://localhost"}
        )
        response = browser.get("/")
        assert set(response.cookies.keys()) == {"session", "_ga", "_ga_XYZ", "_fbp", "mystery"}
        assert browser.get("/state").json() == {
            "decided": True,
            "granted": ["analytics", "marketing", "necessary"],
            "browser": "unknown",
        }


def test_saving_analytics_only() -> None:
    with client(page_app()) as browser:
        browser.post(
            "/_consent",
            json={"action": "save", "categories": ["analytics"]},
            headers={"origin": "http://localhost"},
        )
        response = browser.get("/")
        assert set(response.cookies.keys()) == {"session", "_ga", "_ga_XYZ", "mystery"}


def test_forged_cookie_is_undecided_never_an_error() -> None:
    with client(page_app()) as browser:
        browser.cookies.set(
            "consent", "1:analytics.marketing:abc:1:b.AAAA.BBBB", domain="localhost.local"
        )
        response = browser.get("/state", headers={"user-agent": CHROME})
        assert response.status_code == 200
        assert response.json()["decided"] is False


def test_websocket_accept_cookies_are_filtered() -> None:
    async def socket(websocket: WebSocket) -> None:
        await websocket.accept(headers=[(b"set-cookie", b"_ga=1"), (b"set-cookie", b"session=1")])
        await websocket.send_json({"decided": websocket.scope["state"]["consent"].decided})
        await websocket.close()

    app = ConsentMiddleware(
        Starlette(routes=[WebSocketRoute("/ws", socket)]), settings=make_settings()
    )
    with client(app) as browser, browser.websocket_connect("/ws") as connection:
        assert connection.receive_json() == {"decided": False}
        assert connection.extra_headers == [(b"set-cookie", b"session=1")]


def test_lifespan_passes_through() -> None:
    events: list[str] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        events.append(scope["type"])
        message = await receive()
        events.append(message["type"])
        await send({"type": "lifespan.startup.complete"})

    async def run() -> None:
        async def receive() -> dict[str, str]:
            return {"type": "lifespan.startup"}

        async def send(message: Any) -> None:
            events.append(message["type"])

        await middleware(app)({"type": "lifespan", "asgi": {"version": "3.0"}}, receive, send)

    asyncio.run(run())
    assert events == ["lifespan", "lifespan.startup", "lifespan.startup.complete"]


def test_request_state_reaches_the_app() -> None:
    async def home(request: Request) -> HTMLResponse:
        browser = request.state.browser
        return HTMLResponse(f"<p>{browser.key} {browser.version_string} {browser.verdict}</p>")

    app = ConsentMiddleware(Starlette(routes=[Route("/", home)]), settings=make_settings())
    with client(app) as browser:
        assert "firefox 10.0 outdated" in browser.get("/", headers={"user-agent": OLD_FIREFOX}).text


def test_streaming_50_mb_holds_little_memory() -> None:
    chunk = b"x" * 65536

    def body() -> Iterator[bytes]:
        yield b"<!doctype html><html><head><title>big</title></head><bo"
        yield b"dy>"
        for _ in range(800):
            yield chunk
        yield b"</body></html>"

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await StreamingResponse(body(), media_type="text/html")(scope, receive, send)

    wrapped = middleware(app)
    received = 0
    injected = 0

    async def run() -> None:
        nonlocal received, injected

        async def receive() -> dict[str, Any]:
            await asyncio.sleep(3600)
            return {"type": "http.disconnect"}

        async def send(message: Any) -> None:
            nonlocal received, injected
            if message["type"] == "http.response.body":
                received += len(message["body"])
                injected += message["body"].count(b'id="consent-banner"')

        await wrapped(http_scope(), receive, send)

    tracemalloc.start()
    try:
        asyncio.run(run())
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert received > 800 * 65536
    assert injected == 1
    assert peak < 4 * 1024 * 1024, peak


def cyclic_garbage(app: Any, make_scope: Callable[[], dict[str, Any]]) -> list[str]:
    """The types of the objects that serving five requests left in reference cycles, after a
    first one (rendering a snippet for the first time makes cycles in Jinja2)."""

    async def serve(count: int) -> None:
        for _ in range(count):

            async def receive() -> dict[str, Any]:
                return {"type": "http.request", "body": b"", "more_body": False}

            async def send(message: Any) -> None:
                pass

            await app(make_scope(), receive, send)

    asyncio.run(serve(1))
    gc.collect()
    gc.disable()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        asyncio.run(serve(5))
        gc.collect()
        return sorted(type(thing).__qualname__ for thing in gc.garbage)
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        gc.enable()


@pytest.mark.parametrize(
    ("path", "user_agent", "cookie"),
    [
        ("/", CHROME, None),  # a page with cookies to strip, and the banner
        ("/", OLD_FIREFOX, "accept_all"),  # the notice for a decided visitor
        ("/state", CHROME, "accept_all"),  # the application reads the state
        ("/missing", CHROME, None),  # a plain-text 404: the visitor is never looked up
        ("/_consent/static/consent.js", CHROME, None),  # our own endpoint
    ],
)
def test_requests_leave_no_reference_cycles(path: str, user_agent: str, cookie: str | None) -> None:
    """Objects in a cycle outlive their request until the garbage collector runs: on a busy
    server that costs more than all the rest of the middleware's work."""
    headers = {"user-agent": user_agent}
    if cookie is not None:
        headers["cookie"] = consent_cookie(cookie)
    assert cyclic_garbage(page_app(), lambda: http_scope(path, headers=headers)) == []
