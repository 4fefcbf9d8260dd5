"""The visitor's consent: what the app sees, and the compact signed cookie that carries it.

The cookie value is ``payload.timestamp.signature`` (itsdangerous ``TimestampSigner``, HMAC-SHA256,
a salt of its own). The payload is ``revision:granted:consent_id:first_decided:source``, where
``granted`` lists the optional categories joined by ``.``; required categories are never stored,
they are always granted. The signer's timestamp is the time of the last decision, so the server
enforces the consent lifetime from it, whatever Max-Age the browser kept.
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

from consent.settings import ConsentSettings

Source = Literal["banner", "api", "gpc"]
_SOURCE_CODES: dict[str, str] = {"banner": "b", "api": "a", "gpc": "g"}
_CODE_SOURCES: dict[str, Source] = {"b": "banner", "a": "api", "g": "gpc"}

#: A cookie longer than this is not even looked at: ours stays far below it.
MAX_COOKIE_LENGTH = 512
SALT = "consent.cookie.v1"
_COOKIE_VALUE = re.compile(r"[A-Za-z0-9_\-.:]+")


@dataclass(frozen=True, slots=True)
class ConsentRecord:
    """One decision as stored in the cookie."""

    granted: frozenset[str]
    revision: int
    consent_id: str
    first_decided: int
    last_decided: int
    source: Source


@dataclass(frozen=True, slots=True)
class ConsentState:
    """What the app reads as ``request.state.consent``.

    ``granted`` always holds the required categories. ``decided`` is false until the visitor has
    chosen (a Global Privacy Control signal alone refuses every optional category, with
    ``source == "gpc"``, but still leaves the choice to the visitor).
    """

    decided: bool
    granted: frozenset[str]
    revision: int
    consent_id: str | None = None
    first_decided: int | None = None
    last_decided: int | None = None
    source: Source | None = None
    gpc: bool = False
    _record: ConsentRecord | None = field(default=None, repr=False, compare=False)

    def allows(self, category: str) -> bool:
        """Whether cookies of ``category`` may be set for this visitor."""
        return category in self.granted

    def as_json(self, categories: tuple[str, ...]) -> dict[str, Any]:
        """The public JSON form of the state (``GET {prefix}``)."""
        return {
            "decided": self.decided,
            "categories": {name: name in self.granted for name in categories},
            "revision": self.revision,
            "consent_id": self.consent_id,
            "first_decided": self.first_decided,
            "last_decided": self.last_decided,
            "source": self.source,
            "gpc": self.gpc,
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
        self._optional = frozenset(
            name for name, c in settings.categories.items() if not c.required
        )
        self.required = frozenset(name for name, c in settings.categories.items() if c.required)
        self.categories = tuple(settings.categories)
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
            _record=record,
        )

    def decide(
        self,
        granted: frozenset[str],
        source: Source,
        previous: ConsentRecord | None = None,
    ) -> tuple[ConsentRecord, str]:
        """A new record for this choice and its cookie value; the consent id and first time stay."""
        moment = int(time.time())
        record = ConsentRecord(
            granted=frozenset(granted & self._optional),
            revision=self._revision,
            consent_id=previous.consent_id if previous else secrets.token_urlsafe(12),
            first_decided=previous.first_decided if previous else moment,
            last_decided=moment,
            source=source,
        )
        payload = ":".join(
            (
                str(record.revision),
                ".".join(sorted(record.granted)),
                record.consent_id,
                str(record.first_decided),
                _SOURCE_CODES[source],
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
        if len(fields) != 5:
            return None
        revision, granted, consent_id, first, source = fields
        if not revision.isdigit() or int(revision) != self._revision:
            return None
        if not first.isdigit() or source not in _CODE_SOURCES or not consent_id:
            return None
        names = frozenset(granted.split(".")) if granted else frozenset()
        return ConsentRecord(
            granted=names & self._optional,
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
