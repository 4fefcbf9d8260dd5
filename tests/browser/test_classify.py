"""Browser classification: verdicts under the seed rules, client hints, hostile input, caching."""

from __future__ import annotations

import logging
from typing import Any

import pytest
import user_agents
from hypothesis import given
from hypothesis import strategies as st
from ua_parser.regex import Resolver

import consent.browser.classify
from consent.browser.classify import (
    BrowserClassifier,
    BrowserInfo,
    FastUserAgent,
    _may_name_a_spider_alone,
    _parse_structured_list,
    is_spider,
    parse_brand_list,
    parse_user_agent,
)
from consent.settings import ConsentSettings

CHROME_23 = (
    "Mozilla/5.0 (Windows NT 6.1; WOW64) AppleWebKit/537.11 (KHTML, like Gecko) "
    "Chrome/23.0.1271.97 Safari/537.11"
)
CHROME_24 = (
    "Mozilla/5.0 (Windows NT 6.1) AppleWebKit/537.17 (KHTML, like Gecko) "
    "Chrome/24.0.1312.57 Safari/537.17"
)
CHROME_120 = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Safari/537.36"
)
OPERA_14 = (
    "Mozilla/5.0 (Linux; Android 4.1.2; GT-I9300 Build/JZO54K) AppleWebKit/537.31 "
    "(KHTML, like Gecko) Chrome/26.0.1410.58 Mobile Safari/537.31 OPR/14.0.1074.57453"
)
OPERA_15 = (
    "Mozilla/5.0 (Windows NT 6.1; WOW64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/28.0.1500.52 Safari/537.36 OPR/15.0.1147.100"
)
OPERA_18 = (
    "Mozilla/5.0 (Windows NT 6.1; WOW64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/31.0.1650.63 Safari/537.36 OPR/18.0.1284.68"
)
OPERA_19 = (
    "Mozilla/5.0 (Windows NT 6.1; WOW64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/32.0.1700.76 Safari/537.36 OPR/19.0.1326.56"
)
SEAMONKEY_2_14 = (
    "Mozilla/5.0 (Windows NT 6.1; WOW64; rv:17.0) Gecko/20121128 Firefox/17.0 SeaMonkey/2.14"
)
SEAMONKEY_2_15 = (
    "Mozilla/5.0 (X11; Linux x86_64; rv:18.0) Gecko/20130106 Firefox/18.0 SeaMonkey/2.15"
)
SEAMONKEY_2_23_1 = (
    "Mozilla/5.0 (Windows NT 6.1; WOW64; rv:26.0) Gecko/20100101 Firefox/26.0 SeaMonkey/2.23.1"
)
SEAMONKEY_2_24 = (
    "Mozilla/5.0 (Windows NT 6.1; WOW64; rv:27.0) Gecko/20100101 Firefox/27.0 SeaMonkey/2.24"
)
IE_10 = "Mozilla/5.0 (compatible; MSIE 10.0; Windows NT 6.1; Trident/6.0)"
IE_11 = "Mozilla/5.0 (Windows NT 10.0; WOW64; Trident/7.0; rv:11.0) like Gecko"
SAFARI_6 = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_8_5) AppleWebKit/536.30.1 (KHTML, like Gecko) "
    "Version/6.0.5 Safari/536.30.1"
)
MOBILE_SAFARI_17 = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1"
)
NETSCAPE_9 = (
    "Mozilla/5.0 (Windows; U; Windows NT 5.1; en-US; rv:1.8.1.12) Gecko/20080219 "
    "Firefox/2.0.0.12 Navigator/9.0.0.6"
)
EDGE_120 = CHROME_120 + " Edg/120.0.0.0"
ANDROID_WEBVIEW = (
    "Mozilla/5.0 (Linux; Android 13; Pixel 7 Build/TQ3A.230901.001; wv) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Version/4.0 Chrome/120.0.6099.144 Mobile Safari/537.36"
)
IOS_WEBVIEW = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 12_4 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Mobile/15E148"
)
HEADLESS_CHROME = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome "
    "Safari/537.36"
)
GOOGLEBOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"

