"""Server-side enforcement: which category a cookie belongs to, and keeping refused ones out.

Cookie names are mapped to categories, or to services inside them (``analytics.matomo``, judged
exactly as a category is: by whether the visitor's ``granted`` holds that name): exact names
through a dict, glob patterns (``_ga_*``) through one compiled regular expression each, and the
answers kept in bounded caches.

A ``Set-Cookie`` line is judged by the name a browser reads in it, as RFC 6265bis §5.6 reads it:
the text before the first ``;``, split at its first ``=`` and trimmed of spaces and tabs; a line
with no ``=`` there sets a cookie with an empty name. A refused cookie never reaches the browser
as the app wrote it. If it is a deletion, it is replaced by one canonical deletion
(``name=; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT`` with the original's Path and
Domain and what the browser needs to accept it), so an app can still clean up after itself, and
whatever a browser makes of the original's attributes, the line it gets deletes the cookie.
Otherwise it is dropped. Whether a line deletes its cookie is decided as a browser decides it:
the attributes read by §5.6, the last valid ``Max-Age`` winning over any ``Expires``, and dates
read by the cookie-date algorithm of §5.1.1 (not by ``email.utils``, which reads two-digit years
and time-zone offsets differently). ``http.cookies`` follows neither, hence the small parser here.

Browsers differ from the standard in corners (Chromium reads an invalid last ``Max-Age`` as none
and accepts ``Max-Age=+5``); the rewrite is what makes that harmless, since our reading then only
chooses between sending a deletion and sending nothing.

Revoking consent expires the refused cookies the visitor sent (declared names first, at most
``MAX_REVOKED_NAMES``), on the configured paths and domains; a ``__Secure-``, ``__Host-`` or
``__Http-`` name gets the attributes without which browsers ignore the expiry.
"""

from __future__ import annotations

import fnmatch
import logging
import re
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache

from consent.settings import ConsentSettings

logger = logging.getLogger("consent")

Header = tuple[bytes, bytes]

#: A category name that stands for cookies no category or service declares.
UNDECLARED = ""

#: The longest cookie name whose category is cached, and remembered for a warning. Names can
#: come from clients (the revoked cookies are the ones a request sent); a longer one is worked
#: out each time, so no client can fill the caches with large keys.
CACHED_NAME_LENGTH = 256
#: How many category answers each cache keeps.
CACHE_SIZE = 1024
#: How many undeclared names are warned about, once each.
WARNED_NAMES = 1024
#: How many cookie names one revocation expires at most. A browser keeps at most 180 cookies for
#: a domain (Chromium's limit; RFC 6265bis asks for at least 50), so a Cookie header with more
#: names was not sent by one; the names of declared categories are expired first.
MAX_REVOKED_NAMES = 180
#: RFC 6265bis §5.6: a line whose name and value are longer together is ignored by the browser,
#: and so is an attribute whose value is longer than ``MAX_ATTRIBUTE_VALUE``.
MAX_NAME_AND_VALUE = 4096
MAX_ATTRIBUTE_VALUE = 1024

#: The expiry every deletion carries besides ``Max-Age=0``, for clients that know only Expires.
EPOCH = "Thu, 01 Jan 1970 00:00:00 GMT"
#: Name prefixes a browser accepts only with ``Secure``; a ``__Host-`` one only with ``Path=/``
#: and no ``Domain``, and an ``__Http-`` or ``__Host-Http-`` one only with ``HttpOnly``
#: (RFC 6265bis §4.1.3, matched without regard to case).
_SECURE_PREFIXES = ("__secure-", "__host-", "__http-")
_HOST_PREFIX = "__host-"
_HTTP_ONLY_PREFIXES = ("__http-", "__host-http-")

_WSP = b" \t"
#: RFC 6265bis §5.6 step 1: a line with one of these is ignored entirely (HTAB is allowed).
_CONTROL = re.compile(rb"[\x00-\x08\x0a-\x1f\x7f]")
#: What a cookie name written into a header cannot hold and still be read back as itself.
_UNWRITABLE = re.compile(r"[\x00-\x1f\x7f;=]|^ | $")
_SAME_SITE = {b"none": b"None", b"lax": b"Lax", b"strict": b"Strict"}
#: The flag attributes a deletion carries over (§5.6.5, §5.6.6 and CHIPS), by lowercased name.
_FLAGS = {b"secure": "secure", b"httponly": "http_only", b"partitioned": "partitioned"}

