"""Per-request cost of ConsentMiddleware next to a no-op middleware and Starlette's sessions.

Calls ASGI apps directly in one asyncio event loop (no server, no sockets), with pre-built scopes
carrying the headers a current Chrome sends. Every scenario runs once per round, in turns of
250 requests with the others (the order rotates each round), and each figure is the median over
rounds; the "added" figures are medians of per-round differences with the bare app of the same
round.

    python benchmarks/bench_asgi.py            # full run (about 20 s)
    python benchmarks/bench_asgi.py --quick    # smoke run (a few seconds)
    python benchmarks/bench_asgi.py --json     # the results as JSON on stdout

Exits non-zero only when something is broken (a wrong status, a banner where none belongs, no
cookie from an endpoint), never because of timing.
"""

from __future__ import annotations

import asyncio
import gc
import itertools
import json
import os
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository root

from benchmarks.apps import (
    CHROME_UA,
    GA_COOKIE,
    GeneratedAgents,
    NoopMiddleware,
    browser_headers,
    cookie_value,
    discard,
    http_scope,
    make_bare_app,
    make_consent_app,
    make_session_app,
    page_scope,
    receive_request,
    receiver,
)
from benchmarks.scaffold import REPO, BrokenError, command_line, print_columns, report, run

UA_CORPUS_ENV = "CONSENT_UA_CORPUS"
UA_CORPUS_DEFAULT = REPO / "tests/data/uap-core/test_ua.yaml"


# --- requests ------------------------------------------------------------------------------


class Recorder:
    """A ``send`` that keeps the messages (used only for set-up and checks)."""

    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []

    async def __call__(self, message: dict[str, Any]) -> None:
        self.messages.append(message)

    @property
    def status(self) -> int:
        return int(self.messages[0]["status"])

    @property
    def headers(self) -> list[tuple[bytes, bytes]]:
        return list(self.messages[0].get("headers", []))

    @property
    def body(self) -> bytes:
        return b"".join(m.get("body", b"") for m in self.messages[1:])


async def call(app: Any, scope: dict[str, Any], body: bytes = b"") -> Recorder:
    recorder = Recorder()
    await app(scope, receiver(body), recorder)
    return recorder


async def consent_cookie(app: Any) -> str:
    """Accept all through the middleware's own endpoint, as the banner's script does."""
    headers = [
        (b"host", b"localhost"),
        (b"origin", b"http://localhost"),
        (b"content-type", b"application/json"),
        (b"user-agent", CHROME_UA.encode()),
    ]
    reply = await call(app, http_scope("/_consent", headers, "POST"), b'{"action":"accept_all"}')
    cookies = [v.decode("latin-1") for k, v in reply.headers if k.lower() == b"set-cookie"]
    if reply.status != 200 or not cookies:
        raise BrokenError(f"POST /_consent answered {reply.status} with cookies {cookies}")
    return cookie_value(next(c for c in cookies if c.startswith("consent=")), "consent")


async def session_cookie(app: Any) -> str:
    reply = await call(app, http_scope("/login", [(b"host", b"localhost")]))
    cookies = [v.decode("latin-1") for k, v in reply.headers if k.lower() == b"set-cookie"]
    if reply.status != 200 or not cookies:
        raise BrokenError(f"GET /login answered {reply.status} with cookies {cookies}")
    return cookie_value(cookies[0], "session")


# --- user agents never seen before --------------------------------------------------------


def corpus_path() -> Path | None:
    configured = os.environ.get(UA_CORPUS_ENV)
    path = Path(configured) if configured else UA_CORPUS_DEFAULT
    return path if path.is_file() else None


