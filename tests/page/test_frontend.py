"""The injected script and stylesheet, judged by the field's own tools: es-check and doiuse.

Every script in ``src/consent/page/ui/static/`` must parse as ES5 and use no later built-in
(``es-check es5 --checkFeatures``): Internet Explorer 11, the oldest engine the seed's policy
names, runs it. ``consent.css`` is read by doiuse against a browserslist query made from the
seed's rules (``DEFAULT_BROWSER_RULES``), so the check follows the policy. Each feature doiuse
reports must be listed in ``ACCEPTED`` with the fallback that covers it, and each listed one
must still be reported: the list is exactly what the stylesheet relies on. Where a fallback can
be read off the stylesheet (a plain declaration before each ``var()`` one, ``appearance`` only
inside ``@supports``), a test reads it; another keeps every selector on our own elements, so
the stylesheet never styles the host page.

The tools are the npm packages pinned in ``tools/frontend/package.json``, installed by
``npm ci --prefix tools/frontend`` (``scripts/check.sh`` does it). Without them, or without
node, these tests are skipped with the reason, and fail under ``$CI``.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from consent.browser.defaults import DEFAULT_BROWSER_RULES
from consent.browser.rules import Rule, format_version, parse_rule
from tests.support import REPO, require_tool

STATIC = REPO / "src" / "consent" / "page" / "ui" / "static"
STYLESHEET = STATIC / "consent.css"
TOOLS = REPO / "tools" / "frontend" / "node_modules" / ".bin"
#: One tool run on our two small files takes about a second; this is far beyond it.
TOOL_SECONDS = 120

#: The policy's browser keys as browserslist names them.
BROWSERSLIST_NAMES = {
    "chrome": "chrome",
    "firefox": "firefox",
    "ie": "ie",
    "opera": "opera",
    "safari": "safari",
}

#: Each feature doiuse reports for the policy's browsers, and what covers it where it is missing.
ACCEPTED: dict[str, str] = {
    "css-variables": (
        "every var() declaration follows a plain declaration of the same property with the "
        "same value, which an engine without custom properties keeps"
    ),
    "font-family-system-ui": "the font list goes on to named families and sans-serif",
    "mdn-text-decoration-shorthand": (
        "only the CSS 2.1 keywords underline and none, which every engine reads"
    ),
    "outline": "Internet Explorer 11 draws the focus outline, without outline-offset",
    "css-focus-visible": (
        "a :focus outline comes first; only an engine that knows :focus-visible drops it "
        "after a click"
    ),
    "css-featurequeries": (
        "the switch look is inside @supports; without it the checkbox is the engine's own"
    ),
    "css-appearance": "used only inside @supports (appearance: none)",
}

#: The first part of every selector: our root elements and our own class names.
OWN_SELECTOR = re.compile(r"^(#consent-|#browser-notice\b|\.consent-)")


def frontend_tool(name: str) -> Path:
    """The path of an npm tool under ``tools/frontend`` (skipped, or failed under CI, if absent)."""
    require_tool("node", f"it runs {name}")
    path = TOOLS / name
    if not os.access(path, os.X_OK):
        reason = f"{name} is not installed (npm ci --prefix tools/frontend installs it)"
        if os.environ.get("CI"):
            pytest.fail(f"{reason} (CI must run these tests)")
        pytest.skip(reason)
    return path


def run_tool(name: str, *arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(frontend_tool(name)), *arguments],
        capture_output=True,
        text=True,
        timeout=TOOL_SECONDS,
        check=False,
    )


def gecko_of_seamonkey(version: tuple[int, ...]) -> int:
    """The Firefox release whose engine a SeaMonkey 2.x release (2.1 to 2.49) is built on:
    Gecko x + 3, e.g. SeaMonkey 2.15 on Firefox 18 and 2.23 on 26."""
    major, minor = version[0], version[1] if len(version) > 1 else 0
    if major != 2 or not 1 <= minor <= 49:
        raise ValueError(f"no known Gecko release for SeaMonkey {format_version(version)}")
    return minor + 3


def browserslist_query(rules: dict[str, str]) -> str:
    """The browsers ``rules`` support, as a browserslist query (SeaMonkey as its Firefox)."""
    parts = []
    for key, text in rules.items():
        rule: Rule = parse_rule(text)
        if rule.unsupported or rule.minimum is None:
            continue
        if key == "seamonkey":
            low = str(gecko_of_seamonkey(rule.minimum))
            high = str(gecko_of_seamonkey(rule.maximum)) if rule.maximum else None
            name = "firefox"
        elif key in BROWSERSLIST_NAMES:
            low = format_version(rule.minimum)
            high = format_version(rule.maximum) if rule.maximum else None
            name = BROWSERSLIST_NAMES[key]
        else:
            raise ValueError(f"browserslist has no name for the policy's browser {key!r}")
        parts.append(f"{name} {low}-{high}" if high else f"{name} >= {low}")
    return ", ".join(parts)


POLICY_QUERY = browserslist_query(DEFAULT_BROWSER_RULES)


@dataclass(frozen=True, slots=True)
class Finding:
    feature: str
    message: str


def doiuse(stylesheet: Path, query: str = POLICY_QUERY) -> list[Finding]:
    """What doiuse reports for ``stylesheet``; anything it writes to stderr fails the test (its
    tokenizer says so there when it gave up part of the file: it takes a quote inside a comment
    for the start of a string, so the stylesheet's comments have no apostrophes)."""
    result = run_tool("doiuse", "--json", "--browsers", query, str(stylesheet))
    assert result.returncode == 0, result.stderr
    assert result.stderr == "", f"doiuse did not read the whole file: {result.stderr}"
    findings = []
    for line in result.stdout.splitlines():
        if line.strip():
            usage = json.loads(line)
            findings.append(Finding(usage["feature"], usage["message"]))
    return findings


def css_rules(css: str) -> list[tuple[str, str]]:
    """``(selectors, declarations)`` of every style rule, those inside @media and @supports
    included (comments removed; our stylesheet has no braces in strings)."""
    css = re.sub(r"/\*.*?\*/", "", css, flags=re.DOTALL)
    return [
        (" ".join(selectors.split()), body)
        for selectors, body in re.findall(r"([^{}]+)\{([^{}]*)\}", css)
    ]


def declarations(body: str) -> list[tuple[str, str]]:
    pairs = []
    for declaration in body.split(";"):
        if ":" in declaration:
            name, value = declaration.split(":", 1)
            pairs.append((name.strip().lower(), " ".join(value.split())))
    return pairs


def supports_blocks(css: str) -> list[tuple[str, str]]:
    """``(condition, text)`` of each ``@supports`` block (no nesting inside them here)."""
    return re.findall(r"@supports\s*([^{]+)\{((?:[^{}]*\{[^{}]*\})*\s*)\}", css)


# The tools themselves, on what they must refuse -----------------------------------------------


def test_es_check_refuses_es2015(tmp_path: Path) -> None:
    script = tmp_path / "modern.js"
    script.write_text("const greet = (name) => `hello ${name}`;\n")
    result = run_tool("es-check", "es5", "--checkFeatures", str(script))
    assert result.returncode != 0, result.stdout + result.stderr


def test_doiuse_reports_flexbox_gap_and_calc(tmp_path: Path) -> None:
    stylesheet = tmp_path / "modern.css"
    stylesheet.write_text(".row { display: flex; gap: 1rem; width: calc(100% - 2rem); }\n")
    features = {finding.feature for finding in doiuse(stylesheet)}
    assert {"flexbox", "flexbox-gap", "calc"} <= features


def test_the_query_names_the_policy_browsers() -> None:
    assert POLICY_QUERY == (
        "chrome >= 24, firefox >= 20, ie >= 11, opera 15-18, safari >= 7, firefox 18-26"
    )
    result = run_tool("browserslist", POLICY_QUERY)
    assert result.returncode == 0, result.stderr
    browsers = set(result.stdout.split("\n"))
    oldest = {"chrome 24", "firefox 18", "ie 11", "opera 15", "opera 18", "safari 7"}
    assert oldest <= browsers
    assert not {"ie 10", "opera 19", "safari 6.1", "chrome 23", "firefox 17"} & browsers


# The shipped files ------------------------------------------------------------------------------


def test_every_script_is_es5() -> None:
    scripts = sorted(STATIC.glob("*.js"))
    assert scripts, f"no script in {STATIC}"
    result = run_tool("es-check", "es5", "--checkFeatures", *map(str, scripts))
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_stylesheet_uses_only_accepted_features() -> None:
    findings = doiuse(STYLESHEET)
    unexpected = [f.message for f in findings if f.feature not in ACCEPTED]
    assert not unexpected, "remove these or give them a fallback:\n" + "\n".join(unexpected)
    stale = sorted(set(ACCEPTED) - {finding.feature for finding in findings})
    assert not stale, f"ACCEPTED lists features the stylesheet no longer uses: {stale}"


def covers(plain: tuple[str, str], name: str, value: str) -> bool:
    """Whether the declaration ``plain`` sets ``name`` to ``value``: the same property, or its
    shorthand (``border`` for ``border-color``) with ``value`` among its parts."""
    plain_name, plain_value = plain
    if plain_name == name:
        return plain_value == value
    return name.startswith(plain_name + "-") and value in plain_value.split()


def test_each_custom_property_has_a_plain_declaration_first() -> None:
    checked = 0
    for selectors, body in css_rules(STYLESHEET.read_text("utf-8")):
        previous = ("", "")
        for name, value in declarations(body):
            assert not name.startswith("--"), f"{selectors} defines {name}: set no defaults"
            if "var(" in value:
                fallback = re.fullmatch(r"var\(--[\w-]+,\s*(.+)\)", value)
                assert fallback, f"{selectors} {{ {name}: {value} }} has no fallback value"
                assert covers(previous, name, fallback.group(1)), (
                    f"{selectors} {{ {name}: {value} }} follows {previous}, not its plain value"
                )
                checked += 1
            previous = (name, value)
    assert checked > 10, "the stylesheet was not read"


def test_text_decoration_uses_css21_keywords_only() -> None:
    values = {
        value
        for _, body in css_rules(STYLESHEET.read_text("utf-8"))
        for name, value in declarations(body)
        if name == "text-decoration"
    }
    assert values == {"none", "underline"}


def test_appearance_only_where_it_is_supported() -> None:
    css = STYLESHEET.read_text("utf-8")
    blocks = supports_blocks(css)
    assert [condition.strip() for condition, _ in blocks] == ["(appearance: none)"]
    inside = sum(
        name.endswith("appearance")
        for _, body in css_rules(blocks[0][1])
        for name, _ in declarations(body)
    )
    everywhere = sum(
        name.endswith("appearance") for _, body in css_rules(css) for name, _ in declarations(body)
    )
    assert inside == everywhere == 2


def test_every_selector_is_scoped_to_our_elements() -> None:
    selectors = [
        selector.strip()
        for group, _ in css_rules(STYLESHEET.read_text("utf-8"))
        for selector in group.split(",")
    ]
    assert len(selectors) > 50, "the stylesheet was not read"
    foreign = [selector for selector in selectors if not OWN_SELECTOR.match(selector)]
    assert not foreign, f"selectors that can style the host page: {foreign}"


def test_no_layout_that_css21_engines_lack() -> None:
    """Also without node: flexbox, grid, gap, inset, calc() and viewport units stay out."""
    css = re.sub(r"/\*.*?\*/", "", STYLESHEET.read_text("utf-8"), flags=re.DOTALL)
    modern = r"display:\s*(?:inline-)?(?:flex|grid)|\b(?:gap|inset):|calc\(|\d(?:vw|vh|vmin)\b"
    assert re.findall(modern, css) == []