# RFC 6265bis §5.1.1: a cookie date is a run of tokens between delimiters, and each token is
# tried as a time, a day of the month, a month and a year, in that order (bytes patterns: \d is
# ASCII digits only, \D any other byte).
_DATE_TOKEN = re.compile(rb"[^\x09\x20-\x2f\x3b-\x40\x5b-\x60\x7b-\x7e]+")
_TIME = re.compile(rb"(\d\d?):(\d\d?):(\d\d?)(?:\D.*)?", re.DOTALL)
_DAY_OF_MONTH = re.compile(rb"(\d\d?)(?:\D.*)?", re.DOTALL)
_MONTH = re.compile(rb"(jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec).*", re.DOTALL | re.I)
_YEAR = re.compile(rb"(\d{2,4})(?:\D.*)?", re.DOTALL)
_MONTHS = b"jan feb mar apr may jun jul aug sep oct nov dec".split()


class CookiePolicy:
    """Maps cookie names to categories (or services, by their ``category.service`` names) and
    filters or expires cookies accordingly."""

    def __init__(self, settings: ConsentSettings) -> None:
        self._exact: dict[str, str] = {}
        patterns: list[tuple[str, str]] = []
        for owner_name, owner in settings.cookie_owners().items():
            for pattern in owner.cookies:
                if any(char in pattern for char in "*?["):
                    patterns.append((pattern, owner_name))
                else:
                    self._exact[pattern] = owner_name
        required = next(name for name, c in settings.categories.items() if c.required)
        self._exact[settings.cookie_name] = required
        self._exact[settings.notice_cookie_name] = required
        self._patterns = [(re.compile(fnmatch.translate(p)), name) for p, name in patterns]
        self._undeclared = settings.undeclared_cookies
        self._warned: set[str] = set()
        self._domains: tuple[str | None, ...] = (None, *settings.revoke_cookie_domains)
        self._paths = settings.revoke_cookie_paths
        self._cached_category_of = lru_cache(maxsize=CACHE_SIZE)(self._category_of)
        self._cached_category_of_bytes = lru_cache(maxsize=CACHE_SIZE)(self._category_of_bytes)

    def category_of(self, name: str) -> str:
        """The category of a cookie name (a service's ``category.service`` when a service
        declares it), or ``UNDECLARED``."""
        if len(name) <= CACHED_NAME_LENGTH:
            return self._cached_category_of(name)
        return self._category_of(name)

    def _category_of(self, name: str) -> str:
        if name in self._exact:
            return self._exact[name]
        for pattern, category in self._patterns:
            if pattern.match(name):
                return category
        return UNDECLARED

    def _category_of_bytes(self, before_equals: bytes) -> str:
        """The category of the cookie a line names, from the line's bytes before its first ``=``
        (RFC 6265bis §5.6: none when a ``;`` comes first; spaces and tabs around it are not part
        of it)."""
        name = b"" if b";" in before_equals else before_equals.strip(_WSP)
        return self._category_of(name.decode("latin-1"))

    def allows(self, name: str, granted: frozenset[str]) -> bool:
        """Whether the app may send a cookie called ``name`` to a visitor who granted ``granted``.

        With ``undeclared_cookies = "warn"``, an undeclared name is logged the first time."""
        category = self.category_of(name)
        if category or self._undeclared != "warn":
            return self._permits(category, granted)
        shown = name[:CACHED_NAME_LENGTH]
        if shown not in self._warned and len(self._warned) < WARNED_NAMES:
            self._warned.add(shown)
            logger.warning("consent: cookie %r belongs to no category; it was let through", shown)
        return True

    def _permits(self, category: str, granted: frozenset[str]) -> bool:
        """Whether a cookie of ``category`` may be kept; never logs."""
        if category:
            return category in granted
        return self._undeclared != "block"

    def filter_headers(
        self, headers: Sequence[Header], granted: frozenset[str]
    ) -> list[Header] | None:
        """``headers`` with each refused cookie dropped or, for a deletion, replaced by its
        canonical deletion; None when nothing had to change."""
        changed: list[Header] | None = None
        for index, (name, value) in enumerate(headers):
            if len(name) == 10 and name.lower() == b"set-cookie":
                sent = self._judge(value, granted)
                if sent is not value:
                    if changed is None:
                        changed = list(headers[:index])
                    if sent is not None:
                        changed.append((name, sent))
                    continue
            if changed is not None:
                changed.append((name, value))
        return changed

    def _judge(self, line: bytes, granted: frozenset[str]) -> bytes | None:
        """What of a ``Set-Cookie`` line reaches the visitor: the line itself, its canonical
        deletion, or nothing."""
        # set_cookie_name(line) in one partition: the rest of it is cached (_category_of_bytes).
        name, equals, _ = line.partition(b"=")
        if not equals:
            name = b""
        if len(name) <= CACHED_NAME_LENGTH:
            category = self._cached_category_of_bytes(name)
        else:
            category = self._category_of_bytes(name)
        if category in granted:
            return line
        if not category and self.allows(set_cookie_name(line).decode("latin-1"), granted):
            return line
        cookie = parse_set_cookie(line)
        if cookie is None or not cookie.name or not cookie.deletes(time.time()):
            return None
        canonical = cookie.canonical_deletion()
        return line if canonical == line else canonical

    def expirations(self, cookie_names: Iterable[str], granted: frozenset[str]) -> list[str]:
        """``Set-Cookie`` values that delete the named cookies a visitor no longer allows."""
        declared: list[str] = []
        undeclared: list[str] = []
        for name in cookie_names:
            if not _can_revoke(name):
                continue
            category = self.category_of(name)
            if self._permits(category, granted):
                continue
            if category:
                declared.append(name)
                if len(declared) == MAX_REVOKED_NAMES:
                    break
            elif len(undeclared) < MAX_REVOKED_NAMES:
                undeclared.append(name)
        values = []
        for name in (declared + undeclared)[:MAX_REVOKED_NAMES]:
            if name[: len(_HOST_PREFIX)].lower() == _HOST_PREFIX:
                values.append(deletion(name, "/", None))
                continue
            for path in self._paths:
                for domain in self._domains:
                    values.append(deletion(name, path, domain))
        return values


