"""browserslist queries resolved in Python, on the caniuse-lite data shipped in the package.

A site states the browsers it supports the way its front-end build does, with a browserslist
query (``"defaults"``, ``"> 0.5%, last 2 versions, not dead"``). ``resolve`` answers such a query
with the versions the real browserslist selects from the same caniuse-lite release, per caniuse
agent and written as browserslist prints them; ``minimum_versions`` turns that into the oldest
selected version of each agent, and ``load_config`` reads a ``.browserslistrc`` or a
``package.json`` ``browserslist`` field with its environment sections. It is pure: no I/O but the
data file (read once, by ``load_data``) and the config a caller names; the environment and the
current time are parameters.

The data (``data/browsers.json``, written by ``scripts/update_browser_data.py``) also carries
the definitions of the browserslist release it was made with: the ``defaults`` query, the
browser name aliases, the Firefox ESR release and the versions ``dead`` selects.

Queries follow browserslist's own grammar and its order of trying query kinds. Supported:
``defaults``, ``dead``, ``last N versions``, ``last N major versions``, ``last N <browser>
versions``, ``last N <browser> major versions``, ``unreleased versions``, ``unreleased <browser>
versions``, ``last N years`` (N may be a decimal), ``since YYYY[-MM[-DD]]``, global usage
(``> X%``, ``>= X%``, ``< X%``, ``<= X%``), ``cover X%``, ``<browser> >|>=|<|<= V``, ``<browser>
V``, ``<browser> V1-V2``, ``<browser> TP``, ``firefox esr``, ``op_mini all``, ``phantomjs 1.9|2.1``,
each with ``not``, joined by ``,``, ``or`` and ``and`` (left to right, as browserslist does).
What browserslist answers from other data (usage by region or custom statistics, ``supports``,
``baseline``, Node.js and Electron versions) or from other files (``extends``, ``browserslist
config``) raises a ``BrowserslistError`` that names the part. browserslist has no ``last N
months``; ``last 0.5 years`` says it.

Where the answers differ from browserslist's, on purpose:

* a query that selects nothing, and a percentage outside 0-100, raise ``BrowserslistError``
  (browserslist returns an empty list, or everything for ``< 150%``): for a server, an empty
  policy is a mistake to report at start-up, not a policy;
* Safari ``TP`` is listed first, as the newest version; browserslist's sort cannot place it
  (its comparator takes ``TP`` as equal to ``27`` and older than ``26.6``).
"""

from __future__ import annotations

import datetime
import difflib
import functools
import json
import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Literal

DATA_FILE: Final = Path(__file__).with_name("data") / "browsers.json"
#: The longest query accepted, in characters (a config's entries count with one separator each).
MAX_QUERY_LENGTH: Final = 4096
#: The largest ``.browserslistrc`` or ``package.json`` read.
MAX_CONFIG_BYTES: Final = 256 * 1024
#: The environment section used when none is named, as browserslist does without
#: ``BROWSERSLIST_ENV`` and ``NODE_ENV``.
DEFAULT_ENV: Final = "production"
#: browserslist's year for ``last N years``, in milliseconds.
YEAR_MS: Final = 365.259641 * 24 * 60 * 60 * 1000
#: The Android release from which caniuse numbers Android's browser as Chrome (WebView).
ANDROID_EVERGREEN_FIRST: Final = "37"
#: The first Opera Mobile release on Blink: caniuse jumps from 12.1 to it.
OP_MOB_BLINK_FIRST: Final = 14
#: The last time a JavaScript date can hold, in milliseconds from the epoch.
MAX_JS_TIME_MS: Final = 8.64e15

AGENT_KEYS: Final[Mapping[str, str]] = {
    "ie": "ie",
    "edge": "edge",
    "firefox": "firefox",
    "chrome": "chrome",
    "safari": "safari",
    "opera": "opera",
    "ios_saf": "safari_ios",
    "op_mini": "opera_mini",
    "android": "chrome_webview",
    "bb": "blackberry",
    "op_mob": "opera_mobile",
    "and_chr": "chrome",
    "and_ff": "firefox",
    "ie_mob": "ie",
    "and_uc": "uc",
    "samsung": "samsung",
    "and_qq": "qq",
    "baidu": "baidu",
    "kaios": "kaios",
}
"""Each caniuse agent's browser rule key, and the ua-parser (uap-core) families it covers.

``consent.browser.policy`` gives each key the oldest version a query selects of its agents.
A ``shared`` agent is a mobile browser whose versions are its desktop browser's (browserslist's
``desktopNames``): caniuse lists only its current release, so it shares the desktop key, whose
families already hold it. A ``proposed`` key has no ua-parser family yet, so what a query selects
of its agent judges no browser; a site can wire one in with ``browser_families``.

=========  ===============  =========  ===================================================
agent      rule key         status     ua-parser families
=========  ===============  =========  ===================================================
ie         ie               existing   IE, IE Mobile
edge       edge             existing   Edge, Edge Mobile
firefox    firefox          existing   Firefox, Firefox Beta, Firefox Alpha, Firefox Mobile,
                                       Firefox iOS
chrome     chrome           existing   Chrome, Chromium, HeadlessChrome, Chrome Mobile,
                                       Chrome Mobile iOS
safari     safari           existing   Safari (and Mobile Safari while no rule names
                                       safari_ios)
opera      opera            existing   Opera (and Opera Mobile while no rule names
                                       opera_mobile)
ios_saf    safari_ios       existing   Mobile Safari (WKWebView, ``safari_webview``,
                                       reports no version); Chrome Mobile iOS and Firefox iOS
                                       run the same WebKit but report their own version
op_mob     opera_mobile     existing   Opera Mobile
op_mini    opera_mini       existing   Opera Mini
samsung    samsung          existing   Samsung Internet
and_uc     uc               existing   UC Browser
android    chrome_webview   existing   Chrome Mobile WebView: caniuse numbers Android's browser
                                       with Chrome's versions since 4.4.4; its 2.1-4.4.4
                                       releases are the family Android, which no key judges
and_chr    chrome           shared     Chrome Mobile, under chrome
and_ff     firefox          shared     Firefox Mobile, under firefox
ie_mob     ie               shared     IE Mobile, under ie
bb         blackberry       proposed   BlackBerry WebKit
and_qq     qq               proposed   QQ Browser Mobile, QQ Browser, QQ Browser Mini
baidu      baidu            proposed   Baidu Browser, Baidu Explorer
kaios      kaios            proposed   none yet: uap-core names no KaiOS browser (its agents
                                       parse as Firefox Mobile, by their Gecko token)
=========  ===============  =========  ===================================================
"""

