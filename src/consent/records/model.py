"""A decision as proof of consent keeps it, and the wording the visitor was shown.

Every field is bounded and storable whatever a client sent: a value longer than its cap is cut,
control characters and bytes that are not UTF-8 are written as ``\\xNN`` escapes, never refused.
The client address is reduced by a policy before it is kept: ``truncated`` (the IPv4 /24 or the
IPv6 /48 network, the default), ``none`` or ``full``.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import re
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, Literal, NotRequired, TypedDict, Unpack, cast, get_args

Action = Literal["accept_all", "reject_all", "save", "gpc", "withdraw", "accept_new", "reject_new"]
RecordSource = Literal["banner", "settings page", "api", "gpc"]
IpPolicy = Literal["truncated", "none", "full"]
ACTIONS: tuple[Action, ...] = get_args(Action)
SOURCES: tuple[RecordSource, ...] = get_args(RecordSource)
IP_POLICIES: tuple[IpPolicy, ...] = get_args(IpPolicy)

#: A consent id is ours (22 characters); anything longer is cut.
MAX_CONSENT_ID_LENGTH = 64
#: Real User-Agent headers stay under 300 characters; a longer one is cut.
MAX_USER_AGENT_LENGTH = 512
#: The page path where the choice was made, without its query string.
MAX_PATH_LENGTH = 1024
#: A BCP 47 language tag.
MAX_LANGUAGE_LENGTH = 35
#: The longest client address kept (an IPv6 address with a zone, or a network).
MAX_ADDRESS_LENGTH = 64
#: Category and service names (``category.service``) and how many a record or a wording may
#: list (the settings keep a site's offer within it: ``MAX_OFFERED_ITEMS``).
MAX_CATEGORY_NAME_LENGTH = 64
MAX_CATEGORIES = 64
#: The cookies a category's table may list in a wording, and how long a cookie name may be.
MAX_OFFERED_COOKIES = 100
MAX_COOKIE_NAME_LENGTH = 256
#: A wording's texts: how many, and how long each (labels, descriptions, buttons).
MAX_WORDING_TEXTS = 200
MAX_WORDING_TEXT_LENGTH = 8000
#: Wordings rebuilt from their JSON that are kept for the next record that shows them.
MAX_CACHED_WORDINGS = 256
#: Sets of category names kept sorted and cleaned (a site's decisions grant a few sets).
MAX_CACHED_CATEGORY_SETS = 256
#: The policy revision is stored as a 32-bit integer.
MAX_REVISION = 2**31 - 1
#: How IPv4 and IPv6 addresses are truncated.
IPV4_PREFIX = 24
IPV6_PREFIX = 48

_FIELD_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_TEXT_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def _escape(match: re.Match[str]) -> str:
    return f"\\x{ord(match.group()):02x}"


def _storable(value: str | bytes) -> str:
    """``value`` as text a database stores unchanged: bytes that are not UTF-8 and lone
    surrogates become backslash escapes."""
    if isinstance(value, bytes):
        return value.decode("utf-8", "backslashreplace")
    return value.encode("utf-8", "backslashreplace").decode("utf-8")


def clean_field(value: str | bytes, limit: int) -> str:
    """A one-line field (a path, a User-Agent): every control character escaped, cut at
    ``limit`` characters. Cleaning a clean value leaves it as it is."""
    if isinstance(value, bytes) and value.isascii():
        value = value.decode("ascii")  # a header's bytes: what _storable gives, for less
    if isinstance(value, str) and value.isascii() and value.isprintable():
        return value[:limit]  # the usual case: nothing to escape
    return _FIELD_CONTROL.sub(_escape, _storable(value))[:limit]


def clean_text(value: str | bytes, limit: int) -> str:
    """A text the visitor read: as :func:`clean_field`, but tabs and line breaks are kept."""
    if isinstance(value, str) and value.isascii() and value.isprintable():
        return value[:limit]
    return _TEXT_CONTROL.sub(_escape, _storable(value))[:limit]


def slow_clean_field(value: str | bytes, limit: int) -> str:
    """:func:`clean_field` without its shortcut (what the property tests compare it with)."""
    return _FIELD_CONTROL.sub(_escape, _storable(value))[:limit]


def slow_clean_text(value: str | bytes, limit: int) -> str:
    """:func:`clean_text` without its shortcut."""
    return _TEXT_CONTROL.sub(_escape, _storable(value))[:limit]


def _categories(names: Iterable[str]) -> tuple[str, ...]:
    if type(names) is frozenset and len(names) <= MAX_CATEGORIES:
        return _category_set(names)  # a decision's: the few sets of the site's categories
    return _sorted_categories(names)


def _sorted_categories(names: Iterable[str]) -> tuple[str, ...]:
    cleaned = {clean_field(name, MAX_CATEGORY_NAME_LENGTH) for name in names}
    return tuple(sorted(cleaned))[:MAX_CATEGORIES]


@lru_cache(maxsize=MAX_CACHED_CATEGORY_SETS)
def _category_set(names: frozenset[str]) -> tuple[str, ...]:
    return _sorted_categories(names)


#: A dotted-quad IPv4 address as :mod:`ipaddress` reads it (decimal octets up to 255, no
#: leading zero), the first three octets in a group: the usual client address, reduced without
#: building IPv4Address and IPv4Network objects.
_DOTTED_QUAD = re.compile(
    r"((?:(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\.){3})"
    r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
)


def reduce_address(address: str | None, policy: IpPolicy) -> str | None:
    """The client address as ``policy`` keeps it.

    ``truncated`` keeps the network (``192.0.2.0/24``, ``2001:db8:1::/48``), ``full`` the
    address, ``none`` nothing. An IPv4 address mapped into IPv6 is treated as the IPv4 one.
    Whatever is not an IP address (a Unix socket's path, a garbled proxy header) is not kept.
    """
    if address is None or policy == "none":
        return None
    quad = _DOTTED_QUAD.fullmatch(address.strip())
    if quad is not None and IPV4_PREFIX == 24:  # the network is the first three octets
        return f"{quad[1]}0/24" if policy == "truncated" else quad[0]
    return slow_reduce_address(address, policy)


def slow_reduce_address(address: str | None, policy: IpPolicy) -> str | None:
    """:func:`reduce_address` without its IPv4 shortcut (what the property tests compare it
    with)."""
    if address is None or policy == "none":
        return None
    try:
        ip = ipaddress.ip_address(address.strip())
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if policy == "full":
        return str(ip)[:MAX_ADDRESS_LENGTH]
    if isinstance(ip, ipaddress.IPv4Address):
        kept = int(ip) >> (32 - IPV4_PREFIX) << (32 - IPV4_PREFIX)
        return str(ipaddress.IPv4Network((kept, IPV4_PREFIX)))
    kept = int(ip) >> (128 - IPV6_PREFIX) << (128 - IPV6_PREFIX)
    return str(ipaddress.IPv6Network((kept, IPV6_PREFIX)))


@dataclass(frozen=True, slots=True)
class OfferedCookie:
    """A row of a category's cookie table as the visitor saw it (its declaration, in their
    language)."""

    name: str
    provider: str
    purpose: str
    duration: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "name", clean_field(self.name, MAX_COOKIE_NAME_LENGTH))
        for name in ("provider", "purpose", "duration"):
            object.__setattr__(self, name, clean_text(getattr(self, name), MAX_WORDING_TEXT_LENGTH))

    def as_json(self) -> dict[str, str]:
        return asdict(self)


def _offered_cookies(
    cookies: Iterable[OfferedCookie | Mapping[str, str]],
) -> tuple[OfferedCookie, ...]:
    """Rows of a cookie table, from rows or their JSON objects, at most ``MAX_OFFERED_COOKIES``."""
    return tuple(
        cookie if isinstance(cookie, OfferedCookie) else OfferedCookie(**cookie)
        for cookie in tuple(cookies)[:MAX_OFFERED_COOKIES]
    )


@dataclass(frozen=True, slots=True)
class OfferedService:
    """A service inside a category as the visitor saw it offered: its name
    (``category.service``), label, description and the cookies it declared."""

    name: str
    label: str
    description: str = ""
    cookies: tuple[OfferedCookie, ...] = ()

    def __post_init__(self) -> None:
        _clean_offer(self)

    def as_json(self) -> dict[str, Any]:
        return _offer_json(self)


@dataclass(frozen=True, slots=True)
class OfferedCategory:
    """A category as the visitor saw it offered: its name, label, description, whether it
    could be refused, the cookies it declared (rows of :class:`OfferedCookie`, or their
    JSON objects) and its services (:class:`OfferedService`, or their JSON objects)."""

    name: str
    label: str
    description: str = ""
    required: bool = False
    cookies: tuple[OfferedCookie, ...] = ()
    services: tuple[OfferedService, ...] = ()

    def __post_init__(self) -> None:
        _clean_offer(self)
        services = tuple(
            service if isinstance(service, OfferedService) else OfferedService(**service)
            for service in tuple(self.services)[:MAX_CATEGORIES]
        )
        object.__setattr__(self, "services", services)

    def as_json(self) -> dict[str, Any]:
        """The category in a wording's JSON; ``cookies`` and ``services`` only when it has
        some, so that a wording without them keeps the fingerprint it had before they existed."""
        document = _offer_json(self, required=self.required)
        if self.services:
            document["services"] = [service.as_json() for service in self.services]
        return document


def _clean_offer(offer: OfferedService | OfferedCategory) -> None:
    """Cleans, in its ``__post_init__``, what a service and a category both have: the name,
    label, description and cookie table."""
    object.__setattr__(offer, "name", clean_field(offer.name, MAX_CATEGORY_NAME_LENGTH))
    object.__setattr__(offer, "label", clean_text(offer.label, MAX_WORDING_TEXT_LENGTH))
    object.__setattr__(offer, "description", clean_text(offer.description, MAX_WORDING_TEXT_LENGTH))
    object.__setattr__(offer, "cookies", _offered_cookies(offer.cookies))


def _offer_json(offer: OfferedService | OfferedCategory, **more: Any) -> dict[str, Any]:
    """A service's or a category's JSON: name, label, description, ``more``, then the cookie
    table when it has one."""
    document: dict[str, Any] = {
        "name": offer.name,
        "label": offer.label,
        "description": offer.description,
    }
    document.update(more)
    if offer.cookies:
        document["cookies"] = [cookie.as_json() for cookie in offer.cookies]
    return document


@dataclass(frozen=True, slots=True)
class Wording:
    """What the visitor was shown, in one language: the texts and the categories offered.

    ``canonical`` is its JSON with sorted keys and no spaces, ``fingerprint`` the SHA-256 of
    that JSON in hex: equal wordings give equal fingerprints, and the database keeps each once.
    """

    language: str
    texts: tuple[tuple[str, str], ...]
    categories: tuple[OfferedCategory, ...]
    canonical: str = field(init=False, repr=False, compare=False)
    fingerprint: str = field(init=False, compare=False)

    def __post_init__(self) -> None:
        texts = {
            clean_field(key, MAX_CATEGORY_NAME_LENGTH): clean_text(text, MAX_WORDING_TEXT_LENGTH)
            for key, text in self.texts
        }
        object.__setattr__(self, "language", clean_field(self.language, MAX_LANGUAGE_LENGTH))
        object.__setattr__(self, "texts", tuple(sorted(texts.items()))[:MAX_WORDING_TEXTS])
        object.__setattr__(self, "categories", tuple(self.categories)[:MAX_CATEGORIES])
        document = {
            "language": self.language,
            "texts": dict(self.texts),
            "categories": [category.as_json() for category in self.categories],
        }
        canonical = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        object.__setattr__(self, "canonical", canonical)
        object.__setattr__(self, "fingerprint", hashlib.sha256(canonical.encode()).hexdigest())

    @classmethod
    def build(
        cls, language: str, texts: Mapping[str, str], categories: Iterable[OfferedCategory]
    ) -> Wording:
        return cls(language, tuple(texts.items()), tuple(categories))

    @classmethod
    def from_canonical(cls, canonical: str) -> Wording:
        """The wording whose :attr:`canonical` JSON this is (the few a site has are kept, so a
        replay or an export does not rebuild the same wording for every record)."""
        return _wording_from_canonical(canonical)

    @classmethod
    def from_document(cls, document: Mapping[str, Any]) -> Wording:
        """The wording whose :attr:`canonical` JSON parses to ``document``."""
        canonical = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return _wording_from_canonical(canonical)


@lru_cache(maxsize=MAX_CACHED_WORDINGS)
def _wording_from_canonical(canonical: str) -> Wording:
    document = json.loads(canonical)
    return Wording.build(
        document["language"],
        document["texts"],
        (OfferedCategory(**category) for category in document["categories"]),
    )


class Decision(TypedDict):
    """A visitor's decision as a new record is made of it (:meth:`DecisionRecord.create`): what
    was chosen, on which page, by which browser and address, and the id the client chose for it,
    if any. The record adds the wording shown and the time."""

    consent_id: str
    action: Action
    granted: Iterable[str]
    refused: Iterable[str]
    revision: int
    source: RecordSource
    path: str | bytes
    user_agent: str | bytes
    client_address: str | None
    record_id: NotRequired[uuid.UUID | None]


@dataclass(frozen=True, slots=True)
class DecisionRecord:
    """One visitor's decision, with everything needed to show later what they chose and saw.

    ``record_id`` is unique and is the idempotency key: a record stored twice (a retried
    decision, a replayed spool) is kept once. ``recorded_at`` is the server's UTC time.
    Build new records with :meth:`create`, which reduces the client address.
    """

    record_id: uuid.UUID
    consent_id: str
    recorded_at: datetime
    action: Action
    granted: tuple[str, ...]
    refused: tuple[str, ...]
    revision: int
    source: RecordSource
    wording: Wording
    path: str
    user_agent: str
    client_address: str | None

    def __post_init__(self) -> None:
        if self.action not in ACTIONS:
            raise ValueError(f"action {self.action!r} is not one of {', '.join(ACTIONS)}")
        if self.source not in SOURCES:
            raise ValueError(f"source {self.source!r} is not one of {', '.join(SOURCES)}")
        if not 0 <= self.revision <= MAX_REVISION:
            raise ValueError(f"revision {self.revision} is not between 0 and {MAX_REVISION}")
        if self.recorded_at.tzinfo is None:
            raise ValueError("recorded_at must carry its time zone (UTC)")
        set_field = object.__setattr__
        set_field(self, "recorded_at", self.recorded_at.astimezone(UTC))
        set_field(self, "consent_id", clean_field(self.consent_id, MAX_CONSENT_ID_LENGTH))
        set_field(self, "granted", _categories(self.granted))
        set_field(self, "refused", _categories(self.refused))
        set_field(self, "path", clean_field(self.path, MAX_PATH_LENGTH))
        set_field(self, "user_agent", clean_field(self.user_agent, MAX_USER_AGENT_LENGTH))
        if self.client_address is not None:
            set_field(self, "client_address", clean_field(self.client_address, MAX_ADDRESS_LENGTH))

    @property
    def language(self) -> str:
        """The language the visitor was shown."""
        return self.wording.language

    @classmethod
    def create(
        cls,
        *,
        wording: Wording,
        ip_policy: IpPolicy = "truncated",
        recorded_at: datetime | None = None,
        **decision: Unpack[Decision],
    ) -> DecisionRecord:
        """A new record of ``decision``, made now with ``wording`` shown: the id the client
        chose or a fresh one, the server's time, the client address reduced by ``ip_policy``,
        every field cleaned."""
        if ip_policy not in IP_POLICIES:
            raise ValueError(f"ip policy {ip_policy!r} is not one of {', '.join(IP_POLICIES)}")
        granted, refused = decision["granted"], decision["refused"]
        return cls(
            record_id=decision.get("record_id") or uuid.uuid4(),
            consent_id=decision["consent_id"],
            recorded_at=recorded_at or datetime.now(UTC),
            action=decision["action"],
            # Made sorted tuples by __post_init__ (a frozenset, as the recorder gives, from a
            # cache of the few sets a site's decisions grant).
            granted=cast(
                "tuple[str, ...]",
                granted if type(granted) is frozenset else tuple(granted),
            ),
            refused=cast(
                "tuple[str, ...]",
                refused if type(refused) is frozenset else tuple(refused),
            ),
            revision=decision["revision"],
            source=decision["source"],
            wording=wording,
            path=clean_field(decision["path"], MAX_PATH_LENGTH),
            user_agent=clean_field(decision["user_agent"], MAX_USER_AGENT_LENGTH),
            client_address=reduce_address(decision["client_address"], ip_policy),
        )

    def as_json(self, *, wording: bool = True) -> dict[str, Any]:
        """The record as a JSON object; the wording shown is included unless ``wording`` is
        false (its fingerprint always is)."""
        document = {
            "record_id": str(self.record_id),
            "consent_id": self.consent_id,
            "recorded_at": self.recorded_at.isoformat(),
            "action": self.action,
            "granted": list(self.granted),
            "refused": list(self.refused),
            "revision": self.revision,
            "source": self.source,
            "language": self.language,
            "wording_fingerprint": self.wording.fingerprint,
            "path": self.path,
            "user_agent": self.user_agent,
            "client_address": self.client_address,
        }
        if wording:
            document["wording"] = json.loads(self.wording.canonical)
        return document

    def json_line(self) -> str:
        """``as_json()`` as one line of JSON, built without parsing the wording again: its
        canonical JSON is spliced in as it is."""
        head = json.dumps(self.as_json(wording=False), ensure_ascii=False, separators=(",", ":"))
        return f'{head[:-1]},"wording":{self.wording.canonical}}}'

    @classmethod
    def from_json(cls, document: Mapping[str, Any]) -> DecisionRecord:
        """The record :meth:`as_json` gave."""
        wording = Wording.from_document(document["wording"])
        return cls(
            record_id=uuid.UUID(document["record_id"]),
            consent_id=document["consent_id"],
            recorded_at=datetime.fromisoformat(document["recorded_at"]),
            action=cast(Action, document["action"]),
            granted=tuple(document["granted"]),
            refused=tuple(document["refused"]),
            revision=int(document["revision"]),
            source=cast(RecordSource, document["source"]),
            wording=wording,
            path=document["path"],
            user_agent=document["user_agent"],
            client_address=document["client_address"],
        )