def _can_revoke(name: str) -> bool:
    """Whether a name a client sent is one a browser can hold and a header can carry."""
    return 0 < len(name) <= MAX_NAME_AND_VALUE and not _UNWRITABLE.search(name)


def deletion(
    name: str,
    path: str | None,
    domain: str | None,
    *,
    secure: bool = False,
    http_only: bool = False,
    same_site: str | None = None,
    partitioned: bool = False,
) -> str:
    """The canonical ``Set-Cookie`` value that deletes the cookie ``name`` at ``path`` (the
    default path when None) and ``domain`` (host-only when None).

    A prefixed name gets what browsers require of it even when the caller did not ask:
    ``Secure``, for ``__Host-`` ``Path=/`` and no ``Domain``, for ``__Http-`` ``HttpOnly``."""
    folded = name.lower()
    if folded.startswith(_HOST_PREFIX):
        path, domain = "/", None
    value = f"{name}=; Max-Age=0; Expires={EPOCH}"
    if path is not None:
        value += f"; Path={path}"
    if domain is not None:
        value += f"; Domain={domain}"
    if secure or folded.startswith(_SECURE_PREFIXES):
        value += "; Secure"
    if http_only or folded.startswith(_HTTP_ONLY_PREFIXES):
        value += "; HttpOnly"
    if same_site is not None:
        value += f"; SameSite={same_site}"
    if partitioned:
        value += "; Partitioned"
    return value


def set_cookie_name(line: bytes) -> bytes:
    """The name a browser reads in a ``Set-Cookie`` line (RFC 6265bis §5.6 steps 2-4): empty
    when the part before the first ``;`` has no ``=``."""
    name, equals, _ = line.partition(b";")[0].partition(b"=")
    return name.strip(_WSP) if equals else b""


