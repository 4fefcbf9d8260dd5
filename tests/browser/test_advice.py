"""Update advice that fits the visitor's device: the system, another browser, or none at all."""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from consent.browser.advice import (
    CURRENT_BROWSER_FLOORS,
    FROZEN_OS_VERSIONS,
    IOS_UPDATE_KEY,
    LAST_RELEASES_SUFFICE_FROM,
    UpdateAdvice,
    UpdateAdvisor,
)
from consent.browser.classify import BrowserClassifier, BrowserInfo
from consent.browser.defaults import DEFAULT_UPDATE_URLS
from consent.page.i18n import Catalog
from consent.settings import ConsentSettings
from tests.support import REPO, call, client, http_scope, make_settings, page_app

#: Rules that every agent below fails, so each one gets the notice.
STRICT_RULES = {"chrome": "140", "firefox": "140", "safari": "26", "ie": "11", "edge": "140"}

IOS_9_SAFARI = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 9_3_5 like Mac OS X) AppleWebKit/601.1.46 "
    "(KHTML, like Gecko) Version/9.0 Mobile/13G36 Safari/601.1"
)
IOS_11_CHROME = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 11_4_1 like Mac OS X) AppleWebKit/604.1.34 "
    "(KHTML, like Gecko) CriOS/68.0.3440.83 Mobile/15G77 Safari/604.1"
)
IOS_15_SAFARI = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 15_7 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/15.6 Mobile/15E148 Safari/604.1"
)
IOS_15_SAFARI_OTHER_BUILD = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 15_6_1 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/15.6.1 Mobile/15E148 Safari/604.1"
)
IPADOS_16_SAFARI = (
    "Mozilla/5.0 (iPad; CPU OS 16_7_10 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/16.6 Mobile/15E148 Safari/604.1"
)
IOS_17_FIREFOX = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) FxiOS/126.0 Mobile/15E148 Safari/605.1.15"
)
XP_CHROME_49 = (
    "Mozilla/5.0 (Windows NT 5.1) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/49.0.2623.112 Safari/537.36"
)
XP_IE_8 = "Mozilla/4.0 (compatible; MSIE 8.0; Windows NT 5.1; Trident/4.0)"
VISTA_FIREFOX_52 = "Mozilla/5.0 (Windows NT 6.0; rv:52.0) Gecko/20100101 Firefox/52.0"
WIN7_CHROME_109 = (
    "Mozilla/5.0 (Windows NT 6.1; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/109.0.0.0 Safari/537.36"
)
WIN7_IE_10 = "Mozilla/5.0 (compatible; MSIE 10.0; Windows NT 6.1; Trident/6.0)"
WIN10_FIREFOX_115 = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:115.0) Gecko/20100101 Firefox/115.0"
)
ANDROID_4_CHROME = (
    "Mozilla/5.0 (Linux; Android 4.4.2; SM-G900F Build/KOT49H) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/44.0.2403.133 Mobile Safari/537.36"
)
ANDROID_7_CHROME_119 = (
    "Mozilla/5.0 (Linux; Android 7.0; SM-G930F) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/119.0.6045.193 Mobile Safari/537.36"
)
ANDROID_9_CHROME_138 = (
    "Mozilla/5.0 (Linux; Android 9; SM-G960F) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/138.0.7204.179 Mobile Safari/537.36"
)
ANDROID_9_FIREFOX_120 = "Mozilla/5.0 (Android 9; Mobile; rv:120.0) Gecko/120.0 Firefox/120.0"
MACOS_10_12_SAFARI_11 = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_12_6) AppleWebKit/604.5.6 (KHTML, like Gecko) "
    "Version/11.0.3 Safari/604.5.6"
)
MACOS_10_15_SAFARI_15 = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/15.6.1 Safari/605.1.15"
)
LINUX_FIREFOX_60 = "Mozilla/5.0 (X11; Linux x86_64; rv:60.0) Gecko/20100101 Firefox/60.0"
SUPPORTED_CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/141.0.0.0 Safari/537.36"
)

APPLE = DEFAULT_UPDATE_URLS[IOS_UPDATE_KEY]
MOZILLA = DEFAULT_UPDATE_URLS["firefox"]
MICROSOFT = DEFAULT_UPDATE_URLS["ie"]

