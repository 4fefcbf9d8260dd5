"""Throughput and memory of a real uvicorn server, with and without ConsentMiddleware.

Starts four uvicorn processes (one worker each, ``python -m uvicorn benchmarks.apps:bare_app``,
``noop_app``, ``floor_app`` and ``consent_app``, from the repository root) on 127.0.0.1, new ones
for each round (one process can run the same code a few per cent faster than another). The no-op
middleware only wraps ``send``: its ratio is the floor for any middleware. ``FloorMiddleware``
does the least of a consent middleware's work for a returning visitor (the same snippet and Vary,
nothing else): its ratio is the floor for this job.

With ``wrk``, each of the three is loaded at the same time as the bare server, one wrk each, the
two servers sharing one CPU. The kernel gives each the same share of it, so the ratio of their
requests/s is the inverse ratio of their costs per request, and a slow stretch of a shared
machine slows both alike: loaded one after the other, the ratio moved by ten per cent and more
from one run to the next. The order of the pairs turns with each round. Without wrk, the asyncio
load generator below (raw sockets, HTTP/1.1 keep-alive) loads the servers in turn. The ratios are
medians over the rounds. Where there are two CPUs or more, the servers run on the first and the
load generator on the others (``--no-pin`` to let them share). Every request carries a current
Chrome's headers and a decided consent cookie. Then, on the last round's servers, two phases of
requests that each carry a never-seen User-Agent and a never-seen (valid) consent cookie show
that the server's caches are bounded: the resident memory (VmRSS) should grow while they fill,
then stay flat.

    python benchmarks/bench_uvicorn.py                  # 9 rounds, 4 s of wrk per pair
    python benchmarks/bench_uvicorn.py --http httptools # uvicorn[standard]'s parser
    python benchmarks/bench_uvicorn.py --quick          # 1,000 requests each, concurrency 16
    python benchmarks/bench_uvicorn.py --loadgen python # force the Python load generator
    python benchmarks/bench_uvicorn.py --json

All traffic goes to 127.0.0.1 and every load run is bounded in requests and time. Exits non-zero
only when something is broken (a server does not start, a page is wrong), never on the figures.
"""

from __future__ import annotations

import asyncio
import http.client
import importlib.util
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository root

from benchmarks.apps import (
    CHROME_HINTS,
    CHROME_UA,
    GA_COOKIE,
    GeneratedAgents,
    cookie_value,
    make_settings,
    request_headers,
)
from benchmarks.scaffold import (
    BrokenError,
    UvicornServer,
    command_line,
    print_columns,
    report,
    run,
)

RATIO_TARGET = 0.9
#: The servers compared with the bare app, each in a pair with it.
COMPARED = ("noop", "floor", "consent")
RSS_FLAT_TARGET_MB = 1.0  # from the first distinct phase (caches full) to the second


# --- servers -------------------------------------------------------------------------------


