"""Which browser sent a request, and what the site's rules say about it.

Parsing uses the ``user-agents`` API on ua-parser 1.0's Rust-backed resolver (ua-parser-rs),
15-40 times faster than ``user_agents.parse``; results are cached per raw header value. A verdict
needs only the browser and whether the device is a ``Spider`` (a bot). The OS is parsed as well
only for a verdict that brings the notice (where to get a newer browser:
``consent.browser.advice``), and the OS and the rest of the device when the app reads
``is_mobile`` or ``user_agent``.
Time is bounded by truncation: the User-Agent is cut to ``max_user_agent_length`` bytes and the
client-hint header to 1024 bytes before anything else, and ua-parser-rs is linear-time. A
never-seen agent costs 20-30 µs, a crafted one of the default 1,024 bytes up to about 0.9 ms.
Past ~1,900 bytes ua-parser-rs slows sharply, so the setting is capped at 2,048 bytes (a few ms).
"""

from __future__ import annotations

import functools
import logging
import re
from dataclasses import dataclass, field
from typing import Any, Literal

from ua_parser.lazy import DeviceMatcher
from ua_parser.loaders import load_lazy_builtins
from ua_parser.regex import Resolver
from user_agents.parsers import Browser, Device, OperatingSystem, UserAgent

from consent.browser.advice import UpdateAdvice, UpdateAdvisor
from consent.browser.rules import Verdict, Version
from consent.settings import ConsentSettings

logger = logging.getLogger(__name__)

#: Client-hint header values are cut to this many bytes before parsing.
MAX_CLIENT_HINTS_LENGTH = 1024

#: Client-hint brands and the rule key each one stands for. Other brands (GREASE) are ignored.
BRAND_KEYS: dict[str, str] = {
    "Google Chrome": "chrome",
    "Microsoft Edge": "edge",
    "Opera": "opera",
    "Samsung Internet": "samsung",
    "YaBrowser": "yandex",
    "Yandex": "yandex",
    "Chromium": "chrome",
}

# Not cached: BrowserClassifier caches whole verdicts, keyed on the raw header bytes. Its three
# extractors (public attributes of the regex resolver) are called directly: going through
# ua_parser.Parser builds two layers of result objects that cost a third of a parse.
_MATCHERS = load_lazy_builtins()
_RESOLVER = Resolver(_MATCHERS)


class FastUserAgent(UserAgent):  # type: ignore[misc]
    """``user_agents.parsers.UserAgent``, filled by ua-parser 1.0's Rust-backed resolver.

    ``browser``, ``os``, ``device``, ``is_bot``, ``is_mobile`` and the rest behave as in
    user-agents, which parses the same regexes with the slower pure-Python parser.
    """

    def __init__(self, user_agent_string: str) -> None:
        self._fill(
            user_agent_string,
            _RESOLVER.ua.extract(user_agent_string),
            _RESOLVER.os.extract(user_agent_string),
            _RESOLVER.de.extract(user_agent_string),
        )

    @classmethod
    def _unparsed(cls, user_agent_string: str) -> FastUserAgent:
        """An agent that knows nothing (family "Other" everywhere), built without parsing."""
        agent = cls.__new__(cls)
        agent._fill(user_agent_string, None, None, None)
        return agent

    def _fill(self, user_agent_string: str, browser: Any, os: Any, device: Any) -> None:
        # What user-agents' parse_browser/parse_operating_system/parse_device build from the
        # matches (family, major, minor, patch / family, brand, model), without their per-field
        # helper calls: on a never-seen agent those cost as much as the parse itself.
        self.ua_string = user_agent_string
        self.browser = _browser(browser)
        if os is None:
            self.os = _NO_OS
        else:
            self.os = OperatingSystem(os.family, *_version(os.major, os.minor, os.patch))
        if device is None:
            self.device = _NO_DEVICE
        else:
            self.device = Device(device.family, device.brand, device.model)


_NO_BROWSER = Browser("Other", (), "")
_NO_OS = OperatingSystem("Other", (), "")
_NO_DEVICE = Device("Other", None, None)


@functools.lru_cache(maxsize=256)
def _version(
    major: str | None, minor: str | None, patch: str | None
) -> tuple[tuple[int | str, ...], str]:
    """user-agents' version tuple (the parts that are present, digits as ints) and its dotted
    string. Agents share a few hundred versions, so they are kept; each part is at most a
    User-Agent long, which bounds the cache."""
    version = tuple(
        int(part) if part.isdigit() else part for part in (major, minor, patch) if part is not None
    )
    return version, ".".join(map(str, version))