def load_corpus(path: Path) -> list[str]:
    """The distinct ``user_agent_string`` values of a uap-core ``test_ua.yaml``."""
    try:
        import yaml

        cases = yaml.safe_load(path.read_text(encoding="utf-8"))["test_cases"]
        agents = [str(case["user_agent_string"]) for case in cases]
    except ImportError:  # a plain reading of the lines is enough for this file
        agents = []
        for line in path.read_text(encoding="utf-8").splitlines():
            line = line.strip()
            if line.startswith("- user_agent_string:"):
                value = line.split(":", 1)[1].strip()
                if value[:1] in ("'", '"') and value[-1:] == value[:1]:
                    value = value[1:-1].replace("''", "'")
                agents.append(value)
    seen: dict[str, None] = {}
    for agent in agents:
        if agent.strip() and agent.isascii():
            seen.setdefault(agent, None)
    return list(seen)


# --- scenarios -----------------------------------------------------------------------------


@dataclass
class Scenario:
    key: str
    label: str
    app: Any
    make_scope: Callable[[int], dict[str, Any]]
    kind: str  # "html", "json" or "traced": which bare app it is compared with
    #: Called before each round with the event loop (untimed), e.g. to start from empty caches.
    before_round: Callable[[asyncio.AbstractEventLoop], None] | None = None
    requests: int | None = None  # fewer than the default (a corpus of limited size)
    samples: list[float] = field(default_factory=list)  # µs per request, one per round


def scenarios(
    *,
    bare: Any,
    noop: Any,
    session: Any,
    consent: Any,
    decided: str,
    undecided: str,
    corpus: Sequence[str] | None,
    requests: int,
) -> list[Scenario]:
    def fixed(path: str, cookie: str) -> Callable[[int], dict[str, Any]]:
        headers = browser_headers(CHROME_UA, cookie)
        return lambda _i: http_scope(path, list(headers))

    generated = GeneratedAgents()

    def new_generated(_i: int) -> dict[str, Any]:
        agent, hints = generated.next()
        return page_scope(agent, decided, hints)

    consent_value = decided.rsplit("consent=", 1)[1]
    request_ids = itertools.count()
    chrome_headers = browser_headers(CHROME_UA, decided)

    def traced(_i: int) -> dict[str, Any]:
        # A new id for every request, so that no start message repeats, even across rounds.
        request_id = (b"x-request-id", b"%016x" % next(request_ids))
        return http_scope("/api/traced", [*chrome_headers, request_id])

    def analytics_changed(i: int) -> dict[str, Any]:
        # An analytics script rewrites its cookie's timestamp on every page view.
        cookie = f"_ga_XYZ123=GS1.1.1717171717.4.1.{1717172000 + i}.0.0.0; consent={consent_value}"
        return page_scope(CHROME_UA, cookie)

    chosen: list[Scenario] = [
        Scenario("bare_html", "bare Starlette, HTML page", bare, fixed("/", decided), "html"),
        Scenario("noop_html", "no-op middleware, HTML", noop, fixed("/", decided), "html"),
        Scenario("session_html", "SessionMiddleware, HTML", session, fixed("/", decided), "html"),
        Scenario("consent_html", "Consent, decided, HTML", consent, fixed("/", decided), "html"),
        Scenario(
            "consent_undecided",
            "Consent, undecided (banner)",
            consent,
            fixed("/", undecided),
            "html",
        ),
        Scenario(
            "consent_churn",
            "Consent, decided, new analytics cookie each",
            consent,
            analytics_changed,
            "html",
        ),
        Scenario("consent_new_ua", "Consent, new Chrome UA each", consent, new_generated, "html"),
        Scenario("bare_json", "bare Starlette, JSON", bare, fixed("/api", decided), "json"),
        Scenario("noop_json", "no-op middleware, JSON", noop, fixed("/api", decided), "json"),
        Scenario(
            "session_json", "SessionMiddleware, JSON", session, fixed("/api", decided), "json"
        ),
        Scenario("consent_json", "Consent, decided, JSON", consent, fixed("/api", decided), "json"),
        Scenario("bare_traced", "bare Starlette, JSON + request id", bare, traced, "traced"),
        Scenario("noop_traced", "no-op middleware, JSON + request id", noop, traced, "traced"),
        Scenario("consent_traced", "Consent, JSON + request id", consent, traced, "traced"),
    ]
    if corpus:
        agents = list(corpus)

        def corpus_scope(i: int) -> dict[str, Any]:
            return page_scope(agents[i % len(agents)], decided, None)

        corpus_app = make_consent_app(make_bare_app())
        corpus_scenario = Scenario(
            "consent_corpus_ua",
            "Consent, new UA each (uap-core)",
            corpus_app,
            corpus_scope,
            "html",
            requests=min(requests, len(agents)),
        )
        warmed = False

        def forget_visitors(loop: asyncio.AbstractEventLoop) -> None:
            # The corpus is finite: before each round the middleware forgets every visitor and
            # browser verdict, so each agent is new again. What it renders once per language
            # and verdict (the notice for an outdated Opera in English, say) stays, as in a
            # server that has been running: the first pass over the corpus, untimed, renders it.
            nonlocal warmed
            if not warmed:
                for i in range(len(agents)):
                    loop.run_until_complete(call(corpus_app, corpus_scope(i)))
                warmed = True
            corpus_app.site.cache_clear()

        corpus_scenario.before_round = forget_visitors
        chosen.insert(6, corpus_scenario)
    return chosen


