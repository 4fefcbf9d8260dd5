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

import argparse
import asyncio
import gc
import json
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
    make_bare_app,
    make_consent_app,
    make_settings,
    request_headers,
)
from benchmarks.report import print_columns

TARGET_MB = 4.0
BANNER = b'id="consent-banner"'
MB = 1024 * 1024


class BrokenError(Exception):
    pass


def scope(path: str, query: bytes) -> dict[str, Any]:
    headers = [
        (b"host", b"localhost"),
        (b"sec-ch-ua", CHROME_HINTS.encode()),
        (b"user-agent", CHROME_UA.encode()),
        (b"accept", b"text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"),
        (b"accept-encoding", b"gzip, deflate, br, zstd"),
        (b"accept-language", b"en-GB,en;q=0.9"),
        (b"cookie", b"_ga=GA1.1.1425357519.1717171717; theme=dark"),  # no consent: undecided
    ]
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},  # as uvicorn: disconnect is watched
        "http_version": "1.1",
        "server": ("127.0.0.1", 8000),
        "client": ("127.0.0.1", 51234),
        "scheme": "http",
        "method": "GET",
        "root_path": "",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query,
        "headers": headers,
        "state": {},
    }


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


def receiver() -> Any:
    sent = False

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await asyncio.Event().wait()  # the client never disconnects; cancelled at the end
        return {"type": "http.disconnect"}

    return receive


async def stream(app: Any, size_mb: float, body_tag: bool = True) -> Counter:
    query = f"mb={size_mb}&body={int(body_tag)}".encode()
    counter = Counter()
    await app(scope("/stream", query), receiver(), counter)
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
        headers = [
            (name.encode("latin-1"), value.encode("latin-1"))
            for name, value in request_headers(agent, f"{GA_COOKIE}; consent={cookie}", hints)
        ]
        request = scope("/", b"")
        request["headers"] = headers
        await app(request, receiver(), _discard)


async def _discard(message: dict[str, Any]) -> None:
    return None


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
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="5 and 10 MB only")
    parser.add_argument("--sizes", type=float, nargs="+", help="page sizes in MB")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
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
    caches = retained_by_visitors(counts)
    if args.json:
        print(
            json.dumps(
                {
                    "target_mb": TARGET_MB,
                    "rows": rows,
                    "cache_size": cache_size,
                    "retained": caches,
                },
                indent=2,
            )
        )
        return 0
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
        f"cookie each; caches of {cache_size} entries by default):"
    )
    print(f"{'visitors':>9} {'MB kept':>8} {'bytes/visitor':>14}")
    for cache in caches:
        print(f"{cache['visitors']:>9} {cache['mb']:>8.2f} {cache['bytes_per_visitor']:>14.0f}")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BrokenError as error:
        print(f"bench_memory: BROKEN: {error}", file=sys.stderr)
        sys.exit(1)
