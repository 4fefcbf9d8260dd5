"""The consent HTTP API under the mount prefix (``/_consent`` by default).

``GET {prefix}``                   the visitor's state as JSON
``POST {prefix}``                  a choice: form (303 to ``next``) or JSON (200 with the new state)
``POST {prefix}/browser-notice``   dismisses the outdated-browser notice
``GET {prefix}/settings``          the preferences page, for visitors without JavaScript
``GET {prefix}/static/{name}``     the banner's JavaScript and CSS

Cross-site POSTs are refused (``Sec-Fetch-Site``, else ``Origin``/``Referer`` against ``Host``);
``next`` is honoured only when it is a path on this site.
"""

from __future__ import annotations

import json
import logging
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, fields
from functools import lru_cache
from typing import Any
from urllib.parse import parse_qsl, quote, unquote_plus, urlsplit

from starlette.datastructures import MutableHeaders
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.types import Receive, Scope, Send

from consent.choice.codec import ConsentState, Offer, Source
from consent.page.render import MAX_NEXT
from consent.records.model import Action, RecordSource
from consent.records.recorder import DecisionRecorder
from consent.settings import MAX_OFFERED_ITEMS, SECURE_PREFIXES
from consent.visitor import Site, Visitor, request_cookies, secure_cookies

audit = logging.getLogger("consent.audit")
logger = logging.getLogger("consent")

MAX_BODY = 8 * 1024
#: Form fields a choice may have: the action, ``next``, a ``category`` each, and two per service
#: (a hidden ``off`` before the switch's ``on``: the last one counts).
MAX_FORM_FIELDS = 2 * MAX_OFFERED_ITEMS + 8
#: An unknown name is echoed in the error at most this long.
MAX_SHOWN_NAME = 40
#: A service field's values in a form.
SERVICE_VALUES = {"on": True, "off": False}
#: An ``Idempotency-Key`` header is a UUID (36 characters, 38 with braces).
MAX_IDEMPOTENCY_KEY = 64
#: ``accept_new`` and ``reject_new`` answer only what was offered since the visitor's last
#: choice (everything, for a visitor who has not chosen), and keep the rest of that choice.
ACTIONS = ("accept_all", "reject_all", "save", "accept_new", "reject_new")
_DEFAULT_PORTS = {"http": "80", "https": "443"}
_CONTROL_CHARACTER = re.compile("[\x00-\x1f\x7f]")
#: A cookie value ``http.cookies`` writes as it is (its ``_LegalChars``), without quotes.
_PLAIN_COOKIE_VALUE = re.compile(r"[A-Za-z0-9!#$%&'*+\-.^_`|~:]+")
#: What RedirectResponse does to its URL.
_LOCATION_SAFE = ":/%#?=@[]!$&'()*+,;"
#: How long a static file is kept at its versioned address (``?v=`` its ETag).
STATIC_CACHE_CONTROL = "public, max-age=31536000, immutable"


@dataclass(frozen=True, slots=True)
class DecisionEvent:
    """One choice of one visitor, as the ``consent.audit`` log and ``on_decision`` get it."""

    consent_id: str
    """The visitor's consent id: the same across their choices while their choice stands (a
    choice after a ``revision`` change or after the cookie expired gets a new one)."""
    granted: tuple[str, ...]
    """The categories and services now granted, required ones included, sorted."""
    refused: tuple[str, ...]
    """The categories and services now refused, sorted."""
    revision: int
    """The site's ``revision`` the choice was made under."""
    source: Source
    """What the client said: ``banner`` for a form post (our banner, dialog and settings page)
    or a JSON body with ``"source": "banner"``, else ``api``."""
    decided_at: int
    """When, in Unix seconds."""
    first_decided: int
    """When the standing choice was first made, in Unix seconds (``decided_at`` when there
    was none)."""
    previous: tuple[str, ...] | None
    """What was granted before, sorted; None when no choice stood (a first choice, or one
    after a ``revision`` change or an expired cookie)."""


_EVENT_FIELDS = tuple(field.name for field in fields(DecisionEvent))


class BadRequestError(Exception):
    """A request the API refuses; the message is the reason given to the client."""

    def __init__(self, reason: str, status_code: int = 400, allow: tuple[str, ...] = ()) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status_code = status_code
        self.allow = allow


