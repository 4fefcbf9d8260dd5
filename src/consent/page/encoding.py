"""Which encoding a browser will decode an HTML page in, when its Content-Type does not say.

A page served as ``text/html`` without a ``charset`` parameter is decoded by the first of these
that answers (HTML Standard §13.2.3.1): a byte order mark; the Content-Type's charset (absent
here); the *prescan* of the first 1,024 bytes for ``<meta charset>`` or ``<meta http-equiv=
"Content-Type" content="…; charset=…">`` (§13.2.3.2); else the browser's own guess. The
injected text must be encoded the way the page will be decoded, or it turns into mojibake.

:func:`sniff_encoding` answers with a Python codec to encode the snippet in:

* a UTF-8 byte order mark, or a declaration the prescan finds: that encoding, by its WHATWG
  label (``webencodings``, the WHATWG Encoding Standard's table; ``latin1`` is windows-1252 there,
  ``x-sjis`` is cp932, and a declared UTF-16 means UTF-8), if it keeps ASCII as ASCII;
* nothing found: ``"ascii"``. The browser guesses, and every guess it can make without a byte
  order mark keeps ASCII as ASCII, so text encoded in ASCII with character references for the
  rest reads the same whatever it guesses;
* a UTF-16 byte order mark, or a declared encoding that does not keep ASCII (ISO-2022-JP, the
  replacement encoding): ``None``, inject nothing.

:func:`declared_encoding` answers with the encoding's WHATWG name, when a byte order mark or a
declaration names it, for a Content-Type's ``charset``: with it there, the prescan no longer
decides, so markup put before the page's ``<meta charset>`` cannot push it out of reach.

The prescan is the Standard's algorithm step by step, on bytes, with regular expressions where a
step skips a run of bytes; tests hold it to html5lib's implementation of the same algorithm.
"""

from __future__ import annotations

import re
from functools import lru_cache

import webencodings

__all__ = ["PRESCAN_BYTES", "declared_encoding", "prescan", "sniff_encoding"]

#: How much of a body the prescan reads, as browsers do.
PRESCAN_BYTES = 1024

#: WHATWG encodings in which ASCII bytes may not read as ASCII: ISO-2022-JP switches character
#: sets with escape sequences, and the replacement encoding decodes a whole page to one U+FFFD.
_NOT_ASCII_COMPATIBLE = frozenset({"iso-2022-jp", "replacement", "utf-16be", "utf-16le"})
_UTF8_BOM = b"\xef\xbb\xbf"
_UTF16_BOMS = (b"\xfe\xff", b"\xff\xfe")
_SPACE = b"\t\n\f\r "
_QUOTES = b"\"'"
_GT = ord(">")
_EQUALS = ord("=")
_TAG_START = re.compile(rb"</?[A-Za-z]")
_META_START = re.compile(rb"<meta[\t\n\f\r /]", re.IGNORECASE)
_TAG_NAME_END = re.compile(rb"[\t\n\f\r >]")
# "get an attribute" (§13.2.3.2): the name runs to whitespace, "/", ">" or, once it is not
# empty, "="; its first byte may be "=".
_SKIP = re.compile(rb"[\t\n\f\r /]*")
_NAME = re.compile(rb"[^\t\n\f\r />]?[^\t\n\f\r /=>]*")
_SPACES = re.compile(rb"[\t\n\f\r ]*")
_UNQUOTED = re.compile(rb"[^\t\n\f\r >]*")
# "Extracting a character encoding from a meta element" (HTML Standard §2.4.5, in the common
# microsyntaxes): "charset", spaces, "=", spaces, then a quoted value or one that runs to
# whitespace or ";". A "charset" not followed by "=" is passed over for the next one.
_CHARSET_IN_CONTENT = re.compile(rb"charset[\t\n\f\r ]*=[\t\n\f\r ]*", re.IGNORECASE)
_BARE_LABEL = re.compile(rb"[^\t\n\f\r ;]*")


def sniff_encoding(head: bytes) -> str | None:
    """The codec to encode injected text in, for an HTML body starting with ``head`` (its
    first :data:`PRESCAN_BYTES` bytes, or all of it if shorter) and served without a charset;
    None when nothing should be injected."""
    if head.startswith(_UTF8_BOM):
        return "utf-8"
    if head.startswith(_UTF16_BOMS):
        return None
    head = head[:PRESCAN_BYTES]
    return _sniffed(head)


def declared_encoding(head: bytes) -> str | None:
    """The WHATWG name of the encoding that an HTML body starting with ``head`` declares, which
    :func:`sniff_encoding` gives the codec of: ``utf-8`` after a UTF-8 byte order mark, else what
    the prescan finds; None when nothing declares one (the browser guesses) or a UTF-16 byte
    order mark decides."""
    if head.startswith(_UTF8_BOM):
        return "utf-8"
    if head.startswith(_UTF16_BOMS):
        return None
    return _prescanned(head[:PRESCAN_BYTES])


@lru_cache(maxsize=64)
def _sniffed(head: bytes) -> str | None:
    """:func:`sniff_encoding` after the byte order marks; a site sends the same few heads, and
    each key is at most PRESCAN_BYTES long."""
    label = _prescanned(head)
    if label is None:
        return "ascii"
    return _codec(label)


