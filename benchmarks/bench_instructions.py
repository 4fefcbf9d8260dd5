"""Instructions per request of bench_asgi's scenarios, counted by valgrind's cachegrind.

Timings on a shared machine move by tens of percent from run to run; the number of instructions
a request executes does not. Each scenario runs in a child process under ``cachegrind`` twice,
with the same set-up and the same pre-built requests, once running ``--few`` of them and once
``--many``: the difference of the two counts, divided by the difference of the requests, is the
cost of one request with start-up, imports and set-up cancelled out. Hash randomisation is off
(``PYTHONHASHSEED=0``) and the collector does not traverse the pre-built requests. Start-up
still differs by up to about a million instructions from one process to the next (ua-parser's
Rust backend seeds its hash maps at random, and the heap is laid out differently after it), which
the difference does not cancel: the runs are 10,000 requests apart by default, so that this moves
a figure by about 100 instructions (at 2,000 apart, by up to 500).

An instruction count is not a time: cache misses, branch mispredictions and what else runs
between two requests are not in it. It is the measure to compare two versions of the code by,
and to tell where the work of a request goes; ``bench_asgi.py`` gives the µs.

    python benchmarks/bench_instructions.py                  # every scenario (a few minutes)
    python benchmarks/bench_instructions.py --scenario consent_new_ua --scenario bare_html
    python benchmarks/bench_instructions.py --quick          # two scenarios, few requests
    python benchmarks/bench_instructions.py --json

Needs ``valgrind`` (``apt-get install valgrind``). Without it, the script runs each scenario once
in a child process, unmeasured, so that a smoke run still checks that the scenarios work, and
says that counts need valgrind.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import subprocess
import sys
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository root

from benchmarks import cachegrind
from benchmarks.bench_asgi import check, corpus_path, load_corpus, setup, timed
from benchmarks.scaffold import BrokenError, command_line, print_columns, report, run

QUICK_SCENARIOS = ("bare_html", "consent_html")
CORPUS_SCENARIO = "consent_corpus_ua"


def child(key: str, run: int, build: int) -> None:
    """Set every scenario up, build ``build`` requests of scenario ``key`` and run ``run``."""
    path = corpus_path() if key == CORPUS_SCENARIO else None
    corpus = load_corpus(path) if path else None  # parsing it is most of a child's start-up
    loop = asyncio.new_event_loop()
    try:
        by_key = {scenario.key: scenario for scenario in setup(loop, corpus, build)}
        scenario = by_key[key]
        loop.run_until_complete(check([scenario]))
        if scenario.before_round is not None:
            scenario.before_round(loop)
        warm_up = [scenario.make_scope(i) for i in range(min(50, build))]
        loop.run_until_complete(timed(scenario.app, warm_up))
        if scenario.before_round is not None:
            scenario.before_round(loop)  # the corpus' agents are new again
        scopes = [scenario.make_scope(i) for i in range(build)]
        unrun = scopes[run:]  # built in every child alike, freed only when the child ends
        del scopes[run:]
        gc.collect()
        gc.freeze()  # as bench_asgi: the collector does not traverse the pre-built scopes
        loop.run_until_complete(timed(scenario.app, scopes))  # frees each scope once run
        del unrun
    finally:
        loop.close()


def child_command(key: str, run: int, build: int) -> list[str]:
    script = str(Path(__file__).resolve())
    return [sys.executable, script, "--child", key, "--run", str(run), "--build", str(build)]


def count(key: str, run: int, build: int) -> int:
    """Instructions executed by a child process that runs ``run`` of ``build`` requests."""
    command = [*cachegrind.COMMAND, *child_command(key, run, build)]
    done = subprocess.run(command, capture_output=True, env=cachegrind.environment(), check=False)
    found = cachegrind.instructions(done.stderr)
    if done.returncode != 0 or found is None:
        tail = done.stderr.decode(errors="replace")[-2000:]
        raise BrokenError(f"{key}: the child under valgrind failed ({done.returncode}):\n{tail}")
    return found


@dataclass(frozen=True)
class Listed:
    label: str
    kind: str  # "html", "json" or "traced": which bare app it is compared with
    limit: int | None  # the most requests before the scenario repeats itself (the corpus)


def available() -> dict[str, Listed]:
    """Each scenario by key, as bench_asgi builds them."""
    path = corpus_path()
    corpus = load_corpus(path) if path else None
    loop = asyncio.new_event_loop()
    try:
        scenarios = setup(loop, corpus, sys.maxsize)
    finally:
        loop.close()
    return {s.key: Listed(s.label, s.kind, s.requests) for s in scenarios}


def summarise(counts: dict[str, float], scenarios: dict[str, Listed]) -> list[dict[str, Any]]:
    rows = []
    for key, count_per_request in counts.items():
        label, kind = scenarios[key].label, scenarios[key].kind
        bare, noop, session = (counts.get(f"{name}_{kind}") for name in ("bare", "noop", "session"))
        added = count_per_request - bare if bare is not None else None
        session_added = session - bare if session is not None and bare is not None else None
        rows.append(
            {
                "key": key,
                "scenario": label,
                "instructions": count_per_request,
                "added_vs_bare": added,
                "added_vs_noop": count_per_request - noop if noop is not None else None,
                "ratio_to_session_added": (
                    added / session_added
                    if added is not None and session_added and key != f"bare_{kind}"
                    else None
                ),
            }
        )
    return rows


def print_table(result: dict[str, Any]) -> None:
    rows, runs = result["rows"], result["runs"]
    sizes = ", ".join(sorted({f"{few} and {many}" for few, many in runs.values()}))
    print(
        f"Instructions per request (cachegrind; runs of {sizes} requests, the difference per "
        f"request); Python {sys.version.split()[0]}"
    )
    headers = ("scenario", "instructions", "+ vs bare", "+ vs no-op", "× Session")

    def thousands(value: float | None, sign: str = "") -> str:
        return "-" if value is None else f"{value / 1000:{sign},.1f}k"

    lines = [
        (
            row["scenario"],
            thousands(row["instructions"]),
            thousands(row["added_vs_bare"], "+"),
            thousands(row["added_vs_noop"], "+"),
            "-"
            if row["ratio_to_session_added"] is None
            else f"{row['ratio_to_session_added']:.2f}×",
        )
        for row in rows
    ]
    print_columns(headers, lines)


def main(argv: list[str] | None = None) -> int:
    parser = command_line(__doc__, "two scenarios, few requests")
    parser.add_argument("--scenario", action="append", help="a scenario key (default: all)")
    parser.add_argument("--few", type=int, help="requests of the shorter run (default 200)")
    parser.add_argument(
        "--many",
        type=int,
        help="requests of the longer run (default 10200; the corpus has fewer agents)",
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--run", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--build", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args.child, args.run, args.build)
        return 0

    few = args.few or (20 if args.quick else 200)
    many = args.many or (120 if args.quick else 10200)
    scenarios = available()
    keys = args.scenario or (list(QUICK_SCENARIOS) if args.quick else list(scenarios))
    unknown = [key for key in keys if key not in scenarios]
    if unknown:
        parser.error(f"unknown scenario {', '.join(unknown)}; one of: {', '.join(scenarios)}")

    runs = {key: (few, min(many, scenarios[key].limit or many)) for key in keys}
    for key, (low, high) in runs.items():
        if not 0 < low < high:
            parser.error(f"{key}: --few must be positive and below --many ({low}, {high})")

    if not cachegrind.available():
        for key, (low, high) in runs.items():
            subprocess.run(child_command(key, low, high), check=True)
        print(
            f"bench_instructions: ran {', '.join(keys)} once, unmeasured: counting "
            "instructions needs valgrind (apt-get install valgrind)"
        )
        return 0

    # Both runs build the same requests (the many), so that only the running differs.
    counts = {
        key: cachegrind.per_request(partial(count, key, build=high), low, high)
        for key, (low, high) in runs.items()
    }
    return report({"runs": runs, "rows": summarise(counts, scenarios)}, args.json, print_table)


if __name__ == "__main__":
    run(main)