@dataclass(frozen=True, slots=True)
class Choice:
    """A choice as the request gave it. ``services`` holds the switches it set, by
    ``category.service``; a service it does not name follows its category."""

    action: str
    categories: tuple[str, ...]
    next_path: str | None
    source: Source
    wants_json: bool
    services: tuple[tuple[str, bool], ...] = ()


class _Request(Request):
    """Starlette's request with :meth:`header`, which reads a header from a dict built once: a
    decision reads eight headers, and ``headers.get`` goes through them all each time."""

    _by_name: dict[bytes, bytes] | None = None

    def header(self, name: bytes) -> str | None:
        """The value of the header ``name`` (lowercase), the first one when it is repeated
        (as ``headers.get`` gives); None without it."""
        by_name = self._by_name
        if by_name is None:
            by_name = self._by_name = dict(reversed(list(self.scope["headers"])))
        value = by_name.get(name)
        return None if value is None else value.decode("latin-1")


class _SeeOther(Response):
    """``RedirectResponse(location, 303)``, the same status, headers and empty body, without
    the generic header handling a response with content needs."""

    def __init__(self, location: str) -> None:
        self.status_code = 303
        self.background = None
        self.body = b""
        self.raw_headers = [
            (b"content-length", b"0"),
            (b"location", quote(location, safe=_LOCATION_SAFE).encode("latin-1")),
        ]


