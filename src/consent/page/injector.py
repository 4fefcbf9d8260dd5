"""Stream an HTML body, inserting a snippet once, right after the opening ``<body …>`` tag.

:class:`HTMLInjector` is not an HTML parser, but until it finds the body tag it follows the HTML
Standard's tokenizer (§13.2.5) through everything that can hide a ``<body``, so that what the
tokenizer makes text, a comment or an attribute is never taken for the tag. Tag names are
matched ASCII case-insensitively.

* Every tag, start or end, is tokenized with its attributes: it ends at the first ``>`` outside a
  quoted attribute value, so ``<meta content="<body>">`` hides its ``<body>``.
* A comment ends at ``-->`` or ``--!>``; ``<!-->`` and ``<!--->`` close at once. DOCTYPEs and
  bogus comments (``<!…>``, ``<?…>``, ``</`` and a non-letter) end at the first ``>``; so does
  ``<![CDATA[…``, which is a bogus comment outside SVG and MathML.
* The text of ``title`` and ``textarea`` (RCDATA) and of ``style``, ``xmp``, ``iframe``,
  ``noembed``, ``noframes`` and ``noscript`` (RAWTEXT: browsers run scripts, so ``noscript``
  is raw text) runs until its end tag: ``</style`` followed by whitespace, ``/`` or ``>``.
  Script data goes through its escape states too: after ``<!--`` in a script, a ``<script>``
  keeps the next ``</script>`` from ending it, and ``-->`` leaves the escape.
* The tree builder ignores a ``<body>`` start tag inside a ``<template>``, so the injector counts
  ``<template>`` and ``</template>`` tags and looks for the body tag outside them only.

The snippet goes right after the first body start tag that is a tag by these rules, else at the
end of the document (browsers put what follows the end of a document without a body tag into
the implied body). A body tag after content that already opened the body (``<p>`` in the head)
is still the one: browsers merge its attributes into the body, and the snippet lands after
that content. The body tag's attributes are tokenized the same way, so ``<body data-x="a>b">``
ends at the last ``>``. Nothing is inserted into a body tag longer than :data:`MAX_BODY_TAG`;
the document is then treated as having none.

After ``<plaintext>`` nothing is markup, not even ``</plaintext>``, so a snippet at the end of
such a document would show as text. When a ``<plaintext>`` start tag comes before any body tag,
the snippet goes right before it instead, where it is still markup (and the first thing in the
body that the tag opens, if nothing opened it before). It is still inserted exactly once, so
the Content-Length announced before the body holds.

Limits: SVG and MathML (foreign content) are not followed. In them ``<style>`` and its like are
not raw text and ``<![CDATA[`` opens a real CDATA section; before the body tag that matters only
after an ``<svg>`` or ``<math>`` that opened the body early, or inside a template. Nor are the
tags that the tree builder ignores inside ``<select>`` and ``<frameset>`` (a ``<style>`` there
starts no raw text); a frameset document drops the snippet whatever its place. The body is never
decoded, so it has to be in an encoding that keeps ASCII as ASCII, which :func:`html_charset`
checks.

:class:`HeadAndBodyInjector` also puts a second snippet (Google Consent Mode's script) at the
*head point*, where it runs before anything of the head that runs or loads. That is past the
prologue (a byte order mark, whitespace, comments, DOCTYPEs, bogus comments, ``<html>`` start
tags, and the end tags the tree builder ignores before the head: all but ``</head>``,
``</body>``, ``</html>`` and ``</br>``), past the ``<head …>`` start tag if one comes next, and
past the head's opening run of whitespace, comments, ``<meta …>`` tags and ``<title>…</title>``
elements; right before the first other token. The run goes first because it runs nothing and
some of it must come first: ``<meta charset>`` within the first 1,024 bytes, and IE's
``X-UA-Compatible``, which counts only before every element but ``<meta>`` and ``<title>``.
The snippet stops before ``<base>``, which would move its address. A page that leaves the
optional ``<head>`` tag out (minifiers drop it) has its head start at the first token that is
not of the prologue, where the tree builder creates it, and the run is looked for from there. A
DOCTYPE's internal subset (``<!DOCTYPE html [ <!ENTITY nbsp "&#160;"> ]>``, which only XHTML
pages have) is read as XML reads it, so that the snippet never lands inside it. A token that
starts :data:`MAX_HEAD_POINT` bytes into the document or further gets the snippet before it.
Tags are tokenized as for the body tag, so a ``<head>`` inside an attribute or a comment is
never taken for the tag. A document that ends before its head point gets the head snippet at
its end, before what is held back (``<!-`` or a tag's name), and the body snippet last; like the
body snippet, it is then inside whatever the end left open (a comment, a title).

Memory stays bounded: the injector holds back only what could be a marker split between chunks
(``<bod``, ``--``, ``</scri``, ``<!DOCTYP``, at most ten bytes) or an unfinished body tag. Every
other tag, comment and text, before the head point too, is followed through a chunk boundary by
its state alone, so each byte is scanned once. Once the snippet is in, chunks pass through
untouched.
"""

