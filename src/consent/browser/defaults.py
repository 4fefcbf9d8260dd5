"""The browser tables the settings start from: which ua-parser families each rule key covers,
the names shown in the requirements list, where to get a newer version, and the seed site's
rules. Settings extend or replace them (``browser_families``, ``browser_names``,
``browser_update_urls``, ``browsers``).

A family may be listed under two keys, a broad one and a narrower one (``NARROWER_KEYS``):
Mobile Safari is ``safari`` for a site whose rules name Safari alone, and ``safari_ios`` as soon
as a rule names iOS Safari (as a browserslist query does: caniuse counts iOS Safari apart)."""

from __future__ import annotations

#: ua-parser browser families covered by each rule key. Settings may add keys or families.
DEFAULT_BROWSER_FAMILIES: dict[str, tuple[str, ...]] = {
    "chrome": ("Chrome", "Chrome Mobile", "Chrome Mobile iOS", "Chromium", "HeadlessChrome"),
    "chrome_webview": ("Chrome Mobile WebView",),
    "firefox": ("Firefox", "Firefox Mobile", "Firefox iOS", "Firefox Beta", "Firefox Alpha"),
    "ie": ("IE", "IE Mobile"),
    "edge": ("Edge", "Edge Mobile"),
    "opera": ("Opera", "Opera Mobile"),
    "opera_mobile": ("Opera Mobile",),
    "opera_mini": ("Opera Mini",),
    "safari": ("Safari", "Mobile Safari"),
    "safari_ios": ("Mobile Safari",),
    "safari_webview": ("Mobile Safari UI/WKWebView",),
    "seamonkey": ("SeaMonkey",),
    "samsung": ("Samsung Internet",),
    "yandex": ("Yandex Browser",),
    "uc": ("UC Browser",),
}

#: Keys that take their families from a broader key when a rule names them; without a rule of
#: their own, those families stay with the broader key (and its rule), as before the key existed.
#: Opera Mobile's versions have not followed Opera's since it moved to Chromium.
NARROWER_KEYS: dict[str, str] = {"safari_ios": "safari", "opera_mobile": "opera"}

#: The names shown in the requirements list, and where a visitor can get a newer version.
DEFAULT_BROWSER_NAMES: dict[str, str] = {
    "chrome": "Google Chrome",
    "chrome_webview": "Android WebView",
    "firefox": "Mozilla Firefox",
    "ie": "Internet Explorer",
    "edge": "Microsoft Edge",
    "opera": "Opera",
    "opera_mobile": "Opera Mobile",
    "opera_mini": "Opera Mini",
    "safari": "Apple Safari",
    "safari_ios": "iOS Safari",
    "safari_webview": "iOS WebView",
    "seamonkey": "SeaMonkey",
    "samsung": "Samsung Internet",
    "yandex": "Yandex Browser",
    "uc": "UC Browser",
}

DEFAULT_UPDATE_URLS: dict[str, str] = {
    "chrome": "https://www.google.com/chrome/",
    "firefox": "https://www.mozilla.org/firefox/new/",
    "ie": "https://www.microsoft.com/edge",
    "edge": "https://www.microsoft.com/edge",
    "opera": "https://www.opera.com/download",
    "opera_mobile": "https://www.opera.com/download",
    "safari": "https://support.apple.com/downloads/safari",
    "seamonkey": "https://www.seamonkey-project.org/releases/",
    "samsung": "https://www.samsung.com/us/support/owners/app/samsung-internet",
    # Not a browser: iOS and iPadOS, whose browsers all update with the system (the update
    # advice of ``consent.browser.advice``). Apple's "Update your iPhone or iPad", in the visitor's
    # language (the article is now also numbered 118575).
    "ios": "https://support.apple.com/HT204204",
}

#: The last release of a browser that will never see another one: a minimum equal to it reads
#: "Internet Explorer 11", not "Internet Explorer 11+".
FINAL_VERSIONS: dict[str, tuple[int, ...]] = {"ie": (11,)}

#: The seed site's published minimal requirements.
DEFAULT_BROWSER_RULES: dict[str, str] = {
    "chrome": "24",
    "firefox": "20",
    "ie": "11",
    "opera": "15-18",
    "safari": "7",
    "seamonkey": "2.15-2.23",
}
