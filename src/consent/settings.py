"""Settings: the site's policy, from keyword arguments, ``CONSENT_*`` variables and a TOML file.

Precedence, highest first: keyword arguments, environment variables, the TOML file
(``ConsentSettings.from_toml(path)`` or the file named by ``CONSENT_SETTINGS_FILE``), defaults.
Every validation error names the setting and the value that was refused.
"""

from __future__ import annotations

import logging
import os
import re
import secrets
import tomllib
from collections.abc import Callable
from contextvars import ContextVar
from pathlib import Path
from typing import Annotated, Any, Literal, Self

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from consent.browser.defaults import (
    DEFAULT_BROWSER_FAMILIES,
    DEFAULT_BROWSER_NAMES,
    DEFAULT_BROWSER_RULES,
    DEFAULT_UPDATE_URLS,
)
from consent.browser.policy import BrowserPolicy, QuerySource
from consent.browser.rules import VERDICTS, Verdict

logger = logging.getLogger("consent")

_toml_file: ContextVar[Path | None] = ContextVar("consent_toml_file", default=None)

#: Cookie name prefixes that browsers accept only with ``Secure`` (RFC 6265bis §4.1.3); a
#: ``__Host-`` cookie also needs ``Path=/`` and no ``Domain``.
SECURE_PREFIXES = ("__Secure-", "__Host-")
HOST_PREFIX = "__Host-"
#: The consent cookie's name: ``__Host-consent`` when every cookie is Secure and host-only, since
#: then no sibling subdomain can plant a consent cookie of its own.
DEFAULT_COOKIE_NAME = "consent"
HOST_COOKIE_NAME = HOST_PREFIX + DEFAULT_COOKIE_NAME

#: The record store's defaults and bounds (``records_*`` settings).
DEFAULT_RECORDS_URL = "sqlite+aiosqlite:///consent-records.sqlite3"
DEFAULT_RECORDS_SPOOL = "consent-records.spool.jsonl"
RECORDS_OFF = "none"
MAX_RECORDS_COMMIT_WAIT = 60.0
#: Seconds between replays of what slow commits left in the spool (the store's own default).
DEFAULT_RECORDS_REPLAY_INTERVAL = 30.0
MAX_RECORDS_REPLAY_INTERVAL = 3600.0
MAX_RECORDS_RETENTION_DAYS = 36_500
#: The cookie inventory's file when ``cookie_inventory`` is not set, in the working directory.
DEFAULT_COOKIE_INVENTORY = "consent-cookie-inventory.json"
COOKIE_INVENTORY_OFF = "none"

CATEGORY_NAME = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
#: A service's name: at most 31 characters, so that ``category.service`` fits the 64 characters
#: a record keeps of a name; ``-`` is allowed (``google-analytics``), ``.`` is not.
SERVICE_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,30}$")
#: How many categories and services a site offers at most: a record lists at most this many
#: (``consent.records.model.MAX_CATEGORIES``), and the dialog stays one a visitor can read.
MAX_OFFERED_ITEMS = 64
#: The optional categories' and services' names, joined by one character each, may be at most
#: this long: the consent cookie names each of them once, and must stay far below its 512 bytes.
MAX_CHOICE_NAMES_LENGTH = 300
COOKIE_NAME = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")
COOKIE_PATTERN = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z\[\]?]+$")


def _text_check(accepts: Callable[[str], object], refusal: str) -> AfterValidator:
    """The check of a text setting, declared with its type: the text is refused with
    ``refusal`` (where ``{text!r}`` stands for the text) when ``accepts`` says no. Pydantic puts
    the setting's place before the refusal."""

    def check(text: str) -> str:
        if not accepts(text):
            raise ValueError(refusal.format(text=text))
        return text

    return AfterValidator(check)


def _switchable(off: str, check: Callable[[str], object]) -> AfterValidator:
    """The check of a text setting that the word ``off`` turns off: ``off`` in any case, with
    spaces around it, is kept as ``off``; any other value must pass ``check``, which raises a
    ValueError saying why not."""

    def value(text: str) -> str:
        if text.strip().lower() == off:
            return off
        check(text)
        return text

    return AfterValidator(value)