from __future__ import annotations

import codecs
import functools
import re
from collections.abc import Callable
from typing import Any

__all__ = [
    "MAX_BODY_TAG",
    "MAX_HEAD_POINT",
    "BodyTagMemo",
    "HTMLInjector",
    "HeadAndBodyInjector",
    "HeadAndBodyMemo",
    "html_charset",
    "insert_head_and_snippet",
    "insert_snippet",
]

MAX_BODY_TAG = 16 * 1024
"""The longest body start tag, in bytes from ``<`` to ``>``, that the injector waits for."""

_DELIMITER = rb"(?=[\t\n\f\r />])"  # what ends a tag name (and is still part of the tag)
# A repeated group is written as an atomic group, (?>(?:...)*), never as a possessive repeat,
# (?:...)*+: Python 3.11.2 (Debian 12's python3) matches possessive repeats of groups wrongly
# (3.11.7 does not), while atomic groups and possessive repeats of one character class hold.

# A tag from the end of its name to its ">", as the tokenizer goes through the attributes
# (§13.2.5.32-40): whitespace and "/" between attributes; a name, which runs up to "/", "=" or
# ">" (whitespace and the next attribute's name included: only "=" starts a value); then maybe a
# value. Quotes start a value only right after the "=". Every part is atomic, so a tag cut
# short at the end of the data does not match at all, rather than end at some earlier ">".
_ATTRIBUTES = (
    rb"(?>(?:[\t\n\f\r /]++"
    rb"|[^\t\n\f\r />][^/=>]*+"
    rb"(?:=[\t\n\f\r ]*+(?:\"[^\"]*+\"|'[^']*+'|[^\t\n\f\r >\"'][^\t\n\f\r >]*+|(?=>))|(?!=))"
    rb")*)>"
)
# The same for the usual tag, in fewer steps: every "=" comes right after a name and is followed
# by a quoted value or by an unquoted one without quotes or "=". Where it matches, it ends where
# the tokenizer would (quotes and "=" appear nowhere else, so they mean what they seem); a tag it
# does not match goes through _ATTRIBUTES.
_USUAL_ATTRIBUTES = (
    rb"[^\"'>=]*+"
    rb"(?>(?:(?<=[^\t\n\f\r /\"'])=(?:\"[^\"]*+\"|'[^']*+'|[^\t\n\f\r >\"'=]++(?=[\t\n\f\r >]))"
    rb"[^\"'>=]*+)*)>"
)
_TAG_REST = rb"(?:" + _USUAL_ATTRIBUTES + rb"|" + _ATTRIBUTES + rb")"  # from the end of the name
_TAG_END = re.compile(_TAG_REST)
# The attributes of a tag that the end of the data cuts short, up to its last one: whitespace
# and "/", and attributes that end before a "/" or with a quoted value or an unquoted one and
# whitespace. After them the tokenizer is before an attribute name, and only the last attribute
# is left to follow.
_ATTRIBUTES_SO_FAR = re.compile(
    rb"(?>(?:[\t\n\f\r /]++|[^\t\n\f\r />][^/=>]*+(?:=[\t\n\f\r ]*+(?:\"[^\"]*+\"|'[^']*+'"
    rb"|[^\t\n\f\r >\"'][^\t\n\f\r >]*+(?=[\t\n\f\r ]))|(?=/)))*)"
)
# A tag's name after its first letter, and the rest: the usual form needs a name without quotes
# or "=", which the tokenizer would keep in the name.
_NAME_AND_REST = (
    rb"(?:[^\t\n\f\r />\"'=]*+"
    + _DELIMITER
    + _USUAL_ATTRIBUTES
    + rb"|[^\t\n\f\r />]*+"
    + _ATTRIBUTES
    + rb")"
)

# What the injector is doing. In _TAG it goes through a tag that a chunk cut short, then on in
# the mode it noted; in the _SCRIPT modes through script data and its escape states; from
# _DOCTYPE to _AFTER_SUBSET through a DOCTYPE before the head point.
(
    _DATA,
    _TAG,
    _BODY_TAG,
    _COMMENT,
    _BOGUS_COMMENT,
    _RAW_TEXT,
    _SCRIPT,
    _SCRIPT_ESCAPED,
    _SCRIPT_DOUBLE_ESCAPED,
    _PROLOGUE,
    _HEAD_RUN,
    _HEAD_COMMENT,
    _HEAD_BOGUS_COMMENT,
    _DOCTYPE,
    _DOCTYPE_SUBSET,
    _SUBSET_DOUBLE_QUOTED,
    _SUBSET_SINGLE_QUOTED,
    _SUBSET_COMMENT,
    _AFTER_SUBSET,
    _HEAD_TITLE,
    _PASS,
) = range(21)

