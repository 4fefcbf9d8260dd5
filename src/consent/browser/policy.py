"""The rules browsers are judged by, worked out once when the settings are loaded.

A site states them per browser key in ``browsers`` (absolute, ``"24"``, or relative to the shipped
release data: ``"-3"``, ``"esr"``, ``"not dead"``), as a browserslist query (``browserslist``), or
in its front-end build's ``.browserslistrc`` or ``package.json`` (``browserslist_file``); the seed
site's rules apply when it states none of these. ``BrowserPolicy.build`` turns that into one
``Rule`` per key and the table from ua-parser family to key, so that judging a request is two
dictionary lookups and a tuple comparison: no query or release data is read after start-up.

A query gives each key the oldest version it selects of the key's caniuse agents
(``AGENT_KEYS``): below it a browser is ``outdated``, a key none of whose agents the query selects
is ``unsupported``, and a version newer than every known release is ``supported``. A rule written
in ``browsers`` wins over the query for its key.

The query engine (``consent.browser.browserslist``) is imported when a query or a relative rule
needs it: it compiles browserslist's grammar on import (about 40 ms), which a site whose rules are
all versions does not pay.
"""

from __future__ import annotations

import datetime
import functools
import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Final

from consent.browser.defaults import NARROWER_KEYS
from consent.browser.rules import (
    Releases,
    Rule,
    Version,
    describe_rule,
    is_relative,
    parse_version,
    resolve_rule,
)

if TYPE_CHECKING:
    from consent.browser.browserslist import Agent, BrowserData

logger = logging.getLogger(__name__)

#: browserslist's ``desktopNames``: mobile agents whose versions are their desktop browser's.
#: caniuse lists only their current release, so where a query selects the desktop browser too,
#: its older versions count for the mobile one (as browserslist's ``mobileToDesktop`` has it).
DESKTOP_AGENTS: Final[Mapping[str, str]] = {
    "and_chr": "chrome",
    "and_ff": "firefox",
    "ie_mob": "ie",
    "android": "chrome",
}
#: How the refresh of the release data is done, for the warning about old data.
REFRESH_COMMAND: Final = "python scripts/update_browser_data.py"


@functools.cache
def key_agents() -> Mapping[str, tuple[str, ...]]:
    """Each rule key and the caniuse agents whose selection decides it (``AGENT_KEYS``), the
    browser's own agent first."""
    from consent.browser.browserslist import AGENT_KEYS

    return {
        key: tuple(agent for agent, agent_key in AGENT_KEYS.items() if agent_key == key)
        for key in dict.fromkeys(AGENT_KEYS.values())
    }


@dataclass(frozen=True, slots=True)
class QuerySource:
    """A browserslist query and the setting that states it."""

    #: The setting as errors name it: ``browserslist``, or ``browserslist_file = '…'
    #: (production)`` with the environment whose section was read.
    setting: str
    #: The query as ``consent check`` names it: ``browserslist "defaults"``.
    label: str
    #: The query string, or the entries of the config's section.
    entries: tuple[str, ...]

    @classmethod
    def from_settings(
        cls,
        query: str | None,
        path: Path | None,
        env: str | None,
        environ: Mapping[str, str] | None = None,
    ) -> QuerySource | None:
        """The query of the ``browserslist`` or ``browserslist_file`` setting, if one is set.

        A file's section is ``env``, else what browserslist reads: ``BROWSERSLIST_ENV``, then
        ``NODE_ENV``, then ``production``; an environment without a section takes the file's
        ``defaults`` one.
        """
        if query is not None and path is not None:
            raise ValueError(
                "browserslist and browserslist_file are both set: state the query in one place"
            )
        if query is not None:
            return cls(setting="browserslist", label=f'browserslist "{query}"', entries=(query,))
        if path is None:
            return None
        from consent.browser import browserslist

        environ = os.environ if environ is None else environ
        env = (
            env
            or environ.get("BROWSERSLIST_ENV")
            or environ.get("NODE_ENV")
            or browserslist.DEFAULT_ENV
        )
        try:
            entries = browserslist.load_config(path, env)
        except browserslist.BrowserslistError as error:
            raise ValueError(f"browserslist_file = '{path}': {error}") from None
        return cls(
            setting=f"browserslist_file = '{path}' ({env})",
            label=f'browserslist_file "{path}" ({env})',
            entries=tuple(entries),
        )