class ConsentEndpoints:
    """An ASGI app for the paths under the prefix."""

    def __init__(self, site: Site, on_decision: Callable[[DecisionEvent], Any] | None) -> None:
        self.site = site
        self.settings = site.settings
        self.on_decision = on_decision
        #: Every category and service, by the name ``allows`` takes, and which may be refused:
        #: the codec's, or (a site that manages no consent answers no choice) worked out alike.
        self.offer = site.codec.offer if site.codec is not None else Offer(self.settings)
        self.all_items = frozenset(self.offer.items)
        self.recorder = DecisionRecorder(
            self.settings, site.catalog.texts, site.catalog.category, site.catalog.service
        )
        self.settings_page_path = self.settings.prefix + "/settings"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = _Request(scope, receive)
        visitor = self.site.visitor(scope)
        route = scope["path"][len(self.settings.prefix) :]
        method = request.method
        try:
            if route in ("", "/"):
                response = await self.state_or_choice(request, visitor, method)
            elif route == "/browser-notice":
                _allow(method, "POST")
                response = await self.dismiss_notice(request)
            elif route == "/settings":
                _allow(method, "GET", "HEAD")
                response = self.settings_page(request, visitor)
            elif route.startswith("/static/"):
                _allow(method, "GET", "HEAD")
                response = self.static(request, route.removeprefix("/static/"))
            else:
                response = PlainTextResponse("Not Found", status_code=404)
        except BadRequestError as error:
            response = _error(error, _wants_json(request))
        except ClientDisconnect:
            # The client went away mid-body: nobody is left to answer, and nothing went wrong here.
            logger.debug("consent: the client disconnected before its request body was read")
            return
        await response(scope, receive, send)

    async def state_or_choice(self, request: _Request, visitor: Visitor, method: str) -> Response:
        if self.site.codec is None:
            return PlainTextResponse("Not Found (consent_enabled is false)", status_code=404)
        if method in ("GET", "HEAD"):
            return self.state_response(visitor.consent)
        _allow(method, "GET", "HEAD", "POST")
        _same_origin(request)
        choice = await self.read_choice(request)
        return await self.decide(choice, visitor, request)

    def state_response(self, state: ConsentState) -> Response:
        return JSONResponse(
            state.as_json(tuple(self.settings.categories), self.offer.services),
            headers={"Cache-Control": "no-store", "Vary": "Cookie"},
        )

    async def read_choice(self, request: _Request) -> Choice:
        body = await _read_body(request)
        media_type = _media_type(request)
        if media_type == "application/json":
            return self._json_choice(body)
        if media_type == "application/x-www-form-urlencoded":
            return self._form_choice(body)
        raise BadRequestError(
            "Content-Type must be application/x-www-form-urlencoded or application/json"
        )

    def _json_choice(self, body: bytes) -> Choice:
        try:
            data = json.loads(body)
        except RecursionError:  # nested deeper than the parser's recursion allows
            raise BadRequestError("the JSON body is nested too deeply") from None
        except (ValueError, UnicodeDecodeError):
            raise BadRequestError("the body is not valid JSON") from None
        if not isinstance(data, dict):
            raise BadRequestError("the JSON body must be an object")
        categories = data.get("categories", [])
        if not isinstance(categories, list) or not all(isinstance(c, str) for c in categories):
            raise BadRequestError("'categories' must be a list of category names")
        source = data.get("source", "api")
        if source not in ("api", "banner"):
            raise BadRequestError("'source' must be 'api' or 'banner'")
        services = data.get("services", {})
        if not isinstance(services, dict) or not all(
            isinstance(on, bool) for on in services.values()
        ):
            raise BadRequestError(
                "'services' must be an object of service names (category.service) to true or false"
            )
        action = data.get("action")
        return Choice(
            self._action(action),
            self._categories(categories),
            None,
            source,
            True,
            self._services(services.items()),
        )

    def _form_choice(self, body: bytes) -> Choice:
        try:
            fields = form_fields(body.decode("utf-8"))
        except (ValueError, UnicodeDecodeError):
            raise BadRequestError("the form body is malformed") from None
        actions: list[str] = []
        categories: list[str] = []
        switches: dict[str, bool] = {}
        next_path = None
        for key, value in fields:
            if key == "action":
                actions.append(value)
            elif key == "category":
                categories.append(value)
            elif key == "next":
                if next_path is None:
                    next_path = value
            elif "." in key:  # category.service=on|off, the last one counts
                if value not in SERVICE_VALUES:
                    raise BadRequestError(f"service {_shown(key)!r} must be 'on' or 'off'")
                switches[key] = SERVICE_VALUES[value]
        if len(actions) != 1:
            raise BadRequestError("exactly one 'action' is required")
        return Choice(
            self._action(actions[0]),
            self._categories(categories),
            next_path,
            "banner",
            False,
            self._services(switches.items()),
        )

    def _action(self, action: Any) -> str:
        if action not in ACTIONS:
            raise BadRequestError(
                f"unknown action {action!r}; expected one of {', '.join(ACTIONS)}"
            )
        return str(action)

    def _categories(self, names: list[str]) -> tuple[str, ...]:
        for name in names:
            if name not in self.settings.categories:
                raise BadRequestError(f"unknown category {_shown(name)!r}")
        return tuple(names)

    def _services(self, switches: Any) -> tuple[tuple[str, bool], ...]:
        """The service switches of a choice, each name checked (``category.service``)."""
        checked = []
        for name, on in switches:
            if name not in self.offer.services:
                raise BadRequestError(f"unknown service {_shown(name)!r}")
            checked.append((name, on))
        return tuple(checked)

    def granted_by(self, choice: Choice, previous: ConsentState) -> frozenset[str]:
        """The optional categories and services a choice grants: with ``save``, the categories
        it names, each with every service it does not switch off; a service switched on in a
        category left off stays off with it. ``accept_new`` and ``reject_new`` keep what the
        visitor granted before and add, or leave out, what is new to them."""
        if choice.action == "accept_all":
            return self.offer.optional
        if choice.action == "reject_all":
            return frozenset()
        if choice.action in ("accept_new", "reject_new"):
            kept = previous.granted & self.offer.optional if previous.decided else frozenset()
            if choice.action == "reject_new":
                return kept
            return kept | (previous.new if previous.decided else self.offer.optional)
        categories = frozenset(choice.categories)
        switched = dict(choice.services)
        return frozenset(
            name
            for name in self.offer.optional
            if self.offer.category_of[name] in categories and switched.get(name, True)
        )

    async def decide(self, choice: Choice, visitor: Visitor, request: _Request) -> Response:
        site = self.site
        previous = visitor.consent
        granted = self.granted_by(choice, previous)
        assert site.codec is not None  # state_or_choice answers 404 without it
        record, value = site.codec.decide(granted, choice.source, previous._record)
        state = site.codec.state_of(record, gpc=previous.gpc)
        self.record(state, previous, record.last_decided)
        next_path = safe_next(choice.next_path)
        await self.keep_record(choice, state, previous, visitor, request, next_path)
        if choice.wants_json:
            response: Response = self.state_response(state)
        else:
            response = _SeeOther(next_path)
        max_age = self.settings.consent_max_age_days * 86400
        self.set_own_cookie(response, request, self.settings.cookie_name, value, max_age)
        for expiry in site.policy.expirations(request_cookies(request.scope), state.granted):
            response.raw_headers.append((b"set-cookie", expiry.encode("latin-1")))
        return response

    def record(self, state: ConsentState, previous: ConsentState, moment: int) -> None:
        """Keeps proof of the choice: an audit log line and the site's own callback (the event
        is built only when one of them takes it)."""
        logged = audit.isEnabledFor(logging.INFO)
        if not logged and self.on_decision is None:
            return
        assert state.consent_id is not None
        assert state.source is not None
        event = DecisionEvent(
            consent_id=state.consent_id,
            granted=tuple(sorted(state.granted)),
            refused=tuple(sorted(self.all_items - state.granted)),
            revision=state.revision,
            source=state.source,
            decided_at=moment,
            first_decided=state.first_decided or moment,
            previous=tuple(sorted(previous.granted)) if previous.decided else None,
        )
        if logged:
            fields_of_event = {name: getattr(event, name) for name in _EVENT_FIELDS}
            audit.info("consent decision %s", json.dumps(fields_of_event, sort_keys=True))
        if self.on_decision is not None:
            try:
                self.on_decision(event)
            except Exception:
                logger.exception("consent: the on_decision callback failed")

    async def keep_record(
        self,
        choice: Choice,
        state: ConsentState,
        previous: ConsentState,
        visitor: Visitor,
        request: _Request,
        next_path: str,
    ) -> None:
        """Writes the decision's record to the store (committed, or spooled after
        ``records_commit_wait`` seconds). The visitor's choice stands even if neither can keep
        it: that is logged as an error, and the answer goes out. ``next_path`` is the choice's
        ``next`` made safe; the record's page is it, else the Referer's path."""
        if not self.recorder.enabled:
            return
        assert state.consent_id is not None
        referer_path = _referer_path(request)
        page = next_path if choice.next_path else referer_path
        client = request.scope.get("client")
        try:
            await self.recorder.keep(
                consent_id=state.consent_id,
                action=self.record_action(choice, state, previous),
                granted=state.granted,
                refused=self.all_items - state.granted,
                revision=state.revision,
                source=self.record_source(choice, referer_path),
                language=visitor.language,
                asked_new=bool(previous.new),
                path=page,
                user_agent=visitor.user_agent,
                client_address=client[0] if client else None,
                record_id=_idempotency_key(request),
            )
        except Exception:  # RecordNotKeptError, or a store that cannot run here
            logger.exception("consent: the decision of %s was not recorded", state.consent_id)

    def record_action(self, choice: Choice, state: ConsentState, previous: ConsentState) -> Action:
        """``withdraw`` when a decided visitor now grants less than before; ``gpc`` when a
        visitor whose browser sends Global Privacy Control refuses every optional category;
        else the button's action."""
        if previous.decided and previous.granted - state.granted:
            return "withdraw"
        if previous.gpc and not state.granted.intersection(self.offer.optional):
            return "gpc"
        return choice.action  # type: ignore[return-value]  # one of ACTIONS, checked on read

    def record_source(self, choice: Choice, referer_path: str) -> RecordSource:
        """Where the choice was made: the no-JavaScript settings page (its form posts with the
        page as Referer, whose path is ``referer_path``), the banner, or another client of the
        API."""
        if not choice.wants_json and referer_path == self.settings_page_path:
            return "settings page"
        return choice.source

    async def dismiss_notice(self, request: _Request) -> Response:
        _same_origin(request)
        body = await _read_body(request)
        media_type = _media_type(request)
        if media_type == "application/json":
            response: Response = JSONResponse(
                {"dismissed": True}, headers={"Cache-Control": "no-store"}
            )
        else:
            try:
                fields = dict(
                    parse_qsl(body.decode("utf-8"), keep_blank_values=True, max_num_fields=8)
                )
            except (ValueError, UnicodeDecodeError):
                raise BadRequestError("the form body is malformed") from None
            response = _SeeOther(safe_next(fields.get("next")))
        days = self.settings.notice_dismiss_days
        name = self.settings.notice_cookie_name
        self.set_own_cookie(response, request, name, "1", days * 86400 if days else None)
        return response

    def set_own_cookie(
        self,
        response: Response,
        request: _Request,
        name: str,
        value: str,
        max_age: int | None,
    ) -> None:
        """One of our cookies: HttpOnly, site-wide, Secure unless plain HTTP on localhost (and
        always for a ``__Secure-`` or ``__Host-`` name, which browsers keep only with it).
        The header is what Starlette's ``set_cookie`` writes; its attributes, the same for
        every value, are built once."""
        secure = name.startswith(SECURE_PREFIXES) or secure_cookies(request.scope, self.settings)
        domain = self.settings.cookie_domain
        samesite = self.settings.cookie_samesite
        if _PLAIN_COOKIE_VALUE.fullmatch(value):
            attributes = _cookie_attributes(name, max_age, domain, secure, samesite)
            header = f"{name}={value}{attributes}".encode("latin-1")
            response.raw_headers.append((b"set-cookie", header))
        else:  # a value http.cookies quotes
            _set_own_cookie(response, name, value, max_age, domain, secure, samesite)

    def settings_page(self, request: _Request, visitor: Visitor) -> Response:
        """The preferences page; with ``fragment=dialog``, the dialog alone (for consent.js)."""
        state = visitor.consent
        language = visitor.language
        next_path = safe_next(request.query_params.get("next"))
        renderer = self.site.renderer
        if request.query_params.get("fragment") == "dialog":
            html = renderer.dialog(
                language, decided=state.decided, granted=state.granted, next_path=next_path
            )
        else:
            html = renderer.settings_page(
                language,
                decided=state.decided,
                gpc=state.gpc,
                granted=state.granted,
                next_path=next_path,
            )
        headers = {
            "Cache-Control": "no-store",
            "Content-Language": language,
            "Vary": "Cookie, Accept-Language",
        }
        return Response(html, media_type="text/html; charset=utf-8", headers=headers)

    def static(self, request: _Request, name: str) -> Response:
        asset = self.site.renderer.assets.get(name)
        if asset is None:
            return PlainTextResponse("Not Found", status_code=404)
        etag = f'"{asset.etag}"'
        # Kept for a year only at the address of this version (?v= its ETag, as pages link it):
        # a page of an earlier version asks for its own ?v=, which must not keep this file.
        current = request.query_params.get("v") == asset.etag
        headers = MutableHeaders(
            {
                "Cache-Control": STATIC_CACHE_CONTROL if current else "no-cache",
                "ETag": etag,
                "X-Content-Type-Options": "nosniff",
            }
        )
        if etag in (request.header(b"if-none-match") or ""):
            return Response(status_code=304, headers=dict(headers))
        return Response(asset.body, media_type=asset.media_type, headers=dict(headers))


