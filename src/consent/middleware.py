"""``ConsentMiddleware``: the pure-ASGI callable that composes everything else.

A request takes one of three ways: the consent API under the prefix (:mod:`consent.endpoints`);
a WebSocket handshake, whose answers lose refused cookies (:class:`WebSocketResponder`); or an
HTTP response, which an :class:`HTMLResponder` follows: the start message is rewritten by its
plan (:mod:`consent.page.start`), and a page's body gets the snippet (:mod:`consent.page.injector`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

from starlette.types import Message, Receive, Scope, Send

from consent.choice.codec import ConsentState
from consent.choice.enforcement import CookiePolicy
from consent.choice.inventory import CookieFilter, CookieInventory
from consent.endpoints import ConsentEndpoints, DecisionEvent
from consent.page.consent_mode import ConsentModeTag
from consent.page.encoding import PRESCAN_BYTES, declared_encoding, sniff_encoding
from consent.page.injector import (
    BodyTagMemo,
    HeadAndBodyInjector,
    HeadAndBodyMemo,
    HTMLInjector,
    insert_head_and_snippet,
    insert_snippet,
)
from consent.page.render import Renderer, TooLongToKeep
from consent.page.start import (
    FROM_BODY,
    PASS_THROUGH,
    OptedOut,
    PagePlan,
    Plan,
    SetsCookies,
    StartPlans,
)
from consent.records.recorder import DecisionRecorder
from consent.settings import ConsentSettings
from consent.state import RequestState
from consent.visitor import Site, Visitor

Header = tuple[bytes, bytes]
#: Any ASGI application; typed loosely so that every framework's own ASGI types are accepted.
ASGIApp = Callable[[Any, Any, Any], Awaitable[Any]]

_HIDDEN_EXTENSIONS = ("http.response.pathsend", "http.response.zerocopysend")
#: The WebSocket messages that carry response headers: the handshake's acceptance, and the HTTP
#: response that denies it (the ``websocket.http.response`` extension).
_HANDSHAKE_ANSWERS = frozenset({"websocket.accept", "websocket.http.response.start"})


class ConsentMiddleware:
    """Shows the outdated-browser notice and the consent banner, and enforces the visitor's choice.

    ``ConsentMiddleware(app, settings=ConsentSettings(...))``, or
    ``app.add_middleware(ConsentMiddleware, settings=...)``. Without ``settings``, they are read
    from ``CONSENT_*`` environment variables and the file named by ``CONSENT_SETTINGS_FILE``.
    ``on_decision`` is called with a :class:`DecisionEvent` for every choice a visitor makes,
    to keep proof of consent.
    """

    def __init__(
        self,
        app: ASGIApp,
        settings: ConsentSettings | None = None,
        *,
        on_decision: Callable[[DecisionEvent], Any] | None = None,
    ) -> None:
        self.app = app
        self.settings = settings if settings is not None else ConsentSettings.load()
        self.site, self.inventory = _site_and_inventory(self.settings)
        self.endpoints = ConsentEndpoints(self.site, on_decision)
        self.prefix = self.settings.prefix
        self.after_prefix = len(self.prefix)
        tokens = _vary_tokens(self.settings, len(self.site.catalog.languages) > 1)
        accept_ch = [(b"accept-ch", b"Sec-CH-UA-Full-Version-List")]
        cookie_filter: CookieFilter = (
            self.site.policy.filter_headers if self.settings.consent_enabled else _keep_all
        )
        if self.inventory is not None:
            cookie_filter = self.inventory.watching(cookie_filter)
        self.pages = Pages(
            site=self.site,
            plans=StartPlans(
                partial(_merge_vary, tokens=tokens),
                accept_ch if self.settings.accept_client_hints else [],
                cookie_filter,
            ),
            renderer=self.site.renderer,
            body_tags=BodyTagMemo(),
            skip_paths=self.settings.skip_paths,
            consent_mode=(
                ConsentModeTag(self.settings, self.site.renderer.static_url)
                if self.settings.consent_mode.enabled
                else None
            ),
            head_points=HeadAndBodyMemo(),
        )
        #: Pages get Google Consent Mode's tag too when it is on; else nothing changes for them.
        self.responder = HTMLResponder if self.pages.consent_mode is None else ConsentModeResponder

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path: str = scope["path"]
            if path.startswith(self.prefix) and (
                path == self.prefix or path[self.after_prefix] == "/"
            ):
                await self.endpoints(scope, receive, send)
                return
            responder = self.responder(self.pages, scope, send)
            await self.app(responder.scope, receive, responder.send)
        elif scope["type"] == "websocket":
            origin = scope.get("state")
            state = RequestState({} if origin is None else origin, self.site, scope.get("headers"))
            scope["state"] = state
            if self.settings.consent_enabled:
                send = WebSocketResponder(self.site.policy, state, send).send
            await self.app(scope, receive, send)
        elif scope["type"] == "lifespan" and (
            self.endpoints.recorder.enabled or self.inventory is not None
        ):
            lifespan = RecordsLifespan(self.endpoints.recorder, receive, send, self.inventory)
            await self.app(scope, lifespan.receive, lifespan.send)
        else:
            await self.app(scope, receive, send)


@dataclass(frozen=True, slots=True)
class Pages:
    """What an :class:`HTMLResponder` works with, built once by the middleware."""

    site: Site
    plans: StartPlans
    renderer: Renderer
    body_tags: BodyTagMemo
    skip_paths: tuple[str, ...]
    #: Google Consent Mode's tag, and where it and the snippet went in recent heads (if on).
    consent_mode: ConsentModeTag | None = None
    head_points: HeadAndBodyMemo | None = None


class HTMLResponder:
    """One request: strips refused cookies and injects the notice and banner into HTML.

    The visitor is looked up only when something needs it: the application reading
    ``consent`` or ``browser`` from the state, a response that sets cookies, or an HTML page.
    """

    __slots__ = ("downstream", "head", "held", "injector", "pages", "scope", "state", "to_inject")

    def __init__(self, pages: Pages, scope: Scope, send: Send) -> None:
        self.pages = pages
        self.downstream = send
        self.to_inject: bytes | None = None  # the snippet, until it is in the body
        self.injector: HTMLInjector | None = None  # for a body in several messages
        self.held: HeldStart | None = None  # a page's start, until its body names its charset
        self.head = b""  # Google Consent Mode's tag, for the head point (ConsentModeResponder)
        self.scope = _without_send_extensions(scope) if "extensions" in scope else scope
        origin = scope.get("state")
        if origin is None:
            origin = {}
        self.state = RequestState(origin, pages.site, scope.get("headers"))
        scope["state"] = self.scope["state"] = self.state

    async def send(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            headers: Sequence[Header] = message.get("headers") or ()
            if not isinstance(headers, (list, tuple)):  # any iterable: read it once, pass it on
                headers = list(headers)
                message = {**message, "headers": headers}
            plan = self.pages.plans.plan(message["status"], headers)
            if plan is not PASS_THROUGH:
                message = self.start(message, plan)
                if self.held is not None:
                    return
        # A page's body, told first by what this responder holds: most responses are no page.
        elif self.to_inject is not None or self.held is not None:  # noqa: SIM102
            if message["type"] == "http.response.body":
                held = self.held
                if held is not None:
                    if not held.add(message):
                        return
                    self.held = None
                    await self.downstream(self.held_page_start(held))
                    message = held.body_message()
                if self.to_inject is not None:
                    message = self.inject(message, self.to_inject)
        await self.downstream(message)

    def inject(self, message: Message, snippet: bytes) -> Message:
        """The body message with the snippet in it, or with what may be sent so far."""
        body = message.get("body", b"")
        more_body = message.get("more_body", False)
        injector = self.injector
        if injector is None:
            if not more_body:  # the whole body in one message, as most responses send it
                self.to_inject = None
                body = insert_snippet(body, snippet, self.pages.body_tags)
                return {"type": "http.response.body", "body": body, "more_body": False}
            injector = self.injector = HTMLInjector(snippet, self.pages.body_tags)
        body = injector.feed(body)
        if not more_body:
            body += injector.finish()
            self.to_inject = self.injector = None
        return {"type": "http.response.body", "body": body, "more_body": more_body}

    def start(self, message: Message, plan: Plan) -> Message:
        """The start message rewritten by its ``plan``; a page's waits in :attr:`held` when
        its body must tell its charset. A page's snippet is encoded in the plan's charset (none
        is injected when it is None); its length goes into Content-Length with the head's."""
        if isinstance(plan, SetsCookies):
            headers, page = plan.for_consent(self.state.lookup()[1].granted)
            message = {**message, "headers": list(headers)}
            if page is None:
                return message
            plan = page
        skip_paths = self.pages.skip_paths
        if skip_paths and self.scope["path"].startswith(skip_paths):
            return message
        if isinstance(plan, OptedOut):
            return {**message, "headers": plan.headers()}
        assert isinstance(plan, PagePlan)
        charset = plan.charset
        if charset == FROM_BODY:
            if self.scope.get("method") != "HEAD":
                self.held = HeldStart(message, plan)
                return message
            charset = "ascii"  # no body to tell: as a page without a <meta>
        snippet = b""
        if charset is not None:
            visitor, consent = self.state.lookup()
            snippet = self.snippet(charset, visitor, consent)
        head = self.head
        if (snippet or head) and self.scope.get("method") != "HEAD":
            self.to_inject = snippet
        return {**message, "headers": plan.headers(len(head) + len(snippet))}

    def held_page_start(self, held: HeldStart) -> Message:
        """The start message of a page held until its body told its charset."""
        return self.start(held.start, held.plan.with_charset(held.charset()))

    def snippet(self, charset: str, visitor: Visitor, consent: ConsentState) -> bytes:
        """The bytes to inject for this visitor (empty for bots and when nothing is due)."""
        template = visitor.template(consent, charset)
        if not template:
            return b""
        scope = self.scope
        # The item as stored, without RequestState's lookups (a method call costs 0.8k more).
        nonce = dict.get(self.state, "csp_nonce")
        try:  # Renderer.fill without its frame: a kept page costs one cache lookup
            return self.pages.renderer.kept_fill(
                template,
                scope.get("raw_path"),
                scope.get("path", "/"),
                scope.get("query_string"),
                nonce if isinstance(nonce, str) else None,
            )
        except TooLongToKeep as too_long:
            return too_long.filled


