"""Stream an HTML body, inserting a snippet once, right after the opening ``<body …>`` tag.

:class:`HTMLInjector` is a small state machine, not an HTML parser. Until it finds the body tag it
knows only this much HTML, matching tag names ASCII case-insensitively:

* ``<!-- … -->`` is a comment; ``<!-->`` and ``<!--->`` close at once, as in browsers.
* ``<script``, ``<style``, ``<title`` and ``<textarea`` followed by whitespace, ``/`` or ``>``
  start raw text, which runs until the matching end tag: ``</script`` followed by whitespace,
  ``/`` or ``>``.
* Anywhere else, ``<body`` followed by whitespace, ``/`` or ``>`` starts the body tag. Its
  attributes are tokenized as browsers do, so the tag ends at the first ``>`` outside a quoted
  attribute value: ``<body data-x="a>b">``. Nothing is inserted into a body tag longer than
  :data:`MAX_BODY_TAG`; the document is then treated as having none.

Limits: ``<body`` inside an attribute value of another tag (``<meta content="<body>">``), inside
``<noscript>``, ``<noframes>``, ``<xmp>``, ``<iframe>`` or ``<noembed>``, or inside a bogus comment
(``<!…>``, ``<?…>``) or CDATA section is taken for the body tag. The start tags of raw text
elements are not parsed (their raw text starts right after the tag name), and the escape states of
script data (``<!--<script>`` inside a script) are ignored. The body is never decoded, so it has to
be in an encoding that keeps ASCII as ASCII, which :func:`html_charset` checks.

Memory stays bounded: the injector holds back only what could be the start of a marker split
between chunks (``<bod``, ``--``, ``</scri``) or an unfinished body tag. Once the snippet is in,
chunks pass through untouched.
"""

from __future__ import annotations

import codecs
import functools
import re

__all__ = ["MAX_BODY_TAG", "BodyTagMemo", "HTMLInjector", "html_charset", "insert_snippet"]

MAX_BODY_TAG = 16 * 1024
"""The longest body start tag, in bytes from ``<`` to ``>``, that the injector waits for."""

_NAME_END = rb"(?=[\t\n\f\r />])"
# "(?=[!bst])" only makes the search twice as fast on markup with many other tags.
_OPENING = re.compile(
    rb"<(?=[!bst])(?:!--|(?:(body)|s(?:cript|tyle)|t(?:itle|extarea))" + _NAME_END + rb")",
    re.IGNORECASE,
)
_OPENINGS = (b"<!--", b"<body", b"<script", b"<style", b"<title", b"<textarea")
_END_TAGS = {
    b"</" + name: re.compile(b"</" + name + _NAME_END, re.IGNORECASE)
    for name in (b"script", b"style", b"title", b"textarea")
}
_COMMENT_END = b"-->"

# What the injector is doing.
_DATA, _COMMENT, _RAW_TEXT, _BODY_TAG, _PASS = range(5)

# States of the body tag's attribute tokenizer (HTML Standard §13.2.5.32-40), reduced to what
# decides which ">" ends the tag. _NAME also covers the whitespace after a name.
_BEFORE_NAME, _NAME, _BEFORE_VALUE, _DOUBLE_QUOTED, _SINGLE_QUOTED, _UNQUOTED, _CLOSED = range(7)
# The first byte that makes the tokenizer leave each state.
_TAG_STOPS = (
    re.compile(rb"[^\t\n\f\r /]"),
    re.compile(rb"[/=>]"),
    re.compile(rb"[^\t\n\f\r ]"),
    re.compile(rb'"'),
    re.compile(rb"'"),
    re.compile(rb"[\t\n\f\r >]"),
)
_QUOTES = {ord('"'): _DOUBLE_QUOTED, ord("'"): _SINGLE_QUOTED}

# A body tag whose attributes are all well-formed (names and unquoted values without quotes,
# "<", "=" or "`"; whitespace between attributes): where the tokenizer would end such a tag is
# plain, so one match finds it. Anything else goes through the tokenizer below.
_SIMPLE_BODY_TAG = re.compile(
    rb"<body"
    rb"(?:[\t\n\f\r ]+[^\t\n\f\r /><\"'=`]+"
    rb"(?:[\t\n\f\r ]*=[\t\n\f\r ]*(?:\"[^\"]*\"|'[^']*'|[^\t\n\f\r ><\"'=`]+))?)*"
    rb"[\t\n\f\r ]*/?>",
    re.IGNORECASE,
)


