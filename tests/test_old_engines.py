"""The notice and the banner in real old engines: NetSurf and Dillo on a virtual screen, and lynx.

The example site (``examples/starlette_app.py``) is served by uvicorn, and every request it
receives is logged with its User-Agent. Its policy names neither desktop engine, so each one's
User-Agent (``NetSurf/3.10 (Linux)``, ``Dillo/3.0.5``) is judged ``unknown``; the site here adds
``unknown`` to ``notice_verdicts`` so that they get the notice. NetSurf asks for consent.css;
Dillo never does, because it reads ``<link rel=stylesheet>`` only inside ``<head>`` and the
middleware injects after ``<body>``: Dillo is the test of the markup without its stylesheet.

**Where things are on the screen.** Each desktop engine renders the page three times, a fresh
browser each time, in a 1024x768 window on a private Xvfb display:

1. as served, for the screenshot that the README shows (``screenshot_dir``, ``"old-engines"``);
2. with a test-only ``<style>`` put into the page's ``<head>`` that paints the notice, the
   banner, the preferences dialog and the "Cookie settings" control, each with everything in
   it, and the page's own ``<h1>`` in one exact colour apiece that no engine draws by itself
   (``background-color … !important``: nothing moves);
3. the same, with the middleware told to inject nothing into ``/`` (``skip_paths``): the page
   as its author wrote it.

A colour's bounding box on the screen is where that element shows, whatever the engine made of
its layout (in flow, out of flow, drawn over something else). In the window as it opens, with no
scrolling: two consent elements must not overlap; the notice and the banner must show; the
page's heading must show, under no consent element, exactly as tall and as uncovered (the share
of its box the colour fills, the text being the rest) as on the page served without the
middleware. Comparing with the bare page keeps fonts and engine defaults out of the judgement.

**lynx** dumps the page as text with an old Firefox's User-Agent: the notice, then the banner,
then the page, and the preferences form is not in the way before the page's content.

Without a tool these tests are skipped, and fail under ``$CI`` (``require_tool``).
"""

from __future__ import annotations

import json
import os
import re
import signal
import struct
import subprocess
import time
import zlib
from collections.abc import Awaitable, Callable, Iterator, MutableMapping
from dataclasses import dataclass, field
from importlib.resources import files
from itertools import combinations
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from consent import ConsentSettings
from examples.site import POLICY
from examples.starlette_app import create_app
from tests.support import OLD_FIREFOX, LiveServer, client, require_tool, screenshot_dir
from tests.xscreen import SCREEN_HEIGHT, SCREEN_WIDTH, Colour, Region, Screenshot, XDisplay

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

STYLESHEET_PATH = "/_consent/static/consent.css"
#: The example home page's own heading, and a sentence of its main content (``examples/site.py``).
PAGE_HEADING = "Welcome"
PAGE_TEXT = "Only the categories you allowed reach your browser."
#: The policy's verdicts that show the notice, plus the one these engines get.
NOTICE_VERDICTS = ["outdated", "unsupported", "unknown"]

#: How long one engine may take to ask for the page, and then to settle on the screen.
REQUEST_SECONDS = 15.0
REQUEST_POLL_SECONDS = 0.05
RENDER_SECONDS = 15.0
#: The screen has settled when this many captures in a row, this far apart, are identical.
SETTLE_FRAMES = 3
SETTLE_INTERVAL = 0.25
#: An engine gets this long to quit on SIGTERM before it is killed.
QUIT_SECONDS = 5.0
LYNX_SECONDS = 20.0
LYNX_WIDTH = 100

#: The colour each element is painted in the marked render. None of them is a colour of the
#: engines' own interface or of the default stylesheets.
NOTICE_COLOUR: Colour = (255, 0, 255)
BANNER_COLOUR: Colour = (0, 255, 255)
PREFERENCES_COLOUR: Colour = (255, 255, 0)
SETTINGS_CONTROL_COLOUR: Colour = (255, 128, 0)
HEADING_COLOUR: Colour = (0, 255, 0)
#: Each element's selectors. Dillo 3 drops the elements it does not know (``dialog``, ``main``)
#: and lays their children out in their place, so the dialog's parts are named too.
CONSENT_ELEMENTS: dict[str, tuple[tuple[str, ...], Colour]] = {
    "notice": (("#browser-notice",), NOTICE_COLOUR),
    "banner": (("#consent-banner",), BANNER_COLOUR),
    "preferences dialog": (
        (
            "#consent-preferences",
            "#consent-preferences-title",
            ".consent-preferences__text",
            ".consent-preferences__form",
        ),
        PREFERENCES_COLOUR,
    ),
    "settings control": (("#consent-settings-control",), SETTINGS_CONTROL_COLOUR),
}
#: The example page's one ``h1`` (the consent elements' headings are ``h2``).
HEADING_SELECTORS = ("h1",)
#: The heading's box may lose this much of its colour to a neighbour's anti-aliased edge.
HEADING_FILL_TOLERANCE = 0.01


