"""Where a visitor whose browser gets the notice can find a newer one.

An old browser is not always the visitor's to update. On iOS and iPadOS every browser is the
system's WebKit, so Safari, Chrome and Firefox there get newer only with the system; and on a
system that current browsers no longer install on, no update link helps at all (browser-update.org
calls this ``no_device_update``). ``UpdateAdvisor.advise`` reads the operating system ua-parser
reports and answers with an ``UpdateAdvice`` of one of four kinds:

* ``"browser"``: the browser's own update page, as before (also wherever the system is unknown);
* ``"system"``: update iOS or iPadOS (Apple's page on updating them);
* ``"other_browser"``: the visitor's browser has stopped updating on this system, another one
  has not (Google Chrome on Android 8 and 9: Mozilla Firefox);
* ``"no_update"``: no current browser runs on this system; the advice is another device.

Preferred in this order: the visitor's browser if its current release runs on the system, a
browser whose current release does, the visitor's browser if its last release there is recent
enough for most sites (``LAST_RELEASES_SUFFICE_FROM``), and otherwise ``no_update``. The tables
below are what the browser makers and Apple published, as of the end of 2026; browser-update.org's
``get_browser`` (``update.npm.full.js`` in the browser-update/browser-update repository) flags
devices the same way (Windows XP and Vista, old Mac OS X, an iOS device's last version). Advice
is worked out once, with the verdict that brings the notice, and kept in the cached verdict
(``BrowserInfo.advice``): a returning visitor's request never parses the operating system.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from consent.browser.rules import Version
from consent.settings import ConsentSettings

AdviceKind = Literal["browser", "system", "other_browser", "no_update"]

#: The key of the system update link in ``browser_update_urls`` (Apple's page on updating an
#: iPhone or iPad, for iOS and iPadOS alike).
IOS_UPDATE_KEY = "ios"

#: iOS versions from which the system may still update to one Apple supports. A User-Agent
#: names the system's version, not the device (every iPhone says "iPhone"), so the rule goes by
#: the version. The last iOS of each device (Apple's compatibility lists; browser-update.org's
#: ``available_ios``): 9 for the iPhone 4S, iPad 2 and 3 and the first iPad mini; 10 for the
#: iPhone 5 and 5c and the iPad 4; 12 for the iPhone 5s and 6, the iPad Air and the iPad mini 2
#: and 3; 15 for the iPhone 6s, 7 and first SE, the iPad Air 2 and iPad mini 4; 16 for the iPhone
#: 8 and X; 17 for the 6th-generation iPad; 18 for the iPhone XS and XR. Every device that came
#: with iOS 11 or earlier therefore stops at iOS 16 (iPadOS 17) at best, long behind current
#: Safari: below 12 the advice is ``no_update``. From 12 on some devices (the iPhone XS and XR
#: came with iOS 12) still update, and Apple's page tells the visitor whether theirs does.
IOS_UPDATABLE_FROM = 12
#: iPads report iPadOS under the iOS name; from 13 on Apple calls their system iPadOS.
IPADOS_FROM = 13

#: For each operating system (ua-parser's family name), the oldest version of it that the
#: current release of each browser installs on, in the order another browser is suggested.
#: Windows versions are NT versions: XP 5.1, Vista 6.0, 7 6.1, 8 6.2, 8.1 6.3, 10 and 11 10.0.
CURRENT_BROWSER_FLOORS: dict[str, dict[str, Version]] = {
    # Chrome and Edge 110, Firefox 116 and Opera 96 need Windows 10. Chrome 49 and Firefox 52
    # ESR were the last for XP and Vista; Chrome and Edge 109 and Firefox 115 ESR (patched until
    # 2026) the last for 7, 8 and 8.1.
    "Windows": {"firefox": (10,), "chrome": (10,), "edge": (10,), "opera": (10,)},
    # Firefox 144 needs Android 8 (143 was the last for 5 to 7, 68 for 4.x); Chrome 139 needs
    # Android 10 (138 was the last for 8 and 9, 119 for 7).
    "Android": {"firefox": (8,), "chrome": (10,)},
    # Firefox needs macOS 10.15 (115 ESR was the last for 10.12 to 10.14, 78 ESR for 10.9 to
    # 10.11, 48 for 10.6 to 10.8); Chrome 151 needs macOS 13 and Safari 26 macOS 14.
    "Mac OS X": {"firefox": (10, 15), "chrome": (13,), "safari": (14,)},
}

#: Systems that no current browser runs on any more, but whose browsers' last releases there still
#: meet most sites' minimums (the seed rules ask for Chrome 24 and Firefox 20): from these
#: versions on, the visitor keeps the browser's own update page instead of being told that the
#: device is past updating. Windows 7, 8 and 8.1 have Chrome and Edge 109 and Firefox 115 ESR
#: (whose updates ended in 2026); Android 5 to 7 Firefox 143 and Chrome up to 119. Below them
#: (Windows XP and Vista: Chrome 49, Firefox 52 ESR; Android 4: Firefox 68, Chrome of 2021 at
#: best) the advice is ``no_update``, as browser-update.org's ``no_device_update`` has it.
#: Remove an entry to give every visitor of that system ``no_update``.
LAST_RELEASES_SUFFICE_FROM: dict[str, Version] = {"Windows": (6, 1), "Android": (5,)}

#: Systems whose version browsers stop reporting past a point: Safari 14 and later, Chrome and
#: Firefox say "Mac OS X 10_15_7" (or "10.15") on every later macOS, so a reported 10.15 may be
#: any macOS since; only versions below it are taken at their word.
FROZEN_OS_VERSIONS: dict[str, Version] = {"Mac OS X": (10, 15)}

#: The NT version of each Windows release, by the names ua-parser gives it. A bare "NT" is left
#: out: ua-parser gives it to any "WindowsNT", including "WindowsNT 10.0". Windows 10 and later
#: are reported by number.
_WINDOWS_RELEASES: dict[Version, tuple[str, ...]] = {
    (3, 1): ("3.1",),
    (4, 0): ("95", "NT 4.0"),
    (4, 10): ("98",),
    (4, 90): ("ME",),
    (5, 0): ("2000",),
    (5, 1): ("XP",),
    (6, 0): ("Vista",),
    (6, 1): ("7",),
    (6, 2): ("8", "RT"),
    (6, 3): ("8.1", "RT 8"),
}
#: ua-parser's name of a Windows release → its NT version.
WINDOWS_VERSIONS: dict[str, Version] = {
    name: version for version, names in _WINDOWS_RELEASES.items() for name in names
}

#: What an OS extractor gives: a match with ``family``, ``major``, ``minor``, ``patch``, or None.
OSExtractor = Callable[[str], Any]


@dataclass(frozen=True, slots=True)
class UpdateAdvice:
    """Where the notice sends a visitor: ``UpdateAdvice(kind='system', url='https://…',
    browser='safari', system='iOS')``.

    ``browser`` is the rule key of the visitor's browser (its texts may be overridden per
    browser), ``suggested`` the key of the browser to get instead (``other_browser``), ``system``
    the system to update (``system``). Few distinct values exist, so the rendered notices are
    cached by them.
    """

    kind: AdviceKind
    url: str | None
    browser: str | None
    suggested: str | None = None
    system: str | None = None


class UpdateAdvisor:
    """Picks the advice for a browser from the operating system its User-Agent names."""

    def __init__(self, settings: ConsentSettings, extract_os: OSExtractor) -> None:
        self.settings = settings
        #: ua-parser's OS extractor: called only when advice is worked out, once per verdict.
        self.extract_os = extract_os

    def advise(self, key: str | None, user_agent: str) -> UpdateAdvice:
        """The advice for the browser ``key`` (None if the rules do not know it) on the system
        ``user_agent`` names."""
        match = self.extract_os(user_agent)
        family: str = match.family if match is not None else ""
        version = _os_version(family, match) if match is not None else ()
        if family == "iOS":
            if version and version[0] < IOS_UPDATABLE_FROM:
                return self._no_update(key)
            ipad = "iPad" in user_agent and (not version or version[0] >= IPADOS_FROM)
            return UpdateAdvice(
                kind="system",
                url=self.settings.browser_update_url(IOS_UPDATE_KEY),
                browser=key,
                system="iPadOS" if ipad else "iOS",
            )
        floors = CURRENT_BROWSER_FLOORS.get(family)
        frozen = FROZEN_OS_VERSIONS.get(family)
        if floors is None or not version or (frozen is not None and version >= frozen):
            return self._own(key)
        if key in floors and version >= floors[key]:
            return self._own(key)
        running = [browser for browser, floor in floors.items() if version >= floor]
        if not running:
            suffice_from = LAST_RELEASES_SUFFICE_FROM.get(family)
            if suffice_from is not None and version >= suffice_from:
                return self._own(key)
            return self._no_update(key)
        if key not in floors:  # a browser the table does not know, on a system some still run on
            return self._own(key)
        suggested = running[0]
        return UpdateAdvice(
            kind="other_browser",
            url=self.settings.browser_update_url(suggested),
            browser=key,
            suggested=suggested,
        )

    def _own(self, key: str | None) -> UpdateAdvice:
        url = self.settings.browser_update_url(key) if key else None
        return UpdateAdvice(kind="browser", url=url, browser=key)

    def _no_update(self, key: str | None) -> UpdateAdvice:
        return UpdateAdvice(kind="no_update", url=None, browser=key)


def _os_version(family: str, match: Any) -> Version:
    """The system's version as integers: Windows by its NT version, others by the leading
    numeric parts ua-parser reports (empty when it reports none)."""
    major, minor = match.major, match.minor
    if family == "Windows" and major in WINDOWS_VERSIONS:
        version = WINDOWS_VERSIONS[major]
        return (6, 3) if version == (6, 2) and minor == "1" else version  # 8.1
    parts: list[int] = []
    for part in (major, minor, match.patch):
        if part is None or not (part.isascii() and part.isdigit()):
            break
        parts.append(int(part))
    return tuple(parts)