class ConsentModeResponder(HTMLResponder):
    """An :class:`HTMLResponder` that also puts Google Consent Mode's tag at a page's head
    point (:class:`~consent.page.injector.HeadAndBodyInjector`), with the visitor's verified
    consent, on every page it injects into, bots' included (their snippet is empty).

    A page served as ``text/html`` without a charset, whose body declares one (a byte order mark,
    ``<meta charset>``), gets it in its Content-Type as well: the tag goes before the rest of the
    head, so it must not push that ``<meta>`` past the bytes a browser prescans for it."""

    __slots__ = ()

    def held_page_start(self, held: HeldStart) -> Message:
        message = super().held_page_start(held)
        declared = held.declared()
        if not self.head or declared is None:  # nothing injected, or the browser guesses
            return message
        return {**message, "headers": _with_charset(message["headers"], declared)}

    def snippet(self, charset: str, visitor: Visitor, consent: ConsentState) -> bytes:
        """The snippet, as for any page; the tag for the head point is made beside it, with
        the same verified consent, and goes in even when the snippet is empty (bots)."""
        nonce = dict.get(self.state, "csp_nonce")
        assert self.pages.consent_mode is not None
        self.head = self.pages.consent_mode.tag(
            consent.granted, nonce if isinstance(nonce, str) else None
        )
        return super().snippet(charset, visitor, consent)

    def inject(self, message: Message, snippet: bytes) -> Message:
        body = message.get("body", b"")
        more_body = message.get("more_body", False)
        points = self.pages.head_points
        injector = self.injector
        if injector is None:
            if not more_body:
                self.to_inject = None
                assert points is not None
                body = insert_head_and_snippet(body, self.head, snippet, points)
                return {"type": "http.response.body", "body": body, "more_body": False}
            injector = self.injector = HeadAndBodyInjector(self.head, snippet, points)
        body = injector.feed(body)
        if not more_body:
            body += injector.finish()
            self.to_inject = self.injector = None
        return {"type": "http.response.body", "body": body, "more_body": more_body}


