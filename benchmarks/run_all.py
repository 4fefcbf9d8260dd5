"""Run every benchmark and the profile in turn: ``python benchmarks/run_all.py --quick`` is CI's
smoke test.

Each script runs in its own process with this Python. The exit status is non-zero only when a
script crashed or reported something broken (its own non-zero exit), never because a figure
missed its target. A smoke run's figures mean nothing (too few rounds, a busy machine), so with
``--quick`` the scripts' output is kept back and only whether each ran is reported; a script that
fails has its output shown.

    python benchmarks/run_all.py --quick    # a smoke run, well under a minute
    python benchmarks/run_all.py            # the full runs (several minutes)
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository root

from benchmarks.scaffold import command_line

HERE = Path(__file__).resolve().parent
SCRIPTS = (
    "bench_asgi.py",
    "bench_instructions.py",
    "bench_server_instructions.py",
    "bench_memory.py",
    "bench_uvicorn.py",
    "bench_decisions_http.py",
    "profile_asgi.py",
)


def main(argv: list[str] | None = None) -> int:
    parser = command_line(__doc__, "run each script with --quick", json_output=False)
    parser.add_argument("--timeout", type=float, help="seconds per script (quick 300, else 1800)")
    args = parser.parse_args(argv)
    timeout = args.timeout or (300.0 if args.quick else 1800.0)

    failed = []
    for script in SCRIPTS:
        command = [sys.executable, str(HERE / script)] + (["--quick"] if args.quick else [])
        print(f"==> {script}{' --quick' if args.quick else ''}", flush=True)
        start = time.monotonic()
        code: int | str
        output = ""
        try:
            finished = subprocess.run(
                command,
                timeout=timeout,
                check=False,
                capture_output=args.quick,
                text=True,
            )
            code, output = finished.returncode, (finished.stdout or "") + (finished.stderr or "")
        except subprocess.TimeoutExpired as timed_out:
            code = "timed out"
            output = timed_out.output if isinstance(timed_out.output, str) else ""
        seconds = time.monotonic() - start
        if code != 0 and output:
            print(output, flush=True)
        print(f"<== {script}: exit {code} in {seconds:.1f} s\n", flush=True)
        if code != 0:
            failed.append(f"{script} ({code})")
    if failed:
        print(f"benchmarks FAILED: {', '.join(failed)}")
        return 1
    suffix = " (smoke run: no figures)" if args.quick else ""
    print(f"benchmarks: all {len(SCRIPTS)} ran{suffix}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