#: The keys of ``AGENT_KEYS`` that no ua-parser family has yet: wiring one in adds its families.
PROPOSED_KEYS: Final = frozenset({"blackberry", "qq", "baidu", "kaios"})

#: A selection: (caniuse agent, version) pairs.
Selection = frozenset[tuple[str, str]]
Compose = Literal["or", "and"]


class BrowserslistError(ValueError):
    """A query or config that cannot be resolved; the message quotes it and marks the part.

    ``problem`` is the first line alone; ``source`` the query (or config block) and ``start``,
    ``end`` the marked characters in it, when there is a part to mark.
    """

    def __init__(
        self, problem: str, source: str = "", start: int | None = None, end: int | None = None
    ) -> None:
        self.problem = problem
        self.source = source
        self.start = start
        self.end = end
        super().__init__(_point_at(problem, source, start, end))


def _point_at(problem: str, source: str, start: int | None, end: int | None) -> str:
    if not source:
        return problem
    if start is None:
        return problem + "".join(f"\n    {_shown(line)}" for line in source.split("\n"))
    line_start = source.rfind("\n", 0, start) + 1
    line_end = source.find("\n", start)
    if line_end == -1:
        line_end = len(source)
    width = max(1, min(end if end is not None else start, line_end) - start)
    column = start - line_start
    return f"{problem}\n    {_shown(source[line_start:line_end])}\n    {' ' * column}{'^' * width}"


def _shown(line: str) -> str:
    """The line with each unprintable character as a space, so the caret stays under its part."""
    return "".join(char if char.isprintable() else " " for char in line)


# JavaScript's semantics, where Python's differ: browserslist's regular expressions, trim()
# and number parsing decide what a query means.

#: What JavaScript's ``\s`` and ``trim()`` count as white space.
JS_SPACE: Final = (
    "\t\n\v\f\r \u00a0\u1680"
    + "".join(map(chr, range(0x2000, 0x200B)))
    + ("\u2028\u2029\u202f\u205f\u3000\ufeff")
)
_S = "[" + re.escape(JS_SPACE) + "]"
_NOT_S = "[^" + re.escape(JS_SPACE) + "]"
_DOT = "[^\n\r\u2028\u2029]"
_FLOAT_PREFIX = re.compile(r"[+-]?(?:Infinity|(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?)")
_INT_PREFIX = re.compile(r"[+-]?[0-9]+")
_ARRAY_INDEX = re.compile(r"0|[1-9][0-9]*")


def _js_regex(pattern: str, *, ignore_case: bool = True) -> re.Pattern[str]:
    """A browserslist pattern, with JavaScript's ``\\s``, ``\\S``, ``.`` and ``$``."""
    translated = pattern.replace(r"\S", _NOT_S).replace(r"\s", _S).replace("{DOT}", _DOT)
    if translated.endswith("$"):
        translated = translated[:-1] + r"\Z"
    flags = re.ASCII | (re.IGNORECASE if ignore_case else 0)
    return re.compile(translated, flags)


def _js_trim(text: str) -> str:
    return text.strip(JS_SPACE)


def _is_js_space(char: str) -> bool:
    return char in JS_SPACE


def _js_parse_float(text: str) -> float:
    """JavaScript's ``parseFloat``: the longest number at the start, else NaN."""
    match = _FLOAT_PREFIX.match(text.lstrip(JS_SPACE))
    return float(match.group()) if match else math.nan


def _js_parse_int(text: str) -> float:
    """JavaScript's ``parseInt`` on decimal text (the data's versions and the query's digits)."""
    match = _INT_PREFIX.match(text.lstrip(JS_SPACE))
    return float(match.group()) if match else math.nan


def _latest_float(version: str) -> float:
    """A version's number, a range by its upper end (browserslist's ``parseLatestFloat``)."""
    parts = version.split("-")
    return _js_parse_float(parts[1] if len(parts) > 1 and parts[1] else version)


def _major(version: str) -> float:
    return _js_parse_int(version.split(".")[0])


def _js_slice(items: Sequence[str], start: float) -> list[str]:
    """``items.slice(start)`` as JavaScript takes it: negative counts from the end, NaN is 0."""
    if math.isnan(start) or start == -math.inf:
        begin = 0
    elif start < 0:
        begin = max(len(items) + math.trunc(start), 0)
    else:
        begin = len(items) if start == math.inf else min(math.trunc(start), len(items))
    return list(items[begin:])


def _js_date_utc(year: float, month: float, day: float) -> float:
    """``Date.UTC(year, month, day)`` in milliseconds: years 0-99 are 19xx, months and days
    overflow into the next, and NaN beyond what a JavaScript date can hold."""
    if not all(math.isfinite(number) for number in (year, month, day)):
        return math.nan
    whole_year, whole_month, whole_day = math.trunc(year), math.trunc(month), math.trunc(day)
    if 0 <= whole_year <= 99:
        whole_year += 1900
    whole_year += whole_month // 12
    if abs(whole_year) > 400_000:
        return math.nan
    days = _days_from_civil(whole_year, whole_month % 12 + 1) + whole_day - 1
    milliseconds = days * 86_400_000
    return math.nan if abs(milliseconds) > MAX_JS_TIME_MS else float(milliseconds)


