"""The visitor's consent: what the app sees, and the compact signed cookie that carries it.

The cookie value is ``payload.timestamp.signature`` (itsdangerous ``TimestampSigner``, HMAC-SHA256,
a salt of its own). The payload is ``revision:granted:consent_id:first_decided:source:refused``.
``granted`` and ``refused`` each name optional categories and services joined by ``.``, a service
by its own name (unique on the site: ``matomo``, not ``analytics.matomo``); the services of a
refused category are refused with it and not named. Required categories and their services are
never stored, they are always granted. An optional category or service named in neither was not
offered when the visitor decided: it is refused until the visitor answers it (``ConsentState.new``,
which the banner asks about). The signer's timestamp is the time of the last decision, so the
server enforces the consent lifetime from it, whatever Max-Age the browser kept.

A payload of five fields, written before services existed (no ``refused``), still verifies and
means what it meant: the categories it grants, each with all of its services, and nothing else;
nothing is new to it, since what it was offered cannot be told (raising ``revision`` asks again).
"""

from __future__ import annotations

import hashlib
import math
import re
import secrets
import time
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Literal

from itsdangerous import BadSignature, TimestampSigner

from consent.settings import ConsentSettings, service_item

Source = Literal["banner", "api", "gpc"]
_SOURCE_CODES: dict[str, str] = {"banner": "b", "api": "a", "gpc": "g"}
_CODE_SOURCES: dict[str, Source] = {"b": "banner", "a": "api", "g": "gpc"}

#: A cookie longer than this is not even looked at: ours stays far below it (the settings keep
#: the optional names it carries to ``MAX_CHOICE_NAMES_LENGTH``).
MAX_COOKIE_LENGTH = 512
SALT = "consent.cookie.v1"
_COOKIE_VALUE = re.compile(r"[A-Za-z0-9_\-.:]+")
#: A payload's fields: five before services existed, six since (``refused`` added).
_FIELDS_WITHOUT_REFUSED = 5
_FIELDS = 6


class Offer:
    """The categories and services a site offers, by the names ``allows`` takes (``analytics``,
    ``analytics.matomo``), and how the cookie spells each (``analytics``, ``matomo``)."""

    def __init__(self, settings: ConsentSettings) -> None:
        self.categories = tuple(settings.categories)
        items: list[str] = []
        services: list[str] = []
        required: set[str] = set()
        #: Each item's category (a category's is itself), and its name in the cookie.
        self.category_of: dict[str, str] = {}
        self._token_of: dict[str, str] = {}
        for name, category in settings.categories.items():
            own = [name]
            self.category_of[name] = self._token_of[name] = name
            for service in category.services:
                item = service_item(name, service)
                own.append(item)
                services.append(item)
                self.category_of[item] = name
                self._token_of[item] = service
            items.extend(own)
            if category.required:
                required.update(own)
        self.items = tuple(items)
        self.services = tuple(services)
        self.required = frozenset(required)
        self.optional = frozenset(items) - self.required
        self._item_of = {token: item for item, token in self._token_of.items()}
        self._services_of = {
            name: frozenset(service_item(name, s) for s in category.services)
            for name, category in settings.categories.items()
        }

    def whole(self, granted: frozenset[str]) -> frozenset[str]:
        """The optional items of ``granted`` that can be granted: a service only with its
        category (refusing a category refuses its services)."""
        return frozenset(
            item for item in granted if item in self.optional and self.category_of[item] in granted
        )

    def with_services(self, categories: frozenset[str]) -> frozenset[str]:
        """``categories`` and every service inside them."""
        items = set(categories)
        for name in categories:
            items.update(self._services_of.get(name, ()))
        return frozenset(items)

    def read(self, names: str) -> frozenset[str]:
        """The items a payload field names; names the site no longer offers are left out."""
        if not names:
            return frozenset()
        item_of = self._item_of
        return frozenset(item_of[token] for token in names.split(".") if token in item_of)

    def named_refusals(self, refused: frozenset[str]) -> frozenset[str]:
        """The refusals a cookie names: a refused category's services go without saying."""
        category_of = self.category_of
        return frozenset(
            item
            for item in refused
            if category_of[item] == item or category_of[item] not in refused
        )

    def write(self, items: frozenset[str]) -> str:
        """A payload field naming ``items``."""
        return ".".join(sorted(self._token_of[item] for item in items))


@dataclass(frozen=True, slots=True)
class ConsentRecord:
    """One decision as stored in the cookie: the optional categories and services granted and
    those refused (a service of a refused category among them)."""

    granted: frozenset[str]
    refused: frozenset[str]
    revision: int
    consent_id: str
    first_decided: int
    last_decided: int
    source: Source


