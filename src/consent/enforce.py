"""Server-side enforcement: which category a cookie belongs to, and keeping refused ones out.

A ``Set-Cookie`` header's cookie name is the bytes before its first ``=``. Exact names are looked
up in a dict; glob patterns (``_ga_*``) are compiled into one regular expression. Deletions
(``Max-Age=0`` or an ``Expires`` in the past) always pass, so an app can clean up after itself.
"""

from __future__ import annotations

import fnmatch
import logging
import re
import time
from collections.abc import Iterable, Sequence
from email.utils import parsedate_to_datetime
from functools import lru_cache

from consent.settings import ConsentSettings

logger = logging.getLogger("consent")

Header = tuple[bytes, bytes]

#: A category name that stands for cookies no category declares.
UNDECLARED = ""


class CookiePolicy:
    """Maps cookie names to categories and filters or expires cookies accordingly."""

    def __init__(self, settings: ConsentSettings) -> None:
        self._exact: dict[str, str] = {}
        patterns: list[tuple[str, str]] = []
        for category_name, category in settings.categories.items():
            for pattern in category.cookies:
                if any(char in pattern for char in "*?["):
                    patterns.append((pattern, category_name))
                else:
                    self._exact[pattern] = category_name
        required = next(name for name, c in settings.categories.items() if c.required)
        self._exact[settings.cookie_name] = required
        self._exact[settings.notice_cookie_name] = required
        self._patterns = [(re.compile(fnmatch.translate(p)), name) for p, name in patterns]
        self._undeclared = settings.undeclared_cookies
        self._warned: set[str] = set()
        self._domains: tuple[str | None, ...] = (None, *settings.revoke_cookie_domains)
        self._paths = settings.revoke_cookie_paths
        self.category_of = lru_cache(maxsize=1024)(self._category_of)
        self._category_of_set_cookie = lru_cache(maxsize=1024)(self._category_of_name_bytes)

    def _category_of(self, name: str) -> str:
        """The category of a cookie name, or ``UNDECLARED``."""
        if name in self._exact:
            return self._exact[name]
        for pattern, category in self._patterns:
            if pattern.match(name):
                return category
        return UNDECLARED

    def allows(self, name: str, granted: frozenset[str]) -> bool:
        """Whether a cookie called ``name`` may reach a visitor who granted ``granted``."""
        category = self.category_of(name)
        if category:
            return category in granted
        if self._undeclared == "block":
            return False
        if self._undeclared == "warn" and name not in self._warned and len(self._warned) < 1024:
            self._warned.add(name)
            logger.warning("consent: cookie %r belongs to no category; it was let through", name)
        return True

    def filter_headers(
        self, headers: Sequence[Header], granted: frozenset[str]
    ) -> list[Header] | None:
        """``headers`` without the refused cookies, or None when nothing had to go."""
        kept: list[Header] | None = None
        for index, (name, value) in enumerate(headers):
            if (
                len(name) == 10
                and name.lower() == b"set-cookie"
                and not self._passes(value, granted)
            ):
                if kept is None:
                    kept = list(headers[:index])
                continue
            if kept is not None:
                kept.append((name, value))
        return kept

    def _passes(self, set_cookie: bytes, granted: frozenset[str]) -> bool:
        name = set_cookie.partition(b"=")[0]
        category = self._category_of_set_cookie(name)
        if category and category in granted:
            return True
        return self.allows(name.strip().decode("latin-1"), granted) or is_deletion(set_cookie)

    def _category_of_name_bytes(self, name: bytes) -> str:
        return self.category_of(name.strip().decode("latin-1"))

    def expirations(self, cookie_names: Iterable[str], granted: frozenset[str]) -> list[str]:
        """``Set-Cookie`` values that delete the named cookies a visitor no longer allows."""
        values = []
        for name in cookie_names:
            if self.allows(name, granted):
                continue
            for path in self._paths:
                for domain in self._domains:
                    value = (
                        f"{name}=; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Path={path}"
                    )
                    values.append(value + (f"; Domain={domain}" if domain else ""))
        return values


def is_deletion(set_cookie: bytes) -> bool:
    """Whether a Set-Cookie value removes its cookie (Max-Age ≤ 0 or an Expires in the past)."""
    expires_in_past = False
    for attribute in set_cookie.split(b";")[1:]:
        key, _, value = attribute.partition(b"=")
        key = key.strip().lower()
        if key == b"max-age":
            # Max-Age wins over Expires (RFC 6265, 5.3 step 3).
            text = value.strip()
            if text[:1] == b"-" and text[1:].isdigit():
                return True
            if text.isdigit():
                return int(text) == 0
            continue
        if key == b"expires":
            try:
                moment = parsedate_to_datetime(value.strip().decode("latin-1"))
            except (TypeError, ValueError, IndexError):
                continue
            expires_in_past = moment.timestamp() <= time.time()
    return expires_in_past