def _days_from_civil(year: int, month: int) -> int:
    """Days from 1970-01-01 to the first of ``month`` of ``year`` (proleptic Gregorian)."""
    year -= month <= 2
    era = year // 400
    year_of_era = year - era * 400
    day_of_year = (153 * (month + (-3 if month > 2 else 9)) + 2) // 5
    day_of_era = year_of_era * 365 + year_of_era // 4 - year_of_era // 100 + day_of_year
    return era * 146_097 + day_of_era - 719_468


def _semver_key(version: str) -> tuple[float, float, float]:
    """browserslist's output order, newest first when reversed; a part that is not a number
    (``TP``, ``all``) sorts as the newest."""
    parts = [_js_parse_int(part) for part in version.split("-")[0].split(".")[:3]]
    parts += [0.0] * (3 - len(parts))
    first, second, third = (math.inf if math.isnan(part) else part for part in parts)
    return (first, second, third)


# The data.


@dataclass(frozen=True, slots=True)
class Agent:
    """One caniuse agent: its versions in release order and what browserslist reads of them."""

    name: str
    title: str
    versions: tuple[str, ...]
    released: tuple[str, ...]
    #: Seconds from the epoch (midnight UTC), None where caniuse has no date.
    release_dates: tuple[int | None, ...]
    usage: tuple[float, ...]
    dead: frozenset[str]
    #: Each end of a joined version (``15.2`` and ``15.3`` of ``15.2-15.3``) → the version.
    version_aliases: Mapping[str, str]
    index: Mapping[str, int] = field(repr=False)

    def normalize_version(self, version: str) -> str | None:
        """browserslist's ``normalizeVersion``: the version as caniuse writes it, or the only
        version of an agent that has one (``and_chr``), else None."""
        if version in self.index:
            return version
        alias = self.version_aliases.get(version)
        if alias:
            return alias
        if len(self.versions) == 1:
            return self.versions[0]
        return None


@dataclass(frozen=True, slots=True)
class BrowserData:
    """The shipped release data and the browserslist definitions it was made with."""

    agents: Mapping[str, Agent]
    package: str
    version: str
    license: str
    #: The newest release date in the data: how old the data is.
    date: datetime.date
    browserslist_version: str
    defaults: tuple[str, ...]
    #: Browser name aliases (``fx`` → ``firefox``).
    aliases: Mapping[str, str]
    firefox_esr: str
    #: Every (agent, version, share) in the order browserslist's ``cover`` takes them: by share,
    #: most used first, ties in JavaScript's key order (integer-like versions first).
    usage_order: tuple[tuple[str, str, float], ...] = field(repr=False)

    @classmethod
    def from_file(cls, path: Path) -> BrowserData:
        return cls.from_document(json.loads(path.read_text(encoding="utf-8")))

    @classmethod
    def from_document(cls, document: Mapping[str, Any]) -> BrowserData:
        source, definitions = document["source"], document["browserslist"]
        esr = str(definitions["firefox_esr"])
        agents = {
            name: _agent(name, fields, esr if name == "firefox" else None)
            for name, fields in document["agents"].items()
        }
        return cls(
            agents=agents,
            package=str(source["package"]),
            version=str(source["version"]),
            license=str(source["license"]),
            date=datetime.date.fromisoformat(source["date"]),
            browserslist_version=str(definitions["version"]),
            defaults=tuple(str(query) for query in definitions["defaults"]),
            aliases={str(alias): str(name) for alias, name in definitions["aliases"].items()},
            firefox_esr=esr,
            usage_order=_usage_order(agents.values()),
        )

    def agent(self, name: str) -> Agent | None:
        """The agent a query's browser name means (any case, or an alias), else None."""
        lowered = name.lower()
        return self.agents.get(self.aliases.get(lowered, lowered))


def _agent(name: str, fields: Mapping[str, Any], firefox_esr: str | None) -> Agent:
    versions = tuple(str(version) for version in fields["versions"])
    aliases = {end: version for version in versions if "-" in version for end in version.split("-")}
    if firefox_esr is not None:
        aliases["esr"] = firefox_esr
    epoch = datetime.date(1970, 1, 1)
    return Agent(
        name=name,
        title=str(fields["title"]),
        versions=versions,
        released=versions[: int(fields["released"])],
        release_dates=tuple(
            None if date is None else (datetime.date.fromisoformat(date) - epoch).days * 86_400
            for date in fields["dates"]
        ),
        usage=tuple(float(share) for share in fields["usage"]),
        dead=frozenset(str(version) for version in fields["dead"]),
        version_aliases=aliases,
        index={version: position for position, version in enumerate(versions)},
    )


def _usage_order(agents: Iterable[Agent]) -> tuple[tuple[str, str, float], ...]:
    entries: list[tuple[str, str, float]] = []
    for agent in agents:
        shares = dict(zip(agent.versions, agent.usage, strict=True))
        indexed = sorted((v for v in shares if _is_array_index(v)), key=int)
        named = [version for version in shares if not _is_array_index(version)]
        entries += [(agent.name, version, shares[version]) for version in indexed + named]
    return tuple(sorted(entries, key=lambda entry: -entry[2]))


def _is_array_index(key: str) -> bool:
    return bool(_ARRAY_INDEX.fullmatch(key)) and int(key) < 2**32 - 1


def load_data(path: Path | None = None) -> BrowserData:
    """The data at ``path``, or the shipped data (read once, then kept)."""
    return _shipped_data() if path is None else BrowserData.from_file(path)


@functools.lru_cache(maxsize=1)
def _shipped_data() -> BrowserData:
    return BrowserData.from_file(DATA_FILE)


