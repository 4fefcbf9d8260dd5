"""Peak memory while ConsentMiddleware streams a large HTML page to an undecided visitor.

A Starlette ``StreamingResponse`` generates the page on the fly in 64 KB chunks; the middleware
injects the banner after ``<body>`` and passes the rest through. ``tracemalloc`` records the peak
of Python allocations during the request (after a warm-up request, so one-off rendering of the
snippet is not counted). The same page through the bare app is the baseline. Memory should not
grow with the page: the target is a peak of at most 4 MB whatever the size.

    python benchmarks/bench_memory.py            # 10, 50 and 100 MB
    python benchmarks/bench_memory.py --quick    # 5 and 10 MB
    python benchmarks/bench_memory.py --json

It then sends N distinct visitors (each a never-seen User-Agent and a never-seen valid consent
cookie) through a fresh middleware and prints the memory it keeps afterwards, for N from half to
four times its cache size: the figure should level off once the caches are full, and that level is
how much a server's memory can grow with the number of distinct visitors.

Exits non-zero only when something is broken (wrong status, banner missing or doubled, bytes
lost), never because of the figures.
"""

from __future__ import annotations

import asyncio
import gc
import sys
import time
import tracemalloc
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository root

from benchmarks.apps import (
    CHROME_HINTS,
    CHROME_UA,
    GA_COOKIE,
    GeneratedAgents,
    discard,
    http_scope,
    make_bare_app,
    make_consent_app,
    make_settings,
    page_scope,
    receiver,
)
from benchmarks.scaffold import BrokenError, command_line, print_columns, report, run

TARGET_MB = 4.0
BANNER = b'id="consent-banner"'
MB = 1024 * 1024
#: An undecided visitor's page request: no consent cookie.
UNDECIDED_HEADERS = (
    (b"host", b"localhost"),
    (b"sec-ch-ua", CHROME_HINTS.encode()),
    (b"user-agent", CHROME_UA.encode()),
    (b"accept", b"text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"),
    (b"accept-encoding", b"gzip, deflate, br, zstd"),
    (b"accept-language", b"en-GB,en;q=0.9"),
    (b"cookie", b"_ga=GA1.1.1425357519.1717171717; theme=dark"),
)