FULL_VERSION_LIST = (
    '"Not_A Brand";v="8.0.0.0", "Chromium";v="120.0.6099.109", "Google Chrome";v="120.0.6099.109"'
)


def make_classifier(**values: Any) -> BrowserClassifier:
    return BrowserClassifier(ConsentSettings.load(debug=True, **values))


@pytest.fixture(scope="module")
def classifier() -> BrowserClassifier:
    return make_classifier()


def classify(classifier: BrowserClassifier, ua: str, hints: str | None = None) -> BrowserInfo:
    return classifier.classify(ua.encode("latin-1"), None if hints is None else hints.encode())


@pytest.mark.parametrize(
    ("ua", "key", "version", "verdict"),
    [
        (CHROME_23, "chrome", (23, 0, 1271), "outdated"),
        (CHROME_24, "chrome", (24, 0, 1312), "supported"),
        (CHROME_120, "chrome", (120, 0, 0), "supported"),
        (OPERA_14, "opera", (14, 0, 1074), "outdated"),
        (OPERA_15, "opera", (15, 0, 1147), "supported"),
        (OPERA_18, "opera", (18, 0, 1284), "supported"),
        (OPERA_19, "opera", (19, 0, 1326), "newer_than_tested"),
        (SEAMONKEY_2_14, "seamonkey", (2, 14), "outdated"),
        (SEAMONKEY_2_15, "seamonkey", (2, 15), "supported"),
        (SEAMONKEY_2_23_1, "seamonkey", (2, 23, 1), "supported"),
        (SEAMONKEY_2_24, "seamonkey", (2, 24), "newer_than_tested"),
        (IE_10, "ie", (10, 0), "outdated"),
        (IE_11, "ie", (11, 0), "supported"),
        (SAFARI_6, "safari", (6, 0, 5), "outdated"),
        (MOBILE_SAFARI_17, "safari", (17, 1), "supported"),
        (NETSCAPE_9, None, (9, 0, 0), "unknown"),
        (EDGE_120, "edge", (120, 0, 0), "unknown"),  # a key, but no rule for it
        (GOOGLEBOT, None, (2, 1), "bot"),
    ],
)
def test_verdicts_under_the_seed_rules(
    classifier: BrowserClassifier, ua: str, key: str | None, version: tuple[int, ...], verdict: str
) -> None:
    info = classify(classifier, ua)
    assert (info.key, info.version, info.verdict) == (key, version, verdict)
    assert info.source == "user-agent"
    assert info.version_string == ".".join(map(str, version))
    assert info.user_agent.ua_string == ua


def test_flags_and_parsed_agent(classifier: BrowserClassifier) -> None:
    mobile = classify(classifier, MOBILE_SAFARI_17)
    assert (mobile.family, mobile.is_mobile, mobile.is_bot) == ("Mobile Safari", True, False)
    assert mobile.user_agent.os.family == "iOS"
    assert mobile.user_agent.device.family == "iPhone"
    bot = classify(classifier, GOOGLEBOT)
    assert (bot.is_bot, bot.family) == (True, "Googlebot")


def test_is_mobile_is_parsed_when_read_and_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    classifier = make_classifier()
    mobile = classify(classifier, MOBILE_SAFARI_17)
    assert mobile._mobile is None  # the verdict did not need the OS or the device
    parses: list[str] = []
    real = FastUserAgent.__init__

    def counting(agent: FastUserAgent, text: str) -> None:
        parses.append(text)
        real(agent, text)

    monkeypatch.setattr(FastUserAgent, "__init__", counting)
    assert (mobile.is_mobile, mobile.is_mobile) == (True, True)
    assert parses == [MOBILE_SAFARI_17]
    assert classify(classifier, MOBILE_SAFARI_17).is_mobile  # the cached verdict kept it
    assert parses == [MOBILE_SAFARI_17]
    assert not classify(classifier, CHROME_120).is_mobile
    assert "is_mobile" not in repr(mobile) and "_mobile" not in repr(mobile)
    assert mobile == classify(make_classifier(), MOBILE_SAFARI_17)  # read or not, they are equal


