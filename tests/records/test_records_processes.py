"""Two uvicorn processes sharing one PostgreSQL keep every acknowledged decision exactly once,
a client's retries (the same ``Idempotency-Key``, sent to both) included."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.records.helpers import run, stored_ids

REPO = Path(__file__).resolve().parents[2]
#: Distinct decisions in the load, each sent to one process and retried on the other.
DECISIONS = 300
CONCURRENCY = 32


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _serve(url: str, spool: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    env = {key: value for key, value in os.environ.items() if not key.startswith("CONSENT_")}
    env |= {
        "CONSENT_SECRET_KEYS": '["process-test-key"]',
        "CONSENT_RECORDS_URL": url,
        "CONSENT_RECORDS_SPOOL": str(spool),
    }
    command = [sys.executable, "-m", "uvicorn", "tests.records.server_app:app"]
    command += ["--port", str(port), "--log-level", "warning", "--lifespan", "on"]
    process = subprocess.Popen(command, cwd=REPO, env=env, stderr=subprocess.PIPE)
    return process, f"http://127.0.0.1:{port}"


def _wait_for(base: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while True:
        assert process.poll() is None, process.stderr.read().decode() if process.stderr else ""
        try:
            httpx.get(base + "/", timeout=2)
            return
        except httpx.TransportError:
            assert time.monotonic() < deadline, f"{base} did not answer within 30 s"
            time.sleep(0.1)


@pytest.fixture
def two_servers(postgres_url: str, tmp_path: Path) -> Iterator[tuple[str, str]]:
    started = [_serve(postgres_url, tmp_path / f"spool-{name}.jsonl") for name in "ab"]
    try:
        for process, base in started:
            _wait_for(base, process)
        yield started[0][1], started[1][1]
    finally:
        for process, _ in started:
            process.terminate()
        for process, _ in started:
            process.wait(timeout=20)
            errors = process.stderr.read().decode() if process.stderr else ""
            # uvicorn shuts down cleanly on SIGTERM, then exits by the signal it caught.
            assert process.returncode in (0, -signal.SIGTERM), errors
            assert "Traceback" not in errors and "ERROR" not in errors, errors


async def _load(first: str, second: str) -> list[uuid.UUID]:
    """Each decision to one process, then the same again (its retry) to both at once; the keys
    of the decisions every attempt acknowledged with a 303."""
    limit = asyncio.Semaphore(CONCURRENCY)
    acknowledged: list[uuid.UUID] = []

    async def decide(client: httpx.AsyncClient, number: int) -> None:
        key = uuid.uuid4()
        bases = (first, second) if number % 2 else (second, first)
        headers = {"idempotency-key": str(key), "user-agent": f"load/{number}"}
        form = {"action": ("accept_all", "reject_all")[number % 2], "next": f"/p/{number}"}
        async with limit:
            answers = [await client.post(bases[0] + "/_consent", data=form, headers=headers)]
            answers += await asyncio.gather(
                *(client.post(base + "/_consent", data=form, headers=headers) for base in bases)
            )
        if all(answer.status_code == 303 for answer in answers):
            acknowledged.append(key)

    async with httpx.AsyncClient(timeout=30) as client:
        await asyncio.gather(*(decide(client, number) for number in range(DECISIONS)))
    return acknowledged


def test_two_processes_record_every_decision_once(
    two_servers: tuple[str, str], postgres_url: str
) -> None:
    acknowledged = run(_load(*two_servers))
    assert len(acknowledged) == DECISIONS
    stored = run(stored_ids(postgres_url))
    assert set(acknowledged) <= set(stored)
    assert max(stored.values()) == 1
    assert len(stored) == DECISIONS


def test_each_process_commits_before_answering_and_stops_cleanly(
    postgres_url: str, tmp_path: Path
) -> None:
    """A decision is in the database when its 303 arrives (nothing spooled); lifespan.shutdown
    closes the store without an error."""
    spools = [tmp_path / f"spool-{name}.jsonl" for name in "ab"]
    started = [_serve(postgres_url, spool) for spool in spools]
    for process, base in started:
        _wait_for(base, process)
    for process, base in started:
        answer = httpx.post(base + "/_consent", data={"action": "accept_all"}, timeout=10)
        assert answer.status_code == 303
        process.terminate()
        process.wait(timeout=20)
        errors = process.stderr.read().decode() if process.stderr else ""
        assert "Traceback" not in errors and "ERROR" not in errors, errors
    assert sum(run(stored_ids(postgres_url)).values()) == 2
    assert all(spool.read_text() == "" for spool in spools)
