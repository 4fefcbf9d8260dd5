"""The streaming HTML injector, checked against html5lib's tokenizer, Chromium, and itself.

Three kinds of checks. An oracle says where the snippet belongs, from a real HTML parser: html5lib
for generated documents, regression cases and realistic pages, Chromium for templates (which
html5lib 1.1 does not know) and for the same generated documents. Properties hold the fast paths
to the slow ones: any split into chunks, a memo of earlier documents and a small body-tag limit
change nothing, and the one-match regular expressions agree with the step-by-step tokenizer.
Examples pin down the contract: what is held back, the limit, the memo, memory.
"""

from __future__ import annotations

import importlib
import itertools
import os
import pkgutil
import re
import tracemalloc
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any
from unittest import mock
from xml.dom import minidom

import html5lib
import pytest
from html5lib import _tokenizer
from html5lib.constants import tokenTypes
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from playwright.sync_api import Page, Route, sync_playwright

import consent
from consent.page import injector
from consent.page.injector import (
    MAX_BODY_TAG,
    BodyTagMemo,
    HTMLInjector,
    html_charset,
    insert_snippet,
)

SNIPPET = b'<i id="consent-marker"></i>'

# --- The oracle: the tokens html5lib's tree builder is given, with scripting on ---

Token = tuple[Any, ...]
MARKER_TOKENS: list[Token] = [("start", "i", (("id", "consent-marker"),), False), ("end", "i")]
# Constructs whose parsing the injector does not follow (see the module's limits): documents
# that contain them are left out of the oracle tests.
NOT_FOLLOWED = re.compile(rb"<(?:svg|math|select|frameset)", re.IGNORECASE)


class _RecordingTokenizer(_tokenizer.HTMLTokenizer):  # type: ignore[misc]
    recorded: list[Token]

    def __iter__(self) -> Iterator[dict[str, Any]]:
        for token in super().__iter__():
            if token["type"] != tokenTypes["ParseError"]:
                self.recorded.append(_frozen(token))
            yield token


class _RecordingParser(html5lib.HTMLParser):  # type: ignore[misc]
    """html5lib's parser, keeping every token its tokenizer hands the tree builder."""

    tokens: list[Token]

    def mainLoop(self) -> None:  # noqa: N802  (html5lib's name)
        self.tokenizer.__class__ = _RecordingTokenizer
        self.tokenizer.recorded = self.tokens = []
        super().mainLoop()


def _frozen(token: dict[str, Any]) -> Token:
    kind = token["type"]
    if kind in (tokenTypes["Characters"], tokenTypes["SpaceCharacters"]):
        return ("text", token["data"])
    if kind == tokenTypes["StartTag"]:
        return ("start", token["name"], tuple(token["data"].items()), token["selfClosing"])
    if kind == tokenTypes["EndTag"]:
        return ("end", token["name"])
    if kind == tokenTypes["Comment"]:
        return ("comment", token["data"])
    return ("doctype", token["name"], token["publicId"], token["systemId"], token["correct"])


def tokens_of(document: bytes) -> list[Token]:
    """The document's tokens, runs of text joined (each byte read as one character)."""
    parser = _RecordingParser()
    parser.parse(document.decode("latin-1"), scripting=True)
    return _joined(parser.tokens)


def _joined(tokens: Iterable[Token]) -> list[Token]:
    joined: list[Token] = []
    for token in tokens:
        if token[0] == "text" and joined and joined[-1][0] == "text":
            joined[-1] = ("text", joined[-1][1] + token[1])
        else:
            joined.append(token)
    return joined


def snippet_place(tokens: list[Token]) -> int | None:
    """Where the snippet's tokens go: after the first body start tag outside a template (the
    tree builder ignores one inside), or before a plaintext start tag that comes first."""
    templates = 0
    for index, token in enumerate(tokens):
        if token[0] == "start" and token[1] == "body" and not templates:
            return index + 1
        if token[0] == "start" and token[1] == "plaintext":
            return index
        if token[0] == "start" and token[1] == "template":
            templates += 1
        if token == ("end", "template") and templates:
            templates -= 1
    return None


def assert_where_the_parser_puts_it(document: bytes, injected: bytes) -> None:
    """The oracle. html5lib tokenizes the document, its tree builder switching the tokenizer
    into RCDATA, RAWTEXT, script data or PLAINTEXT as a browser with scripting does. The snippet
    belongs right after the first body start tag token outside a template, or before a plaintext
    start tag token if that comes first: the injected document must then give exactly the
    original's tokens with the snippet's two tokens there. html5lib 1.1 builds no templates, so
    that rule is applied here, to its tokens, as the HTML Standard states it (Chromium checks it
    on the same documents below). Without such a token the snippet goes at the very end."""
    tokens = tokens_of(document)
    place = snippet_place(tokens)
    if place is None:
        assert injected == document + SNIPPET
    else:
        assert tokens_of(injected) == _joined([*tokens[:place], *MARKER_TOKENS, *tokens[place:]])


# --- Helpers ---


def stream(
    chunks: Iterable[bytes], *, limit: int = MAX_BODY_TAG, memo: BodyTagMemo | None = None
) -> bytes:
    """Feed the chunks, checking how much is held back after each, and finish."""
    injector = HTMLInjector(SNIPPET, memo)
    fed = emitted = 0
    parts = []
    for chunk in chunks:
        part = injector.feed(chunk)
        parts.append(part)
        fed += len(chunk)
        emitted += len(part)
        held = fed - emitted + (len(SNIPPET) if injector.injected else 0)
        # The longest markers, "</textarea" or "<plaintext", are held until the byte after them.
        assert 0 <= held <= max(limit - 1, len(b"</textarea"))
    parts.append(injector.finish())
    assert injector.injected
    return b"".join(parts)


def whole(document: bytes) -> bytes:
    """The one-message path, which the streaming path must agree with."""
    return insert_snippet(document, SNIPPET, BodyTagMemo())


def split(document: bytes, points: Iterable[int]) -> list[bytes]:
    bounds = [0, *sorted(points), len(document)]
    return [document[start:end] for start, end in itertools.pairwise(bounds)]


def one_byte_chunks(document: bytes) -> list[bytes]:
    return [document[i : i + 1] for i in range(len(document))]


def every_way(document: bytes) -> bytes:
    """The injected document, after checking that it comes out the same whole and byte by byte."""
    injected = whole(document)
    assert stream([document]) == injected
    assert stream(one_byte_chunks(document)) == injected
    assert stream([b"", *one_byte_chunks(document), b""]) == injected
    return injected


# --- Examples ---