# Parsing: browserslist's parse.js, keeping where each clause is for the error messages.

#: browserslist's query kinds, in the order it tries them: the first that matches decides.
QUERY_KINDS: Final[tuple[tuple[str, re.Pattern[str]], ...]] = tuple(
    (kind, _js_regex(pattern, ignore_case=kind != "popularity"))
    for kind, pattern in (
        ("last_major_versions", r"^last\s+(\d+)\s+major\s+versions?$"),
        ("last_versions", r"^last\s+(\d+)\s+versions?$"),
        ("last_electron_major_versions", r"^last\s+(\d+)\s+electron\s+major\s+versions?$"),
        ("last_node_major_versions", r"^last\s+(\d+)\s+node\s+major\s+versions?$"),
        ("last_browser_major_versions", r"^last\s+(\d+)\s+(\w+)\s+major\s+versions?$"),
        ("last_electron_versions", r"^last\s+(\d+)\s+electron\s+versions?$"),
        ("last_node_versions", r"^last\s+(\d+)\s+node\s+versions?$"),
        ("last_browser_versions", r"^last\s+(\d+)\s+(\w+)\s+versions?$"),
        ("unreleased_versions", r"^unreleased\s+versions$"),
        ("unreleased_electron_versions", r"^unreleased\s+electron\s+versions?$"),
        ("unreleased_browser_versions", r"^unreleased\s+(\w+)\s+versions?$"),
        ("last_years", r"^last\s+((\d+\.)?\d+)\s+years?$"),
        ("since_y", r"^since\s+(\d+)$"),
        ("since_y_m", r"^since\s+(\d+)-(\d+)$"),
        ("since_y_m_d", r"^since\s+(\d+)-(\d+)-(\d+)$"),
        (
            "baseline",
            r"^baseline\s+(?!\s)(?:(\d+)|(newly|widely)\s+(?!\s)available"
            r"(?:\s+(?!\s)on\s+(?!\s)(\d{4}-\d{2}-\d{2}))?)?(\s+(?!\s)with\s+(?!\s)downstream)?"
            r"(\s+(?!\s)including\s+(?!\s)kaios)?$",
        ),
        ("popularity", r"^(>=?|<=?)\s*(\d+|\d+\.\d+|\.\d+)%$"),
        ("popularity_in_my_stats", r"^(>=?|<=?)\s*(\d+|\d+\.\d+|\.\d+)%\s+in\s+my\s+stats$"),
        ("popularity_in_config_stats", r"^(>=?|<=?)\s*(\d+|\d+\.\d+|\.\d+)%\s+in\s+(\S+)\s+stats$"),
        ("popularity_in_place", r"^(>=?|<=?)\s*(\d+|\d+\.\d+|\.\d+)%\s+in\s+((alt-)?\w\w)$"),
        ("cover", r"^cover\s+(\d+|\d+\.\d+|\.\d+)%$"),
        ("cover_in", r"^cover\s+(\d+|\d+\.\d+|\.\d+)%\s+in\s+(my\s+stats|(alt-)?\w\w)$"),
        ("cover_config", r"^cover\s+(\d+|\d+\.\d+|\.\d+)%\s+in\s+(\S+)\s+stats$"),
        ("supports", r"^(?:(fully|partially)\s+)?supports\s+([\w-]+)$"),
        ("electron_range", r"^electron\s+([\d.]+)\s*-\s*([\d.]+)$"),
        ("node_range", r"^node\s+([\d.]+)\s*-\s*([\d.]+)$"),
        ("browser_range", r"^(\w+)\s+([\d.]+)\s*-\s*([\d.]+)$"),
        ("electron_ray", r"^electron\s*(>=?|<=?)\s*([\d.]+)$"),
        ("node_ray", r"^node\s*(>=?|<=?)\s*([\d.]+)$"),
        ("browser_ray", r"^(\w+)\s*(>=?|<=?)\s*([\d.]+|esr)$"),
        ("firefox_esr", r"^(firefox|ff|fx)\s+esr$"),
        ("opera_mini_all", r"(operamini|op_mini)\s+all"),
        ("electron_version", r"^electron\s+([\d.]+)$"),
        ("node_major_version", r"^node\s+(\d+)$"),
        ("node_minor_version", r"^node\s+(\d+\.\d+)$"),
        ("node_patch_version", r"^node\s+(\d+\.\d+\.\d+)$"),
        ("current_node", r"^current\s+node$"),
        ("maintained_node", r"^maintained\s+node\s+versions$"),
        ("phantomjs_1_9", r"^phantomjs\s+1{DOT}9$"),
        ("phantomjs_2_1", r"^phantomjs\s+2{DOT}1$"),
        ("browser_version", r"^(\w+)\s+(tp|[\d.]+)$"),
        ("browserslist_config", r"^browserslist\s+config$"),
        ("extends", r"^extends\s+(?!\s)({DOT}+)$"),
        ("defaults", r"^defaults$"),
        ("dead", r"^dead$"),
        ("unknown", r"^(\w+)$"),
    )
)

_NOT = _js_regex(r"^not\s+(?!\s)")