@pytest.mark.parametrize(
    ("family", "may"),
    [
        ("Spider", True),
        (" Spider ", True),
        ("iPhone", False),
        ("Generic Smartphone", False),
        ("$1", False),  # a lone capture: "Spider" would be in the User-Agent
        ("$1 $2", False),  # blank-separated: one part is "Spider", the rest empty
        ("Samsung $1", False),  # "Samsung" is never part of "Spider"
        ("Samsung $1$2", False),
        ("$1$2,$3", False),
        ("$1$2", True),  # "Spi" + "der"
        ("$1 $2$3", True),
        ("Spi$1", True),
        ("$1der", True),
    ],
)
def test_which_device_families_may_name_a_spider(family: str, may: bool) -> None:
    assert _may_name_a_spider_alone(family) is may


BOTS_AND_LOOKALIKES = [
    GOOGLEBOT,
    "Mozilla/5.0 (Linux; Android 6.0.1; Nexus 5X Build/MMB29P) AppleWebKit/537.36 (KHTML, like "
    "Gecko) Chrome/120.0.6099.109 Mobile Safari/537.36 (compatible; Googlebot/2.1; "
    "+http://www.google.com/bot.html)",
    "Mozilla/5.0 (compatible; YandexBot/3.0; +http://yandex.com/bots)",
    "Mozilla/5.0 (compatible; Baiduspider/2.0; +http://www.baidu.com/search/spider.html)",
    "Sogou web spider/4.0(+http://www.sogou.com/docs/help/webmasters.htm#07)",
    "Mozilla/5.0 (Linux; Android 4.4; ZOPO Spider Build/KOT49H) AppleWebKit/537.36",
    "Mozilla/5.0 (Linux; Android 4.4; Spider Build/KOT49H) AppleWebKit/537.36",
    "Mozilla/5.0 (Linux; Android 4.4; LG-Spider Build/KOT49H) AppleWebKit/537.36",
    "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
    "curl/8.4.0",
    "python-requests/2.31.0",
    CHROME_120,
    MOBILE_SAFARI_17,
    OPERA_14,
]


@pytest.mark.parametrize("ua", BOTS_AND_LOOKALIKES)
def test_is_spider_is_the_whole_parse_s_is_bot(classifier: BrowserClassifier, ua: str) -> None:
    expected = FastUserAgent(ua).is_bot
    assert is_spider(ua) is is_spider(ua, named_browser=True) is expected
    assert classify(classifier, ua).is_bot is expected