@dataclass(frozen=True, slots=True)
class KeyRule:
    """One key's rule and what stated it."""

    rule: Rule
    #: The rule as the site wrote it (``"20"``, ``"-3"``); None when a query decided it.
    written: str | None = None
    #: The query that decided it (``QuerySource.label``); None for a written rule.
    query: str | None = None

    def describe(self) -> str:
        """What ``consent check`` shows: ``20``, ``-3: >= 155``, or
        ``from browserslist "defaults": >= 109``."""
        shown = describe_rule(self.rule)
        if self.written is None:
            return f"from {self.query}: {shown}"
        if is_relative(self.written):
            return f"{self.written.strip()}: {shown}"
        return self.written


@dataclass(frozen=True, slots=True)
class BrowserPolicy:
    """Every key's rule, which key judges each ua-parser family, and what a query selected."""

    #: Each key's rule, in the order the requirements list names them.
    rules: Mapping[str, KeyRule]
    #: ua-parser family → rule key.
    family_keys: Mapping[str, str]
    query: QuerySource | None = None
    #: caniuse agent → the versions the query selects, newest first (empty without a query).
    selected: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    #: caniuse agent → why what the query selects of it judges no browser.
    unused: Mapping[str, str] = field(default_factory=dict)
    #: The release data, when a query or a relative rule read it.
    data: BrowserData | None = None

    @classmethod
    def build(
        cls,
        *,
        written: Mapping[str, str],
        query: QuerySource | None,
        families: Mapping[str, Sequence[str]],
        data_max_age_days: int,
        data: BrowserData | None = None,
        now: datetime.datetime | None = None,
    ) -> BrowserPolicy:
        """The policy of ``written`` rules (the seed's, a site's, or none) over ``query``.

        ``families`` is every key and its ua-parser families (unknown keys are refused by the
        settings before this); ``now`` the moment ``last N years`` counts from and the data's
        age is taken at (the current time if None). Raises ValueError naming the setting.
        """
        needs_data = query is not None or any(is_relative(rule) for rule in written.values())
        if needs_data and data is None:
            from consent.browser.browserslist import load_data

            data = load_data()
        rules: dict[str, KeyRule] = {}
        selected: dict[str, tuple[str, ...]] = {}
        unused: dict[str, str] = {}
        if query is not None:
            from consent.browser import browserslist

            assert data is not None
            try:
                resolved = browserslist.resolve(query.entries, data, now=now)
            except browserslist.BrowserslistError as error:
                raise ValueError(f"{query.setting}: {error}") from None
            selected = {agent: tuple(versions) for agent, versions in resolved.items()}
            by_key, unused = _query_rules(resolved, data, families)
            rules = {key: KeyRule(rule, query=query.label) for key, rule in by_key.items()}
        for key, text in written.items():
            try:
                rule = resolve_rule(text, key_releases(key, data) if data is not None else None)
            except ValueError as error:
                raise ValueError(f"browsers.{key} = {text!r}: {error}") from None
            rules[key] = KeyRule(rule, written=text)
        if data is not None:
            warn_if_old(data, data_max_age_days, _today(now))
        return cls(
            rules=rules,
            family_keys=family_keys(families, rules),
            query=query,
            selected=selected,
            unused=unused,
            data=data,
        )


def family_keys(
    families: Mapping[str, Sequence[str]], ruled: Mapping[str, object]
) -> dict[str, str]:
    """ua-parser family → the key that judges it.

    A family listed under two keys goes to the later one, except that a narrower key
    (``NARROWER_KEYS``: ``safari_ios`` in ``safari``) takes its families only when a rule names
    it; without one they stay with the broader key, or with the narrower one if no other key
    lists them.
    """
    keys: dict[str, str] = {}
    for key, names in families.items():
        if key not in NARROWER_KEYS:
            keys.update(dict.fromkeys(names, key))
    for key in NARROWER_KEYS:
        for name in families.get(key, ()):
            if key in ruled:
                keys[name] = key
            else:
                keys.setdefault(name, key)
    return keys


def data_age_warning(data: BrowserData, max_age_days: int, today: datetime.date) -> str | None:
    """The start-up warning when the newest release in ``data`` is more than ``max_age_days``
    old (0: never), as browserslist warns about an old caniuse-lite; else None."""
    age = (today - data.date).days
    if max_age_days == 0 or age <= max_age_days:
        return None
    return (
        f"consent: the browser release data ({data.package} {data.version}, newest release "
        f"{data.date.isoformat()}) is {age} days old, more than browser_data_max_age_days = "
        f"{max_age_days}: browserslist queries and relative rules do not know the releases "
        f"since. Upgrade asgi-consent, or refresh the data in its source with `{REFRESH_COMMAND}`."
    )