def _codec(name: str) -> str | None:
    """The Python codec for a WHATWG encoding name, if it keeps ASCII as ASCII."""
    encoding = webencodings.lookup(name)
    if encoding is None or encoding.name in _NOT_ASCII_COMPATIBLE:
        return None
    codec = encoding.codec_info.name
    ascii_bytes = bytes(range(128))
    try:
        if ascii_bytes.decode(codec) != ascii_bytes.decode("ascii"):
            return None
    except (UnicodeError, LookupError):
        return None
    return codec


def prescan(data: bytes) -> str | None:
    """The encoding's WHATWG name that the Standard's prescan finds in ``data``, else None."""
    data = data[:PRESCAN_BYTES]
    end = len(data)
    position = 0
    while position < end:
        position = data.find(b"<", position)
        if position < 0:
            return None
        if data.startswith(b"<!--", position):
            # The first ">" preceded by "--", counted from the "<": "<!-->" ends at once.
            close = data.find(b"-->", position + 2)
            if close < 0:
                return None
            position = close + 3
            continue
        if _META_START.match(data, position):
            found, position = _meta(data, position + 6)
            if found is not None:
                return found
            position += 1
            continue
        if _TAG_START.match(data, position):
            stop = _TAG_NAME_END.search(data, position)
            if stop is None:
                return None
            position = stop.start()
            attribute: tuple[bytes, bytes] | None = (b"", b"")
            while attribute is not None:
                attribute, position = _attribute(data, position)
            position += 1
            continue
        if data.startswith((b"<!", b"</", b"<?"), position):
            close = data.find(b">", position + 2)
            if close < 0:
                return None
            position = close + 1
            continue
        position += 1
    return None


#: The prescan of a body's first bytes, kept: a site sends the same few heads, and each key is
#: at most PRESCAN_BYTES long. Both the snippet's codec and the Content-Type's charset need it.
_prescanned = lru_cache(maxsize=64)(prescan)


def _meta(data: bytes, position: int) -> tuple[str | None, int]:
    """The encoding a ``<meta`` element's attributes declare, and where its scan ended."""
    seen: set[bytes] = set()
    got_pragma = False
    need_pragma: bool | None = None
    charset: str | None = None  # "" once a charset attribute named no encoding
    while True:
        attribute, position = _attribute(data, position)
        if attribute is None:
            break
        name, value = attribute
        if name in seen:
            continue
        seen.add(name)
        if name == b"http-equiv":
            got_pragma = got_pragma or value == b"content-type"
        elif name == b"content" and charset is None:
            label = _charset_from_content(value)
            found = _encoding_name(label) if label is not None else None
            if found is not None:
                charset, need_pragma = found, True
        elif name == b"charset" and charset is None:
            charset, need_pragma = _encoding_name(value) or "", False
    if need_pragma is None or (need_pragma and not got_pragma) or not charset:
        return None, position
    if charset in ("utf-16be", "utf-16le"):
        return "utf-8", position
    if charset == "x-user-defined":
        return "windows-1252", position
    return charset, position


def _encoding_name(label: bytes) -> str | None:
    """The Standard's "get an encoding": the WHATWG name of a label, else None."""
    encoding = webencodings.lookup(label.decode("latin-1"))
    return None if encoding is None else str(encoding.name)


def _attribute(data: bytes, position: int) -> tuple[tuple[bytes, bytes] | None, int]:
    """The Standard's "get an attribute": (name, value) lowercased, and where it stopped; no
    attribute at ``>`` or when ``data`` ends first."""
    end = len(data)
    position = _end(_SKIP, data, position)
    if position >= end or data[position] == _GT:
        return None, position
    name_end = _end(_NAME, data, position)
    name = data[position:name_end].lower()
    position = name_end
    if position < end and data[position] in _SPACE:  # the "spaces" step
        position = _end(_SPACES, data, position)
    if position >= end:
        return None, position
    if data[position] != _EQUALS:  # "/", ">" or the next attribute: no value
        return (name, b""), position
    position = _end(_SPACES, data, position + 1)
    if position >= end:
        return None, position
    first = data[position]
    if first in _QUOTES:
        close = data.find(bytes((first,)), position + 1)
        if close < 0:
            return None, end
        return (name, data[position + 1 : close].lower()), close + 1
    if first == _GT:
        return (name, b""), position
    value_end = _end(_UNQUOTED, data, position + 1)
    if value_end >= end:
        return None, end
    return (name, data[position:value_end].lower()), value_end


def _end(pattern: re.Pattern[bytes], data: bytes, position: int) -> int:
    """Where a run of ``pattern`` (which matches the empty string) starting at ``position`` ends."""
    found = pattern.match(data, position)
    return position if found is None else found.end()


def _charset_from_content(value: bytes) -> bytes | None:
    """The Standard's "extracting a character encoding from a meta element", on the value of a
    ``content`` attribute: the label after ``charset=``, else None."""
    found = _CHARSET_IN_CONTENT.search(value)
    if found is None:
        return None
    position = found.end()
    if position >= len(value):
        return None
    first = value[position]
    if first in _QUOTES:
        close = value.find(bytes((first,)), position + 1)
        return None if close < 0 else value[position + 1 : close]
    return value[position : _end(_BARE_LABEL, value, position)]