#: The query kinds answered from data or files this resolver does not have, and why.
UNSUPPORTED: Final[Mapping[str, str]] = {
    "last_electron_major_versions": "Electron versions are not in the shipped data",
    "last_electron_versions": "Electron versions are not in the shipped data",
    "unreleased_electron_versions": "Electron versions are not in the shipped data",
    "electron_range": "Electron versions are not in the shipped data",
    "electron_ray": "Electron versions are not in the shipped data",
    "electron_version": "Electron versions are not in the shipped data",
    "last_node_major_versions": "Node.js versions are not browsers",
    "last_node_versions": "Node.js versions are not browsers",
    "node_range": "Node.js versions are not browsers",
    "node_ray": "Node.js versions are not browsers",
    "node_major_version": "Node.js versions are not browsers",
    "node_minor_version": "Node.js versions are not browsers",
    "node_patch_version": "Node.js versions are not browsers",
    "current_node": "Node.js versions are not browsers",
    "maintained_node": "Node.js versions are not browsers",
    "baseline": "Baseline queries need web-features data, which is not shipped",
    "popularity_in_my_stats": "custom usage statistics are not supported, only global usage",
    "popularity_in_config_stats": "custom usage statistics are not supported, only global usage",
    "popularity_in_place": "usage by region is not supported, only global usage",
    "cover_in": "usage by region or custom statistics is not supported, only global usage",
    "cover_config": "custom usage statistics are not supported, only global usage",
    "supports": "feature queries need caniuse's feature tables, which are not shipped",
    "browserslist_config": "reading another browserslist config is not supported",
    "extends": "shareable configs (extends) are not supported; write their queries out",
}


@dataclass(frozen=True, slots=True)
class Clause:
    """One query of a browserslist string, as browserslist's parser splits it."""

    #: The text the clause is in (a query string, or a config's entries joined by line).
    source: str
    #: Where the clause is in ``source``, without surrounding white space, ``not`` included.
    start: int
    end: int
    compose: Compose
    negated: bool
    kind: str
    match: re.Match[str] | None
    #: Where the text ``match`` ran on (after ``not``) starts in ``source``.
    offset: int

    @property
    def text(self) -> str:
        return self.source[self.start : self.end]

    def group(self, number: int) -> str:
        assert self.match is not None
        return self.match.group(number) or ""

    def number(self, group: int) -> float:
        """A captured number as JavaScript reads it (``"2"`` → 2.0; too many digits → inf)."""
        return float(self.group(group))

    def error(self, problem: str, group: int | None = None) -> BrowserslistError:
        """An error marking the captured ``group``, or the whole clause."""
        if group is None or self.match is None or self.match.start(group) < 0:
            return BrowserslistError(problem, self.source, self.start, self.end)
        start, end = self.match.span(group)
        return BrowserslistError(problem, self.source, self.offset + start, self.offset + end)


def parse(query: str | Sequence[str]) -> tuple[Clause, ...]:
    """The clauses of a query string, or of a config's entries, in order.

    As browserslist: entries are separate queries (``or``) unless one ends with ``and``, ``or``
    or ``,``, which joins it to the next; empty entries are skipped.
    """
    if isinstance(query, str):
        entries = [query]
    elif isinstance(query, Sequence) and all(isinstance(entry, str) for entry in query):
        entries = list(query)
    else:
        raise BrowserslistError("browserslist queries must be a string or a list of strings")
    length = sum(len(entry) + 1 for entry in entries) - 1
    if length > MAX_QUERY_LENGTH:
        raise BrowserslistError(
            f"browserslist query is {length} characters long; at most {MAX_QUERY_LENGTH} are read"
        )
    blocks: list[str] = []
    pending: list[str] = []
    for entry in entries:
        if not entry:
            continue
        pending.append(entry)
        if not _ends_with_operator(entry):
            blocks.append("\n".join(pending))
            pending = []
    if pending:
        blocks.append("\n".join(pending))
    return tuple(clause for block in blocks for clause in _parse_block(block))


def _ends_with_operator(block: str) -> bool:
    end = len(block)
    while end > 0 and _is_js_space(block[end - 1]):
        end -= 1
    if end and block[end - 1] == ",":
        return bool(_js_trim(block[: end - 1]))
    tail = block[max(0, end - 3) : end].lower()
    size = 3 if tail == "and" else 2 if tail[-2:] == "or" else 0
    if size == 0 or end <= size or not _is_js_space(block[end - size - 1]):
        return False
    return bool(_js_trim(block[: end - size]))


def _keyword_at(block: str, position: int, word: str) -> bool:
    """``word`` (any case) at ``position`` of ``block``, followed by white space."""
    after = position + len(word)
    return (
        after < len(block)
        and block[position:after].isascii()
        and block[position:after].lower() == word
        and _is_js_space(block[after])
    )


def _parse_block(block: str) -> list[Clause]:
    """Splits on ``,\\s*``, ``\\s+and\\s+`` and ``\\s+or\\s+``, left to right."""
    clauses: list[Clause] = []
    start, compose, index, length = 0, "or", 0, len(block)
    while index < length:
        char = block[index]
        if char == ",":
            if index != 0:
                clauses.append(_clause(block, start, index, compose))
            index += 1
            while index < length and _is_js_space(block[index]):
                index += 1
            compose, start = "or", index
            continue
        if _is_js_space(char):
            word_start = index
            while word_start < length and _is_js_space(block[word_start]):
                word_start += 1
            for word in ("and", "or"):
                if _keyword_at(block, word_start, word):
                    if index != 0:
                        clauses.append(_clause(block, start, index, compose))
                    index = word_start + len(word)
                    while index < length and _is_js_space(block[index]):
                        index += 1
                    compose, start = word, index
                    break
            else:
                index = word_start
            continue
        index += 1
    clauses.append(_clause(block, start, length, compose))
    return clauses


def _clause(block: str, start: int, end: int, compose: str) -> Clause:
    raw = block[start:end]
    text = _js_trim(raw)
    start += len(raw) - len(raw.lstrip(JS_SPACE))
    end = start + len(text)
    negation = _NOT.match(text)
    query = text[negation.end() :] if negation else text
    offset = start + (negation.end() if negation else 0)
    kind, match = next(
        ((kind, found) for kind, pattern in QUERY_KINDS if (found := pattern.search(query))),
        ("unmatched", None),
    )
    return Clause(
        source=block,
        start=start,
        end=end,
        compose="and" if compose == "and" else "or",
        negated=negation is not None,
        kind=kind,
        match=match,
        offset=offset,
    )


# Resolving: browserslist's index.js, over sets of (agent, version).