def warn_if_old(data: BrowserData, max_age_days: int, today: datetime.date) -> None:
    """Log ``data_age_warning``, if there is one."""
    warning = data_age_warning(data, max_age_days, today)
    if warning is not None:
        logger.warning("%s", warning)


def _today(now: datetime.datetime | None) -> datetime.date:
    if now is None:
        return datetime.datetime.now(datetime.UTC).date()
    return now.date()


def _query_rules(
    resolved: Mapping[str, Sequence[str]],
    data: BrowserData,
    families: Mapping[str, Sequence[str]],
) -> tuple[dict[str, Rule], dict[str, str]]:
    """Each key's rule from a query's selection, and the agents whose selection judges none."""
    by_agent: dict[str, Rule] = {}
    unused: dict[str, str] = {}
    for name, versions in resolved.items():
        agent = data.agents[name]
        rule = _agent_rule(agent, versions)
        if rule is not None:
            by_agent[name] = rule
        if name == "android" and (legacy := [v for v in versions if not _evergreen(v)]):
            unused[name] = (
                f"{', '.join(legacy)}: Android's own browser (ua-parser family Android), which "
                "no key judges; chrome_webview is the WebView that follows Chrome"
            )
    for mobile, desktop in DESKTOP_AGENTS.items():
        if mobile in by_agent and desktop in by_agent:
            by_agent[mobile] = _lowest([by_agent[mobile], by_agent[desktop]])
    rules: dict[str, Rule] = {}
    for key in [*families, *key_agents()]:
        agents = key_agents().get(key)
        if agents is None or key in rules:
            continue
        if key not in families:
            for name in agents:
                if name in resolved and name not in unused:
                    unused[name] = (
                        f"{', '.join(resolved[name])}: no ua-parser family has the rule key "
                        f"{key!r} (add browser_families.{key})"
                    )
            continue
        chosen = [by_agent[name] for name in agents if name in by_agent]
        rules[key] = _lowest(chosen) if chosen else Rule(unsupported=True)
    return rules, unused


def _agent_rule(agent: Agent, versions: Sequence[str]) -> Rule | None:
    """The rule an agent's selected versions give: the oldest as the minimum, any version for
    Opera Mini's ``all``, past the newest release for Safari's ``TP`` alone; None when none of
    them is a version of the browser its key judges (Android's own browser)."""
    if "all" in versions:
        return Rule()
    numbered = [
        (agent.index[version], number)
        for version in versions
        if (number := _numbered(version)) is not None
        and (agent.name != "android" or _evergreen(version))
    ]
    if numbered:
        return Rule(minimum=min(numbered)[1])
    if "TP" in versions:
        released = [number for v in agent.released if (number := _numbered(v)) is not None]
        return Rule(minimum=(released[-1][0] + 1,)) if released else Rule()
    return None


def _lowest(rules: Sequence[Rule]) -> Rule:
    """The rule of these that accepts the most: no minimum, else the lowest one."""
    if any(rule.minimum is None for rule in rules):
        return Rule()
    width = max(len(rule.minimum or ()) for rule in rules)
    return min(rules, key=lambda rule: _padded(rule.minimum or (), width))


def _padded(version: Version, width: int) -> Version:
    return version + (0,) * (width - len(version))


def _numbered(version: str) -> Version | None:
    """A caniuse version as a version tuple (a joined ``15.2-15.3`` by its lower end); None
    for ``TP`` and ``all``."""
    try:
        return parse_version(version.split("-")[0])
    except ValueError:
        return None


def _evergreen(version: str) -> bool:
    """Whether an ``android`` version is one of the WebView's, numbered as Chrome's."""
    number = _numbered(version)
    from consent.browser.browserslist import ANDROID_EVERGREEN_FIRST

    return number is not None and number[0] >= int(ANDROID_EVERGREEN_FIRST)


def key_releases(key: str, data: BrowserData) -> Releases | None:
    """What relative rules of ``key`` read: its own agent's releases (Chrome's for the
    WebView, which caniuse lists at its current release only), None for a key caniuse lacks."""
    agents = key_agents().get(key)
    if not agents:
        return None
    name = agents[0]
    if name in DESKTOP_AGENTS:
        name = DESKTOP_AGENTS[name]
    agent = data.agents[name]
    released = set(agent.released)
    return Releases(
        name=name,
        versions=tuple(n for v in agent.released if (n := _numbered(v)) is not None),
        dead=frozenset(n for v in agent.dead if v in released and (n := _numbered(v)) is not None),
        all_dead=released <= agent.dead,
        esr=_numbered(data.firefox_esr) if name == "firefox" else None,
    )
