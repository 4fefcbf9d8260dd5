"""Google Consent Mode v2: its settings, the tag put at the head point, and the middleware's
wiring (Content-Length, streams, HEAD, nonce, GPC, and pages of sites that leave it off)."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from consent.page.consent_mode import ConsentModeTag
from consent.page.injector import HeadAndBodyMemo, insert_head_and_snippet
from consent.settings import DEFAULT_CONSENT_MODE_TYPES, GOOGLE_CONSENT_TYPES, ConfigurationError
from tests.support import call, client, header_values, http_scope, make_settings, page_app, raw_app

PAGE = b"<!doctype html><html lang=en><head><title>t</title></head><body><main>hi</main></body>"
HTML = [(b"content-type", b"text/html; charset=utf-8"), (b"content-length", b"%d" % len(PAGE))]
ON = {"enabled": True}


def mode_settings(**mode: Any) -> Any:
    return make_settings(consent_mode={"enabled": True, **mode})


def consent_cookie(choice: str = "accept_all", categories: tuple[str, ...] = ()) -> str:
    with client(page_app(make_settings()), follow_redirects=False) as browser:
        response = browser.post(
            "/_consent",
            data={"action": choice, "category": list(categories)},
            headers={"origin": "http://localhost"},
        )
    return f"consent={response.cookies['consent']}"


def head_tag(body: bytes) -> bytes:
    start = body.index(b"<script src=")
    return body[start : body.index(b"</script>", start) + len(b"</script>")]


# --- Settings ---


def test_it_is_off_by_default_with_the_documented_mapping() -> None:
    defaults = make_settings()
    assert defaults.consent_mode.enabled is False
    assert defaults.consent_mode_types() == DEFAULT_CONSENT_MODE_TYPES
    assert DEFAULT_CONSENT_MODE_TYPES == {
        "necessary": ("functionality_storage", "security_storage"),
        "analytics": ("analytics_storage",),
        "marketing": ("ad_storage", "ad_user_data", "ad_personalization"),
    }


def test_the_default_mapping_keeps_to_the_sites_categories() -> None:
    only = {"necessary": {"label": "N", "required": True}, "analytics": {"label": "A"}}
    site = make_settings(categories=only, consent_mode=ON)
    assert site.consent_mode_types() == {
        "necessary": ("functionality_storage", "security_storage"),
        "analytics": ("analytics_storage",),
    }


@pytest.mark.parametrize(
    ("mode", "message"),
    [
        ({"types": {"tracking": ["ad_storage"]}}, "consent_mode.types.tracking: unknown category"),
        ({"types": {"analytics": ["ads_storage"]}}, "consent_mode.types.analytics: unknown Google"),
        ({"wait_for_update": -1}, "consent_mode.wait_for_update"),
        ({"wait_for_update": 10_001}, "consent_mode.wait_for_update"),
        ({"region": ["DE"]}, "consent_mode.region"),
    ],
)
def test_a_wrong_setting_stops_start_up_naming_it(mode: dict[str, Any], message: str) -> None:
    with pytest.raises((ConfigurationError, ValueError)) as raised:
        mode_settings(**mode)
    assert message in str(raised.value)


def test_it_needs_consent_enabled() -> None:
    with pytest.raises((ConfigurationError, ValueError)) as raised:
        make_settings(consent_enabled=False, consent_mode=ON)
    assert "consent_mode.enabled = true needs consent_enabled = true" in str(raised.value)


def test_it_reads_from_toml(tmp_path: Any) -> None:
    policy = tmp_path / "policy.toml"
    policy.write_text(
        'secret_keys = ["k"]\nrecords_url = "none"\ncookie_inventory = "none"\n'
        "[consent_mode]\nenabled = true\nwait_for_update = 500\nads_data_redaction = true\n"
        'url_passthrough = true\n[consent_mode.types]\nanalytics = ["analytics_storage"]\n'
        'marketing = ["ad_storage", "ad_user_data", "ad_personalization"]\n'
    )
    from consent.settings import ConsentSettings

    loaded = ConsentSettings.from_toml(policy)
    assert loaded.consent_mode.enabled and loaded.consent_mode.wait_for_update == 500
    assert loaded.consent_mode_types()["marketing"] == GOOGLE_CONSENT_TYPES[:3]


# --- The tag ---


def static_url(name: str) -> str:
    return f"/_consent/static/{name}?v=abc"


def test_the_tag_carries_the_state_the_mapping_and_the_options() -> None:
    tag = ConsentModeTag(
        mode_settings(wait_for_update=500, ads_data_redaction=True, url_passthrough=True),
        static_url,
    )
    assert tag.tag(frozenset({"necessary", "analytics"}), None) == (
        b'<script src="/_consent/static/consent-mode.js?v=abc" data-granted="analytics necessary"'
        b' data-types="necessary=functionality_storage security_storage;'
        b'analytics=analytics_storage;marketing=ad_storage ad_user_data ad_personalization"'
        b' data-wait-for-update="500" data-ads-data-redaction="true"'
        b' data-url-passthrough="true"></script>'
    )


def test_the_tag_is_synchronous_and_external_and_takes_the_nonce() -> None:
    tag = ConsentModeTag(mode_settings(), static_url)
    plain = tag.tag(frozenset({"necessary"}), None)
    assert b" async" not in plain and b" defer" not in plain and plain.endswith(b"></script>")
    assert b"data-wait-for-update" not in plain and b"data-url-passthrough" not in plain
    with_nonce = tag.tag(frozenset({"necessary"}), 'n"1')
    assert with_nonce == plain.replace(b"></script>", b' nonce="n&#34;1"></script>')


# --- The middleware ---


def test_pages_of_sites_that_leave_it_off_are_byte_identical() -> None:
    for app_settings in (make_settings(), make_settings(consent_mode={"enabled": False})):
        _, body = call(page_app(app_settings), http_scope())
        _, reference = call(page_app(make_settings()), http_scope())
        assert body == reference
        assert b"consent-mode.js" not in body


def test_a_new_visitor_gets_the_tag_at_the_head_point_with_a_right_length() -> None:
    app = page_app(mode_settings())
    start, body = call(app, http_scope())
    tag = head_tag(body)
    assert b'data-granted="necessary"' in tag
    assert body.index(b"</title>" + tag) < body.index(b"</head>")
    assert header_values(start, b"content-length") == [str(len(body)).encode()]
    _, off = call(page_app(make_settings()), http_scope())
    assert body.replace(tag, b"", 1) == off


@pytest.mark.parametrize(
    ("cookie", "gpc", "granted"),
    [
        (None, False, b"necessary"),
        ("accept_all", False, b"analytics marketing necessary"),
        ("analytics", False, b"analytics necessary"),
        ("reject_all", False, b"necessary"),
        (None, True, b"necessary"),
        ("analytics", True, b"analytics necessary"),  # an explicit choice overrides GPC
    ],
)
def test_the_tag_says_the_verified_consent(cookie: str | None, gpc: bool, granted: bytes) -> None:
    headers = {"sec-gpc": "1"} if gpc else {}
    if cookie == "analytics":
        headers["cookie"] = consent_cookie("save", ("analytics",))
    elif cookie:
        headers["cookie"] = consent_cookie(cookie)
    _, body = call(page_app(mode_settings()), http_scope(headers=headers))
    assert b'data-granted="' + granted + b'"' in head_tag(body)


def test_a_forged_cookie_counts_as_undecided() -> None:
    forged = consent_cookie("accept_all")[:-3] + "AAA"
    _, body = call(page_app(mode_settings()), http_scope(headers={"cookie": forged}))
    assert b'data-granted="necessary"' in head_tag(body)


def test_the_page_nonce_is_on_the_tag() -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        scope["state"]["csp_nonce"] = "r4nd0m"
        await raw_app(HTML, [PAGE])(scope, receive, send)

    from consent import ConsentMiddleware

    _, body = call(ConsentMiddleware(app, settings=mode_settings()), http_scope())
    assert b' nonce="r4nd0m"></script>' in head_tag(body)


@settings(max_examples=60, deadline=None)
@given(points=st.lists(st.integers(0, len(PAGE)), max_size=6))
def test_a_streamed_page_gets_the_same_bytes_and_length(points: list[int]) -> None:
    from consent import ConsentMiddleware

    bounds = [0, *sorted(points), len(PAGE)]
    chunks = [PAGE[a:b] for a, b in itertools.pairwise(bounds)]
    whole_app = ConsentMiddleware(raw_app(HTML, [PAGE]), settings=mode_settings())
    streamed_app = ConsentMiddleware(raw_app(HTML, chunks), settings=mode_settings())
    _, expected = call(whole_app, http_scope())
    start, body = call(streamed_app, http_scope())
    assert body == expected
    assert header_values(start, b"content-length") == [b"%d" % len(body)]
    assert body.count(b"consent-mode.js") == 1


def test_a_head_request_gets_the_length_and_no_body() -> None:
    from consent import ConsentMiddleware

    app = ConsentMiddleware(raw_app(HTML, [PAGE]), settings=mode_settings())
    _, get_body = call(app, http_scope())
    head_start, head_body = call(app, http_scope(method="HEAD"))
    assert header_values(head_start, b"content-length") == [b"%d" % len(get_body)]
    assert head_body == PAGE  # raw_app sends it anyway; the middleware injects nothing


def test_the_memo_of_heads_gives_the_scan_answer() -> None:
    memo = HeadAndBodyMemo()
    first = insert_head_and_snippet(PAGE, b"<H>", b"<B>", memo)
    assert memo.find(PAGE) is not None
    assert insert_head_and_snippet(PAGE, b"<H>", b"<B>", memo) == first
    assert first == PAGE.replace(b"</title>", b"</title><H>").replace(b"<body>", b"<body><B>")


def test_the_static_script_is_served() -> None:
    with client(page_app(mode_settings())) as browser:
        _, body = call(page_app(mode_settings()), http_scope())
        src = head_tag(body).split(b'src="')[1].split(b'"')[0].decode()
        response = browser.get(src)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/javascript")
    assert b'gtag("consent", "default"' in response.content