def _now_ms(now: datetime.datetime | None) -> int:
    """``Date.now()`` for ``now`` (naive means UTC; None means the current time)."""
    if now is None:
        now = datetime.datetime.now(datetime.UTC)
    elif now.tzinfo is None:
        now = now.replace(tzinfo=datetime.UTC)
    elapsed = now - datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)
    return elapsed // datetime.timedelta(milliseconds=1)


_USAGE_SIGNS: Final[Mapping[str, Callable[[float, float], bool]]] = {
    "<": lambda share, bound: share < bound,
    "<=": lambda share, bound: share <= bound,
    ">": lambda share, bound: share > bound,
    ">=": lambda share, bound: share >= bound,
}

_VERSION_SIGNS: Final[Mapping[str, Callable[[str, str], bool]]] = {
    ">": lambda version, bound: _latest_float(version) > _latest_float(bound),
    ">=": lambda version, bound: _latest_float(version) >= _latest_float(bound),
    "<": lambda version, bound: _js_parse_float(version) < _js_parse_float(bound),
    "<=": lambda version, bound: _js_parse_float(version) <= _js_parse_float(bound),
}

_NUMERIC = re.compile(r"[0-9.]+")
_PERIOD_WORDS = _js_regex(r"^last\s+\d+(\.\d+)?\s+(months?|weeks?|days?)$")
_DANGLING = _js_regex(r"\s(and|or)$")


