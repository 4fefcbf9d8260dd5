"""Refreshes the shipped browser release data: ``.venv/bin/python scripts/update_browser_data.py``.

It reads the npm packages pinned in ``tools/frontend/package.json`` (install them with
``npm ci --prefix tools/frontend``): ``caniuse-lite``, the release data browserslist itself uses,
and ``browserslist``, whose own definitions (``defaults``, ``dead``, the Firefox ESR release, the
browser name aliases) go into the file too, so that ``consent.browser.browserslist`` answers as
the browserslist of the same release. To refresh, raise both pins in
``tools/frontend/package.json`` (``npm install --prefix tools/frontend caniuse-lite@latest
browserslist@latest``), run this script, then ``node scripts/browserslist_golden.mjs`` and the
tests of ``tests/browser/``.

caniuse-lite stores its data packed (``data/agents.js`` with one-letter keys and release dates
as day counts). This script does not read the packed form itself: it runs ``node`` once, which
loads caniuse-lite's own unpacker (``dist/unpacker/agents.js``) and browserslist, and prints
what they hold as JSON. Python then checks it and writes it compactly.

Written, beside each other in ``src/consent/browser/data/``:

* ``browsers.json``: the source packages and their versions, the data's date (the newest
  release date in it, which is what browserslist's freshness warning measures), browserslist's
  definitions, and per caniuse agent (in caniuse's order): its versions in release order, how
  many of them are released (browserslist leaves out caniuse's last three, future, slots), each
  version's release date and global usage share, and the versions browserslist calls ``dead``;
* ``LICENSE-caniuse-lite``: caniuse-lite's licence (CC BY 4.0), copied from the package.

``--output FOLDER`` writes both elsewhere (the tests regenerate into a temporary folder and
compare); ``--frontend FOLDER`` names another npm project holding the two packages.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
FRONTEND = REPO / "tools" / "frontend"
OUTPUT = REPO / "src" / "consent" / "browser" / "data"
DATA_NAME = "browsers.json"
LICENSE_NAME = "LICENSE-caniuse-lite"
#: caniuse keeps this many slots after the released versions (beta, nightly, …); browserslist
#: counts a version as released when it is not in them.
FUTURE_SLOTS = 3
DAY_SECONDS = 86_400
#: A key JavaScript enumerates before the others of an object, in numeric order.
ARRAY_INDEX = re.compile(r"0|[1-9][0-9]{0,8}")
#: Node loads two packages and prints about 100 KB: seconds at most, even on a busy machine.
NODE_SECONDS = 60

#: Run by node inside the npm project: caniuse-lite unpacked, and browserslist's definitions.
#: browserslist must resolve the same caniuse-lite, or its ``dead`` would come from other data.
NODE_PROGRAM = r"""
const path = require('path')
const { createRequire } = require('module')
const local = createRequire(path.join(process.argv[1], 'package.json'))
const caniuse = local.resolve('caniuse-lite/package.json')
const own = createRequire(local.resolve('browserslist')).resolve('caniuse-lite/package.json')
if (own !== caniuse) {
  throw new Error('browserslist uses another caniuse-lite: ' + own + ', not ' + caniuse)
}
const browserslist = local('browserslist')
const pick = (query) => browserslist(query).map((entry) => entry.split(' '))
process.stdout.write(JSON.stringify({
  caniuse: local('caniuse-lite/package.json'),
  caniuseLicense: path.join(path.dirname(caniuse), 'LICENSE'),
  browserslist: local('browserslist/package.json'),
  agents: local('caniuse-lite/dist/unpacker/agents').agents,
  defaults: browserslist.defaults,
  aliases: browserslist.aliases,
  dead: pick('dead'),
  firefoxEsr: pick('firefox esr'),
}))
"""


class DataError(Exception):
    """The npm packages hold something this script does not know how to carry over."""


def read_packages(frontend: Path) -> dict[str, Any]:
    """What node reads from caniuse-lite and browserslist in ``frontend``'s node_modules."""
    node = shutil.which("node")
    if node is None:
        raise DataError("node is not installed; it runs caniuse-lite's unpacker")
    if not (frontend / "node_modules" / "caniuse-lite").is_dir():
        raise DataError(f"no caniuse-lite in {frontend}; run: npm ci --prefix {frontend}")
    # Only what node needs: browserslist reads BROWSERSLIST_* settings from the environment.
    environment = {"PATH": os.environ.get("PATH", ""), "BROWSERSLIST_IGNORE_OLD_DATA": "1"}
    completed = subprocess.run(
        [node, "-e", NODE_PROGRAM, str(frontend.resolve())],
        capture_output=True,
        text=True,
        timeout=NODE_SECONDS,
        env=environment,
        check=False,
    )
    if completed.returncode != 0:
        raise DataError(f"node failed:\n{completed.stderr.strip()}")
    packages: dict[str, Any] = json.loads(completed.stdout)
    return packages