def test_a_spider_named_by_a_lone_capture_is_found_by_the_substring_test(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """uap-core's generic bot pattern also matches "Spider", so on its own data the substring
    test never decides; without candidates it is all that stands for the lone captures."""
    ua = "Mozilla/5.0 (Linux; Android 4.4; Spider Build/KOT49H) AppleWebKit/537.36"
    assert FastUserAgent(ua).is_bot
    no_candidates = Resolver(([], [], [])).de
    monkeypatch.setattr(consent.browser.classify, "_SPIDER_CANDIDATES", no_candidates)
    assert is_spider(ua, named_browser=True)
    assert not is_spider(CHROME_120, named_browser=True)


_UA_WORDS = [
    "Mozilla/5.0 ", "(Linux; Android 4.4; ", "iPhone; ", "Windows NT 10.0; ", " Build/KOT49H) ",
    "AppleWebKit/537.36 ", "Chrome/120.0.0.0 ", "Mobile ", "Safari/537.36", "Spider", "spider",
    "Spi", "der", "bot", "Bot", "crawl", "ZOPO ", "LG-", "MOT-", "Nokia", "SAMSUNG-", "Sprint ",
    "; ", ")", "/", " ", "-", "1", "PTST/12", "Datanyze", "PetalBot", "(compatible; ",
]  # fmt: skip


@given(st.lists(st.sampled_from(_UA_WORDS), max_size=14).map("".join))
def test_is_spider_agrees_with_the_whole_parse_on_agents_made_of_parts(ua: str) -> None:
    assert is_spider(ua, named_browser=True) is FastUserAgent(ua).is_bot


FIREFOX_BETA = (
    "Mozilla/5.0 (Windows; U; Windows NT 6.1; en-US; rv:2.0b8pre) Gecko/20101114 Firefox/4.0b8pre"
)


@pytest.mark.parametrize(
    "ua", [CHROME_120, MOBILE_SAFARI_17, GOOGLEBOT, OPERA_14, FIREFOX_BETA, "curl/8.4.0", ""]
)
def test_fast_user_agent_behaves_like_user_agents(ua: str) -> None:
    fast, reference = parse_user_agent(ua), user_agents.parse(ua)
    assert isinstance(fast, FastUserAgent)
    assert (fast.browser, fast.os, fast.device) == (
        reference.browser,
        reference.os,
        reference.device,
    )
    for flag in ("is_bot", "is_mobile", "is_tablet", "is_pc", "is_touch_capable"):
        assert getattr(fast, flag) == getattr(reference, flag), flag
    assert str(fast) == str(reference)
    again = parse_user_agent(ua)  # versions come from a cache the second time
    assert (again.browser, again.os) == (reference.browser, reference.os)


def test_empty_user_agent_is_unknown_not_bot(classifier: BrowserClassifier) -> None:
    for ua in ("", "   "):
        info = classify(classifier, ua, FULL_VERSION_LIST)
        assert (info.verdict, info.is_bot, info.key) == ("unknown", False, None)


def test_unsupported_rule() -> None:
    classifier = make_classifier(browsers={"ie": "unsupported"})
    assert classify(classifier, IE_11).verdict == "unsupported"
    assert classify(classifier, CHROME_23).verdict == "unknown"  # no rule for chrome now


def test_unsupported_rule_needs_no_version() -> None:
    classifier = make_classifier(browsers={"safari_webview": "unsupported"})
    info = classify(classifier, IOS_WEBVIEW)
    assert (info.key, info.version, info.verdict) == ("safari_webview", (), "unsupported")


def test_missing_version_is_unknown(classifier: BrowserClassifier) -> None:
    info = classify(classifier, HEADLESS_CHROME)
    assert (info.key, info.version, info.verdict) == ("chrome", (), "unknown")


def test_family_added_by_settings() -> None:
    classifier = make_classifier(
        browser_families={"netscape": ("Netscape",)}, browsers={"netscape": "unsupported"}
    )
    info = classify(classifier, NETSCAPE_9)
    assert (info.key, info.family, info.verdict) == ("netscape", "Netscape", "unsupported")


# --- client hints ------------------------------------------------------------------------------


def test_full_version_list_decides_over_a_misleading_user_agent(
    classifier: BrowserClassifier,
) -> None:
    info = classify(classifier, CHROME_23, FULL_VERSION_LIST)
    assert info.source == "client-hints"
    assert (info.key, info.family) == ("chrome", "Google Chrome")
    assert (info.version, info.version_string) == ((120, 0, 6099, 109), "120.0.6099.109")
    assert info.verdict == "supported"
    assert info.user_agent.browser.family == "Chrome"


def test_sec_ch_ua_major_versions(classifier: BrowserClassifier) -> None:
    hints = '"Google Chrome";v="23", "Chromium";v="23", "Not?A_Brand";v="24"'
    info = classify(classifier, CHROME_120, hints)
    assert (info.key, info.version, info.verdict) == ("chrome", (23,), "outdated")


def test_grease_brands_are_ignored(classifier: BrowserClassifier) -> None:
    only_grease = '"Not?A_Brand";v="99", " Not A;Brand";v="24"'
    info = classify(classifier, CHROME_23, only_grease)
    assert (info.source, info.family, info.verdict) == ("user-agent", "Chrome", "outdated")
    first = classify(classifier, CHROME_23, '"Not A(Brand";v="1", "Opera";v="106"')
    assert (first.key, first.family, first.version) == ("opera", "Opera", (106,))


def test_a_specific_brand_wins_over_chromium(classifier: BrowserClassifier) -> None:
    hints = '"Chromium";v="120", "Microsoft Edge";v="120", "Not_A Brand";v="8"'
    info = classify(classifier, CHROME_120, hints)
    assert (info.key, info.family, info.verdict) == ("edge", "Microsoft Edge", "unknown")


def test_chromium_alone_does_not_hide_a_specific_user_agent(
    classifier: BrowserClassifier,
) -> None:
    hints = '"Android WebView";v="120", "Chromium";v="120", "Not_A Brand";v="24"'
    webview = classify(classifier, ANDROID_WEBVIEW, hints)
    assert (webview.key, webview.source) == ("chrome_webview", "user-agent")
    brave = classify(classifier, CHROME_23, '"Brave";v="120", "Chromium";v="120"')
    assert (brave.family, brave.version, brave.source) == ("Chromium", (120,), "client-hints")


@pytest.mark.parametrize(
    "hints",
    [
        "",
        "Google Chrome",
        '"Google Chrome";v=120',  # not a string
        '"Google Chrome"',  # no version
        '"Google Chrome";v="120",',  # trailing comma
        '"Google Chrome";v="120" "Chromium";v="120"',  # no comma
        '("Google Chrome";v="120")',  # an inner list
        '"Google Chrome;v="120"',  # unbalanced quotes
        '"Google Chrome";v="120.x"',  # not a version
        '"Google Chrome";V="120"',  # keys are lowercase
    ],
)
def test_malformed_hints_fall_back_to_the_user_agent(
    classifier: BrowserClassifier, hints: str
) -> None:
    info = classify(classifier, CHROME_23, hints)
    assert (info.source, info.family, info.version, info.verdict) == (
        "user-agent",
        "Chrome",
        (23, 0, 1271),
        "outdated",
    )


def test_hints_can_be_switched_off() -> None:
    classifier = make_classifier(client_hints=False)
    info = classify(classifier, CHROME_23, FULL_VERSION_LIST)
    assert (info.source, info.verdict) == ("user-agent", "outdated")


def test_bots_stay_bots_whatever_their_hints(classifier: BrowserClassifier) -> None:
    info = classify(classifier, GOOGLEBOT, FULL_VERSION_LIST)
    assert (info.verdict, info.is_bot) == ("bot", True)


# --- parse_brand_list --------------------------------------------------------------------------


def test_parse_brand_list() -> None:
    assert parse_brand_list(FULL_VERSION_LIST) == [
        ("Not_A Brand", "8.0.0.0"),
        ("Chromium", "120.0.6099.109"),
        ("Google Chrome", "120.0.6099.109"),
    ]
    assert parse_brand_list(
        ' "a\\"b\\\\";x;v="1";v="2";q=?1;t=tok/1;n=-1.5;b=:aGk=:,\t"c";v="" '
    ) == [
        ('a"b\\', "2"),
        ("c", ""),
    ]
    assert parse_brand_list('"a";v="1"' + ', "a";v="1"' * 15) != []
    assert parse_brand_list('"a";v="1"' + ', "a";v="1"' * 16) == []
    assert parse_brand_list('"' + "a" * 1100 + '";v="1"') == []


def _serialize(brands: list[tuple[str, str]]) -> str:
    def quote(text: str) -> str:
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'

    return ", ".join(f"{quote(brand)};v={quote(version)}" for brand, version in brands)


_SF_TEXT = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=20)