def new_consent_id() -> str:
    """A new visitor's consent id: 16 random URL-safe characters, never starting with "-", which
    a command line (``consent records show ID``) would take for an option."""
    while True:
        consent_id = secrets.token_urlsafe(12)
        if consent_id[0] != "-":
            return consent_id


@dataclass(frozen=True, slots=True)
class ConsentState:
    """What the app reads as ``request.state.consent``: the visitor's verified choice, or the
    required categories only while there is none."""

    decided: bool
    """False until the visitor has chosen. A Global Privacy Control signal alone (on a site that
    honours it, ``honour_gpc``) refuses every optional category (``source == "gpc"``) but still
    leaves the choice to the visitor."""
    granted: frozenset[str]
    """The categories and services (``analytics.matomo``) granted, the required ones always."""
    revision: int
    """The site's ``revision``: a choice made under another one is no choice."""
    consent_id: str | None = None
    """The choice's id (None while undecided). Later choices keep it while the visitor's choice
    stands: a choice after a ``revision`` change or after the cookie expired gets a new one."""
    first_decided: int | None = None
    """When the standing choice was first made, in Unix seconds (see ``consent_id``)."""
    last_decided: int | None = None
    """When the visitor last chose, in Unix seconds."""
    source: Source | None = None
    """``banner`` or ``api``, as the choice was posted (see ``DecisionEvent.source``); ``gpc``
    while undecided under a Global Privacy Control signal."""
    gpc: bool = False
    """Whether this request carries a Global Privacy Control signal (``Sec-GPC: 1``) and the
    site honours it (``honour_gpc``, on by default)."""
    new: frozenset[str] = frozenset()
    """The optional categories and services added since a decided visitor chose: refused until
    answered, and the banner asks about them."""
    _record: ConsentRecord | None = field(default=None, repr=False, compare=False)

    def allows(self, item: str) -> bool:
        """Whether cookies of ``item`` may be set for this visitor: a category (``analytics``)
        or a service (``analytics.matomo``)."""
        return item in self.granted

    def as_json(
        self, categories: tuple[str, ...], services: tuple[str, ...] = ()
    ) -> dict[str, Any]:
        """The public JSON form of the state (``GET {prefix}``)."""
        return {
            "decided": self.decided,
            "categories": {name: name in self.granted for name in categories},
            "services": {name: name in self.granted for name in services},
            "revision": self.revision,
            "consent_id": self.consent_id,
            "first_decided": self.first_decided,
            "last_decided": self.last_decided,
            "source": self.source,
            "gpc": self.gpc,
            "new": sorted(self.new),
        }


@dataclass(frozen=True, slots=True)
class Verified:
    """A verified cookie's record, when it expires, and the states it gives without and with GPC."""

    record: ConsentRecord
    expires_at: float
    state: ConsentState
    gpc_state: ConsentState