def build_document(packages: dict[str, Any]) -> dict[str, Any]:
    """The shipped file's content, checked: every assumption the resolver makes holds."""
    dead = _versions_by_agent(packages["dead"])
    (esr_agent, esr_version), *others = packages["firefoxEsr"]
    if esr_agent != "firefox" or others:
        raise DataError(f"'firefox esr' gave {packages['firefoxEsr']}")
    agents = {
        name: _agent(name, agent, dead.pop(name, [])) for name, agent in packages["agents"].items()
    }
    if dead:
        raise DataError(f"'dead' names agents caniuse-lite does not have: {sorted(dead)}")
    newest = max(
        (date for agent in agents.values() for date in agent["dates"] if date is not None),
        default=None,
    )
    if newest is None:
        raise DataError("caniuse-lite has no release dates")
    return {
        "source": {
            "package": packages["caniuse"]["name"],
            "version": packages["caniuse"]["version"],
            "license": packages["caniuse"]["license"],
            "date": newest,
        },
        "browserslist": {
            "package": packages["browserslist"]["name"],
            "version": packages["browserslist"]["version"],
            "defaults": packages["defaults"],
            "aliases": packages["aliases"],
            "firefox_esr": esr_version,
        },
        "agents": agents,
    }


def _versions_by_agent(entries: list[list[str]]) -> dict[str, list[str]]:
    grouped: dict[str, list[str]] = {}
    for name, version in entries:
        grouped.setdefault(name, []).append(version)
    return grouped


def _agent(name: str, agent: dict[str, Any], dead: list[str]) -> dict[str, Any]:
    slots: list[str | None] = agent["versions"]
    versions = [version for version in slots if version is not None]
    released = [version for version in slots[:-FUTURE_SLOTS] if version is not None]
    if versions[: len(released)] != released:
        raise DataError(f"{name}: a released version follows an unreleased one")
    if len(set(versions)) != len(versions) or any(" " in version for version in versions):
        raise DataError(f"{name}: versions repeat or hold a space: {versions}")
    usage: dict[str, float | None] = agent["usage_global"]
    if set(usage) != set(versions) or any(share is None for share in usage.values()):
        raise DataError(f"{name}: global usage is not given for exactly its versions")
    # `cover` walks the usage in JavaScript's key order (integer-like keys first); the resolver
    # rebuilds that order from the versions, which holds while the rest keep release order.
    if [key for key in usage if not ARRAY_INDEX.fullmatch(key)] != [
        version for version in versions if not ARRAY_INDEX.fullmatch(version)
    ]:
        raise DataError(f"{name}: global usage is not in release order")
    dates: dict[str, int | None] = agent["release_date"]
    if set(dates) != set(versions):
        raise DataError(f"{name}: release dates are not given for exactly its versions")
    if any(date is not None and date % DAY_SECONDS for date in dates.values()):
        raise DataError(f"{name}: a release date is not a whole day")
    unknown_dead = set(dead) - set(released)
    if unknown_dead:
        raise DataError(f"{name}: 'dead' selects versions that are not released: {unknown_dead}")
    return {
        "title": agent["browser"],
        "released": len(released),
        "versions": versions,
        "dates": [_iso_date(dates[version]) for version in versions],
        "usage": [usage[version] for version in versions],
        "dead": [version for version in versions if version in dead],
    }


def _iso_date(seconds: int | None) -> str | None:
    if seconds is None:
        return None
    return (datetime.date(1970, 1, 1) + datetime.timedelta(seconds=seconds)).isoformat()


def render(document: dict[str, Any]) -> str:
    """JSON with one line per field of an agent: small, and a refresh diffs agent by agent."""

    def dense(value: Any) -> str:
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False)

    lines = ["{"]
    for key in ("source", "browserslist"):
        lines.append(f" {dense(key)}:{dense(document[key])},")
    lines.append(' "agents":{')
    names = list(document["agents"])
    for index, name in enumerate(names):
        fields = document["agents"][name]
        lines.append(f"  {dense(name)}:{{")
        lines.append(
            ",\n".join(f"   {dense(field)}:{dense(value)}" for field, value in fields.items())
        )
        lines.append("  }" + ("," if index < len(names) - 1 else ""))
    lines.append(" }")
    lines.append("}")
    return "\n".join(lines) + "\n"


def write(frontend: Path, output: Path) -> Path:
    packages = read_packages(frontend)
    document = build_document(packages)
    output.mkdir(parents=True, exist_ok=True)
    target = output / DATA_NAME
    target.write_text(render(document), encoding="utf-8")
    shutil.copyfile(packages["caniuseLicense"], output / LICENSE_NAME)
    return target


def main(arguments: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frontend", type=Path, default=FRONTEND)
    parser.add_argument("--output", type=Path, default=OUTPUT)
    options = parser.parse_args(arguments)
    try:
        target = write(options.frontend, options.output)
    except DataError as error:
        print(f"update_browser_data: {error}", file=sys.stderr)
        return 1
    print(f"update_browser_data: wrote {target} ({target.stat().st_size} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