async def timed(app: Any, scopes: list[dict[str, Any]]) -> float:
    """Seconds to run every scope through ``app``, one after the other.

    The list is emptied as it goes: each scope, and whatever the middleware and the application
    left in it, is freed as soon as its response is sent, as a server frees it. Kept until the
    end of a round, those objects would be traversed by the collector again and again, a cost
    that no server pays and that grows with what a middleware stores in the scope.
    """
    start = time.perf_counter()
    while scopes:
        await app(scopes.pop(), receive_request, discard)
    return time.perf_counter() - start


def _batches(
    make_scope: Callable[[int], dict[str, Any]], count: int, block: int
) -> list[list[dict[str, Any]]]:
    """Scopes ``0 .. count - 1`` in lists of ``block``."""
    return [
        [make_scope(i) for i in range(start, min(start + block, count))]
        for start in range(0, count, block)
    ]


def run_rounds(
    loop: asyncio.AbstractEventLoop,
    chosen: list[Scenario],
    rounds: int,
    requests: int,
    block: int = 250,
) -> None:
    """Run ``rounds`` rounds of every scenario, one sample per scenario and round.

    Within a round the scenarios take turns ``block`` requests at a time (the order rotating
    each round), so that a slow stretch of a shared machine, which lasts longer than a block,
    weighs on every scenario alike rather than on whichever ran through it.
    """
    for index in range(rounds):
        shift = index % len(chosen)
        order = chosen[shift:] + chosen[:shift]
        for scenario in order:
            if scenario.before_round is not None:
                scenario.before_round(loop)
        counts = {scenario.key: scenario.requests or requests for scenario in order}
        # In batches that ``timed`` empties: no other list keeps a scope once it has been run.
        batches = {s.key: _batches(s.make_scope, counts[s.key], block) for s in order}
        seconds = dict.fromkeys(counts, 0.0)
        gc.collect()
        # The pre-built scopes are the harness's, not a server's: keep the collector from
        # traversing them, as a server's per-request scopes are never many at once.
        gc.freeze()
        try:
            for turn in range(max(map(len, batches.values()))):
                for scenario in order:
                    if turn < len(batches[scenario.key]):
                        batch = batches[scenario.key][turn]
                        seconds[scenario.key] += loop.run_until_complete(timed(scenario.app, batch))
        finally:
            gc.unfreeze()
        for scenario in order:
            scenario.samples.append(seconds[scenario.key] / counts[scenario.key] * 1e6)


# --- uncached parsing, for comparison ---------------------------------------------------------