CORPUS = REPO / "tests" / "data" / "uap-core" / "test_ua.yaml"


def strict_settings(**overrides: Any) -> ConsentSettings:
    return make_settings(browsers=STRICT_RULES, **overrides)


def judge(ua: str, classifier: BrowserClassifier | None = None) -> BrowserInfo:
    classifier = classifier or BrowserClassifier(strict_settings())
    return classifier.classify(ua.encode("latin-1"))


def page(app: Any, ua: str, language: str = "en") -> str:
    """The page as the visitor with ``ua`` (in ``language``) gets it."""
    with client(app) as browser:
        response = browser.get("/", headers={"user-agent": ua, "accept-language": language})
    assert response.status_code == 200
    return response.text


def notice_of(text: str) -> str:
    start = text.index('<section id="browser-notice"')
    return text[start : text.index("</section>", start)]


# --- the advice for each kind of device ---------------------------------------------------------


@pytest.mark.parametrize(
    ("ua", "kind", "url", "suggested", "system"),
    [
        # Every browser on iOS is the system's WebKit: iOS is what to update...
        (IOS_15_SAFARI, "system", APPLE, None, "iOS"),
        (IOS_17_FIREFOX, "system", APPLE, None, "iOS"),
        (IPADOS_16_SAFARI, "system", APPLE, None, "iPadOS"),
        # ...unless the device came with iOS 11 or earlier: past Apple's updates.
        (IOS_9_SAFARI, "no_update", None, None, None),
        (IOS_11_CHROME, "no_update", None, None, None),
        # No browser has been made for Windows XP and Vista for years.
        (XP_CHROME_49, "no_update", None, None, None),
        (XP_IE_8, "no_update", None, None, None),
        (VISTA_FIREFOX_52, "no_update", None, None, None),
        (ANDROID_4_CHROME, "no_update", None, None, None),
        (MACOS_10_12_SAFARI_11, "no_update", None, None, None),
        # Chrome stopped on Android 8 and 9; Firefox goes on there.
        (ANDROID_9_CHROME_138, "other_browser", MOZILLA, "firefox", None),
        (ANDROID_9_FIREFOX_120, "browser", MOZILLA, None, None),
        # The last releases for Windows 7 and Android 7 meet most sites' minimums.
        (WIN7_CHROME_109, "browser", DEFAULT_UPDATE_URLS["chrome"], None, None),
        (WIN7_IE_10, "browser", MICROSOFT, None, None),
        (ANDROID_7_CHROME_119, "browser", DEFAULT_UPDATE_URLS["chrome"], None, None),
        # A current system, one whose version Safari no longer tells, and one without a table.
        (WIN10_FIREFOX_115, "browser", MOZILLA, None, None),
        (MACOS_10_15_SAFARI_15, "browser", DEFAULT_UPDATE_URLS["safari"], None, None),
        (LINUX_FIREFOX_60, "browser", MOZILLA, None, None),
    ],
)
def test_the_advice_fits_the_device(
    ua: str, kind: str, url: str | None, suggested: str | None, system: str | None
) -> None:
    info = judge(ua)
    assert info.verdict == "outdated"
    assert info.advice == UpdateAdvice(
        kind=kind,  # type: ignore[arg-type]
        url=url,
        browser=info.key,
        suggested=suggested,
        system=system,
    )


def test_no_advice_and_no_os_parse_without_a_notice() -> None:
    for settings, ua in [
        (strict_settings(), SUPPORTED_CHROME),  # supported: no notice
        (strict_settings(notice_enabled=False), XP_CHROME_49),
        (strict_settings(notice_verdicts=["unsupported"]), XP_CHROME_49),  # outdated: no notice
    ]:
        classifier = BrowserClassifier(settings)
        parses = count_os_parses(classifier)
        info = judge(ua, classifier)
        assert info.advice is None
        assert parses == []
    classifier = BrowserClassifier(strict_settings())
    parses = count_os_parses(classifier)
    assert judge(XP_CHROME_49, classifier).advice is not None
    assert parses == [XP_CHROME_49]


def test_a_site_can_send_ios_visitors_elsewhere() -> None:
    settings = strict_settings(browser_update_urls={"ios": "https://example.org/update-ios"})
    advice = judge(IOS_15_SAFARI, BrowserClassifier(settings)).advice
    assert advice is not None
    assert (advice.kind, advice.url) == ("system", "https://example.org/update-ios")


