"""Pages served without a charset: the snippet is encoded as the browser will decode the page.

The prescan (``consent.page.encoding.prescan``) is held to html5lib's implementation of the
same HTML Standard algorithm over generated heads. html5lib follows an older text of the
Standard in a few places, which the comparison leaves out and the unit tests below pin to the
current text:

* ``<meta/charset=…>``: the Standard takes ``/`` after ``<meta`` as it takes a space;
* ``<!-->`` and ``<!--->`` are whole comments (the ``--`` of ``<!--`` may close it);
* a ``<`` right after another ``<``, or inside a tag, starts nothing new for the Standard, which
  reads tag names and attribute values up to whitespace or ``>`` only.

html5lib also leaves to its caller the last step (a declared UTF-16 means UTF-8, x-user-defined
means windows-1252), which the comparison applies.
"""

from __future__ import annotations

import asyncio
import html
import itertools
import logging
import re
from collections.abc import Iterator
from typing import Any

import pytest
from html5lib._inputstream import EncodingParser
from hypothesis import assume, given
from hypothesis import strategies as st
from starlette.applications import Starlette
from starlette.middleware.gzip import GZipMiddleware
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from consent import ConsentMiddleware
from consent.page import start as plans
from consent.page.encoding import PRESCAN_BYTES, prescan, sniff_encoding
from tests.support import (
    CHROME,
    LiveServer,
    call,
    client,
    header_values,
    http_scope,
    launched_chromium,
    make_settings,
    raw_app,
)

PIECES = [
    b"<meta charset=utf-8>",
    b"<meta charset='shift_jis'>",
    b'<META CHARSET="euc-jp">',
    b"<meta http-equiv=content-type content='text/html; charset=iso-8859-2'>",
    b'<meta content="text/html;charset=koi8-r" http-equiv="Content-Type">',
    b"<meta content='charset=gbk'>",
    b"<meta charset=bogus>",
    b"<meta charset=utf-16>",
    b"<meta charset=x-user-defined>",
    b"<meta content='charset=utf-16le' http-equiv=content-type>",
    b"<meta http-equiv='content-type' content='charset=\"iso-8859-5\"'>",
    b'<meta charset = "windows-1251" charset=utf-8>',
    b"<meta\tcharset=gb18030>",
    b"<!-- <meta charset=big5> -->",
    b"<!doctype html>",
    b"<?xml?>",
    b"</p>",
    b"<p title='<meta charset=big5>'>",
    b"<div a=b c = 'd' e>",
    b"<meta x=y",
    b"<meta ",
    b"<a",
    b"<!",
    b"--",
    b"charset",
    b"text ",
    b">",
    b"'",
    b'"',
    b"=",
    b"/",
    b" ",
    b"\n",
]


def html5lib_prescan(data: bytes) -> str | None:
    encoding = EncodingParser(data).getEncoding()
    if encoding is None:
        return None
    name = str(encoding.name)
    final = {"utf-16le": "utf-8", "utf-16be": "utf-8", "x-user-defined": "windows-1252"}
    return final.get(name, name)


@given(st.lists(st.sampled_from(PIECES), max_size=12).map(b"".join))
def test_prescan_agrees_with_html5lib(data: bytes) -> None:
    assume(b"<!-->" not in data and b"<!--->" not in data)
    assume(b"<<" not in data and not re.search(rb"</?[A-Za-z][^>]*<", data))
    assert prescan(data) == html5lib_prescan(data)


