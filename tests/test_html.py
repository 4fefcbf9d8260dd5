"""The streaming HTML injector, checked against a slow reference that reads a whole document."""

from __future__ import annotations

import itertools
import tracemalloc
from collections.abc import Iterable
from unittest import mock

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from consent import html
from consent.html import MAX_BODY_TAG, BodyTagMemo, HTMLInjector, html_charset, insert_snippet

SNIPPET = b"<div id=consent></div>"

# --- The reference: one byte at a time over the whole document, the tokenizer as specified ---

SPACE = b"\t\n\f\r "
RAW_TEXT = (b"script", b"style", b"title", b"textarea")


def reference(document: bytes, limit: int = MAX_BODY_TAG) -> bytes:
    """The document with the snippet where it belongs, worked out slowly and simply."""
    at = insertion_point(document, limit)
    return document[:at] + SNIPPET + document[at:]


def insertion_point(document: bytes, limit: int) -> int:
    lower = document.lower()
    i = 0
    while i < len(document):
        name = tag_name(lower, i)
        if lower.startswith(b"<!--", i):
            end = lower.find(b"-->", i + 2)
            if end == -1:
                return len(document)
            i = end + 3
        elif name in RAW_TEXT:
            end_tag = end_of_raw_text(lower, i + 1 + len(name), name)
            if end_tag is None:
                return len(document)
            i = end_tag
        elif name == b"body":
            tag_end = end_of_start_tag(document, i + 5)
            if tag_end is None or tag_end - i > limit:
                return len(document)
            return tag_end
        else:
            i += 1
    return len(document)


def tag_name(lower: bytes, i: int) -> bytes | None:
    """The name of the tag at ``i``: after "<", up to whitespace, "/" or ">"."""
    if lower[i : i + 1] != b"<":
        return None
    for j in range(i + 1, len(lower)):
        if lower[j] in b"\t\n\f\r />":
            return lower[i + 1 : j]
    return None


def end_of_raw_text(lower: bytes, i: int, name: bytes) -> int | None:
    while (i := lower.find(b"</" + name, i)) != -1:
        after = i + 2 + len(name)
        if after < len(lower) and lower[after] in b"\t\n\f\r />":
            return after
        i += 1
    return None


def end_of_start_tag(document: bytes, i: int) -> int | None:
    """After the ">" of a start tag whose name ends at ``i`` (HTML Standard §13.2.5.8, 32-40)."""
    state = "tag name"
    while i < len(document):
        c = document[i : i + 1]
        i += 1
        reconsume = False
        if state in ("tag name", "after attribute value (quoted)"):
            if c in SPACE:
                state = "before attribute name"
            elif c == b"/":
                state = "self-closing start tag"
            elif c == b">":
                return i
            else:
                state, reconsume = "before attribute name", True
        elif state == "before attribute name":
            if c in b"/>":
                state, reconsume = "after attribute name", True
            elif c not in SPACE:
                state = "attribute name"
        elif state == "attribute name":
            if c in SPACE or c in b"/>":
                state, reconsume = "after attribute name", True
            elif c == b"=":
                state = "before attribute value"
        elif state == "after attribute name":
            if c == b"/":
                state = "self-closing start tag"
            elif c == b"=":
                state = "before attribute value"
            elif c == b">":
                return i
            elif c not in SPACE:
                state = "attribute name"
        elif state == "before attribute value":
            if c == b'"':
                state = "attribute value (double-quoted)"
            elif c == b"'":
                state = "attribute value (single-quoted)"
            elif c == b">":
                return i
            elif c not in SPACE:
                state = "attribute value (unquoted)"
        elif state == "attribute value (double-quoted)":
            if c == b'"':
                state = "after attribute value (quoted)"
        elif state == "attribute value (single-quoted)":
            if c == b"'":
                state = "after attribute value (quoted)"
        elif state == "attribute value (unquoted)":
            if c in SPACE:
                state = "before attribute name"
            elif c == b">":
                return i
        else:  # self-closing start tag
            if c == b">":
                return i
            state, reconsume = "before attribute name", True
        if reconsume:
            i -= 1
    return None


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
        # The longest marker is "</textarea", held whole until the byte after it arrives.
        assert 0 <= held <= max(limit - 1, len(b"</textarea"))
    parts.append(injector.finish())
    assert injector.injected
    return b"".join(parts)


def split(document: bytes, points: Iterable[int]) -> list[bytes]:
    bounds = [0, *sorted(points), len(document)]
    return [document[start:end] for start, end in itertools.pairwise(bounds)]


def one_byte_chunks(document: bytes) -> list[bytes]:
    return [document[i : i + 1] for i in range(len(document))]


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
    assert reference(document) == expected
    assert stream([document]) == expected
    assert stream(one_byte_chunks(document)) == expected
    assert stream([b"", *one_byte_chunks(document), b""]) == expected


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
    assert reference(document) == expected
    assert stream([document]) == expected
    assert stream([document[:100], document[100:-6], document[-6:]]) == expected


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


# --- Properties: any split gives the reference's answer ---

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
    b"<style>",
    b"</style/>",
    b"<textarea>",
    b"</textarea>",
    b"<!--",
    b"-->",
    b"--",
    b"<!-- <body> -->",
    b"<!-->",
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
        st.text(alphabet="<>/=\"' -!bodyBODYscript", max_size=12).map(str.encode),
    ),
    max_size=30,
).map(b"".join)


@settings(max_examples=400, deadline=None)
@given(document=documents, data=st.data())
def test_any_split_gives_the_reference(document: bytes, data: st.DataObject) -> None:
    expected = reference(document)
    assert stream([document]) == expected
    points = data.draw(st.lists(st.integers(0, len(document)), max_size=len(document) + 2))
    assert stream(split(document, points)) == expected
    assert stream(one_byte_chunks(document)) == expected


@settings(max_examples=300, deadline=None)
@given(tag=body_tags, data=st.data())
def test_a_body_tag_ends_where_browsers_end_it(tag: bytes, data: st.DataObject) -> None:
    document = tag + b"<p>"
    points = data.draw(st.lists(st.integers(0, len(document)), max_size=3))
    assert stream(split(document, points)) == reference(document)


@settings(max_examples=200, deadline=None)
@given(document=documents, limit=st.integers(6, 30), data=st.data())
def test_any_split_gives_the_reference_with_a_small_limit(
    document: bytes, limit: int, data: st.DataObject
) -> None:
    expected = reference(document, limit)
    points = data.draw(st.lists(st.integers(0, len(document)), max_size=len(document) + 2))
    with mock.patch.object(html, "MAX_BODY_TAG", limit):
        assert stream([document], limit=limit) == expected
        assert stream(split(document, points), limit=limit) == expected
        assert stream(one_byte_chunks(document), limit=limit) == expected


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
    assert stream(split(document, points), memo=memo) == reference(document)
    assert stream([document], memo=memo) == reference(document)
    assert insert_snippet(document, SNIPPET, memo) == reference(document)
    assert insert_snippet(document, SNIPPET, BodyTagMemo()) == reference(document)


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
    pattern = b"<div><script>1</script><!-- x --><p>text</p></div>\n"
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