def _set_own_cookie(
    response: Response,
    name: str,
    value: str,
    max_age: int | None,
    domain: str | None,
    secure: bool,
    samesite: Any,
) -> None:
    """Starlette's ``set_cookie`` with the attributes every cookie of the endpoints has: the
    whole site's path, and out of scripts' reach."""
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path="/",
        domain=domain,
        secure=secure,
        httponly=True,
        samesite=samesite,
    )


@lru_cache(maxsize=64)
def _cookie_attributes(
    name: str, max_age: int | None, domain: str | None, secure: bool, samesite: Any
) -> str:
    """What Starlette's ``set_cookie`` writes after ``name=value`` for these attributes (the
    endpoint's few cookies, built once each)."""
    response = Response()
    _set_own_cookie(response, name, "x", max_age, domain, secure, samesite)
    header = response.raw_headers[-1][1].decode("latin-1")
    start = f"{name}=x"
    if not header.startswith(start):  # pragma: no cover - a name http.cookies rewrites
        raise ValueError(f"the cookie name {name!r} is not written as it is")
    return header[len(start) :]


def form_fields(text: str) -> list[tuple[str, str]]:
    """A decision's form as ``parse_qsl(text, keep_blank_values=True, strict_parsing=True,
    max_num_fields=MAX_FORM_FIELDS)`` reads it (an empty form has no field), with less work:
    a name or value without ``%`` or ``+`` is kept as it is. Raises ValueError as it does."""
    if not text:
        return []
    parts = text.split("&")
    if len(parts) > MAX_FORM_FIELDS:
        raise ValueError("Max number of fields exceeded")
    fields = []
    for part in parts:
        name, equals, value = part.partition("=")
        if not equals:
            raise ValueError(f"bad query field: {part!r}")
        if "%" in name or "+" in name:
            name = unquote_plus(name)
        if "%" in value or "+" in value:
            value = unquote_plus(value)
        fields.append((name, value))
    return fields