def marker_css() -> str:
    """Each element and everything in it painted its colour; nothing else changes."""
    painted = [*CONSENT_ELEMENTS.values(), (HEADING_SELECTORS, HEADING_COLOUR)]
    return "".join(
        f"{selector}, {selector} * {{ background-color: #{red:02x}{green:02x}{blue:02x} "
        "!important; }\n"
        for selectors, (red, green, blue) in painted
        for selector in selectors
    )


# The sites -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SeenRequest:
    path: str
    user_agent: str
    #: The response body, kept for the page itself (``/``) only.
    body: bytes = b""


class RequestLog:
    """An ASGI wrapper that notes every HTTP request, its User-Agent and the page it got."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.requests: list[SeenRequest] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        user_agent = headers.get(b"user-agent", b"").decode("latin-1")
        body = bytearray()

        async def keep_body(message: Message) -> None:
            if message["type"] == "http.response.body" and scope["path"] == "/":
                body.extend(message.get("body", b""))
            await send(message)

        await self.app(scope, receive, keep_body)
        self.requests.append(SeenRequest(scope["path"], user_agent, bytes(body)))


class HeadStyle:
    """An ASGI wrapper that puts a ``<style>`` element before ``</head>`` of every HTML page.

    It holds the response back to do so and corrects Content-Length; test use only.
    """

    def __init__(self, app: ASGIApp, css: str) -> None:
        self.app = app
        self.style = f"<style>\n{css}</style>".encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start: Message = {}
        body = bytearray()

        async def hold(message: Message) -> None:
            if message["type"] == "http.response.start":
                start.update(message)
                return
            body.extend(message.get("body", b""))
            if message.get("more_body", False):
                return
            headers = list(start.get("headers", []))
            content_type = dict(headers).get(b"content-type", b"")
            page = bytes(body)
            if content_type.startswith(b"text/html") and b"</head>" in page:
                page = page.replace(b"</head>", self.style + b"</head>", 1)
                headers = [(k, v) for k, v in headers if k.lower() != b"content-length"]
                headers.append((b"content-length", str(len(page)).encode()))
            await send({**start, "headers": headers})
            await send({"type": "http.response.body", "body": page})

        await self.app(scope, receive, hold)


def site_settings(**overrides: Any) -> ConsentSettings:
    return ConsentSettings.from_toml(POLICY, notice_verdicts=NOTICE_VERDICTS, **overrides)


@dataclass
class Site:
    """One configuration of the example site, served by uvicorn, with its request log."""

    log: RequestLog
    server: LiveServer = field(init=False)

    def __post_init__(self) -> None:
        self.server = LiveServer(self.log).start()

    @property
    def url(self) -> str:
        return self.server.url + "/"

    def requests_since(self, count: int) -> list[SeenRequest]:
        return self.log.requests[count:]


@dataclass
class Sites:
    as_served: Site
    marked: Site
    bare: Site

    def stop(self) -> None:
        for site in (self.as_served, self.marked, self.bare):
            site.server.stop()


@pytest.fixture(scope="module")
def sites() -> Iterator[Sites]:
    bare_settings = site_settings(skip_paths=["/"])
    served = Sites(
        as_served=Site(RequestLog(create_app(site_settings()))),
        marked=Site(RequestLog(HeadStyle(create_app(site_settings()), marker_css()))),
        bare=Site(RequestLog(HeadStyle(create_app(bare_settings), marker_css()))),
    )
    yield served
    served.stop()


def verdict_for(user_agent: str) -> str:
    """What the example site's middleware makes of ``user_agent``."""
    with client(create_app(site_settings())) as http:
        answer = http.get("/api/status", headers={"User-Agent": user_agent})
    verdict: str = answer.json()["browser"]
    return verdict