class HeldStart:
    """The start message of a page served as ``text/html`` without a charset, held until the
    body's first :data:`~consent.page.encoding.PRESCAN_BYTES` bytes (or all of it, if shorter) tell
    the encoding the browser will use: the snippet's bytes, and so Content-Length, depend on it.
    At most that many bytes, and one message's worth, are held."""

    __slots__ = ("_body", "_more_body", "plan", "start")

    def __init__(self, start: Message, plan: PagePlan) -> None:
        self.start = start
        self.plan = plan
        self._body = b""
        self._more_body = True

    def add(self, message: Message) -> bool:
        """Holds a body message; whether enough of the body is here to decide."""
        self._body += message.get("body", b"")
        self._more_body = message.get("more_body", False)
        return not self._more_body or len(self._body) >= PRESCAN_BYTES

    def charset(self) -> str | None:
        return sniff_encoding(self._body)

    def declared(self) -> str | None:
        """The WHATWG name of the charset the body declares, if it declares one."""
        return declared_encoding(self._body)

    def body_message(self) -> Message:
        """What was held, as one body message."""
        return {"type": "http.response.body", "body": self._body, "more_body": self._more_body}


class RecordsLifespan:
    """The app's lifespan messages, passed on, with the record store started before the app's
    start-up (its spool replayed) and closed after the app's shutdown. A store that cannot
    start (a wrong ``records_url``) fails the start-up with the reason. The cookie inventory,
    if any, is written after the app's shutdown."""

    def __init__(
        self,
        recorder: DecisionRecorder,
        receive: Receive,
        send: Send,
        inventory: CookieInventory | None = None,
    ) -> None:
        self.recorder = recorder
        self.upstream = receive
        self.downstream = send
        self.inventory = inventory

    async def receive(self) -> Message:
        message = await self.upstream()
        if message["type"] == "lifespan.startup":
            try:
                await self.recorder.start(replay=True)
            except Exception as error:
                await self.downstream({"type": "lifespan.startup.failed", "message": str(error)})
                raise
        return message

    async def send(self, message: Message) -> None:
        if message["type"] in ("lifespan.shutdown.complete", "lifespan.shutdown.failed"):
            await self.recorder.close()
            if self.inventory is not None:
                await self.inventory.close()
        await self.downstream(message)