# What each start tag makes of the text after it, by name: RCDATA and RAWTEXT alike run to
# their end tag.
_RAW_TEXT_NAMES = (b"title", b"textarea", b"style", b"xmp", b"iframe", b"noembed", b"noframes")
_TEXT_AFTER = {b"script": _SCRIPT} | dict.fromkeys((*_RAW_TEXT_NAMES, b"noscript"), _RAW_TEXT)
_END_TAGS = {
    b"</" + name: re.compile(b"</" + name + _DELIMITER, re.IGNORECASE) for name in _TEXT_AFTER
}
_SPECIAL_START_TAGS = (*_TEXT_AFTER, b"body", b"plaintext", b"template")
# A tag name cut short by the end of a chunk is held back while it may still become one of these.
_LONGEST_TAG_OPENING = max(len(b"<" + name) for name in (*_SPECIAL_START_TAGS, b"/template"))


def _text_element(name: bytes) -> bytes:
    """A whole raw text element, from after its "<" to after its end tag (no "<!--" in a script)."""
    end_tag = b"/" + name + _DELIMITER
    text_stop = b"!--|" + end_tag if name == b"script" else end_tag
    text = rb"[^<]*+(?>(?:<(?!" + text_stop + rb")[^<]*+)*)"
    return name + _DELIMITER + _TAG_REST + text + b"<" + end_tag + _TAG_REST


# Everything the injector can pass over without a decision, in one match: text, tags other than
# those named above (complete, attributes and all), comments, bogus comments and DOCTYPEs, and
# whole raw text elements. It stops at a "<" that starts anything else or is cut short. After a
# "<" each branch starts with a different byte; "(?![bpstinx])" spares most tags the check for
# the special names.
_RUN = re.compile(
    rb"[^<]*+(?>(?:<(?:"
    rb"(?=[a-z])(?:(?>(?![bpstinx])|(?!(?:"
    + b"|".join(_SPECIAL_START_TAGS)
    + rb")"
    + _DELIMITER
    + rb"))[a-z]"
    + _NAME_AND_REST
    + rb"|"
    + b"|".join(map(_text_element, _TEXT_AFTER))
    + rb")|/(?:(?!template"
    + _DELIMITER
    + rb")[a-z]"
    + _NAME_AND_REST
    + rb"|(?![a-z])[^>]*+>)"  # "</>" is dropped; "</" and another non-letter: a bogus comment
    + rb"|!(?:--(?>>|->|[^-]*+(?>(?:-(?!-!?>)[^-]*+)*)--!?>)|(?!--)[^>]*+>)"
    + rb"|\?[^>]*+>"
    + rb"|(?=[^a-z!/?])"  # a "<" that is text
    + rb")[^<]*+)*)",
    re.IGNORECASE,
)
_TAG_OPEN = re.compile(rb"<(/?)([A-Za-z][^\t\n\f\r />]*)")
_COMMENT_END = re.compile(rb"--!?>")
_COMMENT_ENDS = (b"-->", b"--!>")
_Step = Callable[["HTMLInjector", bytes, int], int | bytes]  # where to go on, or what to send


def _to_marker(*leads: tuple[bytes, int, int | None]) -> _Step:
    """The step of a mode that runs to the first of its markers, then on where that one leads.

    Each marker comes with the mode it leads to and where that mode starts: that many bytes from
    the marker's end, or, for None, past the tag that the marker opens (its attributes followed
    as any tag's). A marker that ends in a letter ends a tag name, so it counts only before a
    delimiter. Markers match ASCII case-insensitively; a chunk may split those longer than a
    byte. In the pattern all but a marker's first byte is a group, whose number says which
    marker matched, while a search still skips ahead to the markers' first bytes.
    """
    search = re.compile(
        b"|".join(
            re.escape(marker[:1])
            + b"("
            + re.escape(marker[1:])
            + (_DELIMITER if marker[-1:].isalpha() else b"")
            + b")"
            for marker, _, _ in leads
        ),
        re.IGNORECASE,
    ).search
    splittable = tuple(marker for marker, _, _ in leads if len(marker) > 1)
    goes_on = tuple((mode, start) for _, mode, start in leads)

    def step(injector: HTMLInjector, data: bytes, pos: int) -> int | bytes:
        found = search(data, pos)
        if found is None:
            split = _split_marker(data, pos, splittable) if splittable else len(data)
            return injector._hold(data, split)
        mode, start = goes_on[found.lastindex - 1]  # type: ignore[operator]  # a group matched
        if start is None:
            return injector._tag(data, found.end(), mode)
        injector._mode = mode
        return found.end() + start

    return step