# The desktop engines -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Engine:
    """A desktop engine: how to start it at a fixed window size, and what it is known to do."""

    name: str
    command: str
    #: Writes the engine's settings under a fresh ``HOME``.
    configure: Callable[[Path], None]
    arguments: Callable[[str], list[str]]
    user_agent: re.Pattern[str]
    #: Whether it asks for consent.css, injected after ``<body>`` (Dillo reads stylesheet
    #: links only inside ``<head>``).
    fetches_stylesheet: bool


def configure_netsurf(home: Path) -> None:
    choices = home / ".config" / "netsurf" / "Choices"
    choices.parent.mkdir(parents=True)
    choices.write_text(
        f"window_x:0\nwindow_y:0\nwindow_width:{SCREEN_WIDTH}\nwindow_height:{SCREEN_HEIGHT}\n"
    )


def configure_dillo(home: Path) -> None:
    (home / ".dillo").mkdir()
    # The stock settings, minus the tooltips and messages that could pop up over the page.
    (home / ".dillo" / "dillorc").write_text("show_tooltip=NO\nshow_msg=NO\n")


NETSURF = Engine(
    name="netsurf",
    command="netsurf-gtk",
    configure=configure_netsurf,
    arguments=lambda url: [url],
    user_agent=re.compile(r"^NetSurf/\d"),
    fetches_stylesheet=True,
)
DILLO = Engine(
    name="dillo",
    command="dillo",
    configure=configure_dillo,
    arguments=lambda url: ["-g", f"{SCREEN_WIDTH}x{SCREEN_HEIGHT}+0+0", url],
    user_agent=re.compile(r"^Dillo/\d"),
    fetches_stylesheet=False,
)
ENGINES = [pytest.param(NETSURF, id="netsurf"), pytest.param(DILLO, id="dillo")]


@dataclass(frozen=True, slots=True)
class Rendering:
    screenshot: Screenshot
    requests: list[SeenRequest]

    @property
    def page_requests(self) -> list[SeenRequest]:
        return [request for request in self.requests if request.path == "/"]


@pytest.fixture(scope="module")
def display(tmp_path_factory: pytest.TempPathFactory) -> Iterator[XDisplay]:
    require_tool("Xvfb", "the virtual screen NetSurf and Dillo render on")
    require_tool("xauth", "the virtual screen's access cookie")
    require_tool("import", "ImageMagick's screen capture")
    with XDisplay(tmp_path_factory.mktemp("x11")) as screen:
        yield screen