def rss_mb(pid: int) -> float | None:
    """The process's resident set size (VmRSS) in MB, where /proc has it."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time the process has used, where /proc has it."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


def fetch(
    port: int, method: str, path: str, headers: dict[str, str], body: bytes | None = None
) -> tuple[int, list[tuple[str, str]], bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        return response.status, response.getheaders(), response.read()
    finally:
        connection.close()


def decided_cookie(port: int) -> str:
    """Accept all through the consent server's endpoint, as the banner's script does."""
    origin = f"http://127.0.0.1:{port}"
    status, headers, _ = fetch(
        port,
        "POST",
        "/_consent",
        {"Origin": origin, "Content-Type": "application/json", "User-Agent": CHROME_UA},
        b'{"action":"accept_all"}',
    )
    cookies = [v for k, v in headers if k.lower() == "set-cookie" and v.startswith("consent=")]
    if status != 200 or not cookies:
        raise BrokenError(f"POST /_consent answered {status} without a consent cookie")
    return cookie_value(cookies[0], "consent")


def check_pages(servers: dict[str, UvicornServer], headers: dict[str, str]) -> None:
    for name, server in servers.items():
        injected = name == "consent"
        status, _, body = fetch(server.port, "GET", "/", headers)
        if status != 200 or b"Harbour Pottery" not in body:
            raise BrokenError(f"{server.app_name}: GET / answered {status}")
        if (b'id="consent-settings' in body or b"consent.js" in body) != injected:
            raise BrokenError(f"{server.app_name}: snippet injected: {not injected}")
        if b'id="consent-banner"' in body:
            raise BrokenError(f"{server.app_name}: banner shown to a decided visitor")
        if (b'<aside class="floor"' in body) != (name == "floor"):
            raise BrokenError(f"{server.app_name}: the floor's snippet is wrong")


# --- load generators -----------------------------------------------------------------------


@dataclass
class LoadResult:
    generator: str
    requests: int
    seconds: float
    requests_per_s: float
    errors: int
    non_200: int
    concurrency: int
    server_cpu_us: float | None = None  # server CPU time (user + system) per request


def raw_request(port: int, headers: list[tuple[str, str]], path: str = "/") -> bytes:
    lines = [f"GET {path} HTTP/1.1"]
    for name, value in headers:
        lines.append(f"{name}: {value}" if name != "host" else f"host: 127.0.0.1:{port}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bool]:
    """The status of one response read whole; and whether the server keeps the connection."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    length, chunked, keep = None, False, True
    for line in lines[1:]:
        name, _, value = line.partition(":")
        name = name.strip().lower()
        if name == "content-length":
            length = int(value.strip())
        elif name == "transfer-encoding" and "chunked" in value.lower():
            chunked = True
        elif name == "connection" and value.strip().lower() == "close":
            keep = False
    if chunked:
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            await reader.readexactly(size + 2)
            if size == 0:
                break
    elif length is not None:
        await reader.readexactly(length)
    else:
        await reader.read()
        keep = False
    return status, keep


async def python_load(
    port: int, requests: list[bytes], total: int, concurrency: int, timeout: float = 10.0
) -> LoadResult:
    """``total`` requests over ``concurrency`` keep-alive connections; request i is
    ``requests[i % len(requests)]``. Errors (refused, reset, timed out) are counted, and the
    connection is opened anew."""
    next_index = 0
    errors = non_200 = done = 0

    async def worker() -> None:
        nonlocal next_index, errors, non_200, done
        connection: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
        while next_index < total:
            index = next_index
            next_index += 1
            try:
                if connection is None:
                    connection = await asyncio.wait_for(
                        asyncio.open_connection("127.0.0.1", port), timeout
                    )
                reader, writer = connection
                writer.write(requests[index % len(requests)])
                status, keep = await asyncio.wait_for(_read_response(reader), timeout)
                done += 1
                if status != 200:
                    non_200 += 1
                if not keep:
                    writer.close()
                    connection = None
            except (TimeoutError, OSError, asyncio.IncompleteReadError, ValueError):
                errors += 1
                if connection is not None:
                    connection[1].close()
                connection = None
        if connection is not None:
            connection[1].close()

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    seconds = time.perf_counter() - start
    return LoadResult(
        "python", done + errors, seconds, done / seconds, errors, non_200, concurrency
    )


def run_python_load(port: int, requests: list[bytes], total: int, concurrency: int) -> LoadResult:
    return asyncio.run(python_load(port, requests, total, concurrency))


