"""Where ConsentMiddleware's added time goes: a profile of the direct-call loop of bench_asgi.

Three views, for a decided visitor on the HTML page and on the JSON route (and, with
``--scenario undecided``, a visitor who gets the banner):

1. cProfile over N requests: the functions of ``consent`` by own time (tottime), in µs per
   request. cProfile's overhead inflates small functions, so read the ranking, not the sum.
2. The same loop through the bare app and through the middleware, timed without a profiler: the
   real added µs per request that the ranking has to explain.
3. Each step the middleware takes for one request, timed alone with the request's own values
   (``timeit``-style loops). Steps that use internal APIs are skipped with "n/a" if the code
   changed shape.

    python benchmarks/profile_asgi.py                   # html and json, 20,000 requests
    python benchmarks/profile_asgi.py --quick
    python benchmarks/profile_asgi.py --pyinstrument    # also pyinstrument's call tree
    python benchmarks/profile_asgi.py --scenario new_ua # the never-seen User-Agent path
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import json
import pstats
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository root

from benchmarks.apps import (
    CHROME_UA,
    GA_COOKIE,
    GeneratedAgents,
    make_bare_app,
    make_consent_app,
    make_session_app,
)
from benchmarks.bench_asgi import (
    _receive,
    _sink,
    browser_headers,
    consent_cookie,
    http_scope,
    session_cookie,
)

PATHS = {"html": "/", "json": "/api", "undecided": "/", "new_ua": "/"}
_AGENTS = GeneratedAgents(start=50_000_000)  # never seen by any middleware of this process


def scopes_for(scenario: str, decided: str, undecided: str, count: int) -> list[dict[str, Any]]:
    if scenario == "new_ua":
        scopes = []
        for _ in range(count):
            agent, hints = _AGENTS.next()
            scopes.append(http_scope("/", browser_headers(agent, decided, hints)))
        return scopes
    headers = browser_headers(CHROME_UA, undecided if scenario == "undecided" else decided)
    return [http_scope(PATHS[scenario], list(headers)) for _ in range(count)]


async def loop_over(app: Any, scopes: list[dict[str, Any]]) -> None:
    for scope in scopes:
        await app(scope, _receive, _sink)


def timed(loop: asyncio.AbstractEventLoop, app: Any, scopes: list[dict[str, Any]]) -> float:
    gc.collect()
    start = time.perf_counter()
    loop.run_until_complete(loop_over(app, scopes))
    return (time.perf_counter() - start) / len(scopes) * 1e6


def ours(filename: str) -> bool:
    normalised = filename.replace("\\", "/")
    return "/consent/" in normalised and "/site-packages/" not in normalised


def short_name(key: tuple[str, int, str]) -> str:
    filename, line, function = key
    if filename == "~":
        return function
    return f"{Path(filename).name}:{line}({function})"


def profile_table(
    loop: asyncio.AbstractEventLoop, app: Any, scopes: list[dict[str, Any]], top: int
) -> tuple[list[tuple[str, float, int, float]], list[tuple[str, float, int, float]]]:
    """(our functions, all functions): name, own µs per request, calls per request, cum µs."""
    profiler = cProfile.Profile()
    gc.collect()
    profiler.enable()
    loop.run_until_complete(loop_over(app, scopes))
    profiler.disable()
    stats = pstats.Stats(profiler)
    n = len(scopes)
    rows_ours, rows_all = [], []
    for key, (_cc, calls, tottime, cumtime, _callers) in stats.stats.items():  # type: ignore[attr-defined]
        row = (short_name(key), tottime / n * 1e6, calls / n, cumtime / n * 1e6)
        rows_all.append(row)
        if ours(key[0]):
            rows_ours.append(row)
    rows_ours.sort(key=lambda r: -r[1])
    rows_all.sort(key=lambda r: -r[1])
    return rows_ours[:top], rows_all[:top]


def print_rows(title: str, rows: list[tuple[str, float, int, float]]) -> None:
    print(title)
    print(f"  {'function':<58} {'own µs/req':>10} {'calls/req':>9} {'cum µs/req':>10}")
    for name, own, calls, cum in rows:
        print(f"  {name[:58]:<58} {own:>10.2f} {calls:>9.2f} {cum:>10.2f}")


def per_call(function: Callable[[], Any], budget: float = 0.2) -> float:
    """µs per call of ``function``: the best of 5 timed batches sized to ``budget`` seconds."""
    count = 1
    while True:
        start = time.perf_counter()
        for _ in range(count):
            function()
        elapsed = time.perf_counter() - start
        if elapsed > budget / 10 or count > 1_000_000:
            break
        count *= 4
    count = max(1, int(count * (budget / 5) / max(elapsed, 1e-9)))
    best = float("inf")
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(count):
            function()
        best = min(best, (time.perf_counter() - start) / count)
    return best * 1e6


def steps(
    loop: asyncio.AbstractEventLoop, consent: Any, scope: dict[str, Any], kind: str, quick: bool
) -> list[tuple[str, str]]:
    """Each step of one request, timed alone (µs per call), with the request's own values.

    Only names that are likely to stay are used; a step whose API changed prints "n/a".
    """
    from starlette.requests import cookie_parser

    from benchmarks.apps import JSON_DATA, PAGE_HTML
    from consent import middleware as mw
    from consent.html import BodyTagMemo, HTMLInjector, html_charset, insert_snippet
    from consent.page.render import next_path

    budget = 0.02 if quick else 0.2
    site = consent.site
    results: list[tuple[str, str]] = []

    def step(name: str, make: Callable[[], Callable[[], Any]]) -> None:
        try:
            function = make()
            function()
            results.append((name, f"{per_call(function, budget):.2f}"))
        except Exception as error:  # an internal API changed: say so, go on
            results.append((name, f"n/a ({type(error).__name__}: {error})"[:70]))

    headers = scope["headers"]
    found = dict(headers)
    cookie_header = found.get(b"cookie", b"")
    user_agent = found.get(b"user-agent", b"")
    hints = found.get(b"sec-ch-ua-full-version-list", found.get(b"sec-ch-ua"))
    if kind == "json":
        body = json.dumps(JSON_DATA).encode()
        response = [(b"content-length", b"%d" % len(body)), (b"content-type", b"application/json")]
    else:
        body = PAGE_HTML.encode()
        response = [
            (b"content-length", b"%d" % len(body)),
            (b"content-type", b"text/html; charset=utf-8"),
        ]
    start_message = {"type": "http.response.start", "status": 200, "headers": response}
    body_message = {"type": "http.response.body", "body": body, "more_body": False}

    step("Site.visitor(scope)", lambda: lambda: site.visitor(scope))
    step(
        "  starlette cookie_parser(whole Cookie header), for scale",
        lambda: lambda: cookie_parser(cookie_header.decode("latin-1")),
    )

    def consent_state() -> Callable[[], Any]:
        if hasattr(site, "consent_state"):
            return lambda: site.consent_state(cookie_header, False)
        value = cookie_parser(cookie_header.decode("latin-1"))[site.settings.cookie_name]
        return lambda: site.codec.state(value)

    step("  consent state from the Cookie header [cache hit]", consent_state)
    step(
        "  classifier.classify(UA, hints) [cache hit]",
        lambda: lambda: site.classifier.classify(user_agent, hints),
    )
    step(
        "  catalog.negotiate(Accept-Language) [cache hit]",
        lambda: lambda: site.catalog.negotiate(found.get(b"accept-language", b"")),
    )
    step(
        "HTMLResponder(...) construction (the visitor is looked up on demand)",
        lambda: lambda: mw.HTMLResponder(consent.pages, dict(scope), _sink),
    )

    async def respond(count: int) -> None:
        for _ in range(count):
            responder = mw.HTMLResponder(consent.pages, dict(scope), _sink)
            await responder.send(dict(start_message))
            await responder.send(dict(body_message))

    def whole() -> Callable[[], Any]:
        return lambda: loop.run_until_complete(respond(200))

    try:
        whole()()
        value = per_call(whole(), budget) / 200
        results.append(("responder + send(start) + send(body)", f"{value:.2f}"))
    except Exception as error:
        results.append(("responder + send(start) + send(body)", f"n/a ({error})"[:70]))

    def start() -> Callable[[], Any]:
        responder = mw.HTMLResponder(consent.pages, dict(scope), _sink)
        responder.state.lookup()
        plan = consent.pages.plans.plan(200, response)
        return lambda: responder.start(dict(start_message), plan)

    step("HTMLResponder.start(message, plan) [headers, snippet]", start)
    step(
        "  html_charset(content-type) uncached (the middleware may cache it)",
        lambda: lambda: html_charset(response[1][1]),
    )
    step(
        "  policy.filter_headers(headers) (needed only with Set-Cookie)",
        lambda: lambda: site.policy.filter_headers(response, site.visitor(scope).consent.granted),
    )
    if kind != "json":

        def snippet() -> Callable[[], Any]:
            responder = mw.HTMLResponder(consent.pages, dict(scope), _sink)
            return lambda: responder.snippet("utf-8", *responder.state.lookup())

        step("  HTMLResponder.snippet('utf-8') [render cache + fill]", snippet)
        raw_path, path, query = scope.get("raw_path"), scope["path"], scope.get("query_string")
        step("  next_path(raw_path, path, query)", lambda: lambda: next_path(raw_path, path, query))

        def page_snippet() -> bytes:
            responder = mw.HTMLResponder(consent.pages, dict(scope), _sink)
            return responder.snippet("utf-8", *responder.state.lookup())

        def inject() -> Callable[[], Any]:
            piece = page_snippet()

            def run() -> bytes:
                injector = HTMLInjector(piece)
                return injector.feed(body) + injector.finish()

            return run

        step("HTMLInjector(snippet).feed(3 KB page) + finish() [no memo]", inject)

        def insert() -> Callable[[], Any]:
            piece = page_snippet()
            memo = BodyTagMemo()
            insert_snippet(body, piece, memo)
            return lambda: insert_snippet(body, piece, memo)

        step("insert_snippet(3 KB page) [body-tag memo hit]", insert)
    return results


def new_agent_steps(consent: Any, decided: str, quick: bool) -> list[tuple[str, str]]:
    """The never-seen-visitor path, step by step: each call gets a User-Agent not seen before."""
    from consent.browser import classify as browsers

    count = 300 if quick else 3000
    site = consent.site
    results: list[tuple[str, str]] = []

    def step(name: str, function: Callable[[str, str], Any]) -> None:
        batch = [_AGENTS.next() for _ in range(count)]
        try:
            gc.collect()
            start = time.perf_counter()
            for agent, hints in batch:
                function(agent, hints)
            results.append((name, f"{(time.perf_counter() - start) / count * 1e6:.2f}"))
        except Exception as error:  # an internal API changed: say so, go on
            results.append((name, f"n/a ({type(error).__name__}: {error})"[:70]))

    def visitor(agent: str, hints: str) -> Any:
        return site.visitor(http_scope("/", browser_headers(agent, decided, hints)))

    step("Site.visitor(scope) [miss: new UA, known cookie]", visitor)
    step("  building that scope alone (subtract)", lambda a, h: browser_headers(a, decided, h))
    step(
        "classifier.classify(UA, hints) [miss]",
        lambda a, h: site.classifier.classify(a.encode(), h.encode()),
    )
    step(
        "  classifier.classify(UA, None) [miss, no hints]",
        lambda a, h: site.classifier.classify(a.encode(), None),
    )
    step(
        "  browsers.parse_user_agent(UA) (FastUserAgent)", lambda a, h: browsers.parse_user_agent(a)
    )
    step(
        "    ua-parser-rs extractors alone",
        lambda a, h: (
            browsers._RESOLVER.ua.extract(a),
            browsers._RESOLVER.os.extract(a),
            browsers._RESOLVER.de.extract(a),
        ),
    )
    step(
        "  the verdict's extractors (browser, Spider pre-check)",
        lambda a, h: (
            browsers._RESOLVER.ua.extract(a),
            browsers.is_spider(a, named_browser=True),
        ),
    )
    step("  browsers.parse_brand_list(sec-ch-ua)", lambda a, h: browsers.parse_brand_list(h))
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--requests", type=int, help="requests per profiled loop")
    parser.add_argument(
        "--scenario", action="append", choices=tuple(PATHS), help="default: html and json"
    )
    parser.add_argument("--top", type=int, default=15)
    parser.add_argument("--pyinstrument", action="store_true", help="also print a call tree")
    args = parser.parse_args(argv)
    count = args.requests or (2_000 if args.quick else 20_000)
    chosen = args.scenario or ["html", "json"]

    bare = make_bare_app()
    consent = make_consent_app(make_bare_app())
    loop = asyncio.new_event_loop()
    consent_value = loop.run_until_complete(consent_cookie(consent))
    session_value = loop.run_until_complete(session_cookie(make_session_app(make_bare_app())))
    decided = f"{GA_COOKIE}; session={session_value}; consent={consent_value}"
    undecided = f"session={session_value}"

    for scenario in chosen:
        kind = "json" if scenario == "json" else "html"
        label = {
            "html": "decided visitor, HTML page",
            "json": "decided visitor, JSON route",
            "new_ua": "decided visitor with a never-seen User-Agent each request, HTML page",
        }.get(scenario, "undecided visitor (banner), HTML page")
        print(f"=== {label}: {count:,} requests ===")

        def make(scenario: str = scenario) -> list[dict[str, Any]]:
            return scopes_for(scenario, decided, undecided, count)

        timed(loop, consent, make()[: count // 10])  # warm-up
        times: dict[str, list[float]] = {"bare": [], "consent": []}
        for _ in range(3):
            times["bare"].append(timed(loop, bare, make()))
            times["consent"].append(timed(loop, consent, make()))
        bare_us, consent_us = min(times["bare"]), min(times["consent"])
        print(
            f"unprofiled, best of 3: bare {bare_us:.1f} µs, consent {consent_us:.1f} µs, "
            f"added {consent_us - bare_us:.1f} µs per request"
        )
        ours_rows, all_rows = profile_table(loop, consent, make(), args.top)
        print_rows("cProfile, functions in consent by own time:", ours_rows)
        print_rows("cProfile, all functions by own time (context):", all_rows)
        print("Steps timed alone (µs per call, best of 5):")
        for name, value in steps(loop, consent, make()[0], kind, args.quick):
            print(f"  {name:<66} {value:>10}")
        if scenario == "new_ua":
            print("Never-seen User-Agent, steps timed alone (µs per call, mean of one pass):")
            for name, value in new_agent_steps(consent, decided, args.quick):
                print(f"  {name:<66} {value:>10}")
        if args.pyinstrument:
            try:
                from pyinstrument import Profiler
            except ImportError:
                print("pyinstrument is not installed")
            else:
                profiler = Profiler(interval=0.0001)
                scopes = make()
                profiler.start()
                loop.run_until_complete(loop_over(consent, scopes))
                profiler.stop()
                print(profiler.output_text(unicode=True, color=False, show_all=False))
        print()
    loop.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
