"""``consent cookies``: the inventory against the declarations, and ``--check``'s exit status."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from consent.choice.inventory import Inventory, Sighting, merge_into_file
from consent.cli import main

POLICY = """
secret_keys = ["k"]
records_url = "none"
cookie_inventory = "{inventory}"

[categories.necessary]
label = "Necessary"
required = true
cookies = ["session"]

[categories.analytics]
label = "Analytics"
cookies = ["_ga"]

[[categories.analytics.declarations]]
name = "_ga_*"
provider = "Google Analytics"
purpose = "Keeps the state of the visit."
duration = "2 years"

[categories.marketing]
label = "Marketing"
cookies = ["_fbp"]
"""


def seen(**names: str) -> Inventory:
    """An inventory whose names were set by the server ("server") or only sent back by
    browsers ("browser")."""
    return Inventory(
        {
            name: Sighting(
                "2026-12-01T10:00:00Z",
                "2026-12-04T18:00:00Z",
                set_by_server=origin == "server",
                sent_by_browsers=True,
            )
            for name, origin in names.items()
        }
    )


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    """A settings file and the inventory file it names (no environment variable overrides
    it, as the suite's own fixture does)."""
    monkeypatch.delenv("CONSENT_COOKIE_INVENTORY", raising=False)
    inventory = tmp_path / "inventory.json"
    settings = tmp_path / "policy.toml"
    settings.write_text(POLICY.format(inventory=inventory), encoding="utf-8")
    return settings, inventory


def test_check_fails_on_an_undeclared_cookie_and_names_it(
    site: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    settings, inventory = site
    merge_into_file(
        inventory, seen(session="server", _ga="server", _ga_XYZ="browser", _hjid="browser")
    )
    status = main(["cookies", "--settings", str(settings), "--check"])
    out, err = capsys.readouterr()
    assert status == 1
    assert "1 undeclared cookie: _hjid (set by a script)" in err
    lines = out.splitlines()
    assert lines[0] == f"Cookie inventory {inventory}: 4 names"
    undeclared = lines[lines.index("undeclared") + 1]
    assert undeclared.split()[:2] == ["_hjid", "seen"]
    assert "seen only from browsers (set by a script)" in undeclared
    assert "first seen 2026-12-01T10:00:00Z, last seen 2026-12-04T18:00:00Z" in undeclared
    marketing = lines[lines.index("marketing") + 1]
    assert marketing.split() == ["_fbp", "declared,", "never", "seen"]
    analytics = lines[lines.index("analytics") + 1 : lines.index("marketing") - 1]
    assert [line.split()[0] for line in analytics] == ["_ga", "_ga_XYZ"]  # the glob is seen


def test_without_check_the_report_is_printed_and_the_status_is_0(
    site: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    settings, inventory = site
    merge_into_file(inventory, seen(_hjid="server"))
    assert main(["cookies", "--settings", str(settings)]) == 0
    out, err = capsys.readouterr()
    assert "_hjid" in out and "set by the server" in out
    assert err == ""


def test_check_passes_when_every_name_is_declared(
    site: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    settings, inventory = site
    merge_into_file(inventory, seen(session="server", _fbp="server"))
    assert main(["cookies", "--settings", str(settings), "--check"]) == 0
    out, _ = capsys.readouterr()
    assert "undeclared\n  (none)" in out
    assert "_ga_*" in out and "declared, never seen" in out


def test_a_missing_or_broken_inventory_exits_2_with_the_reason(
    site: tuple[Path, Path], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    settings, inventory = site
    assert main(["cookies", "--settings", str(settings), "--check"]) == 2
    assert f"no inventory at {inventory}" in capsys.readouterr().err
    inventory.write_text("[]", encoding="utf-8")
    assert main(["cookies", "--settings", str(settings)]) == 2
    assert "cannot read" in capsys.readouterr().err
    other = tmp_path / "other.json"
    merge_into_file(other, seen(_hjid="browser"))
    assert main(["cookies", "--settings", str(settings), "--inventory", str(other)]) == 0


def test_inventory_off_without_a_file_given_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = tmp_path / "policy.toml"
    settings.write_text('secret_keys = ["k"]\ncookie_inventory = "none"\n', encoding="utf-8")
    assert main(["cookies", "--settings", str(settings)]) == 2
    assert "cookie_inventory is 'none'" in capsys.readouterr().err


def test_the_installed_command_exits_1_on_an_undeclared_cookie(site: tuple[Path, Path]) -> None:
    settings, inventory = site
    merge_into_file(inventory, seen(_hjid="browser"))
    command = Path(sys.executable).with_name("consent")
    result = subprocess.run(
        [str(command), "cookies", "--settings", str(settings), "--check"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=os.environ.copy(),
    )
    assert result.returncode == 1, result.stderr
    assert "consent cookies --check: 1 undeclared cookie: _hjid" in result.stderr