def _browser(match: Any) -> Browser:
    """user-agents' ``Browser`` from a match of ua-parser-rs's browser extractor."""
    if match is None:
        return _NO_BROWSER
    return Browser(match.family, *_version(match.major, match.minor, match.patch))


_SPIDER = "Spider"
_REFERENCE = re.compile(r"\$\d")


def _may_name_a_spider_alone(family: str) -> bool:
    """Whether a device family template could come out as "Spider" on a User-Agent that does not
    contain "Spider".

    A template names its family outright ("Spider", "iPhone"), or builds it from the match's
    captures ("$1", "Samsung $1", "$1$2"), and the result is stripped. "Spider" has no blank in
    it, so it can only be one blank-separated part of the template with the others empty. A part
    with a literal that is not in "Spider" ("Samsung") never is. A lone capture that is "Spider"
    is text of the User-Agent, so a substring test covers it. That leaves the outright "Spider"
    and the parts where captures are joined to each other or to a scrap of "Spider" ("$1$2").
    """
    if family.strip() == _SPIDER:
        return True
    if "$" not in family:
        return False
    parts = family.split()
    for part in parts:
        if any(literal not in _SPIDER for literal in _REFERENCE.split(part) if literal):
            return False
    return not all(_REFERENCE.fullmatch(part) for part in parts)


# The device matchers that can name a Spider on a User-Agent without "Spider" in it: those that
# name it outright (the generic bot pattern among them) and those that join captures, a few dozen
# of uap-core's six hundred.
_SPIDER_CANDIDATES = Resolver(
    (
        [],
        [],
        [
            matcher
            for matcher in _MATCHERS[2]
            if not isinstance(matcher, DeviceMatcher) or _may_name_a_spider_alone(matcher.family)
        ],
    )
).de


def is_spider(text: str, *, named_browser: bool = False) -> bool:
    """``FastUserAgent(text).is_bot``: whether the device family is "Spider".

    With ``named_browser`` (the browser is one the site's rules name, so most likely not a bot)
    the candidates are tried first, and the whole device parse runs only if one of them
    matches: uap-core takes the first matching pattern, so the whole parse confirms a match,
    while no match among them means no Spider. Other agents, bots among them, are parsed whole
    at once.
    """
    if not named_browser or _SPIDER in text or _SPIDER_CANDIDATES.extract(text) is not None:
        device = _RESOLVER.de.extract(text)
        return device is not None and device.family == _SPIDER
    return False


def parse_user_agent(text: str) -> FastUserAgent:
    """Parse a User-Agent string (uncached)."""
    return FastUserAgent(text)


@dataclass(frozen=True, slots=True)
class BrowserInfo:
    """The browser of a request and its verdict, as ``request.state.browser``.

    ``BrowserInfo(key='chrome', family='Chrome', version=(120, 0, 0), version_string='120.0.0',
    verdict='supported', is_bot=False, source='user-agent')``, and ``is_mobile``.
    """

    key: str | None
    family: str
    version: Version
    version_string: str
    verdict: Verdict
    is_bot: bool
    source: Literal["user-agent", "client-hints"]
    ua_string: str = field(repr=False, compare=False)
    #: Where the notice sends the visitor for a newer browser, worked out with a verdict that
    #: brings the notice (the only verdicts that parse the OS); None for the others.
    advice: UpdateAdvice | None = field(default=None, repr=False)
    #: ``is_mobile`` once read (``None`` before): the verdict does not need its OS and device.
    _mobile: bool | None = field(default=None, repr=False, compare=False)

    @property
    def is_mobile(self) -> bool:
        """Whether user-agents counts the browser as mobile; parsed on the first read."""
        mobile = self._mobile
        if mobile is None:
            mobile = bool(self.user_agent.is_mobile)
            object.__setattr__(self, "_mobile", mobile)  # frozen: a memo, not a change
        return mobile

    @property
    def user_agent(self) -> FastUserAgent:
        """The whole ``user_agents`` object (OS, device, …), parsed again on each access.

        Cached verdicts do not keep it: it is most of a cache entry's memory and of the garbage
        collector's work when a stream of new User-Agents churns the cache.
        """
        try:
            return FastUserAgent(self.ua_string)
        except Exception:
            return FastUserAgent._unparsed(self.ua_string)