def _next_tag_state(state: int, byte: int) -> int:
    """The tokenizer state after ``byte``, the first byte that made it leave ``state``."""
    if state in (_DOUBLE_QUOTED, _SINGLE_QUOTED):
        return _BEFORE_NAME
    if byte == ord(">"):
        return _CLOSED
    if state == _BEFORE_NAME:
        return _NAME  # any byte, even "=", starts a name
    if state == _NAME:
        return _BEFORE_VALUE if byte == ord("=") else _BEFORE_NAME
    if state == _BEFORE_VALUE:
        return _QUOTES.get(byte, _UNQUOTED)
    return _BEFORE_NAME  # whitespace after an unquoted value


def _split_marker(data: bytes, pos: int, markers: tuple[bytes, ...]) -> int:
    """Where the longest tail of ``data[pos:]`` that could begin one of ``markers`` starts."""
    for start in range(max(pos, len(data) - max(map(len, markers))), len(data)):
        tail = data[start:].lower()
        if any(marker.startswith(tail) for marker in markers):
            return start
    return len(data)


class BodyTagMemo:
    """Where the snippet went in the first chunk of the last few documents.

    A site sends the same few heads again and again. Where the snippet goes depends only on the
    bytes up to the end of the body tag: every search above looks at most one byte past a tag
    name, and that byte is still inside the tag. So a first chunk that starts with the same bytes
    gets the snippet at the same place, found with one ``startswith`` instead of a scan through
    the head's comments, scripts and styles.
    """

    __slots__ = ("_entries", "_size")

    def __init__(self, size: int = 8) -> None:
        self._entries: list[tuple[bytes, int]] = []
        self._size = size

    def find(self, chunk: bytes) -> int:
        """Where the snippet goes in a document's first ``chunk``, or -1 if no entry fits."""
        for prefix, end in self._entries:
            if chunk.startswith(prefix):
                return end
        return -1

    def add(self, chunk: bytes, end: int) -> None:
        """Remember that the snippet went at ``end`` in a document's first ``chunk``."""
        if end <= MAX_MEMO_PREFIX:
            self._entries.insert(0, (chunk[:end], end))
            del self._entries[self._size :]


MAX_MEMO_PREFIX = 16 * 1024
"""The longest document start, up to the end of its body tag, that a :class:`BodyTagMemo` keeps."""