def count_os_parses(classifier: BrowserClassifier) -> list[str]:
    """Wraps the classifier's OS extractor (the real one) so that its calls are listed."""
    parses: list[str] = []
    extract = classifier.advisor.extract_os

    def counting(text: str) -> Any:
        parses.append(text)
        return extract(text)

    classifier.advisor.extract_os = counting
    return parses


# --- the returning visitor's path ---------------------------------------------------------------


def test_a_returning_visitor_does_not_parse_the_os_again() -> None:
    app = page_app(strict_settings())
    parses = count_os_parses(app.site.classifier)
    bodies = []
    for analytics in ("1", "2", "3"):  # a new Cookie header each time: a new visitor, same agent
        scope = http_scope(headers={"user-agent": IOS_15_SAFARI, "cookie": f"_ga=GA1.{analytics}"})
        bodies.append(call(app, scope)[1])
    assert parses == [IOS_15_SAFARI]
    assert len(set(bodies)) == 1 and b"Update iOS" in bodies[0]
    first = app.site.visitor_by_headers([(b"user-agent", IOS_15_SAFARI.encode())]).browser
    again = app.site.visitor_by_headers(
        [(b"user-agent", IOS_15_SAFARI.encode()), (b"cookie", b"_ga=GA1.4")]
    ).browser
    assert again is first  # the cached verdict, advice and all
    assert parses == [IOS_15_SAFARI]


def test_agents_with_the_same_advice_share_one_rendered_notice() -> None:
    app = page_app(strict_settings())
    page(app, IOS_15_SAFARI)
    rendered = app.site.renderer.snippet.cache_info().currsize
    page(app, IOS_15_SAFARI_OTHER_BUILD)  # another agent, the same advice
    assert app.site.renderer.snippet.cache_info().currsize == rendered
    page(app, IPADOS_16_SAFARI)  # other advice: another snippet
    assert app.site.renderer.snippet.cache_info().currsize == rendered + 1


# --- what the visitor reads ---------------------------------------------------------------------


def test_the_notice_links_ios_visitors_to_the_system_update() -> None:
    notice = notice_of(page(page_app(strict_settings()), IOS_15_SAFARI))
    assert f'href="{APPLE}"' in notice
    assert ">Update iOS</a>" in notice
    assert "Update your browser" not in notice
    assert 'class="consent-notice__advice"' not in notice
    ipad = notice_of(page(page_app(strict_settings()), IPADOS_16_SAFARI))
    assert ">Update iPadOS</a>" in ipad


def test_the_notice_tells_a_device_past_updates_so_and_links_nowhere() -> None:
    for ua in (XP_CHROME_49, IOS_9_SAFARI, ANDROID_4_CHROME, MACOS_10_12_SAFARI_11):
        notice = notice_of(page(page_app(strict_settings()), ua))
        assert (
            '<p class="consent-notice__advice">Current browsers no longer support this device, '
            "so it cannot be brought up to date." in notice
        ), ua
        assert "<a " not in notice, ua
        assert "You&#39;re using an old version of your browser" in notice, ua


def test_the_notice_suggests_a_browser_that_still_updates() -> None:
    notice = notice_of(page(page_app(strict_settings()), ANDROID_9_CHROME_138))
    assert f'href="{MOZILLA}"' in notice
    assert ">Get Mozilla Firefox</a>" in notice
    assert (
        "Your browser no longer receives updates on this device, but Mozilla Firefox still does."
        in notice
    )
    assert DEFAULT_UPDATE_URLS["chrome"] not in notice


def test_the_notice_keeps_the_browser_s_own_page_on_a_current_system() -> None:
    notice = notice_of(page(page_app(strict_settings()), WIN10_FIREFOX_115))
    assert f'href="{MOZILLA}"' in notice
    assert ">Update your browser</a>" in notice
    assert "consent-notice__advice" not in notice