def render(engine: Engine, display: XDisplay, site: Site, home: Path) -> Rendering:
    """``site``'s page in a new ``engine`` process; the settled screen and the requests made."""
    binary = require_tool(engine.command, f"the {engine.name} engine")
    home.mkdir()
    engine.configure(home)
    env = {
        **display.env,
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "XDG_CACHE_HOME": str(home / ".cache"),
        "XDG_DATA_HOME": str(home / ".local" / "share"),
        "NO_AT_BRIDGE": "1",
    }
    seen = len(site.log.requests)
    with (home / "engine.log").open("wb") as log:
        process = subprocess.Popen(
            [binary, *engine.arguments(site.url)],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        if not wait_for_request(process, site, seen, "/"):
            output = (home / "engine.log").read_text(errors="replace")[-2000:]
            pytest.fail(f"{engine.name} never asked for the page; its output:\n{output}")
        page = next(r for r in site.requests_since(seen) if r.path == "/")
        if engine.fetches_stylesheet and STYLESHEET_PATH.encode() in page.body:
            # Not on the screen yet is not settled; a missing request is the caller's to judge.
            wait_for_request(process, site, seen, STYLESHEET_PATH)
        screen = display.settled_screenshot(process, RENDER_SECONDS, SETTLE_INTERVAL, SETTLE_FRAMES)
    finally:
        quit_engine(process)
    return Rendering(screen, site.requests_since(seen))


def wait_for_request(process: subprocess.Popen[bytes], site: Site, seen: int, path: str) -> bool:
    """Whether ``site`` answers a request for ``path`` after its ``seen``-th, while the engine
    runs, within ``REQUEST_SECONDS``."""
    deadline = time.monotonic() + REQUEST_SECONDS
    while not any(r.path == path for r in site.requests_since(seen)):
        if process.poll() is not None or time.monotonic() > deadline:
            return False
        time.sleep(REQUEST_POLL_SECONDS)
    return True


def quit_engine(process: subprocess.Popen[bytes]) -> None:
    """Ends the engine and whatever it started (its own session's process group)."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=QUIT_SECONDS)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def describe(regions: dict[str, Region | None]) -> str:
    return "; ".join(
        f"{name}: {'not on screen' if region is None else region.box}"
        for name, region in regions.items()
    )


@pytest.mark.parametrize("engine", ENGINES)
def test_engine_is_served_the_notice_and_renders_it(
    engine: Engine,
    display: XDisplay,
    sites: Sites,
    tmp_path: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    rendering = render(engine, display, sites.as_served, tmp_path / "home")
    png = screenshot_dir(tmp_path_factory, "old-engines") / f"{engine.name}.png"
    png.write_bytes(rendering.screenshot.png())

    assert not rendering.screenshot.is_blank(), f"{engine.name} painted nothing ({png})"
    assert rendering.page_requests, f"{engine.name} did not ask for the page"
    page = rendering.page_requests[0]
    assert engine.user_agent.match(page.user_agent), page.user_agent
    verdict = verdict_for(page.user_agent)
    assert verdict == "unknown", f"{page.user_agent!r} is judged {verdict!r}"
    assert b'id="browser-notice"' in page.body, "the page was served without the notice"
    assert b'id="consent-banner"' in page.body, "the page was served without the banner"
    stylesheet = [r for r in rendering.requests if r.path == STYLESHEET_PATH]
    assert bool(stylesheet) == engine.fetches_stylesheet, (
        f"{engine.name} {'asked' if stylesheet else 'did not ask'} for {STYLESHEET_PATH}; "
        f"requests: {[r.path for r in rendering.requests]}"
    )


@pytest.mark.parametrize("engine", ENGINES)
def test_consent_elements_overlap_neither_each_other_nor_the_page(
    engine: Engine, display: XDisplay, sites: Sites, tmp_path: Path
) -> None:
    marked = render(engine, display, sites.marked, tmp_path / "marked").screenshot
    bare = render(engine, display, sites.bare, tmp_path / "bare").screenshot
    (tmp_path / "marked.png").write_bytes(marked.png())
    (tmp_path / "bare.png").write_bytes(bare.png())
    where = f"(screens: {tmp_path})"
    engine_colours = [name for name, (_, colour) in CONSENT_ELEMENTS.items() if bare.region(colour)]
    assert not engine_colours, f"the bare page shows the colours of {engine_colours} {where}"

    regions = {name: marked.region(colour) for name, (_, colour) in CONSENT_ELEMENTS.items()}
    assert regions["notice"] is not None, f"no notice on the first screen {where}"
    assert regions["banner"] is not None, f"no banner on the first screen {where}"
    shown = {name: region for name, region in regions.items() if region is not None}
    overlaps = [
        f"the {first} and the {second}"
        for (first, one), (second, other) in combinations(shown.items(), 2)
        if one.box.intersects(other.box)
    ]
    assert not overlaps, f"{', '.join(overlaps)} overlap: {describe(regions)} {where}"

    bare_heading = bare.region(HEADING_COLOUR)
    assert bare_heading is not None, f"the page's heading is not on the bare page's screen {where}"
    heading = marked.region(HEADING_COLOUR)
    assert heading is not None, (
        f"the page's heading {PAGE_HEADING!r} is not on the first screen: {describe(regions)} "
        f"{where}"
    )
    for name, region in shown.items():
        assert not heading.box.intersects(region.box), (
            f"the {name} covers the page's heading {heading.box}: {describe(regions)} {where}"
        )
    assert heading.box.height == bare_heading.box.height, (
        f"the heading shows {heading.box.height} px of {bare_heading.box.height} {where}"
    )
    assert heading.fill >= bare_heading.fill - HEADING_FILL_TOLERANCE, (
        f"the heading is partly covered: {heading.fill:.3f} of its box against "
        f"{bare_heading.fill:.3f} on the bare page {where}"
    )


# lynx ----------------------------------------------------------------------------------------


def english(key: str) -> str:
    catalog = json.loads(files("consent.page").joinpath("ui/locales/en.json").read_text("utf-8"))
    text: str = catalog[key]
    return text


def flat(text: str) -> str:
    """Whitespace runs as one space: a dump wraps lines where the catalog has none."""
    return " ".join(text.split())


def test_lynx_shows_the_notice_then_the_banner_then_the_page(sites: Sites, tmp_path: Path) -> None:
    lynx = require_tool("lynx", "the text-mode engine")
    home = tmp_path / "home"
    home.mkdir()
    seen = len(sites.as_served.log.requests)
    options = ["-dump", f"-width={LYNX_WIDTH}", "-accept_all_cookies", "-display_charset=utf-8"]
    dumped = subprocess.run(
        [lynx, *options, f"-useragent={OLD_FIREFOX}", sites.as_served.url],
        env={**os.environ, "HOME": str(home)},
        capture_output=True,
        timeout=LYNX_SECONDS,
        check=True,
    )
    dump = flat(dumped.stdout.decode("utf-8"))
    (tmp_path / "lynx.txt").write_bytes(dumped.stdout)

    requests = sites.as_served.requests_since(seen)
    assert [r.user_agent for r in requests if r.path == "/"] == [OLD_FIREFOX]
    assert verdict_for(OLD_FIREFOX) == "outdated"

    def position(text: str) -> int:
        found = dump.find(flat(text))
        assert found >= 0, f"{text!r} is not in lynx's dump:\n{dumped.stdout.decode()}"
        return found

    notice = position(english("notice.title"))
    position(english("notice.outdated"))
    banner = position(english("banner.title"))
    accept, reject = position(english("banner.accept_all")), position(english("banner.reject_all"))
    heading = position(PAGE_HEADING)
    assert notice < banner < heading < position(PAGE_TEXT), "not in the order notice, banner, page"
    assert banner < accept < heading and banner < reject < heading, "the banner's buttons moved"

    preferences_only = [
        english("preferences.text"),
        english("preferences.save"),
        *(category.description for category in site_settings().categories.values()),
    ]
    inline = [text for text in preferences_only if 0 <= dump.find(flat(text)) < heading]
    assert not inline, (
        f"the preferences form is dumped before the page's content: {inline}\n"
        f"{dumped.stdout.decode()}"
    )


# The screen helpers' fast path against their slow one ---------------------------------------

SMALL_PALETTE = [(0, 0, 0), (255, 0, 255), (255, 255, 255), (0, 255, 255), (255, 0, 0)]


@given(
    width=st.integers(1, 12),
    height=st.integers(1, 8),
    data=st.data(),
    colour=st.sampled_from(SMALL_PALETTE),
)
def test_region_agrees_with_the_per_pixel_scan(
    width: int, height: int, data: st.DataObject, colour: Colour
) -> None:
    # A palette whose colours share bytes makes matches across pixel boundaries likely.
    pixels = data.draw(
        st.lists(st.sampled_from(SMALL_PALETTE), min_size=width * height, max_size=width * height)
    )
    screen = Screenshot(width, height, b"".join(bytes(pixel) for pixel in pixels))
    assert screen.region(colour) == screen.region_by_pixel(colour)


def test_screenshot_reads_ppm_writes_png_and_knows_a_blank_screen() -> None:
    width, height = 32, 24
    rgb = (bytes(range(256)) * 9)[: width * height * 3]
    screen = Screenshot.from_ppm(f"P6\n# a comment\n{width} {height}\n255\n".encode() + rgb)
    assert (screen.width, screen.height, screen.rgb) == (width, height, rgb)
    assert not screen.is_blank()
    assert Screenshot(width, height, b"\x00" * width * height * 3).is_blank()

    png = screen.png()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    chunks, position = {}, 8
    while position < len(png):
        (length,) = struct.unpack(">I", png[position : position + 4])
        kind, data = png[position + 4 : position + 8], png[position + 8 : position + 8 + length]
        (checksum,) = struct.unpack(">I", png[position + 8 + length : position + 12 + length])
        assert checksum == zlib.crc32(kind + data)
        chunks[kind] = data
        position += 12 + length
    assert struct.unpack(">IIBBBBB", chunks[b"IHDR"]) == (width, height, 8, 2, 0, 0, 0)
    rows = zlib.decompress(chunks[b"IDAT"])
    stride = 1 + width * 3
    assert b"".join(rows[y * stride + 1 : (y + 1) * stride] for y in range(height)) == rgb
    assert {rows[y * stride] for y in range(height)} == {0}