PAGE = b"<!doctype html><html><head><title>T</title></head><body>\n<p>Hi</p></body></html>"


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        (PAGE, PAGE.replace(b"<body>", b"<body>" + SNIPPET)),
        (b"<HTML><BODY CLASS=x>hi", b"<HTML><BODY CLASS=x>" + SNIPPET + b"hi"),
        (
            b"<body data-x=\"a>b\" class='c>'>x",
            b"<body data-x=\"a>b\" class='c>'>" + SNIPPET + b"x",
        ),
        (b'<body\ndata-x = "a>b"/>x', b'<body\ndata-x = "a>b"/>' + SNIPPET + b"x"),
        (b'<body class=a"b>x', b'<body class=a"b>' + SNIPPET + b"x"),
        (b'<body a=b="c>">', b'<body a=b="c>' + SNIPPET + b'">'),
        (b'<body a=b c="d>">', b'<body a=b c="d>">' + SNIPPET),
        (b'<body a="b"="c>">', b'<body a="b"="c>' + SNIPPET + b'">'),
        (b'<body a/="b>">', b'<body a/="b>' + SNIPPET + b'">'),
        (b'<body /="b>">', b'<body /="b>' + SNIPPET + b'">'),
        (b'<body a=b\tc="d>">', b'<body a=b\tc="d>">' + SNIPPET),
        (b'<body a=\n"b>">', b'<body a=\n"b>">' + SNIPPET),
        (b'<body\f="a>">', b'<body\f="a>' + SNIPPET + b'">'),
        (b"<script\f><body></script\f><body\f>", b"<script\f><body></script\f><body\f>" + SNIPPET),
        (
            b"<table><tbody><tr></tbody></table><bodyx>",
            b"<table><tbody><tr></tbody></table><bodyx>" + SNIPPET,
        ),
        (b"<p>no body here</p>", b"<p>no body here</p>" + SNIPPET),
        (b"<p>a late</p><body class=x>", b"<p>a late</p><body class=x>" + SNIPPET),
        (b"<!-- <body> --><body>", b"<!-- <body> --><body>" + SNIPPET),
        (b"<!--><body>", b"<!--><body>" + SNIPPET),
        (b"<!--->x<body>", b"<!--->x<body>" + SNIPPET),
        (
            b"<script>var s = '<body>';</script><body>",
            b"<script>var s = '<body>';</script><body>" + SNIPPET,
        ),
        (
            b"<SCRIPT>'</scripts><body>'</SCRIPT ><body>",
            b"<SCRIPT>'</scripts><body>'</SCRIPT ><body>" + SNIPPET,
        ),
        (
            b"<style>p:after{content:'<body>'}</style><body>",
            b"<style>p:after{content:'<body>'}</style><body>" + SNIPPET,
        ),
        (
            b"<title>About <body> tags</title><body>",
            b"<title>About <body> tags</title><body>" + SNIPPET,
        ),
        (b"<textarea><body></textarea/><body>", b"<textarea><body></textarea/><body>" + SNIPPET),
        (
            b"<script><!--<script>--><body></script><body>",
            b"<script><!--<script>--><body></script><body>" + SNIPPET,
        ),
        (
            b"<script><!--<script>--></script><body>",
            b"<script><!--<script>--></script><body>" + SNIPPET,
        ),
        (b"<script>never closed <body>", b"<script>never closed <body>" + SNIPPET),
        (b"<body data-x='never closed>", b"<body data-x='never closed>" + SNIPPET),
        (b"<body", b"<body" + SNIPPET),
        (b"", SNIPPET),
        (b"<body>", b"<body>" + SNIPPET),
        (
            b"\xff\xfe<body \x80=\xc3(>\xed\xa0\x80",
            b"\xff\xfe<body \x80=\xc3(>" + SNIPPET + b"\xed\xa0\x80",
        ),
    ],
)
def test_examples(document: bytes, expected: bytes) -> None:
    assert every_way(document) == expected
    assert_where_the_parser_puts_it(document, expected)


# One per class of the review's findings: each put the snippet inside the page's own markup
# before, where it showed as text or broke an attribute, a script or a comment.
REGRESSIONS = {
    "attribute value": b'<meta name=description content="Use <body> once"><body class=a>x',
    "single-quoted value": b"<meta content='<body>'><body class=a>x",
    "unquoted value": b"<meta content=<body><body class=a>x",
    "attribute name": b'<link "<body>"><body class=a>x',
    "end tag attribute": b'<title>T</title foo="<body>"><body class=a>x',
    "template": b"<template><body></template><body class=a>x",
    "nested template": b"<template><template></template><body></template><body class=a>x",
    "noscript": b"<noscript><body></noscript><body class=a>x",
    "xmp": b"<xmp><body></xmp><body class=a>x",
    "iframe": b"<iframe><body></iframe><body class=a>x",
    "noembed": b"<noembed><body></noembed><body class=a>x",
    "noframes": b"<noframes><body></noframes><body class=a>x",
    "CDATA": b"<![CDATA[<body>]]><body class=a>x",
    "bogus comment <!": b"<!x <body>><body class=a>x",
    "bogus comment <?": b'<?php echo "<body>" ?><body class=a>x',
    "bogus comment </": b"</ <body>><body class=a>x",
    "comment ending --!>": b"<!-- a --!><body class=a>x",
    "script escape": b"<script><!--<script></script><body></script><body class=a>x",
}


@pytest.mark.parametrize("document", REGRESSIONS.values(), ids=REGRESSIONS.keys())
def test_regressions_from_the_review(document: bytes) -> None:
    expected = document.replace(b"<body class=a>", b"<body class=a>" + SNIPPET)
    assert every_way(document) == expected
    assert_where_the_parser_puts_it(document, expected)


def test_after_plaintext_the_snippet_goes_before_it() -> None:
    """Nothing after <plaintext> is markup, so the end would show the snippet as text."""
    document = b"<head><title>T</title></head><plaintext><body>x"
    expected = b"<head><title>T</title></head>" + SNIPPET + b"<plaintext><body>x"
    assert every_way(document) == expected
    assert_where_the_parser_puts_it(document, expected)
    assert every_way(b"<body><plaintext>") == b"<body>" + SNIPPET + b"<plaintext>"


def test_a_snippet_before_plaintext_is_not_remembered() -> None:
    memo = BodyTagMemo()
    assert insert_snippet(b"<p><plaintext>", SNIPPET, memo) == b"<p>" + SNIPPET + b"<plaintext>"
    assert insert_snippet(b"<p><body>", SNIPPET, memo) == b"<p><body>" + SNIPPET


# --- Realistic pages ---

WORDPRESS_HEAD = (
    b'<!DOCTYPE html>\n<html lang="en-US" class="no-js">\n<head>\n<meta charset="UTF-8">\n'
    b'<meta name="viewport" content="width=device-width, initial-scale=1">\n'
    b"<script>document.documentElement.className = "
    b"document.documentElement.className.replace('no-js','js');</script>\n"
    b"<title>Shop &#8211; Harbour Pottery</title>\n"
    b"<meta name='robots' content='index, follow, max-image-preview:large' />\n"
    b'<link rel="canonical" href="https://example.com/shop/" />\n'
    b'<meta property="og:description" content="Cups &amp; bowls, see <body> of work" />\n'
    b'<script type="application/ld+json">{"@context":"https://schema.org","@graph":'
    b'[{"@type":"WebPage","name":"Shop <body>"}]}</script>\n'
    b"<style id='wp-emoji-styles-inline-css'>\n\timg.emoji { display: inline !important; }\n"
    b"</style>\n<link rel='stylesheet' id='theme-css' href='/style.css?ver=1.0' media='all' />\n"
    b"<script src='/jquery.min.js?ver=3.7.1' id='jquery-core-js'></script>\n"
    b"<noscript><style>.lazyload{display:none;}</style></noscript>\n"
    b'<!--[if lt IE 9]><script src="/html5shiv.js"></script><![endif]-->\n'
    b'<link rel="icon" href="/icon-32x32.png" sizes="32x32" />\n</head>\n\n'
)
REALISTIC_PAGES = {
    "wordpress": WORDPRESS_HEAD
    + b'<body class="home page-template-default page wp-custom-logo">\n<p>Shop</p>\n</body>',
    "tag manager": (
        b"<!doctype html><html><head><meta charset=utf-8><title>Shop</title>"
        b"<script>(function(w,d,s,l,i){w[l]=w[l]||[];var f=d.getElementsByTagName(s)[0],"
        b"j=d.createElement(s);j.async=true;j.src='https://www.googletagmanager.com/gtm.js?id='+i;"
        b"f.parentNode.insertBefore(j,f);})(window,document,'script','dataLayer','GTM-XXXX');"
        b"</script>"
        b'<noscript><iframe src="https://www.googletagmanager.com/ns.html?id=GTM-XXXX" '
        b'height="0" width="0" style="display:none;visibility:hidden"></iframe></noscript>'
        b"</head><body data-page=home><main><h1>Shop</h1></main></body></html>"
    ),
    "old style script": (
        b"<html><head><script type=text/javascript><!--\n"
        b'var banner = "<script>show()</script><body>";\n//--></script>'
        b'<meta http-equiv="Content-Type" content="text/html; charset=iso-8859-1">'
        b"</head><BODY BGCOLOR=#ffffff TEXT=#000000 onLoad=\"init('<body>')\">"
        b"<table><tr><td>Welcome</td></tr></table></BODY></html>"
    ),
    "templates in the head": (
        b'<!DOCTYPE html><html><head><template id="row"><body class="ignored"><tr><td></td>'
        b'</tr></template><template id="card"><template><body></template><div class="card">'
        b'<slot name="title"></slot></div></template></head><body class="app"><my-app></my-app>'
        b"</body></html>"
    ),
    "minified": (
        b"<!doctype html><html lang=en><meta charset=utf-8><meta name=viewport "
        b"content=width=device-width,initial-scale=1><title>Search</title><style>body{margin:0}"
        b"a>b{color:red}</style><link rel=preload href=/app.js as=script><body class=srp><div id=m>"
        b"</div>"
    ),
    "no body tag": (
        b"<!DOCTYPE html><html><head><title>Fragment</title></head>"
        b'<div class="x"><p>Text with a <code>&lt;body&gt;</code> tag.</p></div></html>'
    ),
}