_PAST_DELIMITER = 1  # past the whitespace, "/" or ">" after a tag name
# Script data (§13.2.5.4, 15-31): "<!--" escapes it and "-->" ends the escape; in escaped text
# a "<script" starts double escaping, which the next "</script" ends instead of the script.
_MARKER_STEPS = {
    _SCRIPT: _to_marker(
        (b"<!--", _SCRIPT_ESCAPED, -len(b"--")),  # its "--" may begin "-->"
        (b"</script", _DATA, None),
    ),
    _SCRIPT_ESCAPED: _to_marker(
        (b"-->", _SCRIPT, 0),
        (b"</script", _DATA, None),
        (b"<script", _SCRIPT_DOUBLE_ESCAPED, _PAST_DELIMITER),
    ),
    _SCRIPT_DOUBLE_ESCAPED: _to_marker(
        (b"-->", _SCRIPT, 0),
        (b"</script", _SCRIPT_ESCAPED, _PAST_DELIMITER),
    ),
    # A DOCTYPE, with the internal subset of an XHTML page read as XML reads it, the only parser
    # that reads one (<!DOCTYPE html [ <!ENTITY nbsp "&#160;"> ]>): up to ">" or "["; in the
    # subset, up to "]", each quoted string or comment (which may hold "]" and ">") followed to
    # its end; after the "]", up to ">". It comes in the prologue, which its ">" leads back to.
    _DOCTYPE: _to_marker((b">", _PROLOGUE, 0), (b"[", _DOCTYPE_SUBSET, 0)),
    _DOCTYPE_SUBSET: _to_marker(
        (b"]", _AFTER_SUBSET, 0),
        (b'"', _SUBSET_DOUBLE_QUOTED, 0),
        (b"'", _SUBSET_SINGLE_QUOTED, 0),
        (b"<!--", _SUBSET_COMMENT, 0),
    ),
    _SUBSET_DOUBLE_QUOTED: _to_marker((b'"', _DOCTYPE_SUBSET, 0)),
    _SUBSET_SINGLE_QUOTED: _to_marker((b"'", _DOCTYPE_SUBSET, 0)),
    _SUBSET_COMMENT: _to_marker((b"-->", _DOCTYPE_SUBSET, 0)),
    _AFTER_SUBSET: _to_marker((b">", _PROLOGUE, 0)),
}

# States of the attribute tokenizer (HTML Standard §13.2.5.8, 32-40) reduced to what decides
# which ">" ends a tag. _NAME also covers the whitespace after a name; _TAG_NAME is the tag's own
# name, for a tag that a chunk cut short in it.
_BEFORE_NAME, _NAME, _BEFORE_VALUE, _DOUBLE_QUOTED, _SINGLE_QUOTED, _UNQUOTED = range(6)
_TAG_NAME, _CLOSED = 6, 7
# The first byte that makes the tokenizer leave each state.
_TAG_STOPS = (
    re.compile(rb"[^\t\n\f\r /]"),
    re.compile(rb"[/=>]"),
    re.compile(rb"[^\t\n\f\r ]"),
    re.compile(rb'"'),
    re.compile(rb"'"),
    re.compile(rb"[\t\n\f\r >]"),
    re.compile(rb"[\t\n\f\r />]"),
)
_QUOTES = {ord('"'): _DOUBLE_QUOTED, ord("'"): _SINGLE_QUOTED}

# A body tag whose attributes are all well-formed (names and unquoted values without quotes,
# "<", "=" or "`"; whitespace between attributes): where the tokenizer would end such a tag is
# plain, so one match finds it. Any other body tag goes through _TAG_END, and one that a chunk
# cut short through _follow_tag.
_SIMPLE_BODY_TAG = re.compile(
    rb"<body"
    rb"(?:[\t\n\f\r ]+[^\t\n\f\r /><\"'=`]+"
    rb"(?:[\t\n\f\r ]*=[\t\n\f\r ]*(?:\"[^\"]*\"|'[^']*'|[^\t\n\f\r ><\"'=`]+))?)*"
    rb"[\t\n\f\r ]*/?>",
    re.IGNORECASE,
)


# Before the head point (HTML Standard §13.2.6.4.1-4): the tokens the tree builder takes before
# it creates the head element (the prologue), then the head's opening run of meta and title
# elements. A UTF-8 byte order mark comes first, if at all. Tags are told apart by name, so an
# opening cut short by a chunk is held while it may still be one of these names.
_BOM = b"\xef\xbb\xbf"
_SPACES = re.compile(rb"[\t\n\f\r ]*+")
_LT = ord("<")
# The end tags that make the tree builder create the head; it ignores any other before that.
_HEAD_IMPLYING_END_TAGS = frozenset((b"head", b"body", b"html", b"br"))
_LONGEST_HEAD_OPENING = max(
    len(b"<" + name) for name in (b"html", b"head", b"meta", b"title", b"/head", b"/body")
)
_DOCTYPE_NAME = b"doctype"


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
    return _BEFORE_NAME  # whitespace after an unquoted value or a tag name, or "/" after a name


def _follow_tag(
    data: bytes, pos: int, limit: int, state: int, until: int = _CLOSED
) -> tuple[int, int]:
    """Where the tokenizer is, in ``state`` at ``data[pos]``, once past ">", in state ``until``,
    or at ``limit``."""
    while pos < limit:
        stop = _TAG_STOPS[state].search(data, pos, limit)
        if stop is None:
            break
        pos = stop.end()
        state = _next_tag_state(state, data[pos - 1])
        if state in (_CLOSED, until):
            return pos, state
    return limit, state


