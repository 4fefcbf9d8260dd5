"""Where ConsentMiddleware's added time goes: a profile of the direct-call loop of bench_asgi.

Three views, for a decided visitor on the HTML page and on the JSON route (and, with
``--scenario undecided`` or ``--scenario new_ua``, a visitor who gets the banner or one with a
never-seen User-Agent on every request):

1. The loop through the bare app and through the middleware, timed without a profiler: the
   added µs per request that the ranking has to explain.
2. cProfile over the same loop: the functions by own time (tottime), in µs per request, those
   of ``consent`` and then all. cProfile inflates small functions: read the ranking, not the sum.
3. Each step the middleware takes for one request, timed alone with the request's own values.
   The steps call the package's internals by name: a step whose function is gone fails the
   script, so that the smoke run (``run_all.py --quick``) finds a probe the code has outgrown.

    python benchmarks/profile_asgi.py                    # html and json, 20,000 requests
    python benchmarks/profile_asgi.py --quick
    python benchmarks/profile_asgi.py --scenario new_ua  # the never-seen User-Agent path
"""

from __future__ import annotations

import asyncio
import cProfile
import gc
import json
import pstats
import sys
import time
from collections.abc import Callable, Coroutine
from functools import partial
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository root

from benchmarks.apps import (
    JSON_DATA,
    PAGE_HTML,
    GeneratedAgents,
    browser_headers,
    discard,
    page_scope,
)
from benchmarks.bench_asgi import Scenario, setup, timed
from benchmarks.scaffold import command_line, print_columns, run

#: bench_asgi's scenario of each choice: its requests and its ConsentMiddleware.
SCENARIOS = {
    "html": "consent_html",
    "json": "consent_json",
    "undecided": "consent_undecided",
    "new_ua": "consent_new_ua",
}
_AGENTS = GeneratedAgents(start=50_000_000)  # never seen by any middleware of this process
Row = tuple[str, float, float, float]  # function, own µs, calls and cumulative µs per request


def us_per_request(
    loop: asyncio.AbstractEventLoop, app: Any, scopes: list[dict[str, Any]]
) -> float:
    count = len(scopes)
    gc.collect()
    return loop.run_until_complete(timed(app, scopes)) / count * 1e6


def profile_table(
    loop: asyncio.AbstractEventLoop, app: Any, scopes: list[dict[str, Any]], top: int
) -> tuple[list[Row], list[Row]]:
    """The ``top`` functions of ``consent``, and of all, by own time."""
    count = len(scopes)
    profiler = cProfile.Profile()
    gc.collect()
    profiler.enable()
    loop.run_until_complete(timed(app, scopes))
    profiler.disable()
    rows_ours, rows_all = [], []
    stats = pstats.Stats(profiler).stats  # type: ignore[attr-defined]
    for (filename, line, function), (_, calls, own, cumulative, _) in stats.items():
        name = function if filename == "~" else f"{Path(filename).name}:{line}({function})"
        row = (name, own / count * 1e6, calls / count, cumulative / count * 1e6)
        rows_all.append(row)
        path = filename.replace("\\", "/")
        if "/consent/" in path and "/site-packages/" not in path:
            rows_ours.append(row)
    rows_ours.sort(key=lambda row: -row[1])
    rows_all.sort(key=lambda row: -row[1])
    return rows_ours[:top], rows_all[:top]


def print_rows(title: str, rows: list[Row]) -> None:
    print(title)
    lines = [
        (name[:58], f"{own:.2f}", f"{calls:.2f}", f"{cum:.2f}") for name, own, calls, cum in rows
    ]
    print_columns(("function", "own µs/req", "calls/req", "cum µs/req"), lines)


def per_call(function: Callable[[], Any], budget: float) -> float:
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


def run_through(coroutine: Coroutine[Any, Any, Any]) -> None:
    """Run a coroutine that never waits (a responder sending to a ``send`` that keeps nothing),
    without an event loop."""
    try:
        coroutine.send(None)
    except StopIteration:
        return
    raise RuntimeError("the coroutine waited")


def steps(consent: Any, scope: dict[str, Any], kind: str) -> dict[str, Callable[[], Any]]:
    """Each step of one request as a call with the request's own values, by what it is."""
    from consent.middleware import HTMLResponder
    from consent.page.injector import BodyTagMemo, HTMLInjector, insert_snippet
    from consent.page.render import next_path

    site, pages = consent.site, consent.pages
    found = dict(scope["headers"])
    hints = found.get(b"sec-ch-ua-full-version-list", found.get(b"sec-ch-ua"))
    page = kind != "json"
    body = PAGE_HTML.encode() if page else json.dumps(JSON_DATA).encode()
    content_type = b"text/html; charset=utf-8" if page else b"application/json"
    response = [(b"content-length", b"%d" % len(body)), (b"content-type", content_type)]
    start_message = {"type": "http.response.start", "status": 200, "headers": response}
    body_message = {"type": "http.response.body", "body": body, "more_body": False}

    def responder() -> HTMLResponder:
        return HTMLResponder(pages, dict(scope), discard)

    def respond() -> None:
        each = responder()
        run_through(each.send(dict(start_message)))
        run_through(each.send(dict(body_message)))

    consent_cookie = site.consent_cookie(found.get(b"cookie", b""))
    probes: dict[str, Callable[[], Any]] = {"Site.visitor(scope)": partial(site.visitor, scope)}
    if consent_cookie:  # as the visitor, which verifies only a cookie it was sent
        probes["  codec.verify(consent cookie) [cache hit]"] = partial(
            site.codec.verify, consent_cookie
        )
    probes |= {
        "  classifier.classify(UA, hints) [cache hit]": partial(
            site.classifier.classify, found.get(b"user-agent", b""), hints
        ),
        "  catalog.negotiate(Accept-Language) [cache hit]": partial(
            site.catalog.negotiate, found.get(b"accept-language", b"")
        ),
        "HTMLResponder(pages, scope, send)": responder,
        "  StartPlans.plan(200, headers) [kept plan]": partial(pages.plans.plan, 200, response),
        "responder + send(start) + send(body)": respond,
    }
    if not page:
        return probes
    started = responder()
    visitor, consent_now = started.state.lookup()
    plan = pages.plans.plan(200, response)
    snippet = started.snippet("utf-8", visitor, consent_now)
    memo = BodyTagMemo()
    insert_snippet(body, snippet, memo)

    def inject_unmemoised() -> bytes:
        injector = HTMLInjector(snippet)
        return injector.feed(body) + injector.finish()

    raw_path, path, query = scope["raw_path"], scope["path"], scope["query_string"]
    return probes | {
        "HTMLResponder.start(message, plan) [headers, snippet]": lambda: started.start(
            dict(start_message), plan
        ),
        "  HTMLResponder.snippet('utf-8') [render cache + fill]": partial(
            started.snippet, "utf-8", visitor, consent_now
        ),
        "  next_path(raw_path, path, query)": partial(next_path, raw_path, path, query),
        "HTMLInjector(snippet).feed(3 KB page) + finish() [no memo]": inject_unmemoised,
        "insert_snippet(3 KB page) [body-tag memo hit]": partial(
            insert_snippet, body, snippet, memo
        ),
    }