@pytest.mark.parametrize("document", REALISTIC_PAGES.values(), ids=REALISTIC_PAGES.keys())
def test_realistic_pages(document: bytes) -> None:
    injected = every_way(document)
    for size in (1, 7, 64, 512):
        assert stream(document[i : i + size] for i in range(0, len(document), size)) == injected
    assert_where_the_parser_puts_it(document, injected)


# --- Generated documents: the constructs that can hide a body tag, and a few body tags ---

# "{B}" stands for a body tag and "{P}" for a plaintext tag, each numbered (data-b, data-p) so
# that Chromium can tell which one it acted on.
GRAMMAR = [
    # the document's frame and ordinary markup
    "<!DOCTYPE html>",
    "<html lang='en'>",
    "<head>",
    "</head>",
    "<HEAD>",
    "</body>",
    "<p>",
    "</p>",
    "<meta charset=utf-8>",
    '<link rel="stylesheet" href="/s.css">',
    '<div class="a>b">',
    "<bodyx>",
    "<tbody>",
    "x",
    " ",
    "\n",
    "a < b",
    "&amp;",
    # body and plaintext tags
    "{B}",
    "{B}",
    "{P}",
    # attributes
    '<meta content="{B}">',
    "<meta content='{B}'>",
    "<meta content={B}",
    '<meta a=b"{B}">',
    '<link "{B}">',
    "<link title='a > {B}'>",
    '</head class="{B}">',
    "</p {B}",
    # comments
    "<!-- {B} -->",
    "<!--{B}--!>",
    "<!--<!--{B}-->",
    "<!-- a -- b {B} -->",
    "<!--!>{B}-->",
    "<!---!>{B}-->",
    "<!--->",
    "<!-->",
    "<!---->",
    "<!--",
    "-->",
    "--!>",
    # bogus comments, DOCTYPEs and CDATA
    "<!x {B}",
    "<? {B} ?>",
    "</ {B}",
    "</1{B}",
    "<![CDATA[{B}]]>",
    "<![CDATA[ a > {B} ]]>",
    '<!DOCTYPE html "{B}">',
    # raw text
    "<title>{B}</title>",
    "<textarea>{B}</textarea>",
    "<style>{B}</style>",
    "<xmp>{B}</xmp>",
    "<iframe>{B}</iframe>",
    "<noembed>{B}</noembed>",
    "<noframes>{B}</noframes>",
    "<noscript>{B}</noscript>",
    "<NOSCRIPT>{B}</noscript>",
    "<title>{B}</titlex>{B}</title >",
    "<style>{B}</style foo='{B}'>",
    "<textarea/>{B}</TEXTAREA/>",
    "<title>",
    "<style>",
    "<noscript>",
    "</title>",
    "</style>",
    # script data
    "<script>{B}</script>",
    "<script>'{B}'</SCRIPT>",
    "<script><!--{B}--></script>",
    "<script><!--<script>{B}</script>{B}--></script>",
    "<script><!--</script>{B}",
    "<script><!--<script>--><!--{B}</script>",
    "<script>--></script>",
    "<script><!-->{B}</script>",
    "<script>",
    "</script>",
    # templates
    "<template>",
    "</template>",
    "<template>{B}</template>",
    "<template><template>{B}</template>{B}</template>",
    "<TEMPLATE>",
    "</template >",
    # pieces of markers
    "<",
    ">",
    "<!",
    "<!-",
    "</",
    "=",
    '"',
    "'",
    "/",
    "-",
]
BODY_FORMS = (
    "<body data-b={}>",
    "<BODY data-b={}>",
    '<body class="a>b" data-b={}>',
    "<body/ data-b={}>",
)


@st.composite
def marked_documents(
    draw: st.DrawFn, max_parts: int = 20, grammar: list[str] | None = None
) -> bytes:
    """A document from the grammar, each body and plaintext tag numbered."""
    parts = draw(st.lists(st.sampled_from(grammar or GRAMMAR), max_size=max_parts))
    numbers = itertools.count()

    def body(_: re.Match[str]) -> str:
        return draw(st.sampled_from(BODY_FORMS)).format(next(numbers))

    text = "".join(parts)
    text = re.sub(r"\{B\}", body, text)
    text = re.sub(r"\{P\}", lambda _: f"<plaintext data-p={next(numbers)}>", text)
    return text.encode()


@settings(max_examples=300, deadline=None)
@given(document=marked_documents(), data=st.data())
def test_generated_documents_get_it_where_the_parser_wants_it(
    document: bytes, data: st.DataObject
) -> None:
    injected = whole(document)
    assert_where_the_parser_puts_it(document, injected)
    points = data.draw(st.lists(st.integers(0, len(document)), max_size=len(document) + 2))
    assert stream(split(document, points)) == injected


# Each way out of each script data state, then text that shows the state it led to:
# "<script></script><body>" hides the body tag when escaped or double escaped, not otherwise.
SCRIPT_DATA_WAYS = {
    "script data to its end tag": b"<script><body></script>",
    "escaped, back to script data": b"<SCRIPT><!--<script></script><body>--><script></SCRIPT>",
    "an empty escape, back to script data": b"<script><!--><script></script>",
    "escaped to the end tag": b"<script><!--<body></script\t>",
    "double escaped, back to escaped": (
        b"<script><!--<Script></script><script></script><body></script>"
    ),
    "double escaped to script data": b"<script><!--<script/><body>--><script></script/>",
}
MANY_SCRIPTS = b"<script>a()</script><script><!--<script></script>--></script>" * 20


@pytest.mark.parametrize(
    "way",
    [*SCRIPT_DATA_WAYS.values(), b"".join(SCRIPT_DATA_WAYS.values())],
    ids=[*SCRIPT_DATA_WAYS.keys(), "all of them"],
)
def test_many_scripts_then_each_way_through_the_script_data_states(way: bytes) -> None:
    """The way last, so that a state taken for another hides the body tag after it."""
    document = MANY_SCRIPTS + way + b"<body class=a>x"
    expected = document.replace(b"<body class=a>", b"<body class=a>" + SNIPPET)
    assert every_way(document) == expected
    assert_where_the_parser_puts_it(document, expected)


# Script data's markers, whole and in pieces, for documents of many script elements.
SCRIPT_GRAMMAR = [
    "<script>",
    "<SCRIPT type=module>",
    "<script/>",
    "</script>",
    "</Script >",
    "</script\f>",
    "<!--",
    "-->",
    "<!-",
    "--",
    "-",
    ">",
    "<",
    "</scrip",
    "<scriptx>",
    "</scripts>",
    "x",
    "{B}",
]


@settings(max_examples=300, deadline=None)
@given(document=marked_documents(max_parts=30, grammar=SCRIPT_GRAMMAR), data=st.data())
def test_script_data_goes_as_the_parser_does(document: bytes, data: st.DataObject) -> None:
    injected = whole(document)
    assert_where_the_parser_puts_it(document, injected)
    points = data.draw(st.lists(st.integers(0, len(document)), max_size=len(document) + 2))
    assert stream(split(document, points)) == injected
    assert stream(one_byte_chunks(document)) == injected


# --- The same, in Chromium: templates, and noscript with scripting on ---

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--no-first-run",
]
SITE = "http://consent.test/"
# Which numbered tags Chromium acted on: the body's data-b (merged in from the first body tag
# the tree builder acted on), the first plaintext element, template contents included, and
# whether the snippet's marker is an element in the body.
WHAT_CHROMIUM_SAW = """() => {
    const plaintextIn = (root) => root.querySelector("plaintext") || [...root.querySelectorAll(
        "template")].map((t) => plaintextIn(t.content)).find((found) => found) || null;
    const marker = document.getElementById("consent-marker");
    const plaintext = plaintextIn(document);
    return {
        body: document.body && document.body.getAttribute("data-b"),
        plaintext: plaintext && plaintext.getAttribute("data-p"),
        marker: Boolean(marker && document.body && document.body.contains(marker)),
        first: Boolean(marker && document.body && document.body.firstChild === marker),
    };
}"""