class ConsentCodec:
    """Signs and verifies consent cookies; verified values are cached in a bounded LRU.

    The cache keeps the finished states, so a returning visitor costs one dict lookup and one
    clock comparison (the lifetime is still checked on every request).
    """

    def __init__(self, settings: ConsentSettings) -> None:
        # itsdangerous wants the newest key last; settings list it first.
        keys = list(reversed(settings.signing_keys()))
        self._signer = _KeyKeepingSigner(keys, salt=SALT, digest_method=hashlib.sha256)
        self._revision = settings.revision
        self._max_age = settings.consent_max_age_days * 86400
        self.offer = Offer(settings)
        self._optional_categories = frozenset(self.offer.categories) & self.offer.optional
        self.required = self.offer.required
        self.categories = self.offer.categories
        self.undecided = ConsentState(decided=False, granted=self.required, revision=self._revision)
        self.undecided_gpc = ConsentState(
            decided=False, granted=self.required, revision=self._revision, source="gpc", gpc=True
        )
        self._verify = lru_cache(maxsize=settings.consent_cache_size)(self._verify_uncached)

    def state(self, cookie_value: str | bytes | None, *, gpc: bool = False) -> ConsentState:
        """The state a request carries; anything but a valid, current cookie means undecided."""
        return self.current(self.verify(cookie_value) if cookie_value else None, gpc)

    def verify(self, cookie_value: str | bytes) -> Verified | None:
        """A signed, well-formed cookie of the current revision (cached), expired or not.

        A value longer than any cookie we write is refused before the cache, so a client
        cannot fill it with large keys."""
        if len(cookie_value) > MAX_COOKIE_LENGTH:
            return None
        return self._verify(cookie_value)

    def current(self, verified: Verified | None, gpc: bool) -> ConsentState:
        """The state of a verified cookie that has not expired, else the undecided state."""
        expires_at, decided, undecided = self.lifetime(verified, gpc)
        return decided if time.time() <= expires_at else undecided

    def lifetime(
        self, verified: Verified | None, gpc: bool
    ) -> tuple[float, ConsentState, ConsentState]:
        """Until when a cookie's decision holds (``-inf`` without one), the state until then,
        and the state after: what :meth:`current` needs besides the clock, to keep per visitor."""
        undecided = self.undecided_gpc if gpc else self.undecided
        if verified is None:
            return -math.inf, undecided, undecided
        # A float, as time.time() is: comparing a float with an int takes a slower path.
        return float(verified.expires_at), verified.gpc_state if gpc else verified.state, undecided

    def state_of(self, record: ConsentRecord, *, gpc: bool = False) -> ConsentState:
        return ConsentState(
            decided=True,
            granted=record.granted | self.required,
            revision=record.revision,
            consent_id=record.consent_id,
            first_decided=record.first_decided,
            last_decided=record.last_decided,
            source=record.source,
            gpc=gpc,
            new=self.offer.optional - record.granted - record.refused,
            _record=record,
        )

    def decide(
        self,
        granted: frozenset[str],
        source: Source,
        previous: ConsentRecord | None = None,
    ) -> tuple[ConsentRecord, str]:
        """A new record for this choice and its cookie value; the consent id and first time stay.

        ``granted`` names categories and services; every other optional one is refused."""
        moment = int(time.time())
        offer = self.offer
        kept = offer.whole(granted)
        refused = offer.optional - kept
        record = ConsentRecord(
            granted=kept,
            refused=refused,
            revision=self._revision,
            consent_id=previous.consent_id if previous else new_consent_id(),
            first_decided=previous.first_decided if previous else moment,
            last_decided=moment,
            source=source,
        )
        named_refused = offer.named_refusals(refused)
        payload = ":".join(
            (
                str(record.revision),
                offer.write(kept),
                record.consent_id,
                str(record.first_decided),
                _SOURCE_CODES[source],
                offer.write(named_refused),
            )
        )
        return record, self._signer.sign(payload).decode("ascii")

    def _verify_uncached(self, cookie_value: str | bytes) -> Verified | None:
        record = self._record(cookie_value)
        if record is None:
            return None
        expires_at = record.last_decided + self._max_age
        return Verified(record, expires_at, self.state_of(record), self.state_of(record, gpc=True))

    def _record(self, cookie_value: str | bytes) -> ConsentRecord | None:
        if isinstance(cookie_value, bytes):
            cookie_value = cookie_value.decode("latin-1")
        # Only the alphabet we write: base64 decoding would also take "/" for "_" and "+" for
        # "-", so one signature could be spelled several ways.
        if not _COOKIE_VALUE.fullmatch(cookie_value):
            return None
        try:
            payload, signed_at = self._signer.unsign(
                cookie_value, max_age=self._max_age, return_timestamp=True
            )
            fields = payload.decode("ascii").split(":")
        except (BadSignature, UnicodeDecodeError, ValueError):
            return None
        if len(fields) == _FIELDS:
            revision, granted_names, consent_id, first, source, refused_names = fields
        elif len(fields) == _FIELDS_WITHOUT_REFUSED:
            revision, granted_names, consent_id, first, source = fields
            refused_names = None
        else:
            return None
        if not revision.isdigit() or int(revision) != self._revision:
            return None
        if not first.isdigit() or source not in _CODE_SOURCES or not consent_id:
            return None
        offer = self.offer
        if refused_names is None:  # written before services: whole categories
            granted = offer.with_services(offer.read(granted_names) & self._optional_categories)
            refused = offer.optional - granted
        else:
            granted = offer.whole(offer.read(granted_names))
            named = offer.read(refused_names) - granted
            refused = offer.optional & offer.with_services(named) - granted
        return ConsentRecord(
            granted=granted,
            refused=refused,
            revision=int(revision),
            consent_id=consent_id,
            first_decided=int(first),
            last_decided=int(signed_at.timestamp()),
            source=_CODE_SOURCES[source],
        )

    def cache_info(self) -> Any:
        return self._verify.cache_info()


class _KeyKeepingSigner(TimestampSigner):
    """``TimestampSigner`` that derives each signing key once.

    itsdangerous derives the key from the secret (one HMAC) on every sign and unsign, though it
    depends only on the secret, the salt and the method: a fifth of verifying a new cookie.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._derived: dict[str | bytes | None, bytes] = {}

    def derive_key(self, secret_key: str | bytes | None = None) -> bytes:
        derived = self._derived.get(secret_key)
        if derived is None:
            derived = self._derived[secret_key] = super().derive_key(secret_key)
        return derived