def _split_marker(data: bytes, pos: int, markers: tuple[bytes, ...]) -> int:
    """Where the longest tail of ``data[pos:]`` that could begin one of ``markers`` starts."""
    for start in range(max(pos, len(data) - max(map(len, markers))), len(data)):
        tail = data[start:].lower()
        if any(marker.startswith(tail) for marker in markers):
            return start
    return len(data)


class BodyTagMemo:
    """Where the snippet went in the first chunk of the last few documents.

    A site sends the same few heads again and again. Where the snippet goes after a body tag
    depends only on the bytes up to the end of that tag: the tokenizer reads forwards, and each
    of its decisions looks at most one byte past a name or marker, still inside the tag. So a
    first chunk that starts with the same bytes gets the snippet at the same place, found with
    one ``startswith`` instead of a scan through the head's comments, scripts and styles. (A
    snippet put before ``<plaintext>`` is decided by the bytes after it, so it is not kept.)
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

MAX_HEAD_POINT = 16 * 1024
"""How far into a document, in bytes, the head point is looked for: a token that starts this far in
or further gets the head snippet before it (a token that starts before goes first, however long)."""


class HTMLInjector:
    """Streams an HTML body, inserting ``snippet`` once, right after the opening <body …> tag.

    It follows the tokenizer until the body tag, one mode per kind of text (data, a tag cut
    short by a chunk, comments, raw text, the three script data states), and counts the
    templates open. With a ``memo``, the first chunk is looked up there first, and a body tag
    found in it is remembered there.
    """

    __slots__ = (
        "_after",
        "_end_tag",
        "_held",
        "_injected",
        "_memo",
        "_mode",
        "_snippet",
        "_tag_pos",
        "_tag_state",
        "_templates",
    )

    def __init__(self, snippet: bytes, memo: BodyTagMemo | None = None) -> None:
        self._memo = memo
        self._snippet = snippet
        self._mode = _DATA
        self._held = b""
        self._end_tag = b""  # the end tag of the raw text being skipped, "</style"
        self._templates = 0  # how many <template> elements are open
        self._tag_state = _BEFORE_NAME  # of the tag a chunk cut short
        self._after = _DATA  # the mode after that tag
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
        pos = 0
        while True:  # each step goes on from pos, in a mode it may change, or ends the chunk
            step = _STEPS[self._mode](self, data, pos)
            if isinstance(step, bytes):
                return step
            pos = step

    def finish(self) -> bytes:
        """Whatever is still held back, then the snippet if no ``<body>`` tag was found.

        Browsers put what follows the end of a document without a body tag into the implied body.
        """
        held, self._held, self._mode = self._held, b"", _PASS
        if self._injected:
            return held
        self._injected = True
        return held + self._snippet

    def _insert(self, data: bytes, end: int, remember: bool = True) -> bytes:
        """``data`` with the snippet at ``end``, remembered if ``data`` starts the document."""
        if self._memo is not None and remember:
            self._memo.add(data, end)
        self._mode, self._held, self._injected = _PASS, b"", True
        return _spliced(data, end, self._snippet)

    def _hold(self, data: bytes, start: int) -> bytes:
        self._held = data[start:]
        return data[:start]

    # --- The steps, one per mode: each returns where to go on, or what to send now ---

    def _data(self, data: bytes, pos: int) -> int | bytes:
        pos = _RUN.match(data, pos).end()  # type: ignore[union-attr]  # it matches "" at least
        if pos == len(data):
            return self._hold(data, pos)
        if not self._templates:  # most often the run stops at the body tag
            simple = _SIMPLE_BODY_TAG.match(data, pos, pos + MAX_BODY_TAG)
            if simple is not None:
                return self._insert(data, simple.end())
        tag = _TAG_OPEN.match(data, pos)
        if tag is None:
            return self._markup_declaration(data, pos)
        name_end = tag.end()
        if name_end == len(data):  # the name may go on in the next chunk
            if name_end - pos <= _LONGEST_TAG_OPENING:
                return self._hold(data, pos)
            self._mode, self._tag_state, self._after = _TAG, _TAG_NAME, _DATA
            return name_end
        name = tag[2].lower()
        if tag[1]:  # an end tag
            if name == b"template" and self._templates:
                self._templates -= 1
            return self._tag(data, name_end, _DATA)
        if name == b"body" and not self._templates:
            return self._body_tag(data, pos, name_end, _BEFORE_NAME)
        if name == b"plaintext":
            return self._insert(data, pos, remember=False)
        if name == b"template":
            self._templates += 1
        after = _TEXT_AFTER.get(name, _DATA)
        if after == _RAW_TEXT:
            self._end_tag = b"</" + name
        return self._tag(data, name_end, after)

    def _markup_declaration(self, data: bytes, pos: int) -> int | bytes:
        """At a "<" that starts no tag: a comment, a bogus comment or DOCTYPE, or text."""
        opening = data[pos + 1 : pos + 4]
        if opening == b"!--":
            return self._comment_start(data, pos)
        if b"!--".startswith(opening) or opening == b"/":  # cut short: "<", "<!", "<!-", "</"
            return self._hold(data, pos)
        if opening[:1] in b"!?/":
            self._mode = _BOGUS_COMMENT
            return pos + 2
        return pos + 1

    def _comment_start(self, data: bytes, pos: int) -> int | bytes:
        """At ``<!--``, which "<!-->" and "<!--->" close at once."""
        text = pos + len(b"<!--")
        if data.startswith(b">", text):
            return text + 1
        if data.startswith(b"->", text):
            return text + 2
        if b"->".startswith(data[text : text + 2]):  # cut short: "<!--" or "<!---"
            return self._hold(data, pos)
        self._mode = _COMMENT
        return text

    def _tag(self, data: bytes, pos: int, after: int) -> int | bytes:
        """Past the tag whose name ends at ``pos`` (or a tag before an attribute name there),
        then on in mode ``after``."""
        end = _TAG_END.match(data, pos)
        if end is not None:
            self._mode = after
            return end.end()
        pos = _ATTRIBUTES_SO_FAR.match(data, pos).end()  # type: ignore[union-attr]  # or ""
        _, state = _follow_tag(data, pos, len(data), _BEFORE_NAME)
        self._mode, self._tag_state, self._after = _TAG, state, after
        return self._hold(data, len(data))

    def _in_tag(self, data: bytes, pos: int) -> int | bytes:
        """Through the attribute (or name) that the last chunk cut short, then as in _tag."""
        state = self._tag_state
        if state != _BEFORE_NAME:
            pos, state = _follow_tag(data, pos, len(data), state, until=_BEFORE_NAME)
            if state == _CLOSED:
                self._mode = self._after
                return pos
            if state != _BEFORE_NAME:
                self._tag_state = state
                return self._hold(data, pos)
        return self._tag(data, pos, self._after)

    def _comment(self, data: bytes, pos: int) -> int | bytes:
        end = _COMMENT_END.search(data, pos)
        if end is None:
            return self._hold(data, _split_marker(data, pos, _COMMENT_ENDS))
        self._mode = _DATA
        return end.end()

    def _bogus_comment(self, data: bytes, pos: int) -> int | bytes:
        end = data.find(b">", pos)
        if end < 0:
            return self._hold(data, len(data))
        self._mode = _DATA
        return end + 1

    def _raw_text(self, data: bytes, pos: int) -> int | bytes:
        end_tag = _END_TAGS[self._end_tag].search(data, pos)
        if end_tag is None:
            return self._hold(data, _split_marker(data, pos, (self._end_tag,)))
        return self._tag(data, end_tag.end(), _DATA)

    def _resume_body_tag(self, data: bytes, pos: int) -> int | bytes:
        return self._body_tag(data, 0, self._tag_pos, self._tag_state)

    def _body_tag(self, data: bytes, start: int, pos: int, state: int) -> bytes:
        """Look for the end of the body tag at ``data[start:]``, going on at ``data[pos]``."""
        limit = min(len(data), start + MAX_BODY_TAG)
        if state == _BEFORE_NAME:
            end = _TAG_END.match(data, pos, limit)
            if end is not None:
                return self._insert(data, end.end())
        pos, state = _follow_tag(data, pos, limit, state)
        if state == _CLOSED:
            return self._insert(data, pos)
        if limit == start + MAX_BODY_TAG:
            self._mode, self._held = _PASS, b""  # too long: as if there were no body tag
            return data
        self._mode, self._tag_state, self._tag_pos = _BODY_TAG, state, pos - start
        return self._hold(data, start)


class HeadAndBodyMemo:
    """Where the head and the body snippets went in the first chunk of the last few documents.

    As :class:`BodyTagMemo`, keyed on the bytes up to the end of the body tag: both places
    depend on those bytes alone (the head point comes first, and every token before it is
    complete within them)."""

    __slots__ = ("_entries", "_size")

    def __init__(self, size: int = 8) -> None:
        self._entries: list[tuple[bytes, int, int]] = []
        self._size = size

    def find(self, chunk: bytes) -> tuple[int, int] | None:
        """Where the head and the body snippets go in a document's first ``chunk``, if known."""
        for prefix, head, body in self._entries:
            if chunk.startswith(prefix):
                return head, body
        return None

    def add(self, chunk: bytes, head: int, body: int) -> None:
        """Remember that the snippets went at ``head`` and ``body`` in a first ``chunk``."""
        if body <= MAX_MEMO_PREFIX:
            self._entries.insert(0, (chunk[:body], head, body))
            del self._entries[self._size :]


