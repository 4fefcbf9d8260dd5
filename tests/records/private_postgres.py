"""A PostgreSQL server a test owns, so that stopping it disturbs nothing else.

``initdb`` and ``pg_ctl`` come from Debian's ``/usr/lib/postgresql/<version>/bin`` (the newest) or
the ``PATH``; the data directory and socket are in the test's folder, or, as root, in a folder of
the system's temporary one given to the ``postgres`` account; the server listens on a free port
of 127.0.0.1 with trust authentication.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.records.helpers import free_port
from tests.support import require_tool

#: Where Debian installs each PostgreSQL version's programs.
DEBIAN_POSTGRES = Path("/usr/lib/postgresql")
#: The account a PostgreSQL server runs as when the tests run as root (it refuses root).
POSTGRES_ACCOUNT = "postgres"
#: Seconds ``initdb`` and ``pg_ctl`` may take on a busy machine.
POSTGRES_COMMAND_TIMEOUT = 60


def _postgres_programs() -> Path:
    """The folder of ``initdb`` and ``pg_ctl``: Debian's newest version, else the ``PATH``'s."""
    versions = [
        folder.parent
        for folder in DEBIAN_POSTGRES.glob("*/bin/initdb")
        if folder.parent.parent.name.isdigit()
    ]
    if versions:
        return max(versions, key=lambda folder: int(folder.parent.name))
    why = "the database-outage test runs a PostgreSQL server of its own"
    return Path(require_tool("initdb", why)).parent


class PrivatePostgres:
    """A PostgreSQL server this test owns: data directory and socket in ``folder``, a free port
    on 127.0.0.1, the ``postgres`` role with trust authentication. As root, its programs run as
    the ``postgres`` account (``runuser``) on a folder given to it."""

    def __init__(self, folder: Path) -> None:
        self.programs = _postgres_programs()
        self.folder = folder
        self.data = folder / "data"
        self.log = folder / "server.log"
        self.port = free_port()
        self.url = f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/postgres"
        self.as_owner: list[str] = []
        if os.geteuid() == 0:
            runuser = require_tool("runuser", "PostgreSQL refuses to run as root")
            try:
                self.account = pwd.getpwnam(POSTGRES_ACCOUNT)
            except KeyError:
                reason = f"no {POSTGRES_ACCOUNT} account to run PostgreSQL as (it refuses root)"
                if os.environ.get("CI"):
                    pytest.fail(f"{reason} (CI must run these tests)")
                pytest.skip(reason)
            self.as_owner = [runuser, "-u", POSTGRES_ACCOUNT, "--"]

    def _run(self, program: str, *arguments: str) -> None:
        command = [*self.as_owner, str(self.programs / program), *arguments]
        done = subprocess.run(
            command,
            cwd=self.folder,
            capture_output=True,
            text=True,
            timeout=POSTGRES_COMMAND_TIMEOUT,
            check=False,
        )
        log = self.log.read_text(errors="replace") if self.log.exists() else ""
        assert done.returncode == 0, f"{command}: {done.stdout}{done.stderr}\n{log[-4000:]}"

    def create(self) -> None:
        self.folder.mkdir(exist_ok=True)
        if self.as_owner:
            os.chown(self.folder, self.account.pw_uid, self.account.pw_gid)
        self._run(
            "initdb",
            *("-D", str(self.data), "-U", "postgres", "--auth=trust"),
            *("--encoding=UTF8", "--locale=C", "--no-sync"),
        )
        with (self.data / "postgresql.conf").open("a") as config:
            config.write(
                f"port = {self.port}\n"
                "listen_addresses = '127.0.0.1'\n"
                f"unix_socket_directories = '{self.folder}'\n"
            )

    def start(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-w", "-t", "30", "start")

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "30", "stop")

    def running(self) -> bool:
        return (self.data / "postmaster.pid").exists()


@pytest.fixture
def private_postgres(tmp_path: Path) -> Iterator[PrivatePostgres]:
    """The server, in the test's folder; as root, in a folder of the system's temporary one
    instead, given to the server's account: that account could not pass through the test's
    folder (pytest keeps its parent private, and takes back any permission given on it when
    another session starts)."""
    if os.geteuid() != 0:
        folder = tmp_path / "postgres"
    else:
        folder = Path(tempfile.mkdtemp(prefix="consent-test-postgres-"))
    server = PrivatePostgres(folder)
    try:
        server.create()
        server.start()
        yield server
    finally:
        if server.running():
            server.stop("immediate")
        if not folder.is_relative_to(tmp_path):
            shutil.rmtree(folder, ignore_errors=True)