def run_wrk(
    port: int, headers: list[tuple[str, str]], seconds: float, concurrency: int, threads: int
) -> LoadResult:
    command = ["wrk", f"-t{threads}", f"-c{concurrency}", f"-d{seconds:g}s", "--timeout", "10s"]
    for name, value in headers:
        if name not in ("host", "connection"):
            command += ["-H", f"{name}: {value}"]
    command.append(f"http://127.0.0.1:{port}/")
    done = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60)
    if done.returncode != 0:
        raise BrokenError(f"wrk failed: {done.stderr or done.stdout}")
    out = done.stdout
    total = re.search(r"(\d+) requests in ([\d.]+)(\w+)", out)
    rate = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if total is None or rate is None:
        raise BrokenError(f"cannot read wrk's output:\n{out}")
    socket_errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out
    )
    errors = sum(int(x) for x in socket_errors.groups()) if socket_errors else 0
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    unit = {"ms": 1e-3, "s": 1.0, "m": 60.0, "us": 1e-6}.get(total.group(3), 1.0)
    return LoadResult(
        "wrk",
        int(total.group(1)),
        float(total.group(2)) * unit,
        float(rate.group(1)),
        errors,
        int(non_2xx.group(1)) if non_2xx else 0,
        concurrency,
    )


# --- the benchmark -------------------------------------------------------------------------


@contextmanager
def started(
    names: list[str], http: str, cpus: set[int] | None
) -> Iterator[dict[str, UvicornServer]]:
    """The servers ``<name>_app`` of ``names``, started together, stopped on leaving."""
    with ExitStack() as stack:
        servers = {name: UvicornServer(f"{name}_app", http, cpus=cpus) for name in names}
        for server in servers.values():
            server.start()
            stack.callback(server.close)
        for server in servers.values():
            server.wait_listening()
        yield servers


def placement(pin: bool) -> tuple[set[int] | None, set[int] | None]:
    """The CPUs of the servers and of the load generator: the first CPU this process may use,
    and the others; None and None (no pinning) when ``pin`` is off or there is only one."""
    if not pin or not hasattr(os, "sched_getaffinity"):
        return None, None
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        return None, None
    return {cpus[0]}, set(cpus[1:])


def together(
    servers: dict[str, UvicornServer], loads: Mapping[str, Callable[[], LoadResult]]
) -> dict[str, LoadResult]:
    """Each server's load run at the same time as the others', each measured."""
    with ThreadPoolExecutor(max_workers=len(servers)) as pool:
        futures = {name: pool.submit(measured, servers[name], loads[name]) for name in servers}
        return {name: future.result() for name, future in futures.items()}


def measured(server: UvicornServer, load: Callable[[], LoadResult]) -> LoadResult:
    """``load()``, with the server's CPU time per request added to its result."""
    before = cpu_seconds(server.pid)
    result = load()
    after = cpu_seconds(server.pid)
    if before is not None and after is not None and result.requests:
        result.server_cpu_us = (after - before) / result.requests * 1e6
    return result


def distinct_requests(port: int, count: int, start: int) -> list[bytes]:
    """``count`` requests, each with a never-seen User-Agent and a never-seen valid cookie."""
    from consent.choice.codec import ConsentCodec

    settings = make_settings()
    codec = ConsentCodec(settings)
    optional = sorted(n for n, c in settings.categories.items() if not c.required)
    agents = GeneratedAgents(start=start)
    requests = []
    for i in range(count):
        agent, hints = agents.next()
        granted = frozenset(optional[: i % (len(optional) + 1)])
        _, value = codec.decide(granted, "banner")  # a fresh consent id: a distinct value
        headers = request_headers(agent, f"{GA_COOKIE}; consent={value}", hints)
        requests.append(raw_request(port, headers))
    return requests