@pytest.mark.parametrize(
    ("language", "ua", "expected"),
    [
        ("de", IOS_15_SAFARI, ">iOS aktualisieren</a>"),
        ("fr", IPADOS_16_SAFARI, ">Mettre à jour iPadOS</a>"),
        ("es", ANDROID_9_CHROME_138, ">Descargar Mozilla Firefox</a>"),
        ("it", ANDROID_9_CHROME_138, "Il suo browser non riceve più aggiornamenti"),
        ("de", XP_CHROME_49, "Aktuelle Browser unterstützen dieses Gerät nicht mehr"),
        ("fr", XP_CHROME_49, "Les navigateurs actuels ne prennent plus en charge cet appareil"),
    ],
)
def test_the_advice_speaks_the_visitor_s_language(language: str, ua: str, expected: str) -> None:
    notice = notice_of(page(page_app(strict_settings()), ua, language))
    assert f'lang="{language}"' in notice
    assert expected in html.unescape(notice)


def test_every_shipped_language_has_the_advice_texts() -> None:
    catalog = Catalog(strict_settings())
    keys = (
        "notice.update_system",
        "notice.get_browser",
        "notice.other_browser",
        "notice.no_update",
    )
    english = catalog.texts("en")
    for language in ("de", "es", "fr", "it"):
        texts = catalog.texts(language)
        for key in keys:
            assert texts[key] != english[key], (language, key)  # translated, not inherited
    for language in ("en", "de", "es", "fr", "it"):
        texts = catalog.texts(language)
        assert "{system}" in texts["notice.update_system"]
        assert "{browser}" in texts["notice.get_browser"]
        assert "{browser}" in texts["notice.other_browser"]


# --- per-browser texts --------------------------------------------------------------------------

PER_BROWSER_TEXTS = {
    "en": {
        "notice.outdated.ie": "Internet Explorer is retired: please switch browsers.",
        "notice.update.firefox": "Get the newest Firefox",
        "notice.no_update.chrome": "Chrome stopped here. Use a newer computer.",
        "banner.title.ie": "not a per-browser text: banner texts are the same for all",
    },
    "de": {"notice.outdated.ie": "Der Internet Explorer wird nicht mehr gepflegt."},
}


def test_a_per_browser_text_wins_over_the_general_one() -> None:
    app = page_app(strict_settings(texts=PER_BROWSER_TEXTS))
    ie = html.unescape(notice_of(page(app, WIN7_IE_10)))
    assert "Internet Explorer is retired: please switch browsers." in ie
    assert "You're using an old version of your browser" not in ie
    assert ">Update your browser</a>" in ie and f'href="{MICROSOFT}"' in ie

    firefox = html.unescape(notice_of(page(app, WIN10_FIREFOX_115)))
    assert "You're using an old version of your browser" in firefox
    assert ">Get the newest Firefox</a>" in firefox

    chrome = html.unescape(notice_of(page(app, XP_CHROME_49)))
    assert "You're using an old version of your browser" in chrome
    assert "Chrome stopped here. Use a newer computer." in chrome
    assert "Current browsers no longer support this device" not in chrome

    german = html.unescape(notice_of(page(app, WIN7_IE_10, "de")))
    assert "Der Internet Explorer wird nicht mehr gepflegt." in german


def test_per_browser_texts_in_the_catalog() -> None:
    catalog = Catalog(strict_settings(texts=PER_BROWSER_TEXTS))
    general = catalog.texts("en")
    ie = catalog.texts("en", "ie")
    assert ie["notice.outdated"] == "Internet Explorer is retired: please switch browsers."
    assert general["notice.outdated"].startswith("You're using an old version")
    assert ie["banner.title"] == general["banner.title"]  # only notice texts go per browser
    assert catalog.texts("en", "safari") is general  # no texts of its own: the general ones
    assert catalog.texts("it", "ie")["notice.outdated"] == catalog.texts("it")["notice.outdated"]
    assert catalog.texts("xx", "ie") == ie  # a language not offered: the default's, per browser


# --- the advisor's rules, whatever the system reports ---------------------------------------------


@dataclass(frozen=True)
class OSMatch:
    """What ua-parser's OS extractor returns, for an advisor fed by hand."""

    family: str
    major: str | None
    minor: str | None = None
    patch: str | None = None


def fed(match: OSMatch | None, settings: ConsentSettings | None = None) -> UpdateAdvisor:
    return UpdateAdvisor(settings or strict_settings(), lambda _text: match)


