"""A process for the crash tests to kill with SIGKILL in the middle of its work.

python -m tests.records.child replay URL SPOOL BATCH
    replays the spool into the database, printing "batch N" after each committed batch
python -m tests.records.child record URL SPOOL
    records decisions from 32 concurrent tasks until killed, printing "<outcome> <record id>"
    once each is acknowledged (committed or spooled)
"""

from __future__ import annotations

import asyncio
import sys
from itertools import count

from consent.records import DecisionRecord, RecordStore, Spool
from consent.records.database import create_engine, insert_records
from tests.records.helpers import make_record

WORKERS = 32


async def replay(url: str, spool_path: str, batch: int) -> None:
    engine = create_engine(url)
    spool = Spool(spool_path)
    spool.open()
    batches = count(1)

    async def insert(records: list[DecisionRecord]) -> None:
        async with engine.begin() as connection:
            await insert_records(connection, records)
        print(f"batch {next(batches)}", flush=True)

    await spool.replay(insert, batch)
    print("done", flush=True)


async def record(url: str, spool_path: str) -> None:
    numbers = count()
    async with RecordStore(url, spool_path=spool_path, retry_interval=0.2) as store:

        async def worker() -> None:
            while True:
                decision = make_record(next(numbers))
                outcome = await store.record(decision)
                print(f"{outcome.value} {decision.record_id}", flush=True)

        print("started", flush=True)
        await asyncio.gather(*(worker() for _ in range(WORKERS)))


if __name__ == "__main__":
    mode, url, spool_path, *rest = sys.argv[1:]
    if mode == "replay":
        asyncio.run(replay(url, spool_path, int(rest[0])))
    else:
        asyncio.run(record(url, spool_path))
