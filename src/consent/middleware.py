"""``ConsentMiddleware``: the pure-ASGI callable that composes everything else."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from consent.cookies import ConsentState
from consent.endpoints import ConsentEndpoints, DecisionEvent
from consent.html import HTMLInjector, html_charset
from consent.settings import ConsentSettings
from consent.visitor import Site, Visitor, page_path

Header = tuple[bytes, bytes]

_HIDDEN_EXTENSIONS = ("http.response.pathsend", "http.response.zerocopysend")


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
        self.site = Site(self.settings)
        self.endpoints = ConsentEndpoints(self.site, on_decision)
        self.prefix = self.settings.prefix
        self.vary = _vary_tokens(self.settings, len(self.site.catalog.languages) > 1)
        self.accept_ch = (
            [(b"accept-ch", b"Sec-CH-UA-Full-Version-List")]
            if self.settings.accept_client_hints
            else []
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path: str = scope["path"]
            if path.startswith(self.prefix) and path[len(self.prefix) : len(self.prefix) + 1] in (
                "",
                "/",
            ):
                await self.endpoints(scope, receive, send)
                return
            visitor = self.site.visitor(scope)
            responder = HTMLResponder(self, scope, visitor, send)
            await self.app(responder.scope, receive, responder.send)
        elif scope["type"] == "websocket":
            visitor = self.site.visitor(scope)
            _publish(scope, visitor)
            await self.app(scope, receive, WebSocketResponder(self, visitor, send).send)
        else:
            await self.app(scope, receive, send)


def _publish(scope: Scope, visitor: Visitor) -> None:
    state = scope.setdefault("state", {})
    state["consent"] = visitor.consent
    state["browser"] = visitor.browser


class HTMLResponder:
    """One request: strips refused cookies and injects the notice and banner into HTML."""

    def __init__(
        self, middleware: ConsentMiddleware, scope: Scope, visitor: Visitor, send: Send
    ) -> None:
        self.middleware = middleware
        self.visitor = visitor
        self.downstream = send
        self.injector: HTMLInjector | None = None
        self.scope = _without_send_extensions(scope)
        self.request_scope = scope
        _publish(self.scope, visitor)

    async def send(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            message = self.start(message)
        elif self.injector is not None and message["type"] == "http.response.body":
            body = self.injector.feed(message.get("body", b""))
            more_body = message.get("more_body", False)
            if not more_body:
                body += self.injector.finish()
                self.injector = None
            message = {"type": "http.response.body", "body": body, "more_body": more_body}
        await self.downstream(message)

    def start(self, message: Message) -> Message:
        site = self.middleware.site
        headers: Sequence[Header] = message.get("headers") or ()
        granted = self.visitor.consent.granted
        filtered = site.policy.filter_headers(headers, granted)
        if filtered is not None:
            headers = filtered
        rewritten = self.rewrite(message["status"], headers)
        if rewritten is not None:
            headers = rewritten
        elif filtered is None:
            return message
        return {**message, "headers": list(headers)}

    def rewrite(self, status: int, headers: Sequence[Header]) -> list[Header] | None:
        """New headers when this response gets the snippet (the injector is then ready)."""
        scope = self.request_scope
        if scope.get("method") == "HEAD" or status < 200 or status in (204, 304):
            return None
        content_type = encoding = length = skip = None
        for name, value in headers:
            lowered = name.lower()
            if lowered == b"content-type":
                content_type = value
            elif lowered == b"content-encoding":
                encoding = value
            elif lowered == b"content-length":
                length = value
            elif lowered == b"x-consent-skip":
                skip = value
        if content_type is None or encoding not in (None, b"identity") or skip is not None:
            return _drop(headers, b"x-consent-skip") if skip is not None else None
        charset = html_charset(content_type)
        if charset is None or _skipped_path(scope, self.middleware.settings.skip_paths):
            return None
        snippet = self.snippet(charset)
        kept: list[Header] = []
        for name, value in headers:
            lowered = name.lower()
            if lowered == b"content-length":
                continue
            if lowered == b"etag" and snippet:
                if not value.startswith(b"W/"):
                    value = b"W/" + value
            elif lowered == b"vary":
                continue
            kept.append((name, value))
        if length is not None and length.strip().isdigit():
            kept.append((b"content-length", str(int(length) + len(snippet)).encode()))
        kept.append((b"vary", _merge_vary(headers, self.middleware.vary)))
        kept.extend(self.middleware.accept_ch)
        if snippet:
            self.injector = HTMLInjector(snippet)
        return kept

    def snippet(self, charset: str) -> bytes:
        visitor = self.visitor
        browser = visitor.browser
        if browser.is_bot:
            return b""
        settings = self.middleware.settings
        consent: ConsentState = visitor.consent
        notice = visitor.notice()
        if notice is None and not settings.consent_enabled:
            return b""
        template = self.middleware.site.renderer.snippet(
            visitor.language,
            notice,
            browser.key if notice else None,
            settings.consent_enabled and not consent.decided,
            consent.gpc and not consent.decided,
            consent.decided,
            consent.granted,
            charset,
        )
        nonce = self.scope.get("state", {}).get("csp_nonce")
        return template.fill(
            page_path(self.request_scope), nonce if isinstance(nonce, str) else None
        )


class WebSocketResponder:
    """Strips refused cookies from ``websocket.accept`` headers."""

    def __init__(self, middleware: ConsentMiddleware, visitor: Visitor, send: Send) -> None:
        self.policy = middleware.site.policy
        self.visitor = visitor
        self.downstream = send

    async def send(self, message: Message) -> None:
        if message["type"] == "websocket.accept" and message.get("headers"):
            kept = self.policy.filter_headers(
                list(message["headers"]), self.visitor.consent.granted
            )
            if kept is not None:
                message = {**message, "headers": kept}
        await self.downstream(message)


def _without_send_extensions(scope: Scope) -> Scope:
    """The scope without extensions whose bodies would bypass the injector."""
    extensions = scope.get("extensions")
    if not extensions or not any(name in extensions for name in _HIDDEN_EXTENSIONS):
        return scope
    kept = {name: value for name, value in extensions.items() if name not in _HIDDEN_EXTENSIONS}
    return {**scope, "extensions": kept}


def _skipped_path(scope: Scope, skip_paths: tuple[str, ...]) -> bool:
    return bool(skip_paths) and str(scope.get("path", "")).startswith(skip_paths)


def _drop(headers: Sequence[Header], unwanted: bytes) -> list[Header]:
    return [(name, value) for name, value in headers if name.lower() != unwanted]


def _vary_tokens(settings: ConsentSettings, several_languages: bool) -> tuple[str, ...]:
    tokens = ["Cookie", "User-Agent"]
    if several_languages:
        tokens.append("Accept-Language")
    if settings.client_hints:
        tokens += ["Sec-CH-UA", "Sec-CH-UA-Full-Version-List"]
    if settings.honour_gpc and settings.consent_enabled:
        tokens.append("Sec-GPC")
    return tuple(tokens)


def _merge_vary(headers: Sequence[Header], tokens: tuple[str, ...]) -> bytes:
    """One Vary value: the app's tokens, then ours that are missing (case-insensitively)."""
    present: list[str] = []
    for name, value in headers:
        if name.lower() == b"vary":
            present += [
                token.strip() for token in value.decode("latin-1").split(",") if token.strip()
            ]
    if "*" in present:
        return b"*"
    seen = {token.lower() for token in present}
    merged = present + [token for token in tokens if token.lower() not in seen]
    return ", ".join(merged).encode("latin-1")
