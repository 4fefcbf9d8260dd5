"""Two uvicorn processes sharing one PostgreSQL keep every acknowledged decision exactly once,
a client's retries (the same ``Idempotency-Key``, sent to both) included."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.records.helpers import ServerProcess, run, stored_ids

#: Distinct decisions in the load, each sent to one process and retried on the other.
DECISIONS = 300
CONCURRENCY = 32


@pytest.fixture
def two_servers(postgres_url: str, tmp_path: Path) -> Iterator[tuple[str, str]]:
    started = [ServerProcess.start(postgres_url, tmp_path / f"spool-{name}.jsonl") for name in "ab"]
    try:
        for server in started:
            server.wait_until_up()
        yield started[0].base, started[1].base
    finally:
        for server in started:
            errors = server.stop()
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
    started = [ServerProcess.start(postgres_url, spool) for spool in spools]
    for server in started:
        server.wait_until_up()
    for server in started:
        answer = httpx.post(server.base + "/_consent", data={"action": "accept_all"}, timeout=10)
        assert answer.status_code == 303
        errors = server.stop()
        assert "Traceback" not in errors and "ERROR" not in errors, errors
    assert sum(run(stored_ids(postgres_url)).values()) == 2
    assert all(spool.read_text() == "" for spool in spools)
