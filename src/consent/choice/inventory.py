"""The passive cookie inventory: which cookie names a site's traffic carries, and who set them.

The middleware sees every ``Set-Cookie`` line the site sends and every cookie name browsers send
back. :class:`CookieInventory` keeps the names (never a value, nothing about a visitor): when each
was first and last seen, whether the server set it or it only ever came back from browsers (a
script set it), and the category that declares it, if any. ``consent cookies`` reads it against
the declarations.

What it costs a request: a name already noted since the last write is one set lookup. A
``Set-Cookie`` line's name is cut out with one ``partition``; the names of a ``Cookie`` header are
read by one regular expression, and only when the visitor cache meets a Cookie header it has not
seen (``Site.on_new_cookie_header``), and then one such header in :data:`READ_ONE_HEADER_IN`: a
returning visitor's page reads nothing. Whether all of a header's names are known is one
``issuperset``.

Bounded: at most :data:`MAX_NAMES` names of at most :data:`MAX_NAME_BYTES` bytes each are kept;
longer names and names past the limit are counted, not kept. Names can come from any client, so
the inventory is a guide to what runs on a site, and a client can add names to it; it never
changes what is enforced. So that made-up names cannot crowd out the site's own, names that only
browsers sent take at most :data:`MAX_BROWSER_ONLY_NAMES` of the room, and one Cookie header adds
at most :data:`MAX_NEW_NAMES_PER_HEADER` new names.

Kept in a small JSON file (the ``cookie_inventory`` setting) so that another process, the
command line, can read it: written at most every :data:`WRITE_INTERVAL` seconds, from a worker
thread started by the event loop, and when the app shuts down (ASGI lifespan), never while a page
waits. Each write merges with what the file holds under an exclusive lock (``fcntl.flock``, where
the system has it), so several server processes share one file; the file is replaced atomically.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import operator
import os
import re
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from consent.choice.enforcement import set_cookie_name

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: one process per file
    fcntl = None  # type: ignore[assignment]

logger = logging.getLogger("consent")

Header = tuple[bytes, bytes]
CookieFilter = Callable[[Sequence[Header], frozenset[str]], list[Header] | None]

#: The most names kept, in memory and in the file; names past it are counted as ``dropped``.
MAX_NAMES = 1000
#: Of them, the most that only browsers sent (any client can make such names up): the rest of
#: the room is kept for the names the site's responses set.
MAX_BROWSER_ONLY_NAMES = MAX_NAMES // 2
#: The most new names one Cookie header adds (a real one holds a few dozen at most; a browser's
#: other names come again in its next headers). The rest are counted as ``dropped``.
MAX_NEW_NAMES_PER_HEADER = 32
#: The longest name kept; longer ones are counted as ``oversized``.
MAX_NAME_BYTES = 256
#: Cookie headers longer than this are not read (a browser sends at most 180 cookies of 4 KB,
#: but real headers are a few hundred bytes); each one skipped is counted.
MAX_COOKIE_HEADER = 16_384
#: The least time between two writes of the file, in seconds.
WRITE_INTERVAL = 5.0
#: The file's permissions: names only, readable by the command line run as another user.
FILE_MODE = 0o644
#: The file's format; a file of another version is started afresh.
FORMAT_VERSION = 1

#: Of the Cookie headers the visitor cache has not met, one in this many is read (the first one
#: always): a visitor whose analytics cookie changes on every page misses that cache every time,
#: and a name that browsers keep sending is met again soon.
READ_ONE_HEADER_IN = 16

#: A ``Cookie`` header pair by pair, each match one pair and its ``;``: the name (without the
#: spaces and tabs around it) of a pair with ``=``, else an empty name. Matching pair after pair
#: costs half of searching for each name's start anywhere in the header.
_COOKIE_PAIRS = re.compile(rb"[ \t]*(?:([^=; \t][^=;]*?)[ \t]*=[^;]*|[^;]*)(?:;|\Z)")
#: The empty name, which counts as known: pairs without a name give it.
_NO_NAME = b""
_SET_COOKIE = b"set-cookie"


def _iso(moment: float) -> str:
    return datetime.fromtimestamp(moment, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(slots=True)
class Sighting:
    """What is known of one cookie name. Times are ISO 8601 UTC strings, to the second (they
    sort as they compare)."""

    first_seen: str
    last_seen: str
    set_by_server: bool = False
    sent_by_browsers: bool = False
    category: str = ""

    @property
    def browser_only(self) -> bool:
        """Seen only coming back from browsers: a script set it."""
        return self.sent_by_browsers and not self.set_by_server

    def merge(self, other: Sighting) -> None:
        self.first_seen = min(self.first_seen, other.first_seen)
        self.last_seen = max(self.last_seen, other.last_seen)
        self.set_by_server |= other.set_by_server
        self.sent_by_browsers |= other.sent_by_browsers
        self.category = other.category or self.category

    def copy(self) -> Sighting:
        return Sighting(*_sighting_values(self))

    def as_json(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in _SIGHTING_FIELDS}

    @classmethod
    def from_json(cls, document: Any) -> Sighting:
        return cls(
            first_seen=str(document["first_seen"]),
            last_seen=str(document["last_seen"]),
            set_by_server=bool(document.get("set_by_server")),
            sent_by_browsers=bool(document.get("sent_by_browsers")),
            category=str(document.get("category") or ""),
        )


#: A sighting's fields, the keys of its JSON, and what reads their values in that order (a write
#: copies every sighting on the event loop: ``asdict`` and ``replace`` take several times longer).
_SIGHTING_FIELDS = tuple(field.name for field in fields(Sighting))
_sighting_values = operator.attrgetter(*_SIGHTING_FIELDS)


@dataclass(slots=True)
class Inventory:
    """The names and the counts of what did not fit: what the file holds."""

    names: dict[str, Sighting]
    #: Sightings of names that did not fit (past :data:`MAX_NAMES`).
    dropped: int = 0
    #: Sightings of names longer than :data:`MAX_NAME_BYTES`, and Cookie headers not read.
    oversized: int = 0
    updated: str = ""

    def merge(self, other: Inventory) -> None:
        """Adds ``other``'s names and counts; names past :data:`MAX_NAMES`, or past
        :data:`MAX_BROWSER_ONLY_NAMES` for names only browsers sent, are counted."""
        browser_only = sum(sighting.browser_only for sighting in self.names.values())
        for name, sighting in other.names.items():
            mine = self.names.get(name)
            if mine is not None:
                was_browser_only = mine.browser_only
                mine.merge(sighting)
                browser_only -= was_browser_only and not mine.browser_only
            elif _has_room(len(self.names), browser_only, sighting.browser_only):
                self.names[name] = sighting.copy()
                browser_only += sighting.browser_only
            else:
                self.dropped += 1
        self.dropped += other.dropped
        self.oversized += other.oversized
        self.updated = max(self.updated, other.updated)

    def as_json(self) -> dict[str, Any]:
        return {
            "version": FORMAT_VERSION,
            "updated": self.updated,
            "dropped": self.dropped,
            "oversized": self.oversized,
            "names": {name: self.names[name].as_json() for name in sorted(self.names)},
        }

    @classmethod
    def from_json(cls, document: Any) -> Inventory:
        """The inventory a file holds; ValueError when it is not one."""
        if not isinstance(document, dict) or document.get("version") != FORMAT_VERSION:
            raise ValueError(f"not a cookie inventory of version {FORMAT_VERSION}")
        try:
            names = {
                str(name): Sighting.from_json(sighting)
                for name, sighting in list(document["names"].items())[:MAX_NAMES]
            }
            return cls(
                names,
                dropped=int(document.get("dropped", 0)),
                oversized=int(document.get("oversized", 0)),
                updated=str(document.get("updated", "")),
            )
        except (KeyError, TypeError, AttributeError, ValueError) as error:
            raise ValueError(f"not a cookie inventory: {error!r}") from None


def _has_room(names: int, browser_only: int, for_browser_only: bool) -> bool:
    """Whether a new name fits among ``names`` names, ``browser_only`` of them sent only by
    browsers."""
    if names >= MAX_NAMES:
        return False
    return not for_browser_only or browser_only < MAX_BROWSER_ONLY_NAMES


def read_inventory(path: Path) -> Inventory:
    """The inventory in ``path``; FileNotFoundError when there is none, ValueError when the
    file is not one."""
    with path.open(encoding="utf-8") as handle:
        try:
            document = json.load(handle)
        except json.JSONDecodeError as error:
            raise ValueError(f"not JSON: {error}") from None
    return Inventory.from_json(document)


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[TextIO]:
    """An exclusive lock on ``path``'s lock file (``<path>.lock``), held while the block runs."""
    with open(f"{path}.lock", "a", encoding="utf-8") as lock:
        if fcntl is not None:
            fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
        try:
            yield lock
        finally:
            if fcntl is not None:
                fcntl.flock(lock.fileno(), fcntl.LOCK_UN)


