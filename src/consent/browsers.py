"""Which browser sent a request, and what the site's rules say about it.

Parsing uses the ``user-agents`` API on ua-parser 1.0's Rust-backed resolver (ua-parser-rs),
15-40 times faster than ``user_agents.parse``; results are cached per raw header value.
Time is bounded by truncation: the User-Agent is cut to ``max_user_agent_length`` bytes and the
client-hint header to 1024 bytes before anything else, and ua-parser-rs is linear-time. A
never-seen agent costs 20-30 µs, a crafted one of the default 1,024 bytes up to about 0.7 ms.
Past ~1,900 bytes ua-parser-rs slows sharply, so the setting is capped at 2,048 bytes (a few ms).
"""

from __future__ import annotations

import functools
import logging
import re
from dataclasses import dataclass, field
from typing import Any, Literal

from ua_parser.loaders import load_lazy_builtins
from ua_parser.regex import Resolver
from user_agents.parsers import Browser, Device, OperatingSystem, UserAgent

from consent.rules import Verdict, Version, parse_rule
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
_RESOLVER = Resolver(load_lazy_builtins())


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
        if browser is None:
            self.browser = _NO_BROWSER
        else:
            self.browser = Browser(
                browser.family, *_version(browser.major, browser.minor, browser.patch)
            )
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


def parse_user_agent(text: str) -> FastUserAgent:
    """Parse a User-Agent string (uncached)."""
    return FastUserAgent(text)


@dataclass(frozen=True, slots=True)
class BrowserInfo:
    """The browser of a request and its verdict, as ``request.state.browser``.

    ``BrowserInfo(key='chrome', family='Chrome', version=(120, 0, 0), version_string='120.0.0',
    verdict='supported', is_bot=False, is_mobile=False, source='user-agent')``
    """

    key: str | None
    family: str
    version: Version
    version_string: str
    verdict: Verdict
    is_bot: bool
    is_mobile: bool
    source: Literal["user-agent", "client-hints"]
    ua_string: str = field(repr=False, compare=False)

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
        self.family_keys = {
            family: key for key, families in settings.family_map().items() for family in families
        }
        self.rules = {key: parse_rule(rule) for key, rule in settings.browsers.items()}
        self._lookup = functools.lru_cache(maxsize=settings.browser_cache_size)(self._classify)

    def classify(self, user_agent: bytes, client_hints: bytes | None = None) -> BrowserInfo:
        """Classify raw header values: the User-Agent, and ``Sec-CH-UA-Full-Version-List``
        (else ``Sec-CH-UA``) if the request sent one. Never raises.
        """
        if client_hints is not None:
            client_hints = client_hints[:MAX_CLIENT_HINTS_LENGTH] if self.client_hints else None
        return self._lookup(user_agent[: self.max_user_agent_length], client_hints)

    def cache_info(self) -> functools._CacheInfo:
        """Hits, misses, maximum and current size of the cache."""
        return self._lookup.cache_info()

    def cache_clear(self) -> None:
        """Empty the cache."""
        self._lookup.cache_clear()

    def _classify(self, user_agent: bytes, client_hints: bytes | None) -> BrowserInfo:
        text = user_agent.decode("latin-1")
        try:
            return self._judge(FastUserAgent(text), client_hints)
        except Exception:
            logger.debug("consent: could not classify User-Agent %r", text[:200], exc_info=True)
            return _unknown(FastUserAgent._unparsed(text))

    def _judge(self, agent: FastUserAgent, client_hints: bytes | None) -> BrowserInfo:
        if not agent.ua_string.strip():
            return _unknown(agent)
        family: str = agent.browser.family
        key = self.family_keys.get(family)
        hint = _hint(client_hints) if client_hints else None
        source: Literal["user-agent", "client-hints"]
        # "Chromium" alone does not override a more specific browser named by the UA.
        if hint is not None and (hint[0] != "Chromium" or key in (None, "chrome")):
            family, version_string, version = hint
            key, source = BRAND_KEYS[family], "client-hints"
        else:
            version = _leading_ints(agent.browser.version)
            version_string = agent.browser.version_string
            source = "user-agent"
        is_bot = bool(agent.is_bot)
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
        return BrowserInfo(
            key=key,
            family=family,
            version=version,
            version_string=version_string,
            verdict=verdict,
            is_bot=is_bot,
            is_mobile=bool(agent.is_mobile),
            source=source,
            ua_string=agent.ua_string,
        )


def _unknown(agent: FastUserAgent) -> BrowserInfo:
    return BrowserInfo(
        key=None,
        family=agent.browser.family,
        version=(),
        version_string="",
        verdict="unknown",
        is_bot=False,
        is_mobile=False,
        source="user-agent",
        ua_string=agent.ua_string,
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