class Chromium:
    """One Chromium page that loads documents as if from a site, with JavaScript on."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.document = b""
        page.route("**/*", self._serve)

    def _serve(self, route: Route) -> None:
        if route.request.url == SITE:
            route.fulfill(body=self.document, content_type="text/html; charset=utf-8")
        else:
            route.fulfill(status=404, body=b"")

    def load(self, document: bytes) -> dict[str, Any]:
        self.document = document
        self.page.goto(SITE)
        return dict(self.page.evaluate(WHAT_CHROMIUM_SAW))


@pytest.fixture(scope="module")
def chromium() -> Iterator[Chromium]:
    """A Chromium page for this module only (Playwright's sync API holds an event loop)."""
    executable = os.environ.get("CONSENT_CHROMIUM", "/usr/bin/chromium")
    if not Path(executable).is_file():
        reason = f"Chromium is not at {executable}; set CONSENT_CHROMIUM to its path"
        if os.environ.get("CI"):
            pytest.fail(f"{reason} (CI must run the browser tests)")
        pytest.skip(reason)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=executable, headless=True, args=CHROMIUM_ARGS
        )
        page = browser.new_page(java_script_enabled=True)
        page.set_default_timeout(10_000)
        yield Chromium(page)
        browser.close()


def chromium_expects(chromium: Chromium, document: bytes) -> tuple[bytes, bool]:
    """Where Chromium says the snippet goes in a document of numbered tags: after the body tag
    it acted on first, else before the first plaintext tag, else at the end; and whether that
    was after a body tag."""
    seen = chromium.load(document)
    if seen["body"] is not None:
        end = document.index(b"data-b=%s>" % seen["body"].encode()) + len(b"data-b=>")
        end += len(seen["body"])
        return document[:end] + SNIPPET + document[end:], True
    if seen["plaintext"] is not None:
        start = document.index(b"<plaintext data-p=%s>" % seen["plaintext"].encode())
        return document[:start] + SNIPPET + document[start:], False
    return document + SNIPPET, False


@pytest.mark.parametrize("document", REGRESSIONS.values(), ids=REGRESSIONS.keys())
def test_chromium_agrees_on_the_regressions(chromium: Chromium, document: bytes) -> None:
    numbered = document.replace(b"<body>", b"<body data-b=0>").replace(b"class=a>", b"data-b=1>")
    expected, after_a_body_tag = chromium_expects(chromium, numbered)
    assert after_a_body_tag
    assert whole(numbered) == expected
    assert chromium.load(expected)["marker"]


@pytest.mark.parametrize("document", REALISTIC_PAGES.values(), ids=REALISTIC_PAGES.keys())
def test_chromium_puts_the_marker_first_in_realistic_pages(
    chromium: Chromium, document: bytes
) -> None:
    seen = chromium.load(whole(document))
    assert seen["marker"]
    assert seen["first"] == (document != REALISTIC_PAGES["no body tag"])


@settings(max_examples=40, deadline=None)
@given(document=marked_documents(max_parts=12))
def test_chromium_agrees_on_generated_documents(chromium: Chromium, document: bytes) -> None:
    expected, after_a_body_tag = chromium_expects(chromium, document)
    assert whole(document) == expected
    if after_a_body_tag:  # then the marker is an element of the body
        assert chromium.load(expected)["marker"]


# --- The contract: the limit, what is held back, the memo ---


def test_a_body_tag_longer_than_the_limit_is_given_up() -> None:
    document = b'<head></head><body data-x="' + b"a>" * MAX_BODY_TAG + b'">rest</body>'
    for size in (1, 1000, 64 * 1024, len(document)):
        assert stream(document[i : i + size] for i in range(0, len(document), size)) == (
            document + SNIPPET
        )


@pytest.mark.parametrize("extra", [0, 1])
def test_the_limit_counts_the_whole_tag(extra: int) -> None:
    tag = b"<body " + b"x" * (MAX_BODY_TAG - len(b"<body >") + extra) + b">"
    document = b"<p>" + tag + b"text"
    expected = document + SNIPPET if extra else b"<p>" + tag + SNIPPET + b"text"
    assert len(tag) == MAX_BODY_TAG + extra
    assert whole(document) == expected
    assert stream([document]) == expected
    assert stream([document[:100], document[100:-6], document[-6:]]) == expected


def test_other_tags_are_followed_through_chunks_without_being_held() -> None:
    injector = HTMLInjector(SNIPPET)
    value = b"<body> > " * 4096
    assert injector.feed(b'<meta content="') == b'<meta content="'
    assert injector.feed(value) is value
    assert injector.feed(b'"><!-- ') == b'"><!-- '
    assert injector.feed(value) is value
    assert injector.feed(b"--") == b""
    assert injector.feed(b"><body>") == b"--><body>" + SNIPPET


def test_only_a_possible_marker_is_held_back() -> None:
    injector = HTMLInjector(SNIPPET)
    assert injector.feed(b"<html><head>a < b") == b"<html><head>a < b"
    assert injector.feed(b"</head><BO") == b"</head>"
    assert injector.feed(b"DY class='") == b""
    assert injector.feed(b">'>") == b"<BODY class='>'>" + SNIPPET
    assert injector.injected


def test_after_the_snippet_chunks_pass_through_untouched() -> None:
    injector = HTMLInjector(SNIPPET)
    assert not injector.injected
    assert injector.feed(b"<body>") == b"<body>" + SNIPPET
    chunk = b"<body><!-- <script>"
    assert injector.feed(chunk) is chunk
    assert injector.finish() == b""
    assert injector.feed(chunk) is chunk


def test_finish_hands_out_what_was_held_back_and_the_snippet_once() -> None:
    injector = HTMLInjector(SNIPPET)
    assert injector.feed(b"<p>x</p><!-") == b"<p>x</p>"
    assert injector.finish() == b"<!-" + SNIPPET
    assert injector.injected
    assert injector.finish() == b""


def test_the_memo_remembers_the_first_chunk_only() -> None:
    memo = BodyTagMemo()
    stream([b"<html><head>", b"<title>x</title><body>"], memo=memo)
    stream([b"<p>", b"<body class=a>"], memo=memo)
    assert memo.find(b"<title>x</title><body><p>") == -1
    stream([PAGE], memo=memo)
    assert memo.find(PAGE) == PAGE.index(b"<body>") + len(b"<body>")


def test_the_memo_keeps_its_newest_entries() -> None:
    memo = BodyTagMemo(size=2)
    pages = [b"<title>%d</title><body>" % number for number in range(3)]
    for page in pages:
        stream([page], memo=memo)
    assert [memo.find(page) >= 0 for page in pages] == [False, True, True]


# --- Properties: the fast paths give the slow paths' answers ---

FRAGMENTS = [
    b"<!doctype html>",
    b"<html>",
    b"<head>",
    b"</head>",
    b"<title>",
    b"</title>",
    b"<TITLE>a <body> b</TITLE>",
    b"<script>",
    b"</script>",
    b"</SCRIPT >",
    b"</script",
    b'<script>"<body>"</script>',
    b"<script><!--<script>",
    b"<style>",
    b"</style/>",
    b"<textarea>",
    b"</textarea>",
    b"<noscript>",
    b"</noscript>",
    b"<xmp>",
    b"</xmp>",
    b"<template>",
    b"</template>",
    b"<plaintext>",
    b"<!--",
    b"-->",
    b"--",
    b"--!>",
    b"<!-- <body> -->",
    b"<!-->",
    b"<!x",
    b"<?",
    b"</ ",
    b"<![CDATA[",
    b"]]>",
    b'<meta content="<body>">',
    b"<meta a=",
    b"<body>",
    b"<BODY>",
    b'<body class="a>b">',
    b"<body class='a>b'>",
    b'<body a=b"c>',
    b"<body/>",
    b"<body\n",
    b"<body",
    b"</body>",
    b"<tbody>",
    b"<bodyx>",
    b"<scriptx>",
    b"<",
    b">",
    b"=",
    b'"',
    b"'",
    b"/",
    b" ",
    b"\t",
    b"-",
    b"!",
    b"text",
]
# Body tags made mostly of bytes that move the attribute tokenizer.
body_tags = st.builds(
    bytes.__add__,
    st.sampled_from([b"<body", b"<BODY"]),
    st.lists(st.sampled_from(b" \t\n/=\"'>ab<")).map(bytes),
)
documents = st.lists(
    st.one_of(
        st.sampled_from(FRAGMENTS),
        body_tags,
        st.binary(max_size=12),
        st.text(alphabet="<>/=\"' -!?bodyBODYscriptemla", max_size=12).map(str.encode),
    ),
    max_size=30,
).map(b"".join)