class BrowserClassifier:
    """Classifies requests by their User-Agent and client hints, with a bounded LRU cache."""

    def __init__(self, settings: ConsentSettings) -> None:
        self.max_user_agent_length = settings.max_user_agent_length
        self.client_hints = settings.client_hints
        # Resolved when the settings were loaded (a browserslist query among them): a verdict
        # is a lookup and a comparison.
        policy = settings.browser_policy()
        self.family_keys = dict(policy.family_keys)
        self.rules = {key: stated.rule for key, stated in policy.rules.items()}
        self.advised_verdicts = settings.notice_verdicts if settings.notice_enabled else frozenset()
        self.advisor = UpdateAdvisor(settings, _RESOLVER.os.extract)
        self._lookup = functools.lru_cache(maxsize=settings.browser_cache_size)(self._classify)

    def classify(self, user_agent: bytes, client_hints: bytes | None = None) -> BrowserInfo:
        """Classify raw header values: the User-Agent, and ``Sec-CH-UA-Full-Version-List``
        (else ``Sec-CH-UA``) if the request sent one. Never raises.
        """
        if client_hints is not None:
            client_hints = client_hints[:MAX_CLIENT_HINTS_LENGTH] if self.client_hints else None
        return self._lookup(user_agent[: self.max_user_agent_length], client_hints)

    def is_bot(self, user_agent: bytes) -> bool:
        """Whether the device parse calls the User-Agent a Spider, without classifying its
        browser (for a site that shows no notice). Not cached: the visitor keeps the answer."""
        return is_spider(user_agent[: self.max_user_agent_length].decode("latin-1"))

    def cache_info(self) -> functools._CacheInfo:
        """Hits, misses, maximum and current size of the cache."""
        return self._lookup.cache_info()

    def cache_clear(self) -> None:
        """Empty the cache."""
        self._lookup.cache_clear()

    def _classify(self, user_agent: bytes, client_hints: bytes | None) -> BrowserInfo:
        text = user_agent.decode("latin-1")
        try:
            return self._judge(text, client_hints)
        except Exception:
            logger.debug("consent: could not classify User-Agent %r", text[:200], exc_info=True)
            return _unknown(text, _NO_BROWSER.family)

    def _judge(self, text: str, client_hints: bytes | None) -> BrowserInfo:
        match = _RESOLVER.ua.extract(text)
        family: str = _NO_BROWSER.family if match is None else match.family
        if not text.strip():
            return _unknown(text, family)
        key = self.family_keys.get(family)
        hint = _hint(client_hints) if client_hints else None
        source: Literal["user-agent", "client-hints"]
        # "Chromium" alone does not override a more specific browser named by the UA.
        if hint is not None and (hint[0] != "Chromium" or key in (None, "chrome")):
            family, version_string, version = hint
            key, source = BRAND_KEYS[family], "client-hints"
        else:  # the User-Agent's version, built only when the hints do not give one
            browser = _browser(match)
            version = _leading_ints(browser.version)
            version_string = browser.version_string
            source = "user-agent"
        is_bot = is_spider(text, named_browser=key is not None)
        rule = self.rules.get(key) if key else None
        verdict: Verdict
        if is_bot:
            verdict = "bot"
        elif rule is None:
            verdict = "unknown"
        elif rule.unsupported:
            verdict = "unsupported"
        elif not version:
            verdict = "unknown"
        else:
            verdict = rule.judge(version)
        advice = self.advisor.advise(key, text) if verdict in self.advised_verdicts else None
        return BrowserInfo(
            key=key,
            family=family,
            version=version,
            version_string=version_string,
            verdict=verdict,
            is_bot=is_bot,
            source=source,
            ua_string=text,
            advice=advice,
        )


def _unknown(text: str, family: str) -> BrowserInfo:
    return BrowserInfo(
        key=None,
        family=family,
        version=(),
        version_string="",
        verdict="unknown",
        is_bot=False,
        source="user-agent",
        ua_string=text,
        _mobile=False,
    )


def _leading_ints(parts: tuple[object, ...]) -> Version:
    """user-agents' version tuple (ints, and strings where a part is not a number) up to its
    first non-integer part."""
    version: list[int] = []
    for part in parts:
        if not isinstance(part, int):
            break
        version.append(part)
    return tuple(version)