class HTMLInjector:
    """Streams an HTML body, inserting ``snippet`` once, right after the opening <body …> tag.

    With a ``memo``, the first chunk is looked up there first, and a body tag found in it is
    remembered there.
    """

    __slots__ = (
        "_end_tag",
        "_held",
        "_injected",
        "_memo",
        "_mode",
        "_snippet",
        "_tag_pos",
        "_tag_state",
    )

    def __init__(self, snippet: bytes, memo: BodyTagMemo | None = None) -> None:
        self._memo = memo
        self._snippet = snippet
        self._mode = _DATA
        self._held = b""
        self._end_tag = b""  # the end tag of the raw text being skipped, "</script"
        self._tag_state = _BEFORE_NAME
        self._tag_pos = 0  # where to go on in the held-back body tag
        self._injected = False

    @property
    def injected(self) -> bool:
        """Whether the snippet has been handed out, by :meth:`feed` or :meth:`finish`."""
        return self._injected

    def feed(self, chunk: bytes) -> bytes:
        """Bytes that may be sent now (possibly empty).

        That is the chunk, minus what could be the start of a split marker, plus what was held
        back before. Once the snippet is in, the chunk itself.
        """
        if self._mode == _PASS:
            return chunk
        if self._memo is not None:
            return self._first(chunk, self._memo)
        return self._scan(chunk)

    def _first(self, chunk: bytes, memo: BodyTagMemo) -> bytes:
        """``feed`` for the first chunk: the memo's answer, else a scan that is remembered."""
        end = memo.find(chunk)
        if end >= 0:
            self._memo = None
            return self._insert(chunk, end)
        return self._scan_first(chunk)

    def _scan_first(self, chunk: bytes) -> bytes:
        """Scan the first chunk, remembering where the body tag ended, then drop the memo."""
        try:
            return self._scan(chunk)
        finally:
            self._memo = None

    def _scan(self, chunk: bytes) -> bytes:
        data = self._held + chunk if self._held else chunk
        if self._mode == _BODY_TAG:
            return self._body_tag(data, 0, self._tag_pos)
        pos = 0
        while True:
            if self._mode == _DATA:
                found = _OPENING.search(data, pos)
                if found is None:
                    return self._hold(data, _split_marker(data, pos, _OPENINGS))
                if found[1]:
                    self._mode = _BODY_TAG
                    return self._body_tag(data, found.start(), found.end())
                if found[0] == b"<!--":
                    self._mode, pos = _COMMENT, found.start() + 2
                else:
                    self._mode, pos = _RAW_TEXT, found.end()
                    self._end_tag = b"</" + found[0][1:].lower()
            elif self._mode == _COMMENT:
                end = data.find(_COMMENT_END, pos)
                if end < 0:
                    return self._hold(data, _split_marker(data, pos, (_COMMENT_END,)))
                self._mode, pos = _DATA, end + len(_COMMENT_END)
            else:
                found = _END_TAGS[self._end_tag].search(data, pos)
                if found is None:
                    return self._hold(data, _split_marker(data, pos, (self._end_tag,)))
                self._mode, pos = _DATA, found.end()

    def finish(self) -> bytes:
        """Whatever is still held back, then the snippet if no ``<body>`` tag was found.

        Browsers put what follows the end of a document without a body tag into the implied body.
        """
        held, self._held, self._mode = self._held, b"", _PASS
        if self._injected:
            return held
        self._injected = True
        return held + self._snippet

    def _insert(self, data: bytes, end: int) -> bytes:
        """``data`` with the snippet at ``end``, remembered if ``data`` starts the document."""
        if self._memo is not None:
            self._memo.add(data, end)
        self._mode, self._held, self._injected = _PASS, b"", True
        return _spliced(data, end, self._snippet)

    def _hold(self, data: bytes, start: int) -> bytes:
        self._held = data[start:]
        return data[:start]

    def _body_tag(self, data: bytes, start: int, pos: int) -> bytes:
        """Look for the end of the body tag at ``data[start:]``, going on at ``data[pos]``."""
        simple = _SIMPLE_BODY_TAG.match(data, start, start + MAX_BODY_TAG)
        if simple is not None and self._tag_state == _BEFORE_NAME:
            return self._insert(data, simple.end())
        limit = min(len(data), start + MAX_BODY_TAG)
        state = self._tag_state
        while pos < limit:
            stop = _TAG_STOPS[state].search(data, pos, limit)
            if stop is None:
                break
            pos = stop.end()
            state = _next_tag_state(state, data[pos - 1])
            if state == _CLOSED:
                return self._insert(data, pos)
        if limit == start + MAX_BODY_TAG:
            self._mode, self._held = _PASS, b""  # too long: as if there were no body tag
            return data
        self._tag_state, self._tag_pos = state, pos - start
        return self._hold(data, start)


def insert_snippet(document: bytes, snippet: bytes, memo: BodyTagMemo) -> bytes:
    """A whole document with ``snippet`` in it, as :class:`HTMLInjector` would put it."""
    end = memo.find(document)
    if end >= 0:
        return _spliced(document, end, snippet)
    injector = HTMLInjector(snippet, memo)
    return injector._scan_first(document) + injector.finish()


def _spliced(data: bytes, end: int, snippet: bytes) -> bytes:
    return b"".join((data[:end], snippet, data[end:]))


_ASCII = bytes(range(128))


@functools.cache
def _keeps_ascii(codec: str) -> bool:
    text = _ASCII.decode("ascii")
    try:
        return _ASCII.decode(codec) == text and text.encode(codec) == _ASCII
    except (LookupError, UnicodeError):
        return False


def html_charset(content_type: bytes) -> str | None:
    """For a Content-Type header value: the Python codec name to encode injected text in.

    That is for ``text/html`` and ``application/xhtml+xml`` the ``charset`` parameter (its name
    and value case-insensitive, the value maybe quoted) normalised by :func:`codecs.lookup`, or
    ``"utf-8"`` when there is none. None when the response must not be rewritten: it is not HTML,
    or its charset is unknown or does not keep ASCII as ASCII (UTF-16, UTF-32 and their variants,
    UTF-7, EBCDIC). Never raises.
    """
    media_type, *parameters = content_type.decode("latin-1").split(";")
    if media_type.strip().lower() not in ("text/html", "application/xhtml+xml"):
        return None
    charset = "utf-8"
    for parameter in parameters:
        name, _, value = parameter.partition("=")
        if name.strip().lower() == "charset":
            charset = value.strip()
            if charset.startswith('"'):
                charset = charset[1:].partition('"')[0]
            break
    try:
        codec = codecs.lookup(charset).name
    except (LookupError, ValueError):
        return None
    return codec if _keeps_ascii(codec) else None
