"""What every benchmark script shares: its command line, its report and exit status, and the
uvicorn processes it serves from.

A script builds its parser with :func:`command_line` (``--quick`` and ``--json``), prints its
result with :func:`report` (a plain-text table, or the same result as JSON) and is started by
:func:`run`, which turns a :class:`BrokenError` into one line on stderr and exit status 1. No
figure fails a script: only a broken set-up does.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Collection, Sequence
from functools import partial
from pathlib import Path
from typing import Any, NoReturn

REPO = Path(__file__).resolve().parents[1]

#: Seconds a uvicorn process may take to listen, and to exit once asked (valgrind is slow).
SERVER_START_SECONDS = 300.0
SERVER_STOP_SECONDS = 120.0


class BrokenError(Exception):
    """The set-up or an app misbehaved (a wrong status, a banner where none belongs, a server
    that does not start): never a figure."""


# --- command line and report -----------------------------------------------------------------


def command_line(doc: str, quick: str, *, json_output: bool = True) -> argparse.ArgumentParser:
    """A parser described by the first paragraph of ``doc``, with ``--quick`` (``quick`` says
    what it runs) and, unless ``json_output`` is off, ``--json``."""
    parser = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help=quick)
    if json_output:
        parser.add_argument("--json", action="store_true", help="print the results as JSON")
    return parser


def report(
    result: dict[str, Any], as_json: bool, print_text: Callable[[dict[str, Any]], None]
) -> int:
    """Print ``result`` as JSON, or as ``print_text`` writes it; exit status 0."""
    if as_json:
        print(json.dumps(result, indent=2))
    else:
        print_text(result)
    return 0


def print_columns(
    headers: Sequence[str], lines: Sequence[Sequence[object]], left: Collection[int] = (0,)
) -> None:
    """Print ``lines`` under ``headers`` and a rule, each column as wide as its widest cell:
    the columns numbered in ``left`` aligned left, the others (figures) right."""
    rows = [tuple(map(str, line)) for line in (headers, *lines)]
    widths = [max(map(len, column)) for column in zip(*rows, strict=True)]
    for row in (rows[0], tuple("-" * width for width in widths), *rows[1:]):
        print(
            "  ".join(
                cell.ljust(width) if i in left else cell.rjust(width)
                for i, (cell, width) in enumerate(zip(row, widths, strict=True))
            )
        )


def run(main: Callable[[], int]) -> NoReturn:
    """Exit with ``main()``'s status; a broken set-up is reported on stderr, with status 1."""
    try:
        code = main()
    except (BrokenError, subprocess.CalledProcessError) as error:
        print(f"{Path(sys.argv[0]).stem}: BROKEN: {error}", file=sys.stderr)
        code = 1
    sys.exit(code)


# --- uvicorn -----------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class UvicornServer:
    """``python -m uvicorn benchmarks.apps:<app_name>`` on a free port of 127.0.0.1: one worker,
    quiet, run from the repository root, optionally under ``wrapper`` (valgrind) and pinned to
    ``cpus``. An ``app_name`` with a colon is a whole import string (``module:attribute``).
    Its output is kept for the error message of a server that fails."""

    def __init__(
        self,
        app_name: str,
        http: str = "h11",
        *,
        options: Sequence[str] = (),
        wrapper: Sequence[str] = (),
        cpus: set[int] | None = None,
        env: dict[str, str] | None = None,
    ) -> None:
        self.app_name = app_name
        self.port = free_port()
        self.command = [
            *wrapper, sys.executable, "-m", "uvicorn",
            app_name if ":" in app_name else f"benchmarks.apps:{app_name}",
            "--host", "127.0.0.1", "--port", str(self.port),
            "--log-level", "warning", "--no-access-log", "--http", http, *options,
        ]  # fmt: skip
        self.cpus = cpus
        self.env = env
        self.log = tempfile.TemporaryFile()  # noqa: SIM115 (closed in stop)
        self.process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> UvicornServer:
        self.start()
        self.wait_listening()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def start(self) -> None:
        affinity = None if self.cpus is None else partial(os.sched_setaffinity, 0, self.cpus)
        self.process = subprocess.Popen(
            self.command,
            cwd=REPO,
            env=self.env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            preexec_fn=affinity,
        )

    def wait_listening(self) -> None:
        """Return once the server accepts connections (uvicorn listens after its start-up)."""
        deadline = time.monotonic() + SERVER_START_SECONDS
        while True:
            if self.process is None or self.process.poll() is not None:
                raise BrokenError(f"uvicorn {self.app_name} exited:\n{self.output()[-2000:]}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return
            except OSError:
                if time.monotonic() > deadline:
                    raise BrokenError(
                        f"uvicorn {self.app_name} did not listen in {SERVER_START_SECONDS:g} s"
                    ) from None
                time.sleep(0.1)

    def stop(self) -> None:
        """Ask the server to shut down (SIGINT, as Ctrl-C), kill it if it does not, and keep
        its output readable."""
        process = self.process
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=SERVER_STOP_SECONDS)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def output(self) -> str:
        self.log.seek(0)
        return self.log.read().decode("utf-8", "replace")

    def close(self) -> None:
        self.stop()
        self.log.close()