@pytest.mark.parametrize(
    ("head", "found"),
    [
        (b"<meta/charset=gb18030>", "gb18030"),
        (b"<!--><meta charset=big5>", "big5"),
        (b"<!---><meta charset=big5>", "big5"),
        (b"<<meta charset=big5>", "big5"),
        (b"<p<meta charset=big5>", None),  # charset is an attribute of the tag "p<meta"
        (b"<meta charset=<meta charset=big5>", None),  # the first charset names no encoding
        (b"<meta charset=big5", None),  # the tag does not end within the bytes
        (b" " * (PRESCAN_BYTES - 10) + b"<meta charset=big5>", None),  # past 1,024 bytes
        (b"<meta content='text/html; charset=big5'>", None),  # content needs http-equiv
        (b"<meta http-equiv=refresh content='charset=big5'>", None),
    ],
)
def test_prescan_follows_the_current_standard(head: bytes, found: str | None) -> None:
    assert prescan(head) == found


@pytest.mark.parametrize(
    ("head", "codec"),
    [
        (b"\xef\xbb\xbf<meta charset=shift_jis>", "utf-8"),  # the byte order mark wins
        (b"\xff\xfe<\x00h\x00", None),  # UTF-16: nothing is injected
        (b"\xfe\xff\x00<\x00h", None),
        (b"<meta charset=shift_jis>", "cp932"),  # WHATWG's Shift_JIS is Windows' code page
        (b"<meta charset=latin1>", "cp1252"),  # and ISO-8859-1 is windows-1252
        (b"<meta charset=utf-16>", "utf-8"),
        (b"<meta charset=iso-2022-jp>", None),  # escape sequences switch character sets
        (b"<meta charset=iso-2022-kr>", None),  # the replacement encoding
        (b"<html><body>no declaration", "ascii"),  # the browser guesses: ASCII reads the same
    ],
)
def test_sniff_encoding(head: bytes, codec: str | None) -> None:
    assert sniff_encoding(head) == codec


# Through the middleware ---------------------------------------------------------------------

FRENCH = {"user-agent": CHROME, "accept-language": "fr"}
SHIFT_JIS_PAGE = (
    "<!doctype html><html><head><meta charset='shift_jis'><title>日本語</title></head>"
    "<body><h1>こんにちは</h1></body></html>"
).encode("shift_jis")


def french_banner_title() -> str:
    from consent.page.i18n import Catalog

    return Catalog(make_settings()).texts("fr")["banner.title"]


def test_a_shift_jis_page_gets_a_shift_jis_snippet_with_the_right_length() -> None:
    app = ConsentMiddleware(
        raw_app([(b"content-type", b"text/html")], [SHIFT_JIS_PAGE]), settings=make_settings()
    )
    start, body = call(app, http_scope(headers=FRENCH))
    assert header_values(start, b"content-length") == []  # the app sent none
    text = body.decode("shift_jis")
    assert "こんにちは" in text
    assert french_banner_title() in html.unescape(text)


def test_a_page_without_any_declaration_gets_ascii_with_character_references() -> None:
    page = b"<!doctype html><html><head><title>t</title></head><body><p>x</p></body></html>"
    headers = [(b"content-type", b"text/html"), (b"content-length", b"%d" % len(page))]
    app = ConsentMiddleware(raw_app(headers, [page]), settings=make_settings())
    start, body = call(app, http_scope(headers=FRENCH))
    assert body.isascii()
    assert int(header_values(start, b"content-length")[0]) == len(body)
    assert b"consent-banner" in body


def test_a_utf16_page_gets_nothing_and_keeps_its_length() -> None:
    page = "\ufeff<html><body>x</body></html>".encode("utf-16-le")
    headers = [(b"content-type", b"text/html"), (b"content-length", b"%d" % len(page))]
    app = ConsentMiddleware(raw_app(headers, [page]), settings=make_settings())
    start, body = call(app, http_scope(headers=FRENCH))
    assert body == page
    assert header_values(start, b"content-length") == [b"%d" % len(page)]