@settings(max_examples=400, deadline=None)
@given(document=documents, data=st.data())
def test_any_split_gives_the_same_answer(document: bytes, data: st.DataObject) -> None:
    expected = whole(document)
    assert stream([document]) == expected
    points = data.draw(st.lists(st.integers(0, len(document)), max_size=len(document) + 2))
    assert stream(split(document, points)) == expected
    assert stream(one_byte_chunks(document)) == expected
    assume(NOT_FOLLOWED.search(document) is None)
    assert_where_the_parser_puts_it(document, expected)


@settings(max_examples=300, deadline=None)
@given(tag=body_tags, data=st.data())
def test_a_body_tag_ends_where_browsers_end_it(tag: bytes, data: st.DataObject) -> None:
    document = tag + b"<p>"
    points = data.draw(st.lists(st.integers(0, len(document)), max_size=3))
    injected = stream(split(document, points))
    assert injected == whole(document)
    assert_where_the_parser_puts_it(document, injected)


@settings(max_examples=200, deadline=None)
@given(document=documents, limit=st.integers(6, 30), data=st.data())
def test_any_split_gives_the_same_answer_with_a_small_limit(
    document: bytes, limit: int, data: st.DataObject
) -> None:
    points = data.draw(st.lists(st.integers(0, len(document)), max_size=len(document) + 2))
    with mock.patch.object(injector, "MAX_BODY_TAG", limit):
        expected = whole(document)
        assert stream([document], limit=limit) == expected
        assert stream(split(document, points), limit=limit) == expected
        assert stream(one_byte_chunks(document), limit=limit) == expected
    if expected != whole(document):  # the limit made the difference: no body tag, then
        assert expected == document + SNIPPET


@settings(max_examples=300, deadline=None)
@given(earlier=st.lists(documents, max_size=4), document=documents, data=st.data())
def test_a_memo_of_earlier_documents_changes_nothing(
    earlier: list[bytes], document: bytes, data: st.DataObject
) -> None:
    """Documents that share their start with earlier ones, as a site's pages share their head."""
    memo = BodyTagMemo(size=3)
    for other in earlier:
        stream([other], memo=memo)
    source = data.draw(st.sampled_from([*earlier, document]))
    document = source[: data.draw(st.integers(0, len(source)))] + document
    points = data.draw(st.lists(st.integers(0, len(document)), max_size=3))
    expected = whole(document)
    assert stream(split(document, points), memo=memo) == expected
    assert stream([document], memo=memo) == expected
    assert insert_snippet(document, SNIPPET, memo) == expected


@settings(max_examples=300, deadline=None)
@given(document=st.one_of(documents, marked_documents()), data=st.data())
def test_the_run_skips_only_what_the_steps_would(document: bytes, data: st.DataObject) -> None:
    """_RUN passes over whole tags, comments and raw text elements in one match; without it
    (text only) the injector's steps go through each of them, and must end in the same place."""
    points = data.draw(st.lists(st.integers(0, len(document)), max_size=4))
    expected = whole(document)
    with mock.patch.object(injector, "_RUN", re.compile(rb"[^<]*+")):
        assert whole(document) == expected
        assert stream(split(document, points)) == expected


# Bytes that move the attribute tokenizer, and a few that do not.
attributes = st.lists(st.sampled_from([*b" \t\n\f/=\"'>a<`", b"x"[0]]), max_size=24).map(bytes)


@settings(max_examples=1000, deadline=None)
@given(name_end=st.sampled_from([b"", b" ", b"/", b"\n"]), rest=attributes)
def test_tag_regexes_end_where_the_step_by_step_tokenizer_does(
    name_end: bytes, rest: bytes
) -> None:
    """_TAG_END (the usual form, else every form) against _follow_tag, which takes the states
    of §13.2.5.32-40 one stop at a time: the same end, or both still inside the tag, in the
    same state once _ATTRIBUTES_SO_FAR has passed over all but the last attribute.

    The tokenizer is before an attribute name only after whitespace, "/" or a quoted value, never
    right after a name's letter: _USUAL_ATTRIBUTES looks behind its start for that, so without a
    ``name_end`` the attributes start with what ends a name."""
    assume(name_end or rest[:1] in (b"", b" ", b"\t", b"\n", b"\f", b"/", b">"))
    data = b"<a" + name_end + rest
    position, state = injector._follow_tag(data, 2, len(data), injector._BEFORE_NAME)
    found = injector._TAG_END.match(data, 2)
    assert (found.end() if found else None) == (position if state == injector._CLOSED else None)
    every_form = re.compile(injector._ATTRIBUTES).match(data, 2)
    assert (every_form.end() if every_form else None) == (found.end() if found else None)
    usual = re.compile(injector._USUAL_ATTRIBUTES).match(data, 2)
    if usual is not None:
        assert usual.end() == position
    if found is None:  # cut short: the attributes so far, then the last one step by step
        so_far = injector._ATTRIBUTES_SO_FAR.match(data, 2).end()  # type: ignore[union-attr]
        assert injector._follow_tag(data, so_far, len(data), injector._BEFORE_NAME) == (
            position,
            state,
        )


# --- Memory ---


