"""consent-mode.js as the server serves it, run in node against a script element: every Google
consent type is in the default command, denied unless every category mapped onto it is granted,
whatever the tag names. A page rendered by an earlier version (cached, or served by an old
instance during a rolling deploy) loads the current script, since the static route serves it
whatever ``?v=`` the page asks for."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from consent.page.render import load_assets
from consent.settings import GOOGLE_CONSENT_TYPES
from tests.support import require_tool

#: The data-types attribute of the default mapping, as every tag carries it.
DEFAULT_TYPES = (
    "necessary=functionality_storage security_storage;analytics=analytics_storage;"
    "marketing=ad_storage ad_user_data ad_personalization"
)
#: Runs the script against a script element with the given attributes; prints the dataLayer.
RUNNER = """
var vm = require("vm"), fs = require("fs");
var attributes = JSON.parse(process.argv[2]);
var script = {getAttribute: function (name) {
  return Object.prototype.hasOwnProperty.call(attributes, name) ? attributes[name] : null; }};
var page = {document: {currentScript: script, addEventListener: function () {}}};
page.window = page;
vm.createContext(page);
vm.runInContext(fs.readFileSync(process.argv[1], "utf8"), page);
console.log(JSON.stringify(Array.prototype.map.call(page.dataLayer, function (call) {
  return Array.prototype.slice.call(call); })));
"""


def default_command(attributes: dict[str, str], folder: Path) -> dict[str, str]:
    node = require_tool("node", "these tests run consent-mode.js")
    script = folder / "consent-mode.js"
    script.write_bytes(load_assets()["consent-mode.js"].body)
    out = subprocess.run(
        [node, "-e", RUNNER, str(script), json.dumps(attributes)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    calls = json.loads(out)
    assert calls[0][:2] == ["consent", "default"]
    return dict(calls[0][2])


NECESSARY = {"functionality_storage", "security_storage"}


@pytest.mark.parametrize(
    ("attributes", "granted"),
    [
        ({"data-granted": "necessary", "data-types": DEFAULT_TYPES}, NECESSARY),
        (
            {"data-granted": "analytics necessary", "data-types": DEFAULT_TYPES},
            NECESSARY | {"analytics_storage"},
        ),
        (
            {"data-granted": "necessary", "data-types": "necessary=analytics_storage"},
            {"analytics_storage"},
        ),
        ({"data-granted": "necessary"}, set()),
    ],
    ids=["default mapping", "analytics granted", "one type mapped", "no data-types"],
)
def test_every_google_type_is_in_the_default_command(
    attributes: dict[str, str], granted: set[str], tmp_path: Path
) -> None:
    state = default_command(attributes, tmp_path)
    assert list(state) == list(GOOGLE_CONSENT_TYPES)
    assert {name for name, value in state.items() if value == "granted"} == granted
