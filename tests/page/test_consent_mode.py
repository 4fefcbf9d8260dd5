"""Google Consent Mode v2: its settings, the tag put at the head point, and the middleware's
wiring (Content-Length, streams, HEAD, nonce, GPC, the charset of a page served without one,
and pages of sites that leave it off)."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from consent.page.consent_mode import ConsentModeTag
from consent.page.encoding import PRESCAN_BYTES, prescan
from consent.page.injector import HeadAndBodyMemo, html_charset, insert_head_and_snippet
from consent.settings import DEFAULT_CONSENT_MODE_TYPES, GOOGLE_CONSENT_TYPES, ConfigurationError
from tests.support import (
    GOOGLEBOT,
    call,
    client,
    header_values,
    http_scope,
    make_settings,
    page_app,
    raw_app,
)

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


def test_the_served_script_lists_the_settings_consent_types() -> None:
    """The script's list of Google's types is the settings' one, written in as it is served; a
    marker of WRITTEN_IN that a static file no longer holds would leave the list empty."""
    import json
    from importlib import resources

    from consent.page.render import WRITTEN_IN, load_assets

    static = resources.files("consent.page").joinpath("ui", "static")
    raw = b"".join(entry.read_bytes() for entry in static.iterdir() if entry.name.endswith(".js"))
    assert all(marker in raw for marker in WRITTEN_IN)
    served = load_assets()["consent-mode.js"].body
    assert b"var TYPES = " + json.dumps(list(GOOGLE_CONSENT_TYPES)).encode() + b";" in served
    assert not any(marker in served for marker in WRITTEN_IN)


# --- A page served as text/html without a charset: the one its body declares goes in the header ---

#: Pushes what follows close to the end of the bytes a browser prescans for a <meta charset>.
DESCRIPTION = b"<meta name=description content='" + b"x" * 820 + b"'>"


def served(
    document: bytes, app_settings: Any, *, chunk: int = 0, headers: dict[str, str] | None = None
) -> tuple[dict[str, Any], bytes]:
    from consent import ConsentMiddleware

    size = chunk or len(document) or 1
    chunks = [document[i : i + size] for i in range(0, len(document), size)] or [b""]
    response = [(b"content-type", b"text/html"), (b"content-length", b"%d" % len(document))]
    app = ConsentMiddleware(raw_app(response, chunks), settings=app_settings)
    return call(app, http_scope(headers=headers))


@pytest.mark.parametrize("chunk", [0, 300])
@pytest.mark.parametrize("user_agent", [None, GOOGLEBOT])
@pytest.mark.parametrize(
    "before_meta", [b"", b"<link rel=stylesheet href=/s.css>"], ids=["meta run", "after a link"]
)
def test_a_charset_read_from_the_body_goes_into_the_content_type(
    before_meta: bytes, user_agent: str | None, chunk: int
) -> None:
    """The tag must not push the page's <meta charset> past the 1,024 bytes a browser prescans:
    it goes after the head's opening run of meta elements, and, wherever it goes, the charset
    the middleware read from the body goes into the Content-Type, which comes first."""
    document = (
        b"<!doctype html><html><head>" + before_meta + DESCRIPTION + b"<meta charset=windows-1252>"
        b"<title>Caf\xe9</title></head><body>Caf\xe9</body></html>"
    )
    assert prescan(document) == "windows-1252"
    assert document.index(b"<meta charset") + len(head_tag_of(mode_settings())) > PRESCAN_BYTES
    headers = {"user-agent": user_agent} if user_agent else None
    start, body = served(document, mode_settings(), chunk=chunk, headers=headers)
    content_types = header_values(start, b"content-type")
    assert content_types == [b"text/html; charset=windows-1252"]
    assert html_charset(content_types[0]) == "cp1252"
    assert header_values(start, b"content-length") == [b"%d" % len(body)]
    assert body.count(b"consent-mode.js") == 1
    # In the meta run it also stays within the prescan; after a link only the header tells.
    assert prescan(body) == ("windows-1252" if not before_meta else None)
    _, off = served(document, make_settings(), headers=headers)
    assert body.replace(head_tag(body), b"", 1) == off


@pytest.mark.parametrize(
    ("document", "content_type"),
    [
        (b"\xef\xbb\xbf<!doctype html><head><title>t</title><body>x", b"text/html; charset=utf-8"),
        (b"<!doctype html><head><title>t</title><body>x", b"text/html"),  # the browser guesses
    ],
    ids=["byte order mark", "no declaration"],
)
def test_only_a_declared_charset_goes_into_the_content_type(
    document: bytes, content_type: bytes
) -> None:
    start, body = served(document, mode_settings())
    assert header_values(start, b"content-type") == [content_type]
    assert header_values(start, b"content-length") == [b"%d" % len(body)]
    off_start, _ = served(document, make_settings())
    assert header_values(off_start, b"content-type") == [b"text/html"]


def test_sites_that_leave_it_off_keep_their_content_type() -> None:
    document = b"<!doctype html><head>" + DESCRIPTION + b"<meta charset=windows-1252><body>x"
    for app_settings in (make_settings(), make_settings(consent_mode={"enabled": False})):
        start, _ = served(document, app_settings)
        assert header_values(start, b"content-type") == [b"text/html"]


def head_tag_of(app_settings: Any) -> bytes:
    _, body = call(page_app(app_settings), http_scope())
    return head_tag(body)