def test_streams_50_mb_after_the_body_tag_in_little_memory() -> None:
    head = b"<!doctype html><html><head><title>t</title></head><body class=page>"
    pattern = b"<p>more <body> and <!-- comments --></p>\n"
    injector = HTMLInjector(SNIPPET)
    tracemalloc.start()
    try:
        assert injector.feed(head) == head + SNIPPET
        for i in range(800):
            chunk = (pattern * (65536 // len(pattern) + 1))[i % 7 : i % 7 + 65536]
            assert injector.feed(chunk) is chunk
        assert injector.finish() == b""
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 4 * 1024 * 1024


def test_a_page_without_body_tag_is_scanned_in_little_memory() -> None:
    pattern = b"<div><script>1</script><!-- x --><p title='a>b'>text</p></div>\n"
    chunks = ((pattern * (65536 // len(pattern) + 1))[:65536] for _ in range(16))
    tracemalloc.start()
    try:
        fed = emitted = 0
        injector = HTMLInjector(SNIPPET)
        for chunk in chunks:
            fed += len(chunk)
            emitted += len(injector.feed(chunk))
            assert fed - emitted < 16
        emitted += len(injector.finish())
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert emitted == fed + len(SNIPPET)
    assert peak < 4 * 1024 * 1024


# --- html_charset ---


@pytest.mark.parametrize(
    ("content_type", "charset"),
    [
        (b"text/html", "utf-8"),
        (b"text/html; charset=utf-8", "utf-8"),
        (b"text/html; charset=ISO-8859-1", "iso8859-1"),
        (b"text/html;charset=latin1", "iso8859-1"),
        (b'TEXT/HTML; Charset="Windows-1252"', "cp1252"),
        (b'text/html; q="a;b"; CHARSET = "shift_jis" ', "shift_jis"),
        (b"text/html; charset=utf-16", None),
        (b"text/html; charset=UTF-16LE", None),
        (b"text/html; charset=utf-16be", None),
        (b"text/html; charset=utf-32", None),
        (b"text/html; charset=utf_32_le", None),
        (b"text/html; charset=utf-7", None),
        (b"text/html; charset=cp500", None),
        (b"text/html; charset=base64", None),
        (b"text/html; charset=nonsense", None),
        (b'text/html; charset=""', None),
        (b"text/html; charset=a\x00b", None),
        (b"application/xhtml+xml", "utf-8"),
        (b"application/xhtml+xml; charset=euc-kr", "euc_kr"),
        (b"application/json", None),
        (b"application/json; charset=utf-8", None),
        (b"text/htmlx", None),
        (b"text/plain", None),
        (b"", None),
        (b"\xff\xfe garbage ;;; ===", None),
    ],
)
def test_html_charset(content_type: bytes, charset: str | None) -> None:
    assert html_charset(content_type) == charset


@given(st.binary() | st.binary().map(lambda value: b"text/html; charset=" + value))
def test_html_charset_never_raises(content_type: bytes) -> None:
    charset = html_charset(content_type)
    assert charset is None or "<body>".encode(charset) == b"<body>"


# --- The head point (HeadAndBodyInjector): before anything of the head, once ---

HEAD_SNIPPET = b'<meta name="consent-head">'
HEAD_TOKENS: list[Token] = [("start", "meta", (("name", "consent-head"),), False)]
_BOM = b"\xef\xbb\xbf"
_SPACE = "\t\n\f\r "
HEAD_IMPLYING_END_TAGS = ("head", "body", "html", "br")
# An XHTML DOCTYPE's internal subset: the injector reads it as XML does, html5lib as HTML does.
INTERNAL_SUBSET = re.compile(rb"<!doctype[^>]*\[", re.IGNORECASE)


def head_place(tokens: list[Token]) -> tuple[list[Token], int]:
    """The tokens (the first text that is not all whitespace split after its whitespace) and
    where the head snippet's tokens go. First the prologue: whitespace, comments, DOCTYPEs, html
    start tags and the end tags the tree builder ignores before the head (all but head, body,
    html and br); then a head start tag, if one comes next; then the head's opening run of
    whitespace, comments, meta start tags and title elements. The snippet goes right after
    that run, before the first other token."""
    index, in_head = 0, False
    while index < len(tokens):
        token = tokens[index]
        kind = token[0]
        if kind == "text":
            text = token[1].lstrip(_SPACE)
            if text and text != token[1]:
                space = ("text", token[1][: len(token[1]) - len(text)])
                return [*tokens[:index], space, ("text", text), *tokens[index + 1 :]], index + 1
            if text:
                return tokens, index
        elif kind == "comment":
            pass
        elif not in_head:
            if not (
                kind == "doctype"
                or token[:2] == ("start", "html")
                or (kind == "end" and token[1] not in HEAD_IMPLYING_END_TAGS)
            ):
                in_head = True
                if token[:2] != ("start", "head"):
                    continue  # the head starts at this token
        elif token[:2] == ("start", "title"):
            index += 1 if tokens[index + 1 : index + 2] == [("end", "title")] else 2
        elif token[:2] != ("start", "meta"):
            return tokens, index
        index += 1
    return tokens, len(tokens)


def assert_both_where_the_parser_puts_them(document: bytes, injected: bytes) -> None:
    """The oracle of the body snippet (above), with the head snippet's tokens at the head point
    as well. A byte order mark stays first; html5lib reads the rest."""
    if document.startswith(_BOM):
        assert injected.startswith(_BOM)
        document, injected = document[len(_BOM) :], injected[len(_BOM) :]
    tokens, head_at = head_place(tokens_of(document))
    body_at = snippet_place(tokens)
    if body_at is None:
        assert injected.endswith(SNIPPET)
        if head_at == len(tokens):  # all before the head point: the head snippet at the end,
            at = injected.index(HEAD_SNIPPET)  # or before a token the end cut short
            assert injected == document[:at] + HEAD_SNIPPET + document[at:] + SNIPPET
            before = tokens_of(document[:at])
            assert head_place(before)[1] == len(before)
            # What was held back (a marker cut short), or one token the end cut short.
            left_open = document[at:]
            assert len(left_open) < len(b"</textarea") or (
                left_open[:1] == b"<" and len(tokens_of(left_open)) <= 1
            )
            return
        expected = [*tokens[:head_at], *HEAD_TOKENS, *tokens[head_at:]]
        assert tokens_of(injected[: -len(SNIPPET)]) == _joined(expected)
        return
    assert head_at <= body_at
    expected = [
        *tokens[:head_at],
        *HEAD_TOKENS,
        *tokens[head_at:body_at],
        *MARKER_TOKENS,
        *tokens[body_at:],
    ]
    assert tokens_of(injected) == _joined(expected)


def stream_both(
    chunks: Iterable[bytes],
    *,
    limit: int = MAX_BODY_TAG,
    memo: injector.HeadAndBodyMemo | None = None,
) -> bytes:
    """Feed the chunks to a HeadAndBodyInjector, checking how much is held back, and finish."""
    both = injector.HeadAndBodyInjector(HEAD_SNIPPET, SNIPPET, memo)
    fed = emitted = 0
    parts = []
    for chunk in chunks:
        part = both.feed(chunk)
        parts.append(part)
        fed += len(chunk)
        emitted += len(part)
        added = (len(HEAD_SNIPPET) if both.head_injected else 0) + (
            len(SNIPPET) if both.injected else 0
        )
        held = fed - emitted + added
        # Before the head point too, only what may be a marker is held ("<!DOCTYP", "</title").
        assert 0 <= held <= max(limit - 1, len(b"</textarea"))
    parts.append(both.finish())
    assert both.injected
    return b"".join(parts)


def whole_both(document: bytes) -> bytes:
    return injector.insert_head_and_snippet(
        document, HEAD_SNIPPET, SNIPPET, injector.HeadAndBodyMemo()
    )


def every_way_both(document: bytes) -> bytes:
    injected = whole_both(document)
    assert stream_both([document]) == injected
    assert stream_both(one_byte_chunks(document)) == injected
    assert stream_both([b"", *one_byte_chunks(document), b""]) == injected
    # Without the head snippet, the body snippet goes where HTMLInjector puts it.
    assert injected.replace(HEAD_SNIPPET, b"", 1) == whole(document)
    return injected


TITLED = b"<title>T</title>"
XUA = b'<meta http-equiv="X-UA-Compatible" content="IE=edge">'


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        (
            PAGE,
            PAGE.replace(TITLED, TITLED + HEAD_SNIPPET).replace(b"<body>", b"<body>" + SNIPPET),
        ),
        (b"<HEAD class='a>b'>x", b"<HEAD class='a>b'>" + HEAD_SNIPPET + b"x" + SNIPPET),
        (b"<html data-x='<head>'><head>", b"<html data-x='<head>'><head>" + HEAD_SNIPPET + SNIPPET),
        (b"<!-- <head> --><head>", b"<!-- <head> --><head>" + HEAD_SNIPPET + SNIPPET),
        (b"<!DOCTYPE html>" + TITLED, b"<!DOCTYPE html>" + TITLED + HEAD_SNIPPET + SNIPPET),
        (
            b"<?xml version='1.0'?>\n<html>\n<head>",
            b"<?xml version='1.0'?>\n<html>\n<head>" + HEAD_SNIPPET + SNIPPET,
        ),
        (b"</ x><head>", b"</ x><head>" + HEAD_SNIPPET + SNIPPET),
        # End tags the tree builder ignores before the head, tokenized with their attributes.
        (b"</p><head>", b"</p><head>" + HEAD_SNIPPET + SNIPPET),
        (
            b"</div class='a><head>'><head>x",
            b"</div class='a><head>'><head>" + HEAD_SNIPPET + b"x" + SNIPPET,
        ),
        (b"</head><head>", HEAD_SNIPPET + b"</head><head>" + SNIPPET),
        (b"</br><head>", HEAD_SNIPPET + b"</br><head>" + SNIPPET),
        (b"<header><head>", HEAD_SNIPPET + b"<header><head>" + SNIPPET),
        (
            b"<title><head></title><head>",
            b"<title><head></title>" + HEAD_SNIPPET + b"<head>" + SNIPPET,
        ),
        (b"  text<body>", b"  " + HEAD_SNIPPET + b"text<body>" + SNIPPET),
        (b"<body class=a>", HEAD_SNIPPET + b"<body class=a>" + SNIPPET),
        (b"<plaintext><head>", HEAD_SNIPPET + SNIPPET + b"<plaintext><head>"),
        (_BOM + b"<head>", _BOM + b"<head>" + HEAD_SNIPPET + SNIPPET),
        (_BOM + b"<p>", _BOM + HEAD_SNIPPET + b"<p>" + SNIPPET),
        (b"<!doctype html>", b"<!doctype html>" + HEAD_SNIPPET + SNIPPET),
        (b"", HEAD_SNIPPET + SNIPPET),
        (b"<!-- never closed", b"<!-- never closed" + HEAD_SNIPPET + SNIPPET),
        (b"<!doctype html></", b"<!doctype html>" + HEAD_SNIPPET + b"</" + SNIPPET),
        (b"<!doctype html><!DOCTY", b"<!doctype html>" + HEAD_SNIPPET + b"<!DOCTY" + SNIPPET),
        # Past the head's opening run of meta and title elements (IE reads X-UA-Compatible only
        # before anything else), and the whitespace and comments in it; before <base>, which
        # would move the script's address, and before anything that runs or loads.
        (
            b"<head>\n" + XUA + b"\n<META charset=utf-8><!-- c -->" + TITLED + b"\n<base href=/>",
            b"<head>\n"
            + XUA
            + b"\n<META charset=utf-8><!-- c -->"
            + TITLED
            + b"\n"
            + HEAD_SNIPPET
            + b"<base href=/>"
            + SNIPPET,
        ),
        (
            b"<meta charset=utf-8><meta content='<script>'><link rel=x><body>",
            b"<meta charset=utf-8><meta content='<script>'>"
            + HEAD_SNIPPET
            + b"<link rel=x><body>"
            + SNIPPET,
        ),
        (
            b"<head><title>a</title x='>'><script>",
            b"<head><title>a</title x='>'>" + HEAD_SNIPPET + b"<script>" + SNIPPET,
        ),
        (
            b"<head><meta a><!doctype html>",
            b"<head><meta a>" + HEAD_SNIPPET + b"<!doctype html>" + SNIPPET,
        ),
        (b"<head><meta a></meta>", b"<head><meta a>" + HEAD_SNIPPET + b"</meta>" + SNIPPET),
        (b"<head><metax><meta>", b"<head>" + HEAD_SNIPPET + b"<metax><meta>" + SNIPPET),
        (b"<head><title>unclosed", b"<head><title>unclosed" + HEAD_SNIPPET + SNIPPET),
    ],
)
def test_head_examples(document: bytes, expected: bytes) -> None:
    assert every_way_both(document) == expected
    assert_both_where_the_parser_puts_them(document, expected)


HEAD_GRAMMAR = [
    *GRAMMAR,
    "<?xml version='1.0'?>",
    "<html data-x='<head>'>",
    "<head class='a>b'>",
    "<Head>",
    "<header>",
    "<headx>",
    "</ x>",
    "</>",
    "\t",
    "<title>T</title>",
    "<base href=/>",
    # what a reader of the head point fuzzed it with
    "<!doctype html SYSTEM 'a>b'>",
    "<!-- <head> -->",
    '<HTML a="<head>">',
    "<html\nlang=en/>",
    "<html =x>",
    "<html a='<!--'>",
    "<head/>",
    "<HEAD\n>",
    "<head prefix='og: x'>",
    '<HeAd\tdata-x="\'">',
    "</html>",
    "</br>",
    "</div x>",
    "<meta charset=utf-8>",
    "<META http-equiv=X-UA-Compatible content=IE=edge>",
    "<title>a <head></title>",
    "<script>var a='<head>'</script>",
    "<noscript><head></noscript>",
    "<a href='<head>'>",
    "<h1>",
    "< p>",
    "\x00",
    "\x0b",
    "\u00a0",
    "<html",
    "<head",
    "<meta",
    "<title",
]


@st.composite
def head_documents(draw: st.DrawFn, max_parts: int = 20) -> bytes:
    """Documents of the grammar with the head's forms, sometimes after a byte order mark, often
    starting with a prologue (so that the head point is not always the first byte)."""
    prologue = draw(st.lists(st.sampled_from(PROLOGUE_PARTS), max_size=4))
    rest = draw(marked_documents(max_parts, grammar=HEAD_GRAMMAR))
    bom = draw(st.sampled_from([b"", b"", b"", _BOM]))
    return bom + "".join(prologue).encode() + rest


PROLOGUE_PARTS = [
    "<!DOCTYPE html>",
    "<html lang='en'>",
    "<HTML>",
    "<head>",
    "<!-- c -->",
    "\n",
    " ",
    "<?xml ?>",
    "<!x>",
    "</p>",
    "</div class='a>b'>",
    "</br>",
    "<meta charset=utf-8>",
    '<meta http-equiv="X-UA-Compatible" content="IE=edge">',
    "<title>T</title>",
    "<title>a <b></TITLE >",
    "<base href=/>",
    '<!DOCTYPE html [ <!ENTITY nbsp "&#160;"> <!-- ] \' > --> ]>',
    "<!DOCTYPE html SYSTEM 'x' [ <!ENTITY a '>]'> ] >",
]
head_documents_or_bytes = st.one_of(
    head_documents(),
    st.builds(bytes.__add__, st.sampled_from([b"", _BOM, b"<!doctype html><html>"]), documents),
)


@settings(max_examples=300, deadline=None)
@given(document=head_documents_or_bytes, data=st.data())
def test_the_head_point_is_where_the_parser_creates_the_head(
    document: bytes, data: st.DataObject
) -> None:
    injected = whole_both(document)
    assert injected.replace(HEAD_SNIPPET, b"", 1) == whole(document)
    points = data.draw(st.lists(st.integers(0, len(document)), max_size=len(document) + 2))
    assert stream_both(split(document, points)) == injected
    assert stream_both(one_byte_chunks(document)) == injected
    assume(NOT_FOLLOWED.search(document) is None and INTERNAL_SUBSET.search(document) is None)
    assert_both_where_the_parser_puts_them(document, injected)


@settings(max_examples=200, deadline=None)
@given(document=head_documents_or_bytes, limit=st.integers(0, 40), data=st.data())
def test_the_head_limit_gives_the_same_answer_in_any_split(
    document: bytes, limit: int, data: st.DataObject
) -> None:
    points = data.draw(st.lists(st.integers(0, len(document)), max_size=len(document) + 2))
    earlier = data.draw(st.lists(head_documents_or_bytes, max_size=2))
    with mock.patch.object(injector, "MAX_HEAD_POINT", limit):
        expected = whole_both(document)
        assert stream_both(split(document, points)) == expected
        assert stream_both(one_byte_chunks(document)) == expected
        memo = injector.HeadAndBodyMemo(size=2)  # and a memo filled under the same limit
        for other in earlier:
            stream_both([other], memo=memo)
        assert stream_both(split(document, points), memo=memo) == expected
        assert injector.insert_head_and_snippet(document, HEAD_SNIPPET, SNIPPET, memo) == expected
    assert expected.count(HEAD_SNIPPET) >= 1
    head_at = expected.index(HEAD_SNIPPET)
    assert expected[:head_at] + expected[head_at + len(HEAD_SNIPPET) :] == whole(document)
    # The limit only moves the head snippet earlier, never later.
    assert head_at <= whole_both(document).index(HEAD_SNIPPET)


@settings(max_examples=300, deadline=None)
@given(
    earlier=st.lists(head_documents_or_bytes, max_size=4),
    document=head_documents_or_bytes,
    data=st.data(),
)
def test_a_memo_of_earlier_heads_changes_nothing(
    earlier: list[bytes], document: bytes, data: st.DataObject
) -> None:
    memo = injector.HeadAndBodyMemo(size=3)
    for other in earlier:
        stream_both([other], memo=memo)
    source = data.draw(st.sampled_from([*earlier, document]))
    document = source[: data.draw(st.integers(0, len(source)))] + document
    points = data.draw(st.lists(st.integers(0, len(document)), max_size=3))
    expected = whole_both(document)
    assert stream_both(split(document, points), memo=memo) == expected
    assert stream_both([document], memo=memo) == expected
    assert injector.insert_head_and_snippet(document, HEAD_SNIPPET, SNIPPET, memo) == expected


def test_the_head_memo_remembers_both_points_of_a_first_chunk() -> None:
    memo = injector.HeadAndBodyMemo()
    stream_both([b"<html><head>", b"<title>x</title><body>"], memo=memo)
    assert memo.find(b"<html><head><title>x</title><body>") is None
    stream_both([PAGE], memo=memo)
    head = PAGE.index(b"</title>") + len(b"</title>")
    assert memo.find(PAGE) == (head, PAGE.index(b"<body>") + len(b"<body>"))
    assert memo.find(b"<p><plaintext>") is None
    stream_both([b"<p><plaintext>"], memo=memo)
    assert memo.find(b"<p><plaintext>") is None


def test_before_the_head_point_only_a_possible_marker_is_held() -> None:
    both = injector.HeadAndBodyInjector(HEAD_SNIPPET, SNIPPET)
    assert both.feed(b"<!doctype html><!-- a") == b"<!doctype html><!-- a"
    assert both.feed(b" comment --><ht") == b" comment -->"
    assert both.feed(b"ml lang=en><HEA") == b"<html lang=en>"
    assert both.feed(b"D><meta charset=utf-8><tit") == b"<HEAD><meta charset=utf-8>"
    assert both.feed(b"le>a</tit") == b"<title>a"
    assert both.feed(b"le>x") == b"</title>" + HEAD_SNIPPET + b"x"
    assert both.feed(b"<body>") == b"<body>" + SNIPPET
    assert both.finish() == b""


def test_the_head_point_is_looked_for_up_to_the_limit() -> None:
    """A token that starts before the limit goes first, however long; at the limit, the head
    snippet goes in where the scan is."""
    comment = b"<!--" + b"x" * injector.MAX_HEAD_POINT + b"-->"
    document = b"<!doctype html>" + comment + b"<head><body>"
    expected = b"<!doctype html>" + comment + HEAD_SNIPPET + b"<head><body>" + SNIPPET
    spaces = b"<head>" + b" " * injector.MAX_HEAD_POINT + b"<meta>"
    at = injector.MAX_HEAD_POINT
    for size in (1, 1000, len(document)):
        chunks = [document[i : i + size] for i in range(0, len(document), size)]
        assert stream_both(chunks) == expected
        chunks = [spaces[i : i + size] for i in range(0, len(spaces), size)]
        assert stream_both(chunks) == spaces[:at] + HEAD_SNIPPET + spaces[at:] + SNIPPET


class CountingInjector(injector.HeadAndBodyInjector):
    """Counts the bytes its scans go through: what was held back, and each chunk."""

    scanned = 0

    def _scan(self, chunk: bytes) -> bytes:
        CountingInjector.scanned += len(self._held) + len(chunk)
        return super()._scan(chunk)


@pytest.mark.parametrize(
    "prologue",
    [
        b"<!--" + b"x- " * 5400 + b"-->",
        b"<html " + b"a=b " * 4000 + b">",
        b"<!DOCTYPE html [" + b"<!ENTITY a '>]'> " * 1000 + b"]>",
        b"</div " + b"a='>' " * 3000 + b">",
        b"<head><title>" + b"a </titl " * 1800 + b"</title>",
    ],
    ids=["comment", "html tag", "internal subset", "stray end tag", "title"],
)
def test_a_long_token_before_the_head_point_is_scanned_once(prologue: bytes) -> None:
    """Byte by byte, each byte is scanned once, with at most a marker held back, not the token
    from its start again: linear, where holding and matching it again was quadratic."""
    document = prologue + b"<head><script></script><body>x"
    CountingInjector.scanned = 0
    counting = CountingInjector(HEAD_SNIPPET, SNIPPET)
    streamed = b"".join(map(counting.feed, one_byte_chunks(document))) + counting.finish()
    assert streamed == whole_both(document)
    assert CountingInjector.scanned <= len(document) * len(b"<!DOCTYPE")
    assert streamed.index(HEAD_SNIPPET) >= len(prologue)


def test_xhtml_with_an_internal_subset_stays_well_formed() -> None:
    """The head point follows a DOCTYPE's internal subset (entities an XHTML page declares)."""
    document = (
        b'<?xml version="1.0" encoding="utf-8"?>\n<!DOCTYPE html [ <!ENTITY nbsp "&#160;"> ]>\n'
        b'<html xmlns="http://www.w3.org/1999/xhtml"><head><title>t</title></head>'
        b"<body><p>a&nbsp;b</p></body></html>"
    )
    tag = b'<script src="/consent-mode.js" data-granted="necessary"></script>'
    marker = b'<i id="consent-marker"></i>'
    injected = every_way_with(document, tag, marker)
    assert injected == document.replace(b"</title>", b"</title>" + tag).replace(
        b"<body>", b"<body>" + marker
    )
    minidom.parseString(injected)  # noqa: S318  (the test's own document)


@pytest.mark.parametrize(
    "doctype",
    [
        b"<!DOCTYPE html [ <!-- > ] ' --> ]>",
        b"<!DOCTYPE html SYSTEM 'x' [ <!ENTITY a '>]'> <!ENTITY b \"]>\"> ] >",
        b"<!DOCTYPE html [<!---->]><!DOCTYPE html []>",
    ],
    ids=["a comment", "quoted strings", "an empty comment, then another DOCTYPE"],
)
def test_what_an_internal_subset_holds_does_not_end_it(doctype: bytes) -> None:
    """Quoted strings and comments in the subset may hold "]" and ">"; the DOCTYPE's own ">"
    ends it, and the title after it starts the head's opening run."""
    document = doctype + TITLED + b"<script></script><body>x"
    injected = every_way_both(document)
    assert injected.startswith(doctype + TITLED + HEAD_SNIPPET + b"<script>")


def test_a_stray_end_tag_before_the_head_keeps_the_heads_attributes() -> None:
    document = (
        b"<!doctype html></div x='>'><head prefix='og: http://ogp.me/ns#'>"
        b"<meta property='og:title' content='x'></head><body>x</body>"
    )
    injected = every_way_both(document)
    head = html5lib.parse(injected, namespaceHTMLElements=False).find("head")
    assert dict(head.attrib) == {"prefix": "og: http://ogp.me/ns#"}
    assert [child.tag for child in head] == ["meta", "meta"]
    assert head[1].get("name") == "consent-head"


def every_way_with(document: bytes, head: bytes, snippet: bytes) -> bytes:
    injected = injector.insert_head_and_snippet(document, head, snippet, injector.HeadAndBodyMemo())
    for chunks in ([document], one_byte_chunks(document)):
        both = injector.HeadAndBodyInjector(head, snippet)
        assert b"".join(map(both.feed, chunks)) + both.finish() == injected
    return injected


@pytest.mark.parametrize("document", REALISTIC_PAGES.values(), ids=REALISTIC_PAGES.keys())
def test_realistic_pages_get_the_head_snippet_first_in_the_head(document: bytes) -> None:
    injected = every_way_both(document)
    assert_both_where_the_parser_puts_them(document, injected)
    head_at = injected.index(HEAD_SNIPPET)
    assert re.search(rb"<(?:script|link|style|base|noscript|template)", injected[:head_at]) is None


HEAD_SEEN = """() => {
    const marker = document.querySelector('meta[name="consent-head"]');
    const before = [];
    let node = marker && marker.previousElementSibling;
    for (; node; node = node.previousElementSibling) before.push(node.tagName);
    return {
        marker: Boolean(marker),
        inHead: Boolean(marker && document.head && marker.parentNode === document.head),
        onlyMetaAndTitleBefore: before.every((name) => name === "META" || name === "TITLE"),
    };
}"""


@settings(max_examples=40, deadline=None)
@given(document=head_documents(max_parts=12))
def test_chromium_puts_the_head_snippet_in_the_head_after_meta_and_title_only(
    chromium: Chromium, document: bytes
) -> None:
    assume(INTERNAL_SUBSET.search(document) is None)  # HTML reads no internal subset
    injected = whole_both(document)
    chromium.load(injected)
    seen = chromium.page.evaluate(HEAD_SEEN)
    tokens = tokens_of(injected[len(_BOM) :] if injected.startswith(_BOM) else injected)
    if HEAD_TOKENS[0] in tokens:  # a tag, not in a comment the document left open
        assert seen == {"marker": True, "inHead": True, "onlyMetaAndTitleBefore": True}


def test_no_pattern_repeats_a_group_possessively() -> None:
    """Python 3.11.2, Debian 12's python3, matches a possessive repeat of a group, ``(?:…)*+``,
    wrongly (the injector then missed every body tag); the atomic form, ``(?>(?:…)*)``, holds."""
    group_repeated_possessively = re.compile(r"(?<!\\)\)(?:[*+?]|\{[0-9,]*\})\+")
    found = []
    for module_info in pkgutil.walk_packages(consent.__path__, "consent."):
        module = importlib.import_module(module_info.name)
        for name, value in vars(module).items():
            if isinstance(value, re.Pattern):
                source = value.pattern
                text = source.decode("latin-1") if isinstance(source, bytes) else source
                if group_repeated_possessively.search(text):
                    found.append(f"{module_info.name}.{name}")
    assert found == []