def main(argv: list[str] | None = None) -> int:
    parser = command_line(__doc__, "1,000 requests, concurrency 16")
    parser.add_argument("--loadgen", choices=("auto", "wrk", "python"), default="auto")
    parser.add_argument("--runs", type=int, help="rounds, new servers each (default 9)")
    parser.add_argument("--duration", type=float, default=4.0, help="seconds per wrk run")
    parser.add_argument(
        "--no-pin",
        dest="pin",
        action="store_false",
        help="let the servers and the load generator share every CPU",
    )
    parser.add_argument(
        "--http",
        choices=("h11", "httptools"),
        default="h11",
        help="uvicorn's HTTP parser: h11 (plain uvicorn) or httptools (uvicorn[standard])",
    )
    parser.add_argument("--requests", type=int, help="requests per Python load run")
    parser.add_argument("--concurrency", type=int, help="connections (default 64, quick 16)")
    args = parser.parse_args(argv)
    runs = args.runs or (1 if args.quick else 9)
    total = args.requests or (1_000 if args.quick else 10_000)
    concurrency = args.concurrency or (16 if args.quick else 64)
    duration = 2.0 if args.quick and args.duration == 4.0 else args.duration
    server_cpus, load_cpus = placement(args.pin)
    if load_cpus is not None:
        os.sched_setaffinity(0, load_cpus)  # this process's load generator, and wrk after it
    threads = len(load_cpus) if load_cpus is not None else min(2, os.cpu_count() or 1)
    generator = args.loadgen
    if generator == "auto":
        generator = "wrk" if shutil.which("wrk") else "python"
    elif generator == "wrk" and not shutil.which("wrk"):
        raise BrokenError("wrk is not installed (apt-get install -y wrk), try --loadgen python")

    if args.http == "httptools" and importlib.util.find_spec("httptools") is None:
        raise BrokenError("httptools is not installed (pip install 'uvicorn[standard]')")

    results: dict[str, list[LoadResult]] = {"bare": [], "noop": [], "floor": [], "consent": []}
    pairs: dict[str, list[tuple[LoadResult, LoadResult]]] = {name: [] for name in COMPARED}
    rss: dict[str, dict[str, float | None]] = {name: {} for name in results}
    phases: list[dict[str, Any]] = []
    names = list(results)
    headers: list[tuple[str, str]] = []
    for round_index in range(runs):
        # Fresh processes each time: one process can be a few per cent quicker than another
        # running the same code (memory layout, hash seed), which would bias a whole run.
        with started(names, args.http, server_cpus) as servers:
            if not headers:  # the benchmark key signs it: every consent server accepts it
                cookie = f"{GA_COOKIE}; consent={decided_cookie(servers['consent'].port)}"
                headers = request_headers(CHROME_UA, cookie, CHROME_HINTS)
            check_pages(servers, {k: v for k, v in headers if k not in ("host", "connection")})
            requests = {name: [raw_request(s.port, headers)] for name, s in servers.items()}
            last = round_index == runs - 1  # its servers' memory is the one reported
            for name, server in servers.items():
                if last:
                    rss[name]["started"] = rss_mb(server.pid)
                run_python_load(server.port, requests[name], 500, min(concurrency, 16))  # warm-up
                if last:
                    rss[name]["before"] = rss_mb(server.pid)

            turn = round_index % len(COMPARED)
            if generator == "wrk":
                for name in COMPARED[turn:] + COMPARED[:turn]:
                    pair = {"bare": servers["bare"], name: servers[name]}
                    loads = {
                        key: partial(run_wrk, server.port, headers, duration, concurrency, threads)
                        for key, server in pair.items()
                    }
                    measured_pair = together(pair, loads)
                    pairs[name].append((measured_pair["bare"], measured_pair[name]))
                    results["bare"].append(measured_pair["bare"])
                    results[name].append(measured_pair[name])
            else:  # one Python load generator at a time: the servers are loaded in turn
                in_turn = {}
                turn = round_index % len(names)
                for name in names[turn:] + names[:turn]:
                    server = servers[name]
                    load = partial(run_python_load, server.port, requests[name], total, concurrency)
                    in_turn[name] = measured(server, load)
                    results[name].append(in_turn[name])
                for name in COMPARED:
                    pairs[name].append((in_turn["bare"], in_turn[name]))
            if not last:
                continue
            for name, server in servers.items():
                rss[name]["after load"] = rss_mb(server.pid)

            # Distinct visitors: every request a new User-Agent and a new consent cookie.
            for phase in (1, 2):
                for name in ("bare", "consent"):
                    server = servers[name]
                    batch = distinct_requests(server.port, total, start=phase * 1_000_000)
                    result = measured(
                        server, partial(run_python_load, server.port, batch, total, concurrency)
                    )
                    rss[name][f"after distinct {phase}"] = rss_mb(server.pid)
                    phases.append({"phase": phase, "server": name, **asdict(result)})

    summary = summarise(
        results, pairs, rss, phases, generator, args.http, runs, total, concurrency, duration
    )
    summary["wrk_threads"] = threads if generator == "wrk" else None
    summary["server_cpus"] = sorted(server_cpus) if server_cpus is not None else None
    summary["load_cpus"] = sorted(load_cpus) if load_cpus is not None else None
    return report(summary, args.json, print_report)