def merge_into_file(path: Path, inventory: Inventory) -> Inventory:
    """Merges ``inventory`` into the file at ``path`` under its lock, replacing the file
    atomically; returns what the file holds now. A file that is not an inventory is replaced
    (with a warning)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with _locked(path):
        try:
            merged = read_inventory(path)
        except FileNotFoundError:
            merged = Inventory({})
        except ValueError as error:
            logger.warning(
                "consent: %s is not a cookie inventory (%s); starting afresh", path, error
            )
            merged = Inventory({})
        merged.merge(inventory)
        text = json.dumps(merged.as_json(), indent=1, ensure_ascii=False) + "\n"
        descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
        try:
            with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
                handle.write(text)
            os.chmod(temporary, FILE_MODE)  # mkstemp's 0600 would hide it from other users
            os.replace(temporary, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
            raise
    return merged


class CookieInventory:
    """The names this process has seen, written to ``path`` (None: kept in memory only).

    ``category_of`` names the category that declares a cookie name ("" for none); it is asked
    once per new name. ``own_cookies`` are the names the middleware sets itself (the consent
    and notice cookies, from its endpoints, which no response of the app carries): they count
    as set by the server."""

    def __init__(
        self,
        path: Path | None,
        category_of: Callable[[str], str],
        *,
        write_interval: float = WRITE_INTERVAL,
        clock: Callable[[], float] = time.time,
        own_cookies: Iterable[str] = (),
        read_one_header_in: int = READ_ONE_HEADER_IN,
    ) -> None:
        self.path = path
        self._own = frozenset(own_cookies)
        self._category_of = category_of
        self._write_interval = write_interval
        self._clock = clock
        self._names: dict[str, Sighting] = {}
        self._browser_only = 0  # how many of them only browsers sent
        #: Names noted since the last write, as they came: seeing one again is a set lookup.
        #: Emptied at each write (so that the next sighting moves ``last_seen``).
        self._fresh_from_server: set[bytes] = {_NO_NAME}
        self._fresh_from_browsers: set[bytes] = {_NO_NAME}
        self._read_one_in = read_one_header_in
        self._headers_met = 0
        self._dropped = 0  # since the last write
        self._oversized = 0
        self._unsaved = False
        self._timer: asyncio.TimerHandle | None = None
        self._writing: asyncio.Future[Any] | None = None

    # --- what the middleware shows it -------------------------------------------------------

    def watching(self, cookie_filter: CookieFilter) -> CookieFilter:
        """``cookie_filter`` (which the start plans call for every response that sets
        cookies), noting each ``Set-Cookie`` name first."""

        def note_then_filter(
            headers: Sequence[Header], granted: frozenset[str]
        ) -> list[Header] | None:
            self.saw_set_cookie(headers)
            return cookie_filter(headers, granted)

        return note_then_filter

    def saw_set_cookie(self, headers: Sequence[Header]) -> None:
        """Notes the name of each ``Set-Cookie`` line among a response's ``headers``."""
        fresh = self._fresh_from_server
        for name, value in headers:
            if len(name) == 10 and name.lower() == _SET_COOKIE:
                cookie = set_cookie_name(value)
                if cookie not in fresh:
                    self._note(cookie, fresh, from_server=True)

    def saw_cookie_header(self, header: bytes) -> None:
        """Notes the names of a request's ``Cookie`` header: of the calls, the first and then one
        in ``read_one_header_in``."""
        met = self._headers_met
        self._headers_met = met + 1
        if met % self._read_one_in:
            return
        if len(header) > MAX_COOKIE_HEADER:
            self._oversized += 1
            self._soon()
            return
        names = _COOKIE_PAIRS.findall(header)
        fresh = self._fresh_from_browsers
        if fresh.issuperset(names):
            return
        new = [name for name in names if name not in fresh]
        for name in new[:MAX_NEW_NAMES_PER_HEADER]:
            self._note(name, fresh, from_server=False)
        if len(new) > MAX_NEW_NAMES_PER_HEADER:
            self._dropped += len(new) - MAX_NEW_NAMES_PER_HEADER
            self._soon()

    def _note(self, raw: bytes, fresh: set[bytes], *, from_server: bool) -> None:
        if not raw:
            return
        if len(raw) > MAX_NAME_BYTES:
            self._oversized += 1
            self._soon()
            return
        name = raw.decode("latin-1")
        sighting = self._names.get(name)
        now = _iso(self._clock())
        by_server = from_server or name in self._own
        if sighting is None:
            if not _has_room(len(self._names), self._browser_only, not by_server):
                self._dropped += 1
                self._soon()
                return
            sighting = self._names[name] = Sighting(now, now, category=self._category_of(name))
            self._browser_only += not by_server
        elif by_server and sighting.browser_only:
            self._browser_only -= 1
        sighting.last_seen = now
        if by_server:
            sighting.set_by_server = True
        else:
            sighting.sent_by_browsers = True
        fresh.add(raw)  # at most MAX_NAMES names of MAX_NAME_BYTES each
        self._soon()

    # --- what it knows ----------------------------------------------------------------------

    def snapshot(self) -> Inventory:
        """What this process has seen (not what other processes wrote to the file)."""
        return Inventory(
            {name: sighting.copy() for name, sighting in self._names.items()},
            dropped=self._dropped,
            oversized=self._oversized,
            updated=_iso(self._clock()),
        )

    # --- writing ----------------------------------------------------------------------------

    def _soon(self) -> None:
        """Marks something unsaved and, in an event loop, makes sure a write is due."""
        self._unsaved = True
        if self.path is None or self._timer is not None:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # not served by an event loop: written by flush() or close()
            return
        self._timer = loop.call_later(self._write_interval, self._write_in_background, loop)

    def _take(self) -> Inventory:
        """What to write now; the counts and the fresh names start again."""
        taken = self.snapshot()
        self._dropped = self._oversized = 0
        self._fresh_from_server.clear()
        self._fresh_from_browsers.clear()
        self._fresh_from_server.add(_NO_NAME)
        self._fresh_from_browsers.add(_NO_NAME)
        self._unsaved = False
        return taken

    def _write_in_background(self, loop: asyncio.AbstractEventLoop) -> None:
        self._timer = None
        if not self._unsaved or self.path is None:
            return
        if self._writing is not None and not self._writing.done():
            self._soon()  # the previous write is still going: try again later
            return
        taken = self._take()
        self._writing = loop.run_in_executor(None, self._write, taken)

    def _write(self, taken: Inventory) -> None:
        assert self.path is not None
        try:
            merge_into_file(self.path, taken)
        except OSError as error:
            logger.warning("consent: the cookie inventory %s was not written: %s", self.path, error)

    def flush(self) -> None:
        """Writes what is unsaved now, in this thread (the command line, tests)."""
        if self.path is not None and self._unsaved:
            self._write(self._take())

    async def close(self) -> None:
        """Writes what is unsaved, in a worker thread, and stops the timer (app shutdown)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._writing is not None:
            await asyncio.shield(self._writing)
        if self.path is not None and self._unsaved:
            taken = self._take()
            await asyncio.get_running_loop().run_in_executor(None, self._write, taken)