@given(st.lists(st.tuples(_SF_TEXT, _SF_TEXT), min_size=1, max_size=8))
def test_parse_brand_list_round_trips(brands: list[tuple[str, str]]) -> None:
    assert parse_brand_list(_serialize(brands)) == brands


@given(st.text(max_size=300) | st.text('"\\;=,v ?:aZ1.-*', max_size=60))
def test_parse_brand_list_never_raises(value: str) -> None:
    result = parse_brand_list(value)
    assert isinstance(result, list)
    assert all(isinstance(brand, str) and isinstance(v, str) for brand, v in result)


# --- hostile input -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ua", "hints"),
    [
        (b"Mozilla/5.0 " + b"A" * 65536, None),
        (CHROME_120.encode() * 600, None),
        (bytes(range(256)) * 64, None),
        (b"\x00", b"\x00"),
        (b"Mozilla/5.0\x00\x01\x1b[31m\r\n\x7f", b'"Chromium";v="1\x00"'),
        ("Mozilla/5.0 (Ünïcödé) Chrome/120".encode("utf-16"), None),
        (b"\xff\xfe\xc3\x28\xa0\xa1\xe2\x28\xa1", b"\xff\xfe\xc3\x28"),
        (CHROME_23.encode(), b'"Google Chrome";v="120", ' * 3000),
        (CHROME_23.encode(), b'"' + b"\\" * 65536),
    ],
)
def test_hostile_input_is_classified(
    classifier: BrowserClassifier, ua: bytes, hints: bytes | None
) -> None:
    assert isinstance(classifier.classify(ua, hints), BrowserInfo)


