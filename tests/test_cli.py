"""The ``consent`` command: ``check`` classifies a User-Agent, ``browsers`` prints the resolved
rules, ``demo`` serves the example site."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from consent.browser.browserslist import load_data, minimum_versions, resolve
from consent.cli import main
from tests.support import CHROME, OLD_FIREFOX, REPO

IE_11 = "Mozilla/5.0 (Windows NT 6.1; WOW64; Trident/7.0; rv:11.0) like Gecko"


def query_policy(tmp_path: Path, query: str, rules: str = "") -> Path:
    policy = tmp_path / "policy.toml"
    policy.write_text(f"browserslist = {json.dumps(query)}\n[browsers]\n{rules}")
    return policy


def test_check_prints_family_version_rule_and_verdict(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", OLD_FIREFOX]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines == [
        "family:  Firefox",
        "version: 10.0",
        "rule:    firefox (20)",
        "verdict: outdated",
    ]


def test_check_a_current_browser_with_client_hints(capsys: pytest.CaptureFixture[str]) -> None:
    hints = '"Chromium";v="131.0.6778.85", "Google Chrome";v="131.0.6778.85"'
    assert main(["check", CHROME, "--client-hints", hints]) == 0
    out = capsys.readouterr().out
    assert "version: 131.0.6778.85" in out
    assert "verdict: supported" in out


def test_check_reads_the_rules_of_a_settings_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    policy = tmp_path / "policy.toml"
    policy.write_text('[browsers]\nfirefox = "unsupported"\n')
    assert main(["check", OLD_FIREFOX, "--settings", str(policy)]) == 0
    assert "verdict: unsupported" in capsys.readouterr().out


def test_check_names_a_bad_setting_and_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    policy = tmp_path / "policy.toml"
    policy.write_text('[browsers]\nfirefox = "twenty"\n')
    assert main(["check", OLD_FIREFOX, "--settings", str(policy)]) == 2
    assert "browsers.firefox" in capsys.readouterr().err


def test_check_names_the_query_that_decided(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    oldest = minimum_versions(resolve("defaults"))["chrome"]
    policy = query_policy(tmp_path, "defaults", 'firefox = "esr"\n')
    assert (
        main(["check", CHROME.replace("120.0", f"{int(oldest) - 1}.0"), "--settings", str(policy)])
        == 0
    )
    lines = capsys.readouterr().out.splitlines()
    assert lines[2:] == [
        f'rule:    chrome (from browserslist "defaults": >= {oldest})',
        "verdict: outdated",
    ]
    assert main(["check", IE_11, "--settings", str(policy)]) == 0
    assert 'rule:    ie (from browserslist "defaults": unsupported)' in capsys.readouterr().out
    assert main(["check", OLD_FIREFOX, "--settings", str(policy)]) == 0
    esr = load_data().firefox_esr
    assert f"rule:    firefox (esr: >= {esr})" in capsys.readouterr().out


def test_browsers_prints_the_resolved_minimums(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    minimums = minimum_versions(resolve("defaults"))
    policy = query_policy(tmp_path, "defaults", 'chrome = "100"\n')
    assert main(["browsers", "--settings", str(policy)]) == 0
    out = capsys.readouterr().out
    rows = {line.split()[0]: line.split(maxsplit=1)[1] for line in out.splitlines()}
    assert rows["query:"] == 'browserslist "defaults"'
    assert rows["chrome"].split() == [">=", "100", "browsers.chrome", "=", '"100"']
    assert rows["firefox"].split()[:2] == [">=", minimums["firefox"]]
    assert rows["firefox"].endswith('from browserslist "defaults"')
    assert rows["ie"].split()[0] == "unsupported"
    assert "seamonkey" not in rows  # the seed's rules are not merged into a query's
    # Without a query or settings: the seed's rules.
    assert main(["browsers"]) == 0
    assert 'seamonkey  2.15-2.23    browsers.seamonkey = "2.15-2.23"' in capsys.readouterr().out


def test_browsers_json_carries_the_data_source(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = load_data()
    policy = query_policy(tmp_path, "last 2 versions, not dead")
    assert main(["browsers", "--json", "--settings", str(policy)]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["data"] == {
        "package": data.package,
        "version": data.version,
        "date": data.date.isoformat(),
        "license": data.license,
        "browserslist": data.browserslist_version,
    }
    assert printed["query"]["entries"] == ["last 2 versions, not dead"]
    resolved = resolve("last 2 versions, not dead")
    assert printed["selected"] == resolved
    chrome = printed["rules"]["chrome"]
    assert chrome["minimum"] == min(resolved["chrome"], key=int)
    assert (chrome["maximum"], chrome["unsupported"]) == (None, False)
    assert printed["rules"]["ie"]["unsupported"] is True


def test_a_bad_query_exits_2_and_marks_the_part(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    policy = query_policy(tmp_path, "defaults, chrom > 100")
    assert main(["browsers", "--settings", str(policy)]) == 2
    err = capsys.readouterr().err.splitlines()
    assert "browserslist: unknown browser `chrom`" in err[0]
    assert err[-2:] == ["    defaults, chrom > 100", "              ^^^^^"]


def test_demo_with_an_app_that_does_not_import_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--app", "no_such_module_here:app"]) == 2
    assert "cannot import no_such_module_here" in capsys.readouterr().err


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_demo_serves_the_example_site_with_the_banner() -> None:
    """The README's first command, as a visitor sees it."""
    port = free_port()
    command = [sys.executable, "-m", "consent.cli", "demo", "--port", str(port)]
    env = {key: value for key, value in os.environ.items() if not key.startswith("CONSENT_")}
    env["CONSENT_RECORDS_URL"] = (
        "none"  # the demo's default store would be a file in the repository
    )
    env["CONSENT_COOKIE_INVENTORY"] = "none"  # so would its cookie inventory
    server = subprocess.Popen(
        command, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                request = urllib.request.Request(
                    f"http://127.0.0.1:{port}/", headers={"User-Agent": OLD_FIREFOX}
                )
                with urllib.request.urlopen(request, timeout=5) as response:
                    page = response.read().decode()
                break
            except OSError:
                assert server.poll() is None, server.stderr.read().decode() if server.stderr else ""
                assert time.monotonic() < deadline, "the demo did not answer within 30 s"
                time.sleep(0.2)
        assert 'id="consent-banner"' in page
        assert 'id="browser-notice"' in page
    finally:
        server.send_signal(signal.SIGINT)
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