class HeadAndBodyInjector(HTMLInjector):
    """An :class:`HTMLInjector` that also puts ``head`` at the head point, before any element
    of the head that can run or load anything (see the module's docstring for where that is).

    Until the head point it goes through the document one token at a time: the prologue (a byte
    order mark, whitespace, comments, DOCTYPEs and bogus comments, ``<html>`` start tags, end
    tags the tree builder ignores), then the ``<head>`` start tag if there is one, then the
    head's opening run of whitespace, comments, ``<meta>`` tags and ``<title>`` elements. A
    token that a chunk cuts short is followed by its state, as the body scan follows one, and
    only what may be a marker is held back. Then it goes on as :class:`HTMLInjector` does, from
    the head point, to the body tag.
    """

    __slots__ = ("_body_at", "_fed", "_head", "_head_at", "_points", "_start")

    def __init__(self, head: bytes, snippet: bytes, memo: HeadAndBodyMemo | None = None) -> None:
        super().__init__(snippet)
        self._mode = _PROLOGUE
        self._head = head
        self._points = memo
        self._fed = 0  # how many bytes of the document were fed
        self._start = 0  # where the data the current chunk's scan sees starts in the document
        self._head_at = self._body_at = -1  # where the last scan put each snippet

    @property
    def head_injected(self) -> bool:
        """Whether ``head`` has been handed out, by :meth:`feed` or :meth:`finish`."""
        return self._injected or self._head_at >= 0

    def feed(self, chunk: bytes) -> bytes:
        if self._mode == _PASS:
            return chunk
        self._start = self._fed - len(self._held)
        self._fed += len(chunk)
        points = self._points
        if points is None:
            return self._scan(chunk)
        self._points = None
        found = points.find(chunk)
        if found is not None:
            self._mode, self._injected = _PASS, True
            return _spliced_twice(chunk, found, self._head, self._snippet)
        sent = self._scan(chunk)
        if self._head_at >= 0 and self._body_at >= 0:
            points.add(chunk, self._head_at, self._head_at + self._body_at)
        return sent

    def finish(self) -> bytes:
        """As :meth:`HTMLInjector.finish`, with ``head`` first if the document ended before
        its head point: it goes before what is held back (a tag's name, ``<!-``), which would
        take it in."""
        if self.head_injected:
            return super().finish()
        held, self._held, self._head_at = self._held, b"", self._fed
        return self._head + held + super().finish()

    def _insert(self, data: bytes, end: int, remember: bool = True) -> bytes:
        if remember:
            self._body_at = end
        self._mode, self._held, self._injected = _PASS, b"", True
        return _spliced(data, end, self._snippet)

    def _insert_head(self, data: bytes, end: int) -> bytes:
        self._mode, self._held, self._head_at = _DATA, b"", end
        return b"".join((data[:end], self._head, self._scan(data[end:])))

    # --- The steps before the head point ---

    def _before_head_point(self, data: bytes, pos: int) -> int | bytes:
        """Between two tokens in the prologue or the head's opening run: past the next token,
        into the run where the head starts, or the head snippet here."""
        in_head = self._mode == _HEAD_RUN
        start = self._start
        if not (pos or start or in_head):
            if data.startswith(_BOM):
                pos = len(_BOM)
            elif _BOM.startswith(data):  # may still become one
                return self._hold(data, 0)
        limit = MAX_HEAD_POINT - start
        if pos < limit:
            pos = _SPACES.match(data, pos, limit).end()  # type: ignore[union-attr]  # or ""
        if pos >= limit:
            return self._insert_head(data, pos)
        if pos == len(data):
            return self._hold(data, pos)
        if data[pos] != _LT:  # text: the head starts here, and ends
            return self._insert_head(data, pos)
        kind = data[pos + 1 : pos + 2]
        if kind == b"!":
            return self._declaration_before_head_point(data, pos)
        if kind == b"?":
            return self._bogus_comment_before_head_point(data, pos + 2)
        tag = _TAG_OPEN.match(data, pos)
        if tag is None:
            if not kind or (kind == b"/" and pos + 2 == len(data)):  # cut short: "<", "</"
                return self._hold(data, pos)
            if kind == b"/":  # "</" and a non-letter: a bogus comment ("</>" is dropped)
                return self._bogus_comment_before_head_point(data, pos + 2)
            return self._insert_head(data, pos)  # a "<" that is text
        name_end = tag.end()
        if name_end == len(data) and name_end - pos <= _LONGEST_HEAD_OPENING:
            return self._hold(data, pos)  # the name may go on in the next chunk
        name = tag[2].lower()
        if tag[1]:  # an end tag: the tree builder ignores it before the head, but not these
            if in_head or name in _HEAD_IMPLYING_END_TAGS:
                return self._insert_head(data, pos)
            if name_end == len(data):  # a long name, going on in the next chunk
                self._mode, self._tag_state, self._after = _TAG, _TAG_NAME, _PROLOGUE
                return name_end
            return self._tag(data, name_end, _PROLOGUE)
        if in_head:
            if name == b"meta":
                return self._tag(data, name_end, _HEAD_RUN)
            if name == b"title":
                return self._tag(data, name_end, _HEAD_TITLE)
            return self._insert_head(data, pos)
        if name == b"html":
            return self._tag(data, name_end, _PROLOGUE)
        self._mode = _HEAD_RUN  # the head starts right after <head …>, or here
        return self._tag(data, name_end, _HEAD_RUN) if name == b"head" else pos

    def _declaration_before_head_point(self, data: bytes, pos: int) -> int | bytes:
        """At ``<!`` before the head point: a comment, a DOCTYPE or a bogus comment."""
        text = pos + len(b"<!")
        opening = data[text : text + len(_DOCTYPE_NAME)]
        if opening.startswith(b"--"):
            text += len(b"--")
            if data.startswith(b">", text):  # "<!-->"
                return text + 1
            if data.startswith(b"->", text):  # "<!--->"
                return text + 2
            if b"->".startswith(data[text : text + 2]):  # cut short: "<!--" or "<!---"
                return self._hold(data, pos)
            self._mode, self._after = _HEAD_COMMENT, self._mode
            return text
        lowered = opening.lower()
        if b"--".startswith(lowered) or (
            len(lowered) < len(_DOCTYPE_NAME) and _DOCTYPE_NAME.startswith(lowered)
        ):  # cut short: "<!", "<!-", "<!DOC"
            return self._hold(data, pos)
        if lowered != _DOCTYPE_NAME:
            return self._bogus_comment_before_head_point(data, text)
        if self._mode == _HEAD_RUN:
            return self._insert_head(data, pos)
        self._mode = _DOCTYPE
        return text + len(_DOCTYPE_NAME)

    def _bogus_comment_before_head_point(self, data: bytes, pos: int) -> int | bytes:
        end = data.find(b">", pos)
        if end >= 0:
            return end + 1
        self._mode, self._after = _HEAD_BOGUS_COMMENT, self._mode
        return self._hold(data, len(data))

    def _head_comment(self, data: bytes, pos: int) -> int | bytes:
        end = _COMMENT_END.search(data, pos)
        if end is None:
            return self._hold(data, _split_marker(data, pos, _COMMENT_ENDS))
        self._mode = self._after
        return end.end()

    def _head_bogus_comment(self, data: bytes, pos: int) -> int | bytes:
        end = data.find(b">", pos)
        if end < 0:
            return self._hold(data, len(data))
        self._mode = self._after
        return end + 1

    def _head_title(self, data: bytes, pos: int) -> int | bytes:
        """Through a title's text (RCDATA) in the head's opening run, to its end tag."""
        end_tag = _END_TAGS[b"</title"].search(data, pos)
        if end_tag is None:
            return self._hold(data, _split_marker(data, pos, (b"</title",)))
        return self._tag(data, end_tag.end(), _HEAD_RUN)