def paired_ratios(pairs: list[tuple[LoadResult, LoadResult]]) -> list[float]:
    """requests/s over the bare server's in the same pair of runs, one ratio per pair."""
    return [other.requests_per_s / bare.requests_per_s for bare, other in pairs]


def rss_growth(values: dict[str, float | None]) -> dict[str, float | None]:
    before, first, second = (
        values.get(k) for k in ("before", "after distinct 1", "after distinct 2")
    )
    if before is None or first is None or second is None:
        return {"fill": None, "once_full": None, "total": None}
    return {"fill": first - before, "once_full": second - first, "total": second - before}


def summarise(
    results: dict[str, list[LoadResult]],
    pairs: dict[str, list[tuple[LoadResult, LoadResult]]],
    rss: dict[str, dict[str, float | None]],
    phases: list[dict[str, Any]],
    generator: str,
    http: str,
    runs: int,
    total: int,
    concurrency: int,
    duration: float,
) -> dict[str, Any]:
    rates = {name: statistics.median(r.requests_per_s for r in rs) for name, rs in results.items()}
    cpu = {
        name: statistics.median(r.server_cpu_us for r in rs if r.server_cpu_us is not None)
        if any(r.server_cpu_us is not None for r in rs)
        else None
        for name, rs in results.items()
    }
    ratios = {name: paired_ratios(pairs[name]) for name in COMPARED}
    ratio = statistics.median(ratios["consent"]) if ratios["consent"] else None
    noop_ratio = statistics.median(ratios["noop"]) if ratios["noop"] else None
    floor_ratio = statistics.median(ratios["floor"]) if ratios["floor"] else None
    growth = {name: rss_growth(values) for name, values in rss.items()}
    errors = {name: sum(r.errors + r.non_200 for r in rs) for name, rs in results.items()}
    distinct_errors = sum(p["errors"] + p["non_200"] for p in phases)
    return {
        "generator": generator,
        "http": http,
        "runs": runs,
        "requests_per_python_run": total,
        "wrk_seconds": duration if generator == "wrk" else None,
        "concurrency": concurrency,
        "cpus": os.cpu_count(),
        "runs_detail": {name: [asdict(r) for r in rs] for name, rs in results.items()},
        "requests_per_s": rates,
        "server_cpu_us_per_request": cpu,
        "ratio": ratio,
        "ratios_each_run": ratios,
        "noop_ratio": noop_ratio,
        "floor_ratio": floor_ratio,
        "ratio_target": RATIO_TARGET,
        "ratio_met": ratio is not None and ratio >= RATIO_TARGET,
        "errors": errors,
        "distinct_phases": phases,
        "distinct_errors": distinct_errors,
        "rss_mb": rss,
        "rss_growth_mb": growth,
        "rss_flat_target_mb": RSS_FLAT_TARGET_MB,
        "caches_filled": total >= make_settings().browser_cache_size,
    }