KEYS = st.sampled_from([None, "chrome", "firefox", "edge", "opera", "safari", "ie", "samsung"])
FAMILIES = st.sampled_from(["iOS", "Windows", "Android", "Mac OS X", "Linux", "Other", ""])
PARTS = st.one_of(
    st.none(),
    st.integers(0, 30).map(str),
    st.sampled_from(["XP", "Vista", "7", "8", "8.1", "RT", "CE", "NT", "2000", "x", "\u00b2"]),
    st.text(max_size=4),
)


@given(KEYS, FAMILIES, PARTS, PARTS, PARTS, st.booleans())
def test_the_advice_is_always_consistent(
    key: str | None,
    family: str,
    major: str | None,
    minor: str | None,
    patch: str | None,
    ipad: bool,
) -> None:
    settings = strict_settings()
    user_agent = "Mozilla/5.0 (iPad)" if ipad else "Mozilla/5.0"
    advice = fed(OSMatch(family, major, minor, patch), settings).advise(key, user_agent)
    assert advice.browser == key
    if advice.kind == "system":
        assert family == "iOS" and advice.url == settings.browser_update_url(IOS_UPDATE_KEY)
        assert advice.system in ("iOS", "iPadOS")
    elif advice.kind == "other_browser":
        floors = CURRENT_BROWSER_FLOORS[family]
        assert key in floors and advice.suggested in floors and advice.suggested != key
        assert advice.url == settings.browser_update_url(advice.suggested)
    elif advice.kind == "no_update":
        assert advice.url is None and family in (*CURRENT_BROWSER_FLOORS, "iOS")
    else:
        assert advice.url == (settings.browser_update_url(key) if key else None)


VERSIONS = st.tuples(st.integers(0, 20), st.integers(0, 20))


@given(KEYS, st.sampled_from(sorted(CURRENT_BROWSER_FLOORS)), VERSIONS, VERSIONS)
def test_a_device_past_updates_is_past_them_at_every_older_version(
    key: str | None, family: str, one: tuple[int, int], other: tuple[int, int]
) -> None:
    older, newer = sorted([one, other])

    def advise(version: tuple[int, int]) -> UpdateAdvice:
        match = OSMatch(family, str(version[0]), str(version[1]))
        return fed(match).advise(key, "Mozilla/5.0")

    if advise(newer).kind == "no_update":
        assert advise(older).kind == "no_update"
    floors = CURRENT_BROWSER_FLOORS[family]
    advice = advise(newer)
    frozen = FROZEN_OS_VERSIONS.get(family)
    below_frozen = frozen is None or newer < frozen
    if below_frozen and not any(newer >= floor for floor in floors.values()):
        suffices = LAST_RELEASES_SUFFICE_FROM.get(family)
        expected = "browser" if suffices is not None and newer >= suffices else "no_update"
        assert advice.kind == expected
    if advice.kind == "other_browser":
        assert key is not None
        assert newer < floors[key] and advice.suggested is not None
        assert newer >= floors[advice.suggested]


def test_an_ios_version_the_agent_does_not_give_still_means_a_system_update() -> None:
    advice = fed(OSMatch("iOS", None)).advise("safari", "Mozilla/5.0 (iPhone)")
    assert (advice.kind, advice.system) == ("system", "iOS")


def test_advice_leaves_every_corpus_verdict_as_it_was() -> None:
    """Over uap-core's corpus, working the advice out changes no verdict and fails on none."""
    with CORPUS.open("rb") as handle:
        agents = [case["user_agent_string"] for case in yaml.safe_load(handle)["test_cases"]]
    advised = BrowserClassifier(strict_settings())
    plain = BrowserClassifier(strict_settings(notice_enabled=False))
    kinds = set()
    for agent in agents:
        with_advice, without = judge(agent, advised), judge(agent, plain)
        assert with_advice == BrowserInfo(**{**_fields(without), "advice": with_advice.advice})
        noticed = with_advice.verdict in ("outdated", "unsupported") and agent.strip()
        assert (with_advice.advice is not None) == bool(noticed), agent
        if with_advice.advice is not None:
            kinds.add(with_advice.advice.kind)
    assert kinds >= {"browser", "system", "no_update"}  # the corpus has no Chrome of Android 8


def _fields(info: BrowserInfo) -> dict[str, Any]:
    names = ("key", "family", "version", "version_string", "verdict", "is_bot", "source")
    return {name: getattr(info, name) for name in names} | {"ua_string": info.ua_string}