_HYPOTHESIS_CLASSIFIER = make_classifier(browser_cache_size=64)


@given(st.binary(max_size=2048), st.none() | st.binary(max_size=2048))
def test_any_bytes_are_classified(ua: bytes, hints: bytes | None) -> None:
    assert isinstance(_HYPOTHESIS_CLASSIFIER.classify(ua, hints), BrowserInfo)


def test_a_failing_parser_gives_unknown(
    classifier: BrowserClassifier, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    class Exploding:
        def extract(self, text: str) -> None:
            raise RuntimeError("boom")

    class BrokenResolver:
        ua = os = de = Exploding()

    monkeypatch.setattr(consent.browser.classify, "_RESOLVER", BrokenResolver())
    fresh = make_classifier()
    with caplog.at_level(logging.DEBUG, logger="consent.browser.classify"):
        info = fresh.classify(CHROME_120.encode())
    assert (info.verdict, info.key, info.family, info.version) == ("unknown", None, "Other", ())
    assert info.user_agent.ua_string == CHROME_120
    assert "could not classify" in caplog.text


# --- cache -------------------------------------------------------------------------------------


def test_a_second_classify_is_a_cache_hit() -> None:
    classifier = make_classifier()
    first = classifier.classify(CHROME_120.encode())
    assert classifier.cache_info().hits == 0
    assert classifier.classify(CHROME_120.encode()) is first
    assert classifier.cache_info().hits == 1
    classifier.classify(CHROME_120.encode(), FULL_VERSION_LIST.encode())
    assert classifier.cache_info().misses == 2


def test_the_cache_key_is_the_truncated_user_agent() -> None:
    classifier = make_classifier(max_user_agent_length=64)
    first = classifier.classify(CHROME_120.encode() + b" one")
    assert classifier.classify(CHROME_120.encode() + b" two") is first
    assert first.user_agent.ua_string == CHROME_120[:64]


def test_the_cache_stays_bounded() -> None:
    classifier = make_classifier(browser_cache_size=8)
    for number in range(50):
        classifier.classify(f"Mozilla/5.0 Chrome/{number}.0".encode())
        assert classifier.cache_info().currsize <= 8
    assert classifier.cache_info().maxsize == 8


def test_a_zero_cache_size_turns_caching_off() -> None:
    classifier = make_classifier(browser_cache_size=0)
    assert classifier.classify(CHROME_120.encode()) == classifier.classify(CHROME_120.encode())
    assert (classifier.cache_info().hits, classifier.cache_info().currsize) == (0, 0)


_BRAND = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=20)
_VERSION = st.lists(st.integers(0, 99999), min_size=1, max_size=4).map(
    lambda parts: ".".join(map(str, parts))
)


@given(st.lists(st.tuples(_BRAND, _VERSION), min_size=1, max_size=20), st.sampled_from([", ", ","]))
def test_fast_brand_list_path_agrees_with_the_full_grammar(
    brands: list[tuple[str, str]], separator: str
) -> None:
    def quoted(text: str) -> str:
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'

    value = separator.join(f"{quoted(brand)};v={quoted(version)}" for brand, version in brands)
    fits = len(brands) <= 16 and len(value) <= 1024
    assert parse_brand_list(value) == (brands if fits else [])
    if len(value) <= 1024:
        assert parse_brand_list(value) == _parse_structured_list(value)


@given(st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=120))
def test_fast_brand_list_path_never_accepts_what_the_grammar_refuses(value: str) -> None:
    assert parse_brand_list(value) == _parse_structured_list(value.strip(" "))