class _Resolver:
    """Evaluates clauses against one data set at one moment."""

    def __init__(self, data: BrowserData, now_ms: int) -> None:
        self.data = data
        self.now_ms = now_ms

    def resolve(self, clauses: Iterable[Clause]) -> set[tuple[str, str]]:
        result: set[tuple[str, str]] = set()
        for index, clause in enumerate(clauses):
            if clause.negated and index == 0:
                raise clause.error(
                    f"`{clause.text}` comes first: write the browsers it removes from before it "
                    "(for instance `defaults, " + clause.text + "`)"
                )
            selected = {
                (name, self.data.agents[name].versions[0] if version == "0" else version)
                for name, version in self.select(clause)
            }
            if clause.negated:
                result -= selected
            elif clause.compose == "and":
                result &= selected
            else:
                result |= selected
        return result

    def select(self, clause: Clause) -> Iterable[tuple[str, str]]:
        if clause.kind in UNSUPPORTED:
            raise clause.error(f"`{clause.text}` is not supported: {UNSUPPORTED[clause.kind]}")
        handler = getattr(self, "_" + clause.kind)
        selection: Iterable[tuple[str, str]] = handler(clause)
        return selection

    def _agent(self, clause: Clause, group: int) -> Agent:
        name = clause.group(group)
        agent = self.data.agent(name)
        if agent is None:
            known = [*self.data.agents, *self.data.aliases]
            close = difflib.get_close_matches(name.lower(), known, n=3)
            hint = f"; did you mean {' or '.join(close)}?" if close else ""
            raise clause.error(f"unknown browser `{name}`{hint}", group)
        return agent

    def _each_agent(self, pick: Callable[[Agent], Iterable[str]]) -> Iterable[tuple[str, str]]:
        for agent in self.data.agents.values():
            for version in pick(agent):
                yield agent.name, version

    def _filter_jumps(self, versions: list[str], agent: Agent, count: float) -> list[str]:
        """``last N versions`` where caniuse jumps from a legacy release to the current one."""
        if agent.name == "android":
            chrome = self.data.agents["chrome"].released
            first = (
                chrome.index(ANDROID_EVERGREEN_FIRST) if ANDROID_EVERGREEN_FIRST in chrome else -1
            )
            jump = float(len(chrome) - first)
        elif agent.name == "op_mob" and agent.released:
            jump = _major(agent.released[-1]) - OP_MOB_BLINK_FIRST + 1
        else:
            return versions
        if count <= jump:
            return versions[-1:]
        return _js_slice(versions, jump - 1 - count)

    @staticmethod
    def _major_versions(released: Sequence[str], count: float) -> list[str]:
        """The released versions of the newest ``count`` majors (``getMajorVersions``)."""
        if not released:
            return []
        majors: list[float] = []
        for version in released:
            major = _major(version)
            if not any(major == seen for seen in majors):
                majors.append(major)
        position = len(majors) - count
        inside = math.isfinite(position) and 0 <= position < len(majors)
        minimum = majors[int(position)] if inside else math.nan
        if not minimum or math.isnan(minimum):
            return list(released)
        selected: list[str] = []
        for version in reversed(released):
            if minimum > _major(version):
                break
            selected.append(version)
        return selected[::-1]

    def _by_date(self, since_seconds: float) -> Iterable[tuple[str, str]]:
        return self._each_agent(
            lambda agent: [
                version
                for version, date in zip(agent.versions, agent.release_dates, strict=True)
                if date is not None and date >= since_seconds
            ]
        )

    def _percentage(self, clause: Clause, group: int) -> float:
        percentage = clause.number(group)
        if not 0 <= percentage <= 100:
            raise clause.error(f"{clause.group(group)}% is not a percentage from 0 to 100", group)
        return percentage

    # One method per query kind, named after it.

    def _last_major_versions(self, clause: Clause) -> Iterable[tuple[str, str]]:
        count = clause.number(1)
        return self._each_agent(
            lambda agent: self._filter_jumps(
                self._major_versions(agent.released, count), agent, count
            )
        )

    def _last_versions(self, clause: Clause) -> Iterable[tuple[str, str]]:
        count = clause.number(1)
        return self._each_agent(
            lambda agent: self._filter_jumps(_js_slice(agent.released, -count), agent, count)
        )

    def _last_browser_major_versions(self, clause: Clause) -> Iterable[tuple[str, str]]:
        agent, count = self._agent(clause, 2), clause.number(1)
        versions = self._filter_jumps(self._major_versions(agent.released, count), agent, count)
        return [(agent.name, version) for version in versions]

    def _last_browser_versions(self, clause: Clause) -> Iterable[tuple[str, str]]:
        agent, count = self._agent(clause, 2), clause.number(1)
        versions = self._filter_jumps(_js_slice(agent.released, -count), agent, count)
        return [(agent.name, version) for version in versions]

    def _unreleased_versions(self, clause: Clause) -> Iterable[tuple[str, str]]:
        return self._each_agent(lambda agent: agent.versions[len(agent.released) :])

    def _unreleased_browser_versions(self, clause: Clause) -> Iterable[tuple[str, str]]:
        agent = self._agent(clause, 1)
        return [(agent.name, version) for version in agent.versions[len(agent.released) :]]

    def _last_years(self, clause: Clause) -> Iterable[tuple[str, str]]:
        return self._by_date((self.now_ms - YEAR_MS * clause.number(1)) / 1000)

    def _since_y(self, clause: Clause) -> Iterable[tuple[str, str]]:
        assert clause.match is not None
        year, month, day = [*clause.match.groups(), "01", "01"][:3]
        since = _js_date_utc(_js_parse_int(year), _js_parse_int(month) - 1, _js_parse_int(day))
        return self._by_date(since / 1000)

    _since_y_m = _since_y
    _since_y_m_d = _since_y

    def _popularity(self, clause: Clause) -> Iterable[tuple[str, str]]:
        bound, compare = self._percentage(clause, 2), _USAGE_SIGNS[clause.group(1)]
        return self._each_agent(
            lambda agent: [
                version
                for version, share in zip(agent.versions, agent.usage, strict=True)
                if compare(share, bound)
            ]
        )

    def _cover(self, clause: Clause) -> Iterable[tuple[str, str]]:
        coverage = self._percentage(clause, 1)
        covered, selected = 0.0, []
        for name, version, share in self.data.usage_order:
            if not share:
                break
            covered += share
            selected.append((name, version))
            if covered >= coverage:
                break
        return selected

    def _browser_range(self, clause: Clause) -> Iterable[tuple[str, str]]:
        agent = self._agent(clause, 1)
        low, high = clause.group(2), clause.group(3)
        lowest = _js_parse_float(agent.normalize_version(low) or low)
        highest = _js_parse_float(agent.normalize_version(high) or high)
        return [
            (agent.name, version)
            for version in agent.released
            if _latest_float(version) >= lowest and _js_parse_float(version) <= highest
        ]

    def _browser_ray(self, clause: Clause) -> Iterable[tuple[str, str]]:
        agent, sign, version = self._agent(clause, 1), clause.group(2), clause.group(3)
        alias = agent.version_aliases.get(version.lower())
        if alias and not _NUMERIC.fullmatch(version):
            version = alias
        if not _NUMERIC.search(version):
            raise clause.error(f"unknown version `{version}` of {agent.name}", 3)
        compare = _VERSION_SIGNS[sign]
        return [(agent.name, v) for v in agent.released if compare(v, version)]

    def _firefox_esr(self, clause: Clause) -> Iterable[tuple[str, str]]:
        return [("firefox", self.data.firefox_esr)]

    def _opera_mini_all(self, clause: Clause) -> Iterable[tuple[str, str]]:
        return [("op_mini", "all")]

    def _phantomjs_1_9(self, clause: Clause) -> Iterable[tuple[str, str]]:
        return [("safari", "5")]

    def _phantomjs_2_1(self, clause: Clause) -> Iterable[tuple[str, str]]:
        return [("safari", "6")]

    def _browser_version(self, clause: Clause) -> Iterable[tuple[str, str]]:
        agent, version = self._agent(clause, 1), clause.group(2)
        if version.lower() == "tp":
            version = "TP"
        found = agent.normalize_version(version)
        if not found:
            other = version + ".0" if "." not in version else re.sub(r"\.0\Z", "", version)
            found = agent.normalize_version(other)
        if not found:
            raise clause.error(
                f"unknown version `{version}` of {agent.name} (caniuse knows "
                f"{agent.versions[0]} to {agent.versions[-1]})",
                2,
            )
        return [(agent.name, found)]

    def _defaults(self, clause: Clause) -> Iterable[tuple[str, str]]:
        return self.resolve(parse(self.data.defaults))

    def _dead(self, clause: Clause) -> Iterable[tuple[str, str]]:
        return self._each_agent(lambda agent: [v for v in agent.versions if v in agent.dead])

    def _unknown(self, clause: Clause) -> Iterable[tuple[str, str]]:
        name = clause.group(1)
        if self.data.agent(name) is not None:
            raise clause.error(
                f"`{name}` needs versions: for instance `last 2 {name} versions` or `{name} >= …`",
                1,
            )
        return self._unmatched(clause)

    def _unmatched(self, clause: Clause) -> Iterable[tuple[str, str]]:
        text = clause.text
        if not text:
            raise clause.error("empty query: nothing between two separators, or at an end")
        if _PERIOD_WORDS.match(text):
            raise clause.error(
                f"unknown browserslist query `{text}`: browserslist counts time in years only "
                "(`last 0.5 years`) or from a date (`since 2024-06`)"
            )
        if dangling := _DANGLING.search(text):
            start, end = (clause.start + position for position in dangling.span(1))
            problem = f"`{dangling.group(1)}` at the end of the query joins it to nothing"
            raise BrowserslistError(problem, clause.source, start, end)
        raise clause.error(f"unknown browserslist query `{text}`")


def select(
    query: str | Sequence[str],
    data: BrowserData | None = None,
    *,
    now: datetime.datetime | None = None,
) -> Selection:
    """The (agent, version) pairs a query selects; possibly none (``resolve`` refuses that).

    ``now`` is the moment ``last N years`` counts back from: the current time if None, as
    browserslist takes it.
    """
    resolver = _Resolver(data or load_data(), _now_ms(now))
    return frozenset(resolver.resolve(parse(query)))