#: A cookie's name (``cookie_name``, ``notice_cookie_name``).
CookieName = Annotated[str, _text_check(COOKIE_NAME.match, "{text!r} is not a valid cookie name")]
#: A cookie's name or a glob of names (``_ga_*``), as a category or a declaration lists it.
CookiePattern = Annotated[
    str,
    _text_check(
        COOKIE_PATTERN.match, "cookie name or pattern {text!r} has characters a cookie name cannot"
    ),
]


# --- Cookie declarations shown to visitors (consent.choice.declarations) ----------------------
#: Bounds of a declaration: how many per category, and how long each text may be.
MAX_DECLARATIONS = 100
MAX_PROVIDER_LENGTH = 200
MAX_PURPOSE_LENGTH = 1000
MAX_DURATION_LENGTH = 100
LANGUAGE_TAG = re.compile(r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*$")
#: Who sets a declared cookie: not blank, at most :data:`MAX_PROVIDER_LENGTH` characters.
Provider = Annotated[
    str,
    _text_check(
        lambda provider: provider.strip() and len(provider) <= MAX_PROVIDER_LENGTH,
        f"the provider must be 1 to {MAX_PROVIDER_LENGTH} characters",
    ),
]

#: A text shown in every language, or a table of language tag → text.
LocalisedText = str | dict[str, str]


def _localised_text(text: LocalisedText, limit: int) -> LocalisedText:
    """A declaration's text, checked: not empty, at most ``limit`` characters, and in a table,
    language tags as keys."""
    for language, value in text.items() if isinstance(text, dict) else (("", text),):
        if language and not LANGUAGE_TAG.match(language):
            raise ValueError(f"{language!r} is not a language tag such as 'en' or 'de-CH'")
        if not value.strip():
            raise ValueError("the text is empty" + (f" for {language!r}" if language else ""))
        if len(value) > limit:
            raise ValueError(f"the text is longer than {limit} characters")
    if isinstance(text, dict) and not text:
        raise ValueError("the table of texts by language is empty")
    return text


class CookieDeclaration(BaseModel):
    """One cookie (or a glob of cookies) a category sets, as visitors are told of it.

    ``purpose`` and ``duration`` are plain text, shown in every language, or a table of
    language tag → text (the default language's text stands in for a language it lacks)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: CookiePattern
    provider: Provider
    purpose: LocalisedText
    duration: LocalisedText

    @field_validator("purpose")
    @classmethod
    def _purpose(cls, purpose: LocalisedText) -> LocalisedText:
        return _localised_text(purpose, MAX_PURPOSE_LENGTH)

    @field_validator("duration")
    @classmethod
    def _duration(cls, duration: LocalisedText) -> LocalisedText:
        return _localised_text(duration, MAX_DURATION_LENGTH)


# --- end of the cookie declarations' settings -----------------------------------------------


class CookieOwner(BaseModel):
    """What a category and a service have alike: a label and description shown to visitors, the
    cookies they own, and the cookies' declarations.

    Each declaration's name also counts as one of its ``cookies``: it is added to them, after
    the names given there, when the settings are read, so what visitors are told is what the
    middleware enforces."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    label: str
    description: str = ""
    cookies: tuple[CookiePattern, ...] = ()
    declarations: tuple[CookieDeclaration, ...] = Field(default=(), max_length=MAX_DECLARATIONS)

    @field_validator("declarations")
    @classmethod
    def _declared_once(
        cls, declarations: tuple[CookieDeclaration, ...]
    ) -> tuple[CookieDeclaration, ...]:
        names = [declaration.name for declaration in declarations]
        for name in names:
            if names.count(name) > 1:
                raise ValueError(f"cookie {name!r} is declared more than once")
        return declarations

    @model_validator(mode="after")
    def _declared_names_are_cookies(self) -> Self:
        declared = [d.name for d in self.declarations if d.name not in self.cookies]
        if declared:  # frozen: set once, while the model is being validated
            object.__setattr__(self, "cookies", (*self.cookies, *declared))
        return self


class Service(CookieOwner):
    """A service inside a category (``[categories.analytics.services.matomo]``): its own switch
    in the dialog, its own cookies, and its scripts (``data-consent-service="matomo"``)."""


class Category(CookieOwner):
    """A category of cookies the visitor can allow or refuse, and the services inside it.

    Granting a category grants each of its services the visitor did not switch off; refusing it
    refuses them all. The category's own ``cookies`` are governed by the category alone."""

    required: bool = False
    services: dict[str, Service] = Field(default_factory=dict)


def service_item(category: str, service: str) -> str:
    """The name consent knows a service by: ``analytics.matomo`` (what ``allows`` takes)."""
    return f"{category}.{service}"


DEFAULT_CATEGORIES: dict[str, Category] = {
    "necessary": Category(
        label="Necessary",
        description=(
            "Necessary cookies enable core functionality. The website cannot function properly "
            "without these cookies, and they can only be disabled by changing your browser "
            "preferences."
        ),
        required=True,
        cookies=("session",),
    ),
    "analytics": Category(
        label="Analytics",
        description=(
            "Analytics cookies help us improve your experience by providing insights into how "
            "the site is being used."
        ),
        cookies=("_ga", "_ga_*"),
    ),
    "marketing": Category(
        label="Marketing",
        description="Marketing cookies let us and our partners show you more relevant advertising.",
        cookies=("_fbp",),
    ),
}


# --- Google Consent Mode v2 (consent.page.consent_mode) -------------------------------------
#: Google's consent types, in the order the commands list them (consent-mode.js gets them from
#: here: consent.page.render.WRITTEN_IN).
GOOGLE_CONSENT_TYPES = (
    "ad_storage",
    "ad_user_data",
    "ad_personalization",
    "analytics_storage",
    "functionality_storage",
    "personalization_storage",
    "security_storage",
)
#: Our categories' Google types when ``consent_mode.types`` is not set (a category the site does
#: not have is left out).
DEFAULT_CONSENT_MODE_TYPES: dict[str, tuple[str, ...]] = {
    "necessary": ("functionality_storage", "security_storage"),
    "analytics": ("analytics_storage",),
    "marketing": ("ad_storage", "ad_user_data", "ad_personalization"),
}
#: The longest ``consent_mode.wait_for_update``, in milliseconds.
MAX_WAIT_FOR_UPDATE = 10_000


class ConsentModeSettings(BaseModel):
    """The ``[consent_mode]`` table: Google Consent Mode v2, set by the server (off by default).

    ``types`` maps each of our categories onto Google's consent types; a type is granted when
    every category mapped onto it is, and a type no category names is always denied."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = False
    types: dict[str, tuple[str, ...]] | None = None
    wait_for_update: int = Field(default=0, ge=0, le=MAX_WAIT_FOR_UPDATE)
    ads_data_redaction: bool = False
    url_passthrough: bool = False

    @field_validator("types")
    @classmethod
    def _google_types(
        cls, types: dict[str, tuple[str, ...]] | None
    ) -> dict[str, tuple[str, ...]] | None:
        for category, names in (types or {}).items():
            for name in names:
                if name not in GOOGLE_CONSENT_TYPES:
                    raise ValueError(
                        f"consent_mode.types.{category}: unknown Google consent type {name!r}; "
                        f"known: {', '.join(GOOGLE_CONSENT_TYPES)}"
                    )
        return types


# --- end of Google Consent Mode's settings ----------------------------------------------------


class ConfigurationError(ValueError):
    """A setting was refused; the message names the setting and its value."""


def _check_records_url(url: str) -> None:
    from consent.records.database import records_url  # sqlalchemy only for a store

    records_url(url)  # RecordsConfigurationError, a ValueError naming records_url (masked)


def _check_cookie_inventory(path: str) -> None:
    if not path.strip():
        raise ValueError("cookie_inventory is empty: give a file, or 'none' to turn it off")


#: ``records_url``: a SQLite or PostgreSQL URL, or "none".
RecordsUrl = Annotated[str, _switchable(RECORDS_OFF, _check_records_url)]
#: ``cookie_inventory``: a file, or "none".
CookieInventoryFile = Annotated[str, _switchable(COOKIE_INVENTORY_OFF, _check_cookie_inventory)]


class ConsentSettings(BaseSettings):
    """The whole policy of a site: secret keys, browser rules, cookie categories and options."""

    model_config = SettingsConfigDict(
        env_prefix="CONSENT_",
        env_nested_delimiter="__",
        extra="forbid",
        frozen=True,
        validate_default=True,
    )

    # Signing. Newest first: the first key signs, every key verifies.
    secret_keys: tuple[str, ...] = ()
    debug: bool = False

    # Where the consent endpoints live.
    prefix: str = "/_consent"
    #: Paths (prefixes) on which nothing is injected; Set-Cookie is still enforced there.
    skip_paths: tuple[str, ...] = ()

    # Browser compatibility.
    browsers: dict[str, str] = Field(default_factory=lambda: dict(DEFAULT_BROWSER_RULES))
    browser_families: dict[str, tuple[str, ...]] = Field(default_factory=dict)
    browser_names: dict[str, str] = Field(default_factory=dict)
    browser_update_urls: dict[str, str] = Field(default_factory=dict)
    notice_verdicts: frozenset[Verdict] = frozenset({"outdated", "unsupported"})
    notice_enabled: bool = True
    notice_dismiss_days: int = Field(default=7, ge=0, le=3650)
    notice_cookie_name: CookieName = "consent_browser_notice"
    client_hints: bool = True
    accept_client_hints: bool = False
    max_user_agent_length: int = Field(default=1024, ge=64, le=2048)
    browser_cache_size: int = Field(default=4096, ge=0, le=1_000_000)
    # The same rules from a browserslist query, or from the front-end build's config file.
    browserslist: str | None = None
    browserslist_file: Path | None = None
    #: The config section read; None: BROWSERSLIST_ENV, else NODE_ENV, else "production".
    browserslist_env: str | None = None
    #: Warn at start-up when the shipped release data is older than this (0: never).
    browser_data_max_age_days: int = Field(default=182, ge=0, le=36500)

    # Cookie consent.
    consent_enabled: bool = True
    categories: dict[str, Category] = Field(default_factory=lambda: dict(DEFAULT_CATEGORIES))
    revision: int = Field(default=1, ge=0, le=2**31)
    consent_max_age_days: int = Field(default=182, ge=1, le=3650)
    undeclared_cookies: Literal["allow", "block", "warn"] = "allow"
    honour_gpc: bool = True
    privacy_policy_url: str = "/privacy"
    revoke_cookie_domains: tuple[str, ...] = ()
    revoke_cookie_paths: tuple[str, ...] = ("/",)
    consent_cache_size: int = Field(default=4096, ge=0, le=1_000_000)

    # The consent cookie. The default name is "__Host-consent" when cookie_secure is "always"
    # and there is no cookie_domain (see _default_cookie_name), else "consent".
    cookie_name: CookieName = DEFAULT_COOKIE_NAME
    cookie_domain: str | None = None
    cookie_secure: Literal["auto", "always", "never"] = "auto"
    cookie_samesite: Literal["lax", "strict"] = "lax"

    # Texts and languages.
    default_language: str = "en"
    languages: tuple[str, ...] = ()
    texts: dict[str, dict[str, str]] = Field(default_factory=dict)
    templates_dir: Path | None = None

    # --- Proof of consent: the record store (consent.records) ----------------------------------
    #: Where every decision's record is kept: a SQLite or PostgreSQL URL, or "none" (off).
    records_url: RecordsUrl = DEFAULT_RECORDS_URL
    #: How much of the client address a record keeps.
    records_ip: Literal["truncated", "none", "full"] = "truncated"
    #: Seconds a decision waits for its record's commit before the record is spooled instead.
    records_commit_wait: float = Field(default=2.0, gt=0, le=MAX_RECORDS_COMMIT_WAIT)
    #: Seconds between replays of what slow commits left in the spool while the database
    #: answers (a database that is down is tried again every second whatever this says).
    records_replay_interval: float = Field(
        default=DEFAULT_RECORDS_REPLAY_INTERVAL, gt=0, le=MAX_RECORDS_REPLAY_INTERVAL
    )
    #: The local spool file; None: beside the SQLite file, else ``consent-records.spool.jsonl``
    #: in the working directory.
    records_spool: Path | None = None
    #: Records older than this are deleted, daily; None keeps them.
    records_retention_days: int | None = Field(default=None, ge=1, le=MAX_RECORDS_RETENTION_DAYS)
    # --- end of the record store's settings -----------------------------------------------------

    # --- The passive cookie inventory (consent.choice.inventory) --------------------------------
    #: The JSON file the cookie names seen are kept in, for ``consent cookies``; "none": off.
    cookie_inventory: CookieInventoryFile = DEFAULT_COOKIE_INVENTORY
    # --- end of the cookie inventory's settings -------------------------------------------------

    # --- Google Consent Mode v2 (consent.page.consent_mode) ------------------------------------
    consent_mode: ConsentModeSettings = ConsentModeSettings()

    @model_validator(mode="after")
    def _consent_mode_categories(self) -> Self:
        mode = self.consent_mode
        if not mode.enabled:
            return self
        if not self.consent_enabled:
            raise ValueError("consent_mode.enabled = true needs consent_enabled = true")
        for category in mode.types or {}:
            if category not in self.categories:
                raise ValueError(
                    f"consent_mode.types.{category}: unknown category {category!r}; "
                    f"categories: {', '.join(self.categories)}"
                )
        return self

    def consent_mode_types(self) -> dict[str, tuple[str, ...]]:
        """Each category's Google consent types: ``consent_mode.types``, else the default's
        for the categories the site has."""
        if self.consent_mode.types is not None:
            return dict(self.consent_mode.types)
        return {n: t for n, t in DEFAULT_CONSENT_MODE_TYPES.items() if n in self.categories}

    # --- end of Google Consent Mode's settings -------------------------------------------------

    #: The browser rules resolved from the settings above, once, when they are validated.
    _browser_policy: BrowserPolicy | None = PrivateAttr(default=None)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        toml_path = _toml_file.get() or _env_toml_path()
        if toml_path is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=toml_path))
        return tuple(sources)

    @classmethod
    def from_toml(cls, path: str | os.PathLike[str], **overrides: Any) -> Self:
        """Load settings from a TOML file; environment variables and ``overrides`` win over it."""
        toml_path = Path(path)
        if not toml_path.is_file():
            raise ConfigurationError(f"settings file {str(toml_path)!r} does not exist")
        try:
            with toml_path.open("rb") as handle:
                tomllib.load(handle)
        except tomllib.TOMLDecodeError as error:
            raise ConfigurationError(f"settings file {str(toml_path)!r}: {error}") from None
        token = _toml_file.set(toml_path)
        try:
            return cls.load(**overrides)
        finally:
            _toml_file.reset(token)

    @classmethod
    def load(cls, **values: Any) -> Self:
        """Build settings, turning pydantic's errors into one :class:`ConfigurationError`."""
        try:
            return cls(**values)
        except ValidationError as error:
            raise ConfigurationError(describe_errors(error)) from None

    # --- validation -------------------------------------------------------------------------

    @field_validator("secret_keys", mode="before")
    @classmethod
    def _one_key_is_a_list(cls, value: Any) -> Any:
        if isinstance(value, str):
            return (value,)
        return value

    @field_validator("secret_keys")
    @classmethod
    def _keys_not_empty(cls, keys: tuple[str, ...]) -> tuple[str, ...]:
        for index, key in enumerate(keys):
            if not key.strip():
                raise ValueError(f"secret_keys[{index}] is empty")
        return keys

    def cookie_inventory_path(self) -> Path | None:
        """The cookie inventory's file, None when it is off."""
        if self.cookie_inventory == COOKIE_INVENTORY_OFF:
            return None
        return Path(self.cookie_inventory)

    @field_validator("prefix")
    @classmethod
    def _prefix_is_a_path(cls, prefix: str) -> str:
        if not re.fullmatch(r"/[A-Za-z0-9._~\-/]*[A-Za-z0-9._~\-]", prefix) or "//" in prefix:
            raise ValueError(f"prefix {prefix!r} must be a path such as '/_consent'")
        return prefix

    @model_validator(mode="before")
    @classmethod
    def _default_cookie_name(cls, values: Any) -> Any:
        """``__Host-consent`` for a site whose cookies are always Secure and host-only."""
        if (
            isinstance(values, dict)
            and values.get("cookie_name") is None
            and values.get("cookie_secure") == "always"
            and not values.get("cookie_domain")
        ):
            return {**values, "cookie_name": HOST_COOKIE_NAME}
        return values

    @field_validator("categories")
    @classmethod
    def _categories(cls, categories: dict[str, Category]) -> dict[str, Category]:
        if not categories:
            raise ValueError("at least one category is needed")
        for name in categories:
            if not CATEGORY_NAME.match(name):
                raise ValueError(
                    f"category name {name!r} must be lowercase letters, digits or '_' "
                    "(at most 32, starting with a letter)"
                )
        if not any(category.required for category in categories.values()):
            raise ValueError("one category must be required (the necessary cookies)")
        _check_services(categories)
        return categories

    @field_validator("privacy_policy_url")
    @classmethod
    def _safe_url(cls, url: str) -> str:
        if not re.match(r"^(https?://|/)", url):
            raise ValueError(
                f"privacy_policy_url {url!r} must start with '/', 'http://' or 'https://'"
            )
        return url

    @field_validator("notice_verdicts", mode="before")
    @classmethod
    def _verdict_names(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = [item.strip() for item in value.split(",") if item.strip()]
        for verdict in value:
            if verdict not in VERDICTS:
                raise ValueError(f"unknown verdict {verdict!r}; known: {', '.join(VERDICTS)}")
        return value

    @model_validator(mode="after")
    def _cross_checks(self) -> Self:
        families = self.family_map()
        for key, rule in self.browsers.items():
            if key not in families:
                raise ValueError(
                    f"browsers.{key} = {rule!r}: unknown browser key {key!r}; known keys: "
                    f"{', '.join(sorted(families))} (add one with browser_families.{key})"
                )
        self._browser_policy = self._resolve_browser_policy(families)
        seen: dict[str, str] = {}
        for name, owner in self.cookie_owners().items():
            setting = _owner_setting(name)
            for pattern in owner.cookies:
                if pattern in seen and seen[pattern] != name:
                    raise ValueError(
                        f"{setting}.cookies (or declarations): {pattern!r} is already in "
                        f"{_owner_kind(seen[pattern])} {seen[pattern]!r}"
                    )
                seen[pattern] = name
            for index, declaration in enumerate(owner.declarations):
                for field in ("purpose", "duration"):
                    text = getattr(declaration, field)
                    if isinstance(text, dict) and self.default_language not in text:
                        raise ValueError(
                            f"{setting}.declarations.{index}.{field} "
                            f"({declaration.name!r}): a text given by language needs one in "
                            f"default_language {self.default_language!r}"
                        )
        if self.cookie_name == self.notice_cookie_name:
            raise ValueError("cookie_name and notice_cookie_name must differ")
        for setting in ("cookie_name", "notice_cookie_name"):
            name = getattr(self, setting)
            if name.startswith(SECURE_PREFIXES) and self.cookie_secure == "never":
                raise ValueError(
                    f"{setting} = {name!r}: browsers keep a cookie with this prefix only when it "
                    "is Secure, and cookie_secure is 'never'"
                )
            if name.startswith(HOST_PREFIX) and self.cookie_domain:
                raise ValueError(
                    f"{setting} = {name!r}: browsers refuse a __Host- cookie with a Domain, and "
                    f"cookie_domain is {self.cookie_domain!r}"
                )
        if not self.secret_keys and not self.debug and self.consent_enabled:
            raise ValueError(
                "secret_keys is empty: set CONSENT_SECRET_KEYS (a JSON list, newest first) or "
                "secret_keys in the settings file; debug = true generates an ephemeral key"
            )
        return self

    def _resolve_browser_policy(self, families: dict[str, tuple[str, ...]]) -> BrowserPolicy:
        """The rules of ``browsers`` over those of a browserslist query: with a query, only the
        rules a site wrote itself (the seed's are its default, not its choice)."""
        query = QuerySource.from_settings(
            self.browserslist, self.browserslist_file, self.browserslist_env
        )
        written = self.browsers if query is None or "browsers" in self.model_fields_set else {}
        return BrowserPolicy.build(
            written=written,
            query=query,
            families=families,
            data_max_age_days=self.browser_data_max_age_days,
        )

    # --- derived views ----------------------------------------------------------------------

    def cookie_owners(self) -> dict[str, CookieOwner]:
        """Every category, then its services, by the name consent knows each by: the
        category's name, ``category.service`` for a service."""
        owners: dict[str, CookieOwner] = {}
        for name, category in self.categories.items():
            owners[name] = category
            for service_name, service in category.services.items():
                owners[service_item(name, service_name)] = service
        return owners

    def browser_policy(self) -> BrowserPolicy:
        """Every browser key's rule and which key judges each ua-parser family, resolved once
        (a browserslist query among them) when the settings were validated."""
        if self._browser_policy is None:  # built without validation (model_construct)
            self._browser_policy = self._resolve_browser_policy(self.family_map())
        return self._browser_policy

    def family_map(self) -> dict[str, tuple[str, ...]]:
        """Each rule key and the ua-parser families it covers, defaults extended by settings."""
        merged = dict(DEFAULT_BROWSER_FAMILIES)
        merged.update(self.browser_families)
        return merged

    def browser_name(self, key: str) -> str:
        return self.browser_names.get(key) or DEFAULT_BROWSER_NAMES.get(key) or key.title()

    def browser_update_url(self, key: str) -> str | None:
        return self.browser_update_urls.get(key) or DEFAULT_UPDATE_URLS.get(key)

    def records_spool_path(self) -> Path:
        """The record store's spool: ``records_spool``, else beside the SQLite file, else
        :data:`DEFAULT_RECORDS_SPOOL` in the working directory."""
        if self.records_spool is not None:
            return self.records_spool
        if self.records_url.startswith("sqlite"):
            from consent.records.database import records_url

            database = records_url(self.records_url).database
            if database and database != ":memory:":
                return Path(database + ".spool.jsonl")
        return Path(DEFAULT_RECORDS_SPOOL)

    def signing_keys(self) -> tuple[str, ...]:
        """The keys that sign and verify, newest first; an ephemeral one in debug mode."""
        if self.secret_keys:
            return self.secret_keys
        return _ephemeral_key()


def _check_services(categories: dict[str, Category]) -> None:
    """Service names are unique on the site and are no category's name (a script names its
    service alone: ``data-consent-service="matomo"``), and the offer fits a record and the
    consent cookie."""
    owners: dict[str, str] = {}
    for name, category in categories.items():
        for service in category.services:
            setting = f"categories.{name}.services.{service}"
            if not SERVICE_NAME.match(service):
                raise ValueError(
                    f"{setting}: a service name must be lowercase letters, digits, '_' or '-' "
                    "(at most 31, starting with a letter)"
                )
            if service in categories:
                raise ValueError(f"{setting}: {service!r} is already a category's name")
            if service in owners:
                raise ValueError(
                    f"{setting}: service {service!r} is already in category {owners[service]!r}"
                )
            owners[service] = name
    offered = len(categories) + len(owners)
    if offered > MAX_OFFERED_ITEMS:
        raise ValueError(
            f"categories: {offered} categories and services; at most {MAX_OFFERED_ITEMS} "
            "can be offered"
        )
    optional = [
        item
        for name, category in categories.items()
        if not category.required
        for item in (name, *category.services)
    ]
    length = len(".".join(optional))
    if length > MAX_CHOICE_NAMES_LENGTH:
        raise ValueError(
            f"categories: the optional categories' and services' names add up to {length} "
            f"characters; the consent cookie carries at most {MAX_CHOICE_NAMES_LENGTH} "
            "(shorten the service names)"
        )


def _owner_setting(owner: str) -> str:
    """Where a category or service (``analytics.matomo``) is set."""
    category, _, service = owner.partition(".")
    if service:
        return f"categories.{category}.services.{service}"
    return f"categories.{category}"


def _owner_kind(owner: str) -> str:
    return "service" if "." in owner else "category"


_EPHEMERAL: list[str] = []


def _ephemeral_key() -> tuple[str, ...]:
    if not _EPHEMERAL:
        _EPHEMERAL.append(secrets.token_urlsafe(32))
        logger.warning(
            "consent: no secret_keys set; debug mode signs with an ephemeral key, so every "
            "visitor's consent is forgotten when the process restarts"
        )
    return (_EPHEMERAL[0],)


def _env_toml_path() -> Path | None:
    path = os.environ.get("CONSENT_SETTINGS_FILE")
    if not path:
        return None
    toml_path = Path(path)
    if not toml_path.is_file():
        raise ConfigurationError(f"CONSENT_SETTINGS_FILE={path!r} does not exist")
    return toml_path


def describe_errors(error: ValidationError) -> str:
    """One readable line per refused setting: where it is, what was given, and why."""
    lines = []
    for item in error.errors():
        location = ".".join(str(part) for part in item["loc"])
        message = item["msg"].removeprefix("Value error, ")
        given = item.get("input")
        if location and not message.startswith(location):
            quoted = isinstance(given, str) and repr(given) in message
            shown = f" (got {given!r})" if _short(given) and not quoted else ""
            lines.append(f"{location}: {message}{shown}")
        else:
            lines.append(message)
    return "invalid consent settings: " + "; ".join(lines)


def _short(value: Any) -> bool:
    return isinstance(value, str | int | float | bool) and len(repr(value)) <= 80
