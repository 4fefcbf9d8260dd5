"""Instructions per request in a real uvicorn process, counted by valgrind's cachegrind.

``bench_uvicorn.py`` gives requests/s, and on a shared machine the ratio of two servers moves by
ten per cent and more from one run to the next. The instructions a server executes per request
do not. Each app's uvicorn process (one worker, ``--lifespan off``) runs under ``cachegrind``
twice, answering ``--few`` and then ``--many`` page requests over one keep-alive connection;
the difference of the two counts, over the difference of the requests, is one request with
start-up and shut-down cancelled out. The ratio of the bare app's count to an app's is what its
requests/s ratio would be if time followed instructions (cache misses and the kernel's share are
not in it).

The apps (``benchmarks/apps.py``) are the bare Starlette app, the no-op middleware, the floor
(``FloorMiddleware``: the least work of a consent middleware for a returning visitor, the same
snippet and Vary, nothing else) and ConsentMiddleware. Every request carries a current Chrome's
headers and a decided consent cookie, as in ``bench_uvicorn.py``.

    python benchmarks/bench_server_instructions.py              # h11, and httptools if present
    python benchmarks/bench_server_instructions.py --http h11
    python benchmarks/bench_server_instructions.py --quick      # h11, bare and consent, few
    python benchmarks/bench_server_instructions.py --json

Needs ``valgrind``. Without it, each server answers a few requests unmeasured, so that a smoke
run still checks the apps, and the script says that counts need valgrind.
"""

from __future__ import annotations

import http.client
import importlib.util
import sys
from collections.abc import Sequence
from functools import partial
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository root

from benchmarks import cachegrind
from benchmarks.apps import (
    CHROME_HINTS,
    CHROME_UA,
    GA_COOKIE,
    request_headers,
    signed_consent_cookie,
)
from benchmarks.bench_uvicorn import RATIO_TARGET
from benchmarks.scaffold import BrokenError, UvicornServer, command_line, print_columns, report, run

APPS = ("bare", "noop", "floor", "consent")
QUICK_APPS = ("bare", "consent")


def page_headers() -> dict[str, str]:
    cookie = f"{GA_COOKIE}; consent={signed_consent_cookie()}"
    headers = request_headers(CHROME_UA, cookie, CHROME_HINTS)
    return {name: value for name, value in headers if name not in ("host", "connection")}


def serve(app: str, protocol: str, requests: int, wrapper: Sequence[str] = ()) -> str:
    """Start ``benchmarks.apps:<app>_app`` (under ``wrapper``, such as valgrind), send
    ``requests`` page requests over one connection, stop it; what it printed."""
    options = ("--lifespan", "off")
    env = cachegrind.environment()
    with UvicornServer(f"{app}_app", protocol, options=options, wrapper=wrapper, env=env) as server:
        load(server.port, app, requests)
        server.stop()
        return server.output()


def count(app: str, protocol: str, requests: int) -> int:
    """The instructions ``app``'s server executed, under cachegrind, serving ``requests``."""
    output = serve(app, protocol, requests, cachegrind.COMMAND)
    found = cachegrind.instructions(output)
    if found is None:
        raise BrokenError(f"{app}: no instruction count from valgrind:\n{output[-2000:]}")
    return found


def load(port: int, app: str, requests: int) -> None:
    """``requests`` GET / over one keep-alive connection; the first answer is checked."""
    headers = page_headers()
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        for i in range(requests):
            connection.request("GET", "/", headers=headers)
            response = connection.getresponse()
            body = response.read()
            if response.status != 200:
                raise BrokenError(f"{app}: GET / answered {response.status}")
            if i == 0 and (b"Harbour Pottery" not in body or b'id="consent-banner"' in body):
                raise BrokenError(f"{app}: GET / is not the page a decided visitor gets")
    finally:
        connection.close()


def summarise(counts: dict[str, dict[str, float]]) -> list[dict[str, Any]]:
    rows = []
    for protocol, by_app in counts.items():
        bare = by_app.get("bare")
        for app, count_per_request in by_app.items():
            rows.append(
                {
                    "http": protocol,
                    "app": app,
                    "instructions": count_per_request,
                    "added_vs_bare": count_per_request - bare if bare is not None else None,
                    "ratio": bare / count_per_request if bare is not None else None,
                }
            )
    return rows


def print_report(result: dict[str, Any]) -> None:
    rows, few, many = result["rows"], result["few"], result["many"]
    python = ".".join(map(str, sys.version_info[:3]))
    print(
        f"Instructions per request in a uvicorn process (cachegrind; {few:,} and {many:,} page "
        f"requests over one keep-alive connection, the difference per request); Python {python}"
    )
    lines = [
        (
            row["http"],
            row["app"],
            f"{row['instructions'] / 1000:.1f}k",
            "-" if row["added_vs_bare"] is None else f"{row['added_vs_bare'] / 1000:+.1f}k",
            "-" if row["ratio"] is None else f"{row['ratio']:.3f}",
        )
        for row in rows
    ]
    print_columns(("server", "app", "instructions", "+ vs bare", "bare/app"), lines, left=(0, 1))
    for row in rows:
        if row["app"] == "consent" and row["ratio"] is not None:
            met = "met" if row["ratio"] >= RATIO_TARGET else "NOT met"
            print(
                f"{row['http']}: bare/consent {row['ratio']:.3f}; the target of "
                f"≥ {RATIO_TARGET} in requests/s would be {met} if time followed instructions"
            )


def main(argv: list[str] | None = None) -> int:
    parser = command_line(__doc__, "h11, bare and consent, few requests")
    parser.add_argument("--http", choices=("h11", "httptools"), action="append")
    parser.add_argument("--app", choices=APPS, action="append", help="default: all four")
    parser.add_argument("--few", type=int, help="requests of the first run (default 300)")
    parser.add_argument("--many", type=int, help="requests of the second run (default 1500)")
    args = parser.parse_args(argv)
    few = args.few or (20 if args.quick else 300)
    many = args.many or (80 if args.quick else 1500)
    if many <= few:
        parser.error("--many must be more than --few")
    apps = args.app or (QUICK_APPS if args.quick else APPS)
    servers = args.http or ["h11"]
    if not args.http and not args.quick and importlib.util.find_spec("httptools") is not None:
        servers.append("httptools")

    if not cachegrind.available():
        for protocol in servers:
            for app in apps:
                serve(app, protocol, few)
        print("bench_server_instructions: every app answered; counts need valgrind")
        return 0

    counts = {
        p: {app: cachegrind.per_request(partial(count, app, p), few, many) for app in apps}
        for p in servers
    }
    return report({"few": few, "many": many, "rows": summarise(counts)}, args.json, print_report)


if __name__ == "__main__":
    run(main)