@dataclass(slots=True)
class SetCookie:
    """A ``Set-Cookie`` line as a browser reads it (RFC 6265bis §5.6): the name, and of the
    attributes the last valid one of each, as the storage model (§5.7) uses them."""

    name: bytes
    value: bytes
    max_age: int | None = None
    expires: float | None = None
    path: bytes | None = None
    domain: bytes | None = None
    secure: bool = False
    http_only: bool = False
    same_site: bytes | None = None
    partitioned: bool = False

    def deletes(self, now: float) -> bool:
        """Whether storing this cookie removes it: Max-Age, if any, decides; else Expires."""
        if self.max_age is not None:
            return self.max_age <= 0
        return self.expires is not None and self.expires <= now

    def canonical_deletion(self) -> bytes:
        """The one deletion that stands for this line: same name, Path, Domain and flags."""
        return deletion(
            self.name.decode("latin-1"),
            None if self.path is None else self.path.decode("latin-1"),
            None if self.domain is None else self.domain.decode("latin-1"),
            secure=self.secure,
            http_only=self.http_only,
            same_site=None if self.same_site is None else self.same_site.decode("ascii"),
            partitioned=self.partitioned,
        ).encode("latin-1")


def parse_set_cookie(line: bytes) -> SetCookie | None:
    """A ``Set-Cookie`` line read by RFC 6265bis §5.6, or None when a browser ignores it
    entirely (a control character, a name and value over 4096 bytes, or both empty)."""
    if _CONTROL.search(line):
        return None
    pair, _, attributes = line.partition(b";")
    name, equals, value = pair.partition(b"=")
    if not equals:
        name, value = b"", pair
    name, value = name.strip(_WSP), value.strip(_WSP)
    if len(name) + len(value) > MAX_NAME_AND_VALUE or not (name or value):
        return None
    cookie = SetCookie(name, value)
    for attribute in attributes.split(b";"):
        key, _, text = attribute.partition(b"=")
        key, text = key.strip(_WSP).lower(), text.strip(_WSP)
        if len(text) > MAX_ATTRIBUTE_VALUE:
            continue
        if key == b"max-age":  # §5.6.2: an optional "-", then digits; else ignored
            if (text[1:] if text[:1] == b"-" else text).isdigit():
                cookie.max_age = int(text)
        elif key == b"expires":  # §5.6.1: an invalid date is ignored
            moment = parse_cookie_date(text)
            if moment is not None:
                cookie.expires = moment
        elif key == b"path":  # §5.6.4: anything but an absolute path means the default path
            cookie.path = text if text[:1] == b"/" else None
        elif key == b"domain":  # §5.6.3: an empty value is ignored
            if text:
                cookie.domain = text
        elif key == b"samesite":  # §5.6.7: an unknown value means the default
            cookie.same_site = _SAME_SITE.get(text.lower())
        elif key in _FLAGS:  # whatever their value
            setattr(cookie, _FLAGS[key], True)
    return cookie


def parse_cookie_date(text: bytes) -> float | None:
    """The moment (a POSIX timestamp) a cookie date names, or None when it names none
    (RFC 6265bis §5.1.1: any time-zone text is ignored, two-digit years 70-99 are 19xx and
    00-69 20xx, and a date before 1601 or that does not exist is invalid)."""
    hms: tuple[int, int, int] | None = None
    day = month = year = None
    for token in _DATE_TOKEN.findall(text):
        if hms is None and (match := _TIME.fullmatch(token)):
            hms = (int(match[1]), int(match[2]), int(match[3]))
        elif day is None and (match := _DAY_OF_MONTH.fullmatch(token)):
            day = int(match[1])
        elif month is None and (match := _MONTH.fullmatch(token)):
            month = _MONTHS.index(match[1].lower()) + 1
        elif year is None and (match := _YEAR.fullmatch(token)):
            year = int(match[1])
    if hms is None or day is None or month is None or year is None:
        return None
    if 70 <= year <= 99:
        year += 1900
    elif year <= 69:
        year += 2000
    hour, minute, second = hms
    if not 1 <= day <= 31 or year < 1601 or hour > 23 or minute > 59 or second > 59:
        return None
    try:
        return datetime(year, month, day, hour, minute, second, tzinfo=UTC).timestamp()
    except ValueError:  # a day the month does not have
        return None


def is_deletion(set_cookie: bytes, now: float | None = None) -> bool:
    """Whether a browser that stores this Set-Cookie line removes its cookie (RFC 6265bis)."""
    cookie = parse_set_cookie(set_cookie)
    moment = time.time() if now is None else now
    return cookie is not None and cookie.deletes(moment)