def new_agent_steps(consent: Any, decided: str) -> dict[str, Callable[[str, str], Any]]:
    """The never-seen visitor's steps, each called with a User-Agent and hints never seen."""
    from consent.browser import classify

    site = consent.site

    def visitor(agent: str, hints: str) -> Any:
        return site.visitor(page_scope(agent, decided, hints))

    return {
        "Site.visitor(scope) [miss: new UA, known cookie]": visitor,
        "  building that scope alone (subtract)": lambda a, h: browser_headers(a, decided, h),
        "classifier.classify(UA, hints) [miss]": lambda a, h: site.classifier.classify(
            a.encode(), h.encode()
        ),
        "  classifier.classify(UA, None) [miss, no hints]": lambda a, h: site.classifier.classify(
            a.encode(), None
        ),
        "  the verdict's extractors (browser, Spider pre-check)": lambda a, h: (
            classify._RESOLVER.ua.extract(a),
            classify.is_spider(a, named_browser=True),
        ),
        "  parse_brand_list(sec-ch-ua)": lambda a, h: classify.parse_brand_list(h),
        "parse_user_agent(UA): what request.state.browser.user_agent parses": lambda a, h: (
            classify.parse_user_agent(a)
        ),
    }


def mean_over_new_agents(step: Callable[[str, str], Any], count: int) -> float:
    """µs per call of ``step``, each call with a User-Agent never seen before."""
    batch = [_AGENTS.next() for _ in range(count)]
    gc.collect()
    start = time.perf_counter()
    for agent, hints in batch:
        step(agent, hints)
    return (time.perf_counter() - start) / count * 1e6


def main(argv: list[str] | None = None) -> int:
    parser = command_line(__doc__, "2,000 requests, short timings", json_output=False)
    parser.add_argument("--requests", type=int, help="requests per profiled loop")
    parser.add_argument(
        "--scenario", action="append", choices=tuple(SCENARIOS), help="default: html and json"
    )
    parser.add_argument("--top", type=int, default=15)
    args = parser.parse_args(argv)
    count = args.requests or (2_000 if args.quick else 20_000)
    budget = 0.02 if args.quick else 0.2

    loop = asyncio.new_event_loop()
    by_key = {scenario.key: scenario for scenario in setup(loop, None, count)}
    # A decided visitor's cookies, as bench_asgi made them, for the never-seen agents' steps.
    decided = dict(by_key["consent_html"].make_scope(0)["headers"])[b"cookie"].decode("latin-1")
    for choice in args.scenario or ["html", "json"]:
        scenario = by_key[SCENARIOS[choice]]
        consent, bare = scenario.app, by_key[f"bare_{scenario.kind}"].app
        print(f"=== {scenario.label}: {count:,} requests ===")

        def make(scenario: Scenario = scenario) -> list[dict[str, Any]]:
            return [scenario.make_scope(i) for i in range(count)]

        us_per_request(loop, consent, make()[: count // 10])  # warm-up
        bare_us = min(us_per_request(loop, bare, make()) for _ in range(3))
        consent_us = min(us_per_request(loop, consent, make()) for _ in range(3))
        print(
            f"unprofiled, best of 3: bare {bare_us:.1f} µs, consent {consent_us:.1f} µs, "
            f"added {consent_us - bare_us:.1f} µs per request"
        )
        ours, every = profile_table(loop, consent, make(), args.top)
        print_rows("cProfile, functions in consent by own time:", ours)
        print_rows("cProfile, all functions by own time (context):", every)
        print("Steps timed alone (µs per call, best of 5):")
        probes = steps(consent, make()[0], scenario.kind)
        print_columns(
            ("step", "µs"), [(name, f"{per_call(p, budget):.2f}") for name, p in probes.items()]
        )
        if choice == "new_ua":
            print("Never-seen User-Agent, steps timed alone (µs per call, mean of one pass):")
            calls = 300 if args.quick else 3000
            lines = [
                (name, f"{mean_over_new_agents(step, calls):.2f}")
                for name, step in new_agent_steps(consent, decided).items()
            ]
            print_columns(("step", "µs"), lines)
        print()
    loop.close()
    return 0


if __name__ == "__main__":
    run(main)