def print_report(summary: dict[str, Any]) -> None:
    generator = summary["generator"]
    if generator == "wrk":
        how = (
            f"wrk -t{summary['wrk_threads']} -c{summary['concurrency']} "
            f"-d{summary['wrk_seconds']:g}s"
        )
        pairing = "each server loaded at the same time as the bare one"
    else:
        how = (
            f"Python asyncio load generator, {summary['requests_per_python_run']:,} requests, "
            f"{summary['concurrency']} connections"
        )
        pairing = "the servers loaded in turn"
    if summary["server_cpus"] is not None:
        where = f"servers on CPU {summary['server_cpus']}, load on CPU {summary['load_cpus']}"
    else:
        where = "servers and load on every CPU"
    print(
        f"uvicorn ({summary['http']}), 1 worker, 127.0.0.1; {how}; {where}; "
        f"{summary['runs']} round(s), {pairing}, medians"
    )
    print()

    def cpu(value: float | None) -> str:
        return "n/a" if value is None else f"{value:.0f}"

    lines: list[tuple[object, ...]] = []
    for name in ("bare", "noop", "floor", "consent"):
        runs = summary["runs_detail"][name]
        rates = [r["requests_per_s"] for r in runs]
        lines.append(
            (
                name,
                f"{summary['requests_per_s'][name]:.0f}",
                f"{len(runs)}: {min(rates):.0f}-{max(rates):.0f}",
                cpu(summary["server_cpu_us_per_request"][name]),
                f"{sum(r['requests'] for r in runs):,}",
                summary["errors"][name],
            )
        )
    print_columns(
        (
            "app",
            "req/s (median)",
            "runs: lowest-highest",
            "server CPU µs/req",
            "requests",
            "errors",
        ),
        lines,
        left=(0, 2),
    )
    met = "met" if summary["ratio_met"] else "NOT met"
    for name, label, ratio_key, meaning in (
        ("consent", "consent", "ratio", f"target ≥ {summary['ratio_target']}: {met}"),
        ("noop", "no-op", "noop_ratio", "the floor for any middleware"),
        ("floor", "floor", "floor_ratio", "the least of a consent middleware's job"),
    ):
        each = ", ".join(f"{r:.3f}" for r in summary["ratios_each_run"][name])
        print(f"ratio {label}/bare: {summary[ratio_key]:.3f} (each round: {each}; {meaning})")
    print()
    print("Distinct visitors (a never-seen User-Agent and consent cookie on every request):")
    lines = [
        (
            phase["phase"],
            phase["server"],
            f"{phase['requests']:,}",
            f"{phase['requests_per_s']:.0f}",
            cpu(phase["server_cpu_us"]),
            phase["errors"],
            phase["non_200"],
        )
        for phase in summary["distinct_phases"]
    ]
    print_columns(
        ("phase", "app", "requests", "req/s", "server CPU µs/req", "errors", "non-200"),
        lines,
        left=(0, 1),
    )
    print()
    print("Server RSS (VmRSS, MB):")
    labels = list(summary["rss_mb"]["consent"])
    lines = [
        (
            name,
            *(
                "n/a" if mb is None else f"{mb:.1f}"
                for mb in map(summary["rss_mb"][name].get, labels)
            ),
        )
        for name in ("bare", "consent")
    ]
    print_columns(("app", *labels), lines)
    growth = summary["rss_growth_mb"]["consent"]
    if growth["total"] is not None:
        bare_total = summary["rss_growth_mb"]["bare"]["total"] or 0.0
        print(
            f"consent RSS growth, before -> after distinct 2: {growth['total']:+.1f} MB "
            f"(bare: {bare_total:+.1f} MB; the caches filling, bounded by their sizes: info)"
        )
        flat = growth["once_full"]
        if summary["caches_filled"]:
            verdict = "met" if flat <= summary["rss_flat_target_mb"] else "NOT met"
            note = f"target ≤ {summary['rss_flat_target_mb']:g} MB: {verdict}"
        else:
            note = "caches not yet full in a quick run: no target"
        print(
            f"consent RSS growth, distinct 1 -> distinct 2 (caches full): {flat:+.1f} MB ({note})"
        )
    total_errors = sum(summary["errors"].values()) + summary["distinct_errors"]
    print(f"errors and non-200 responses, all runs: {total_errors} (target 0)")


if __name__ == "__main__":
    run(main)