class Counter:
    """A ``send`` that keeps nothing but counts: bytes, chunks, banners."""

    def __init__(self) -> None:
        self.status = 0
        self.bytes = 0
        self.chunks = 0
        self.banners = 0
        self.largest = 0

    async def __call__(self, message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            self.status = message["status"]
        elif message["type"] == "http.response.body":
            body = message.get("body", b"")
            self.bytes += len(body)
            self.chunks += 1
            self.largest = max(self.largest, len(body))
            if BANNER in body:
                self.banners += 1


async def stream(app: Any, size_mb: float, body_tag: bool = True) -> Counter:
    query = f"mb={size_mb}&body={int(body_tag)}".encode()
    counter = Counter()
    await app(http_scope("/stream", list(UNDECIDED_HEADERS), query=query), receiver(), counter)
    return counter


def measure(app: Any, size_mb: float, *, body_tag: bool, traced: bool) -> tuple[Counter, float]:
    """One request; with ``traced``, the peak traced memory in MB, else the seconds it took."""
    gc.collect()
    if traced:
        tracemalloc.start()
        tracemalloc.reset_peak()
        before = tracemalloc.get_traced_memory()[0]
    start = time.perf_counter()
    counter = asyncio.run(stream(app, size_mb, body_tag))
    elapsed = time.perf_counter() - start
    if traced:
        peak = tracemalloc.get_traced_memory()[1] - before
        tracemalloc.stop()
        return counter, peak / MB
    return counter, elapsed


def check(name: str, counter: Counter, size_mb: float, injected: bool) -> None:
    size = int(size_mb * MB)
    if counter.status != 200:
        raise BrokenError(f"{name}: status {counter.status}")
    if injected:
        if counter.banners != 1 or counter.bytes <= size:
            raise BrokenError(f"{name}: {counter.banners} banners, {counter.bytes} of {size} bytes")
    elif counter.banners or counter.bytes != size:
        raise BrokenError(f"{name}: {counter.banners} banners, {counter.bytes} of {size} bytes")


async def _distinct_visitors(app: Any, cookies: list[str], start: int) -> None:
    agents = GeneratedAgents(start=start)
    for cookie in cookies:
        agent, hints = agents.next()
        # The header bytes are made here, one request at a time, as a server would.
        await app(page_scope(agent, f"{GA_COOKIE}; consent={cookie}", hints), receiver(), discard)


def retained_by_visitors(counts: list[int]) -> list[dict[str, Any]]:
    """Memory the middleware keeps after ``count`` distinct visitors (a new User-Agent and a
    new valid consent cookie each): it should level off once its caches are full."""
    from consent.choice.codec import ConsentCodec

    settings = make_settings()
    codec = ConsentCodec(settings)
    optional = frozenset(n for n, c in settings.categories.items() if not c.required)
    rows = []
    for count in counts:
        app = make_consent_app(make_bare_app())
        asyncio.run(stream(app, 0.1))  # warm-up: the snippet, the templates
        cookies = [codec.decide(optional, "banner")[1] for _ in range(count)]
        gc.collect()
        tracemalloc.start()
        before = tracemalloc.get_traced_memory()[0]
        asyncio.run(_distinct_visitors(app, cookies, start=9_000_000 + count * 10))
        gc.collect()
        held = tracemalloc.get_traced_memory()[0] - before
        tracemalloc.stop()
        rows.append({"visitors": count, "mb": held / MB, "bytes_per_visitor": held / count})
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = command_line(__doc__, "5 and 10 MB only")
    parser.add_argument("--sizes", type=float, nargs="+", help="page sizes in MB")
    args = parser.parse_args(argv)
    sizes = args.sizes or ([5, 10] if args.quick else [10, 50, 100])

    apps = {"bare": make_bare_app(), "consent": make_consent_app(make_bare_app())}
    cases = [
        ("bare Starlette (baseline)", "bare", True, False),
        ("Consent, undecided (banner)", "consent", True, True),
        ("Consent, page without <body>", "consent", False, True),
    ]
    for _, app_key, body_tag, _ in cases:  # warm-up: render the snippet, fill the caches
        asyncio.run(stream(apps[app_key], 0.5, body_tag))

    rows = []
    for size in sizes:
        for label, app_key, body_tag, injected in cases:
            counter, peak = measure(apps[app_key], size, body_tag=body_tag, traced=True)
            check(f"{label} {size} MB", counter, size, injected)
            counter, seconds = measure(apps[app_key], size, body_tag=body_tag, traced=False)
            check(f"{label} {size} MB", counter, size, injected)
            is_consent = app_key == "consent"
            rows.append(
                {
                    "scenario": label,
                    "size_mb": size,
                    "peak_mb": peak,
                    "chunks": counter.chunks,
                    "largest_chunk_kb": counter.largest / 1024,
                    "mb_per_s": size / seconds,
                    "target": f"≤ {TARGET_MB:g} MB" if is_consent else None,
                    "met": peak <= TARGET_MB if is_consent else None,
                }
            )

    cache_size = max(make_settings().browser_cache_size, make_settings().consent_cache_size)
    counts = (
        [500, 1000] if args.quick else [cache_size // 2, cache_size, cache_size * 2, cache_size * 4]
    )
    result = {
        "target_mb": TARGET_MB,
        "rows": rows,
        "cache_size": cache_size,
        "retained": retained_by_visitors(counts),
    }
    return report(result, args.json, print_tables)


def print_tables(result: dict[str, Any]) -> None:
    rows = result["rows"]
    print(
        "Peak traced memory (tracemalloc) during one streamed request, 64 KB chunks; "
        "MB/s from an untraced run of the same request."
    )
    baseline = {row["size_mb"]: row["peak_mb"] for row in rows if row["target"] is None}
    headers = ("scenario", "page MB", "peak MB", "vs bare", "chunks", "MB/s", "target", "met")
    lines = [
        (
            row["scenario"],
            f"{row['size_mb']:g}",
            f"{row['peak_mb']:.3f}",
            f"{row['peak_mb'] - baseline[row['size_mb']]:+.3f}" if row["target"] else "",
            str(row["chunks"]),
            f"{row['mb_per_s']:.0f}",
            row["target"] or "baseline",
            {True: "met", False: "NOT met", None: ""}[row["met"]],
        )
        for row in rows
    ]
    print_columns(headers, lines, left=(0, 6, 7))
    print()
    print(
        f"Memory ConsentMiddleware keeps after N distinct visitors (new User-Agent and consent "
        f"cookie each; caches of {result['cache_size']} entries by default):"
    )
    kept_lines = [
        (kept["visitors"], f"{kept['mb']:.2f}", f"{kept['bytes_per_visitor']:.0f}")
        for kept in result["retained"]
    ]
    print_columns(("visitors", "MB kept", "bytes/visitor"), kept_lines, left=())


if __name__ == "__main__":
    run(main)