class WebSocketResponder:
    """Strips refused cookies from the headers a WebSocket handshake answers with: those of
    ``websocket.accept`` and of a denial response (``websocket.http.response.start``)."""

    def __init__(self, policy: CookiePolicy, state: RequestState, send: Send) -> None:
        self.policy = policy
        self.state = state
        self.downstream = send

    async def send(self, message: Message) -> None:
        if message["type"] in _HANDSHAKE_ANSWERS and message.get("headers"):
            headers = list(message["headers"])  # any iterable: read it once, pass the list on
            kept = self.policy.filter_headers(headers, self.state.lookup()[1].granted)
            message = {**message, "headers": headers if kept is None else kept}
        await self.downstream(message)


def _site_and_inventory(settings: ConsentSettings) -> tuple[Site, CookieInventory | None]:
    """The site, and the inventory the ``cookie_inventory`` setting asks for, shown the
    ``Set-Cookie`` lines (by the plans' cookie filter) and the Cookie headers the visitor cache
    has not met (a returning visitor's page reads nothing)."""
    site = Site(settings)
    path = settings.cookie_inventory_path()
    if path is None:
        return site, None
    own = (settings.cookie_name, settings.notice_cookie_name)
    inventory = CookieInventory(path, site.policy.category_of, own_cookies=own)
    site.on_new_cookie_header = inventory.saw_cookie_header
    return site, inventory


def _with_charset(headers: list[Header], charset: str) -> list[Header]:
    """The headers with ``charset`` added to the Content-Type that counts (the last), which
    names none."""
    at = max(i for i, (name, _) in enumerate(headers) if name.lower() == b"content-type")
    name, value = headers[at]
    value = value.rstrip(b"\t ;") + b"; charset=" + charset.encode("ascii")
    return [*headers[:at], (name, value), *headers[at + 1 :]]


def _keep_all(headers: Sequence[Header], granted: frozenset[str]) -> None:
    """The cookie filter of a site that manages no consent: every cookie goes on."""
    return None


def _without_send_extensions(scope: Scope) -> Scope:
    """The scope without extensions whose bodies would bypass the injector."""
    extensions = scope.get("extensions")
    if not extensions or not any(name in extensions for name in _HIDDEN_EXTENSIONS):
        return scope
    kept = {name: value for name, value in extensions.items() if name not in _HIDDEN_EXTENSIONS}
    return {**scope, "extensions": kept}


def _vary_tokens(settings: ConsentSettings, several_languages: bool) -> tuple[str, ...]:
    tokens = ["Cookie", "User-Agent"]
    if several_languages:
        tokens.append("Accept-Language")
    if settings.client_hints:
        tokens += ["Sec-CH-UA", "Sec-CH-UA-Full-Version-List"]
    if settings.honour_gpc and settings.consent_enabled:
        tokens.append("Sec-GPC")
    return tuple(tokens)


def _merge_vary(app_vary: bytes | None, tokens: tuple[str, ...]) -> bytes:
    """One Vary value: the app's tokens, then ours that are missing (case-insensitively)."""
    present: list[str] = []
    if app_vary:
        present = [t.strip() for t in app_vary.decode("latin-1").split(",") if t.strip()]
    if "*" in present:
        return b"*"
    seen = {token.lower() for token in present}
    merged = present + [token for token in tokens if token.lower() not in seen]
    return ", ".join(merged).encode("latin-1")