def resolve(
    query: str | Sequence[str],
    data: BrowserData | None = None,
    *,
    now: datetime.datetime | None = None,
) -> dict[str, list[str]]:
    """agent → the versions a query selects, newest first, as browserslist prints them.

    ``query`` is a query string or a config's entries (``load_config``); agents are in
    browserslist's order (by name). Raises ``BrowserslistError`` for a query browserslist
    rejects, one this module does not support, and one that selects nothing.
    """
    data = data or load_data()
    selection = select(query, data, now=now)
    if not selection:
        shown = query if isinstance(query, str) else "\n".join(query)
        raise BrowserslistError("the browserslist query selects no browser at all", shown)
    return _grouped(selection, data)


def _grouped(selection: Iterable[tuple[str, str]], data: BrowserData) -> dict[str, list[str]]:
    grouped: dict[str, list[str]] = {}
    for name, version in sorted(selection):
        grouped.setdefault(name, []).append(version)
    for name, versions in grouped.items():
        index = data.agents[name].index
        versions.sort(key=lambda version: (_semver_key(version), index.get(version, -1)))
        versions.reverse()
    return grouped


def minimum_versions(
    resolved: Mapping[str, Sequence[str]], data: BrowserData | None = None
) -> dict[str, str]:
    """agent → the oldest version ``resolved`` selects, by release order.

    A joined version gives its lower end (``15.2-15.3`` → ``15.2``). Versions without a number
    stand for themselves: ``all`` for Opera Mini, and ``TP`` when Safari's Technology Preview
    is the only Safari selected.
    """
    data = data or load_data()
    minimums: dict[str, str] = {}
    for name, versions in resolved.items():
        if not versions:
            continue
        agent = data.agents.get(name)
        index = agent.index if agent is not None else {}
        oldest = min(versions, key=lambda version: (index.get(version, -1), version))
        minimums[name] = oldest.split("-")[0]
    return minimums


# Configs: browserslist's node.js (parseConfig, parsePackage, pickEnv).

_SECTION = _js_regex(r"^\s*\[({DOT}+)]\s*$")
_COMMENT = re.compile(r"#[^\n]*")
_SEPARATOR = re.compile(r"\n|,")


def parse_config(text: str) -> dict[str, list[str]]:
    """The sections of a ``.browserslistrc``: ``defaults`` (before any header) and each named
    one (``[production staging]`` names two); comments (``#``) and blank entries dropped."""
    result: dict[str, list[str]] = {"defaults": []}
    sections = ["defaults"]
    lines = (_js_trim(line) for line in _SEPARATOR.split(_COMMENT.sub("", text)))
    for line in lines:
        if not line:
            continue
        if header := _SECTION.match(line):
            sections = _js_trim(header.group(1)).split(" ")
            for section in sections:
                if section in result:
                    raise BrowserslistError(f"duplicate section `{section}` in browserslist config")
                result[section] = []
        else:
            for section in sections:
                result[section].append(line)
    return result


def load_config(path: Path | str, env: str | None = None) -> list[str]:
    """The queries a ``.browserslistrc`` (or ``browserslist``) file or a ``package.json``
    ``browserslist`` field gives for environment ``env`` (``production`` if None).

    As browserslist: an environment without a section takes the ``defaults`` one (a
    ``package.json`` with neither means browserslist's ``defaults`` query). ``env`` is what
    browserslist reads from ``BROWSERSLIST_ENV`` (then ``NODE_ENV``); the caller reads it.
    """
    path = Path(path)
    try:
        with path.open("rb") as stream:
            raw = stream.read(MAX_CONFIG_BYTES + 1)
    except OSError as error:
        raise BrowserslistError(
            f"cannot read browserslist config {path}: {error.strerror or error}"
        ) from None
    if len(raw) > MAX_CONFIG_BYTES:
        raise BrowserslistError(
            f"browserslist config {path} is larger than {MAX_CONFIG_BYTES} bytes"
        )
    text = raw.decode("utf-8", errors="replace")
    is_package = path.name == "package.json"
    sections: Mapping[str, str | list[str]]
    sections = _package_sections(text, path) if is_package else parse_config(text)
    # JavaScript's `config[name] || config.defaults`: an empty list is a section, "" is not.
    chosen = sections.get(DEFAULT_ENV if env is None else env)
    if chosen is None or chosen == "":
        chosen = sections.get("defaults")
    if chosen is None:
        return ["defaults"]
    return [chosen] if isinstance(chosen, str) else list(chosen)


def _package_sections(text: str, path: Path) -> dict[str, str | list[str]]:
    text = text.removeprefix("\ufeff")
    if '"browserslist"' not in text and '"browserlist"' not in text:
        raise BrowserslistError(f"{path} has no `browserslist` field")
    try:
        package = json.loads(text)
    except ValueError as error:
        raise BrowserslistError(f"{path} is not valid JSON: {error}") from None
    if not isinstance(package, dict):
        raise BrowserslistError(f"{path} is not a JSON object")
    if "browserslist" not in package:
        if "browserlist" in package:
            raise BrowserslistError(f"`browserlist` key instead of `browserslist` in {path}")
        raise BrowserslistError(f"{path} has no `browserslist` field")
    field_value = package["browserslist"]
    if isinstance(field_value, str | list):
        field_value = {"defaults": field_value}
    if not isinstance(field_value, dict) or not all(
        isinstance(section, str)
        or (isinstance(section, list) and all(isinstance(query, str) for query in section))
        for section in field_value.values()
    ):
        raise BrowserslistError(
            f"the `browserslist` field of {path} should be a string, a list of strings, or an "
            "object of them by environment"
        )
    return field_value