@given(cuts=st.lists(st.integers(min_value=0, max_value=len(SHIFT_JIS_PAGE) + 1200), max_size=8))
def test_a_page_in_chunks_waits_for_its_head_and_gets_the_same_bytes(cuts: list[int]) -> None:
    """The start message is held until 1,024 bytes or the end are in; the result is the same
    however the body is cut, and nothing is held longer than that."""
    page = SHIFT_JIS_PAGE.replace(b"</h1>", b"</h1>" + b"<p>filler</p>" * 100)
    points = sorted({0, len(page), *[cut for cut in cuts if cut < len(page)]})
    chunks = [page[a:b] for a, b in itertools.pairwise(points)]
    app = ConsentMiddleware(
        raw_app([(b"content-type", b"text/html")], chunks), settings=make_settings()
    )
    whole = call(
        ConsentMiddleware(
            raw_app([(b"content-type", b"text/html")], [page]), settings=make_settings()
        ),
        http_scope(headers=FRENCH),
    )[1]
    messages = asyncio.run(_messages(app, http_scope(headers=FRENCH)))
    assert messages[0]["type"] == "http.response.start"
    assert b"".join(m.get("body", b"") for m in messages[1:]) == whole
    # The first body message sent holds at most what the prescan needed and one chunk more.
    assert len(messages[1]["body"]) <= PRESCAN_BYTES + max(map(len, chunks)) + len(whole) - len(
        page
    )


async def _messages(app: Any, scope: dict[str, Any]) -> list[dict[str, Any]]:
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    return sent


# Chromium as the judge ------------------------------------------------------------------------


def served_pages() -> Starlette:
    async def shift_jis(request: Any) -> Response:
        return Response(SHIFT_JIS_PAGE, media_type=None, headers={"content-type": "text/html"})

    async def undeclared(request: Any) -> Response:
        page = b"<!doctype html><html><head><title>t</title></head><body><p>x</p></body></html>"
        return Response(page, headers={"content-type": "text/html"})

    return Starlette(routes=[Route("/sjis", shift_jis), Route("/plain", undeclared)])


@pytest.fixture(scope="module")
def server() -> Iterator[LiveServer]:
    with LiveServer(ConsentMiddleware(served_pages(), settings=make_settings())) as live:
        yield live


@pytest.mark.browser
@pytest.mark.parametrize("path", ["/sjis", "/plain"])
def test_chromium_reads_the_banner_without_mojibake(server: LiveServer, path: str) -> None:
    with launched_chromium() as browser:
        page = browser.new_page(locale="fr-FR", extra_http_headers={"accept-language": "fr"})
        page.goto(server.url + path)
        title = page.inner_text("#consent-banner-title")
    assert title == french_banner_title()


# Compression placed inside the middleware ----------------------------------------------------


def test_an_encoded_html_page_warns_once_per_process(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(plans, "_warned_encoded", [])

    async def page(request: Any) -> HTMLResponse:
        return HTMLResponse("<html><body>" + "x" * 2000 + "</body></html>")

    inner = GZipMiddleware(Starlette(routes=[Route("/", page)]))
    app = ConsentMiddleware(inner, settings=make_settings())
    caplog.set_level(logging.WARNING, logger="consent")
    with client(app) as browser:
        for _ in range(3):
            response = browser.get("/", headers={"user-agent": CHROME, "accept-encoding": "gzip"})
            assert "consent-banner" not in response.text
    warnings = [r for r in caplog.records if "content-encoded" in r.getMessage()]
    assert len(warnings) == 1
    assert "outside ConsentMiddleware" in warnings[0].getMessage()


def test_compression_outside_the_middleware_compresses_the_injected_page() -> None:
    """The README's order: GZipMiddleware wraps ConsentMiddleware."""

    async def page(request: Any) -> HTMLResponse:
        return HTMLResponse("<html><body>" + "x" * 2000 + "</body></html>")

    app = GZipMiddleware(
        ConsentMiddleware(Starlette(routes=[Route("/", page)]), settings=make_settings())
    )
    with client(app) as browser:
        response = browser.get("/", headers={"user-agent": CHROME, "accept-encoding": "gzip"})
    assert response.headers["content-encoding"] == "gzip"
    assert "consent-banner" in response.text  # httpx decompressed it