def parse_costs(agents: list[str], rounds: int) -> dict[str, float]:
    """µs per call of ``user_agents.parse`` and of the middleware's own parse, on unseen UAs."""
    import user_agents

    from consent.browser.classify import parse_user_agent

    results: dict[str, list[float]] = {"user_agents.parse": [], "consent parse_user_agent": []}
    per_round = max(1, len(agents) // rounds)
    for index in range(rounds):
        batch = agents[index * per_round : (index + 1) * per_round]
        for name, function in (
            ("user_agents.parse", user_agents.parse),
            ("consent parse_user_agent", parse_user_agent),
        ):
            gc.collect()
            start = time.perf_counter()
            for agent in batch:
                function(agent)
            results[name].append((time.perf_counter() - start) / len(batch) * 1e6)
    return {name: statistics.median(values) for name, values in results.items()}


# --- checks --------------------------------------------------------------------------------


async def check(chosen: list[Scenario]) -> None:
    """One request of each scenario, checked, so that a broken app is not timed."""
    for scenario in chosen:
        reply = await call(scenario.app, scenario.make_scope(0))
        if reply.status != 200:
            raise BrokenError(f"{scenario.key}: status {reply.status}")
        body = reply.body
        if scenario.kind in ("json", "traced"):
            json.loads(body)
            if b"consent" in body:
                raise BrokenError(f"{scenario.key}: something was injected into JSON")
            continue
        if b"Harbour Pottery" not in body:
            raise BrokenError(f"{scenario.key}: not the page")
        has_banner = b'id="consent-banner"' in body
        if scenario.key == "consent_undecided" and not has_banner:
            raise BrokenError("undecided visitor: no banner injected")
        decided = scenario.key.startswith("consent_") and scenario.key != "consent_undecided"
        if decided and has_banner:
            raise BrokenError(f"{scenario.key}: banner shown to a decided visitor")
        if not scenario.key.startswith("consent_") and b"consent" in body:
            raise BrokenError(f"{scenario.key}: the page was changed without the middleware")


# --- report --------------------------------------------------------------------------------


def paired(a: Scenario, b: Scenario) -> float:
    """Median over rounds of ``a - b``, µs per request."""
    return statistics.median(x - y for x, y in zip(a.samples, b.samples, strict=True))


def summarise(chosen: list[Scenario], parse: dict[str, float], requests: int) -> dict[str, Any]:
    by_key = {s.key: s for s in chosen}
    session_added = {
        kind: paired(by_key[f"session_{kind}"], by_key[f"bare_{kind}"]) for kind in ("html", "json")
    }
    rows = []
    for scenario in chosen:
        bare = by_key[f"bare_{scenario.kind}"]
        noop = by_key[f"noop_{scenario.kind}"]
        added = paired(scenario, bare) if scenario is not bare else 0.0
        over_noop = paired(scenario, noop) if scenario is not noop else 0.0
        session = session_added.get(scenario.kind)
        ratio = added / session if session is not None and session > 0 else None
        if scenario is bare:
            ratio = None
        target, met = None, None
        if scenario.key == "consent_html":
            target, met = "≤ 1.0× Session's (aim 0.5×)", ratio is not None and ratio <= 1.0
        elif scenario.key == "consent_json":
            target, met = "≤ 2 µs over no-op", over_noop <= 2.0
        elif scenario.key in ("consent_new_ua", "consent_corpus_ua"):
            target, met = "≤ 40 µs over bare", added <= 40.0
        rows.append(
            {
                "key": scenario.key,
                "scenario": scenario.label,
                "requests_per_round": scenario.requests or requests,
                "us_per_request": statistics.median(scenario.samples),
                "us_min": min(scenario.samples),
                "us_max": max(scenario.samples),
                "added_vs_bare_us": added,
                "added_vs_noop_us": over_noop,
                "ratio_to_session_added": ratio,
                "target": target,
                "met": met,
            }
        )
    return {
        "rows": rows,
        "session_added_us": session_added,
        "parse_us_per_call": parse,
    }


def fmt(value: float | None, spec: str = "{:.1f}") -> str:
    return "-" if value is None else spec.format(value)


def print_table(summary: dict[str, Any]) -> None:
    meta = summary["meta"]
    print(
        f"ASGI direct calls: {meta['rounds']} rounds × {meta['requests']} requests, "
        f"median per round (µs per request); Python {meta['python']}; UA corpus: {meta['corpus']}"
    )
    headers = (
        "scenario",
        "µs/req",
        "min–max",
        "+µs vs bare",
        "+µs vs no-op",
        "× Session",
        "target",
        "met",
    )
    lines = []
    for row in summary["rows"]:
        met = {True: "met", False: "NOT met", None: ""}[row["met"]]
        lines.append(
            (
                row["scenario"],
                fmt(row["us_per_request"]),
                f"{row['us_min']:.1f}–{row['us_max']:.1f}",
                fmt(row["added_vs_bare_us"], "{:+.1f}"),
                fmt(row["added_vs_noop_us"], "{:+.1f}"),
                fmt(row["ratio_to_session_added"], "{:.2f}×"),
                row["target"] or "info",
                met,
            )
        )
    print_columns(headers, lines, left=(0, 6, 7))
    print(
        f"SessionMiddleware adds {summary['session_added_us']['html']:.1f} µs (HTML) and "
        f"{summary['session_added_us']['json']:.1f} µs (JSON) over the bare app."
    )
    print("Uncached User-Agent parsing on never-seen agents (µs per call, median):")
    for name, value in summary["parse_us_per_call"].items():
        print(f"  {name:<28} {value:8.1f}")


def setup(
    loop: asyncio.AbstractEventLoop, corpus: Sequence[str] | None, requests: int
) -> list[Scenario]:
    """Every scenario, with its apps and the cookies of a decided and an undecided visitor."""
    bare = make_bare_app()
    noop = NoopMiddleware(make_bare_app())
    session = make_session_app(make_bare_app())
    consent = make_consent_app(make_bare_app())
    consent_value = loop.run_until_complete(consent_cookie(consent))
    session_value = loop.run_until_complete(session_cookie(session))
    return scenarios(
        bare=bare,
        noop=noop,
        session=session,
        consent=consent,
        decided=f"{GA_COOKIE}; session={session_value}; consent={consent_value}",
        undecided=f"session={session_value}",
        corpus=corpus,
        requests=requests,
    )


def main(argv: list[str] | None = None) -> int:
    parser = command_line(__doc__, "a smoke run of a few seconds")
    parser.add_argument("--rounds", type=int, help="rounds (default 7, quick 3)")
    parser.add_argument("--requests", type=int, help="requests per scenario and round")
    args = parser.parse_args(argv)
    rounds = args.rounds or (3 if args.quick else 7)
    requests = args.requests or (300 if args.quick else 5000)

    path = corpus_path()
    corpus = load_corpus(path) if path else None

    loop = asyncio.new_event_loop()
    try:
        chosen = setup(loop, corpus, requests)
        loop.run_until_complete(check(chosen))
        for scenario in chosen:  # warm-up: caches, code paths, the allocator
            scenario.samples.clear()
        run_rounds(loop, chosen, 1, max(50, requests // 10))
        for scenario in chosen:
            scenario.samples.clear()
        run_rounds(loop, chosen, rounds, requests)
    finally:
        loop.close()

    generated = GeneratedAgents(start=10_000_000)  # far from anything the middleware has seen
    parse_agents = list(corpus) if corpus else [generated.next()[0] for _ in range(1000)]
    parse_agents = parse_agents[: 60 if args.quick else 1200]
    parse = parse_costs(parse_agents, rounds=3)

    summary = summarise(chosen, parse, requests)
    meta = {
        "rounds": rounds,
        "requests": requests,
        "python": sys.version.split()[0],
        "corpus": f"{len(corpus)} agents" if corpus else "none (generated agents only)",
        "cpus": os.cpu_count(),
    }
    return report({"meta": meta, **summary}, args.json, print_table)


if __name__ == "__main__":
    run(main)