# Each mode's step, by mode (_PASS has none: the injector is done).
_STEPS: tuple[Callable[[Any, bytes, int], int | bytes], ...] = tuple(
    {
        _DATA: HTMLInjector._data,
        _TAG: HTMLInjector._in_tag,
        _BODY_TAG: HTMLInjector._resume_body_tag,
        _COMMENT: HTMLInjector._comment,
        _BOGUS_COMMENT: HTMLInjector._bogus_comment,
        _RAW_TEXT: HTMLInjector._raw_text,
        _PROLOGUE: HeadAndBodyInjector._before_head_point,
        _HEAD_RUN: HeadAndBodyInjector._before_head_point,
        _HEAD_COMMENT: HeadAndBodyInjector._head_comment,
        _HEAD_BOGUS_COMMENT: HeadAndBodyInjector._head_bogus_comment,
        _HEAD_TITLE: HeadAndBodyInjector._head_title,
        **_MARKER_STEPS,
    }[mode]
    for mode in range(_PASS)
)


def insert_snippet(document: bytes, snippet: bytes, memo: BodyTagMemo) -> bytes:
    """A whole document with ``snippet`` in it, as :class:`HTMLInjector` would put it."""
    end = memo.find(document)
    if end >= 0:
        return _spliced(document, end, snippet)
    injector = HTMLInjector(snippet, memo)
    return injector._scan_first(document) + injector.finish()


def insert_head_and_snippet(
    document: bytes, head: bytes, snippet: bytes, memo: HeadAndBodyMemo
) -> bytes:
    """A whole document with ``head`` and ``snippet`` in it, as :class:`HeadAndBodyInjector`
    would put them."""
    found = memo.find(document)
    if found is not None:
        return _spliced_twice(document, found, head, snippet)
    injector = HeadAndBodyInjector(head, snippet, memo)
    return injector.feed(document) + injector.finish()


def _spliced(data: bytes, end: int, snippet: bytes) -> bytes:
    return b"".join((data[:end], snippet, data[end:]))


def _spliced_twice(data: bytes, points: tuple[int, int], head: bytes, snippet: bytes) -> bytes:
    head_at, body_at = points
    return b"".join((data[:head_at], head, data[head_at:body_at], snippet, data[body_at:]))


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