def safe_next(value: str | None) -> str:
    """``value`` when it is a path on this site, else ``/`` (no other origin, ever)."""
    if not value or len(value) > MAX_NEXT or not value.startswith("/"):
        return "/"
    if value.startswith(("//", "/\\")) or "\\" in value:
        return "/"
    if _CONTROL_CHARACTER.search(value):
        return "/"
    parts = urlsplit(value)
    if parts.scheme or parts.netloc:
        return "/"
    return value


def _same_origin(request: _Request) -> None:
    """Refuses a POST that a browser sent from another site.

    ``Sec-Fetch-Site`` decides when the browser sends it. Without it, the ``Origin`` (else the
    ``Referer``) must have this request's scheme, host and port: ``http://site`` posting to
    ``https://site`` is another origin (a network attacker can write the plain-HTTP page). Behind
    a TLS-terminating proxy the server must be told the original scheme (uvicorn's
    ``--proxy-headers``), as it must for ``cookie_secure = "auto"``. Neither header: a client
    that is not a browser, which no other site can drive, so it is let through.
    """
    fetch_site = request.header(b"sec-fetch-site")
    if fetch_site is not None:
        if fetch_site.strip().lower() in ("same-origin", "none"):
            return
        raise BadRequestError(
            f"cross-site request refused (Sec-Fetch-Site: {fetch_site[:20]})", 403
        )
    scheme = request.url.scheme
    here = (scheme, _normalise_host(request.header(b"host") or "", scheme))
    for header in ("origin", "referer"):
        value = request.header(header.encode("ascii"))
        if value is None:
            continue
        parts = urlsplit(value.strip())
        there = (parts.scheme.lower(), _normalise_host(parts.netloc, parts.scheme.lower()))
        if value.strip() == "null" or not parts.netloc or there != here:
            raise BadRequestError(
                f"cross-site request refused ({header.title()}: {value[:60]})", 403
            )
        return