# --- User-Agent Client Hints: an RFC 8941 list of strings, each with a "v" parameter ----------

_STRING = r'"(?:[\x20\x21\x23-\x5b\x5d-\x7e]|\\["\\])*"'
_BARE_ITEM = (
    rf"{_STRING}|[A-Za-z*][!#$%&'*+\-.^_`|~0-9A-Za-z:/]*|-?\d{{1,15}}(?:\.\d{{1,3}})?"
    r"|\?[01]|:[A-Za-z0-9+/=]*:"
)
_PARAMETER = rf";\x20*([a-z*][a-z0-9_\-.*]*)(?:=({_BARE_ITEM}))?"
_PARAMETERS = re.compile(_PARAMETER)
_MEMBER = re.compile(rf"({_STRING})((?:{_PARAMETER})*)")
# The common shape: brands without escapes, versions of digits and dots, no other parameters.
_SIMPLE_MEMBER = re.compile(r'"([\x20\x21\x23-\x5b\x5d-\x7e]*)";v="([0-9.]{1,32})"')
_SIMPLE_LIST = re.compile(
    r'"[\x20\x21\x23-\x5b\x5d-\x7e]*";v="[0-9.]{1,32}"'
    r'(?:[\x20\t]*,[\x20\t]*"[\x20\x21\x23-\x5b\x5d-\x7e]*";v="[0-9.]{1,32}")*'
)
_SEPARATOR = re.compile(r"[\x20\t]*,[\x20\t]*")
_HINT_VERSION = re.compile(r"\d{1,9}(?:\.\d{1,9}){0,3}")
_ESCAPE = re.compile(r'\\(["\\])')
_MAX_BRANDS = 16


def parse_brand_list(value: str) -> list[tuple[str, str]]:
    """``'"Chromium";v="120", "Not?A_Brand";v="24"'`` → ``[("Chromium", "120"), ...]``.

    Strict and bounded: anything but a list of strings that each have a string ``v`` parameter,
    or a value over 1024 characters or 16 members, gives ``[]``. Never raises. What browsers
    send (``"brand";v="version"`` members and nothing else) is read by one compiled match.
    """
    value = value.strip(" ")
    if not value or len(value) > MAX_CLIENT_HINTS_LENGTH:
        return []
    if _SIMPLE_LIST.fullmatch(value):
        brands = _SIMPLE_MEMBER.findall(value)
        return brands if len(brands) <= _MAX_BRANDS else []
    return _parse_structured_list(value)


@functools.lru_cache(maxsize=256)
def _hint(client_hints: bytes) -> tuple[str, str, Version] | None:
    """The brand, version and version tuple a client-hint value names (few distinct values:
    cached)."""
    found = _from_brands(parse_brand_list(client_hints.decode("latin-1")))
    if found is None:
        return None
    brand, version = found
    return brand, version, tuple(int(part) for part in version.split("."))


def _parse_structured_list(value: str) -> list[tuple[str, str]]:
    """The whole RFC 8941 list grammar, member by member."""
    brands: list[tuple[str, str]] = []
    position = 0
    while True:
        member = _MEMBER.match(value, position)
        if member is None or len(brands) == _MAX_BRANDS:
            return []
        version = ""
        for key, item in _PARAMETERS.findall(member.group(2)):
            if key == "v":  # the last "v" wins, as RFC 8941 says
                version = item
        if not version.startswith('"'):
            return []
        brands.append((_unquote(member.group(1)), _unquote(version)))
        position = member.end()
        if position == len(value):
            return brands
        separator = _SEPARATOR.match(value, position)
        if separator is None or separator.end() == len(value):
            return []
        position = separator.end()


def _unquote(string: str) -> str:
    string = string[1:-1]
    return _ESCAPE.sub(r"\1", string) if "\\" in string else string


def _from_brands(brands: list[tuple[str, str]]) -> tuple[str, str] | None:
    """The brand that names the browser, and its version: a specific one before "Chromium"."""
    chromium = None
    for brand, version in brands:
        if brand in BRAND_KEYS and _HINT_VERSION.fullmatch(version):
            if brand != "Chromium":
                return brand, version
            chromium = chromium or (brand, version)
    return chromium
