"""The ``consent`` command: ``check`` classifies a User-Agent, ``demo`` serves the example site."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from consent.cli import main
from tests.support import CHROME, OLD_FIREFOX, REPO


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