def _idempotency_key(request: _Request) -> uuid.UUID | None:
    """The record id a client chose for its decision (``Idempotency-Key: <UUID>``), so that a
    retried request is recorded once; None (a fresh id) without one or with one not a UUID."""
    key = request.header(b"idempotency-key")
    if key is None or len(key) > MAX_IDEMPOTENCY_KEY:
        return None
    try:
        return uuid.UUID(key.strip())
    except ValueError:
        return None


def _referer_path(request: _Request) -> str:
    """The path of the page the request came from, when it is on this site; else ``""``."""
    referer = request.header(b"referer")
    if not referer:
        return ""
    parts = urlsplit(referer.strip())
    return safe_next(parts.path) if parts.path else ""


def _normalise_host(netloc: str, scheme: str) -> str:
    netloc = netloc.strip().lower().rsplit("@", 1)[-1]
    default = _DEFAULT_PORTS.get(scheme)
    if default and netloc.endswith(f":{default}"):
        netloc = netloc[: -len(default) - 1]
    return netloc


async def _read_body(request: _Request) -> bytes:
    """The request's body, at most :data:`MAX_BODY` bytes; ClientDisconnect if the client goes
    first (what ``request.stream()`` does, read straight from ``receive``)."""
    declared = request.header(b"content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > MAX_BODY):
        raise BadRequestError(f"the body is larger than {MAX_BODY} bytes")
    chunks = []
    size = 0
    receive = request.receive
    while True:
        message = await receive()
        kind = message["type"]
        if kind == "http.request":
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > MAX_BODY:
                raise BadRequestError(f"the body is larger than {MAX_BODY} bytes")
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)
        elif kind == "http.disconnect":
            raise ClientDisconnect()


def _media_type(request: _Request) -> str:
    """The request body's media type, without parameters, lowercase."""
    return (request.header(b"content-type") or "").split(";")[0].strip().lower()


def _allow(method: str, *allowed: str) -> None:
    if method not in allowed:
        raise BadRequestError(
            f"method {method} is not allowed here; use {', '.join(allowed)}", 405, allowed
        )


def _shown(name: str) -> str:
    """A name a client sent, cut for an error message."""
    return name if len(name) <= MAX_SHOWN_NAME else name[:MAX_SHOWN_NAME] + "…"


def _wants_json(request: _Request) -> bool:
    return "application/json" in (request.header(b"content-type") or "") or (
        "application/json" in (request.header(b"accept") or "")
    )


def _error(error: BadRequestError, as_json: bool) -> Response:
    headers = {"Cache-Control": "no-store"}
    if error.allow:
        headers["Allow"] = ", ".join(error.allow)
    if as_json:
        return JSONResponse({"error": error.reason}, status_code=error.status_code, headers=headers)
    return PlainTextResponse(error.reason, status_code=error.status_code, headers=headers)
