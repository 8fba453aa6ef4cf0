"""Page security: strict headers, CSRF tokens bound to the team session, public rate limits."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from fastapi import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from candor.accounts.principal import Principal
from candor.core.context import Candor

CSP: Final = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)
HEADERS: Final = (
    (b"content-security-policy", CSP.encode()),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-content-type-options", b"nosniff"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=(), interest-cohort=()"),
)
CSRF_COOKIE: Final = "candor_csrf"
# Path prefixes anyone may call without a key: rate limited per client address.
PUBLIC_PREFIXES: Final = (
    "/preferences/",
    "/confirm/",
    "/u/",
    "/requests",
    "/download/",
    "/.well-known/",
    "/team/login",
    "/team/set-password/",
)


class PageRefused(Exception):
    """A page request refused (403 CSRF or role, 401 login needed); rendered as HTML."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class SecurityHeaders:
    """Adds the strict headers to every response (HSTS too when served over https)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        https = scope.get("scheme") == "https"

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {name.lower() for name, _ in message.get("headers", [])}
                extra = [h for h in HEADERS if h[0] not in present]
                if https:
                    extra.append((b"strict-transport-security", b"max-age=63072000"))
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        await self.app(scope, receive, with_headers)


@dataclass
class _Bucket:
    tokens: float
    stamp: float


class RateLimiter:
    """An in-memory token bucket per client address: `capacity` requests, refilled per second."""

    def __init__(self, capacity: float = 60, per_second: float = 1.0) -> None:
        self.capacity = capacity
        self.per_second = per_second
        self._buckets: dict[str, _Bucket] = {}
        self._lock = threading.Lock()

    def allow(self, client: str, now: float | None = None) -> bool:
        """Take one token for `client`; False when its bucket is empty."""
        now = time.monotonic() if now is None else now
        with self._lock:
            if len(self._buckets) > 50_000:
                self._buckets.clear()  # bounded memory under address spraying
            bucket = self._buckets.get(client)
            if bucket is None:
                bucket = self._buckets[client] = _Bucket(self.capacity, now)
            bucket.tokens = min(
                self.capacity, bucket.tokens + (now - bucket.stamp) * self.per_second
            )
            bucket.stamp = now
            if bucket.tokens < 1:
                return False
            bucket.tokens -= 1
            return True

    def reset(self) -> None:
        with self._lock:
            self._buckets.clear()


class RateLimit:
    """Answers 429 on public paths once the client's bucket is empty."""

    def __init__(self, app: ASGIApp, limiter: RateLimiter) -> None:
        self.app = app
        self.limiter = limiter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] == "http" and path.startswith(PUBLIC_PREFIXES):
            client = (scope.get("client") or ("unknown", 0))[0]
            if not self.limiter.allow(client):
                response = Response(
                    "Too many requests; please try again in a minute.\n",
                    status_code=429,
                    media_type="text/plain",
                    headers={"Retry-After": "60"},
                )
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


# ---------------------------------------------------------------- keys and sessions


def page_key(cx: Candor, use: str) -> bytes:
    """A key for one use (sessions, CSRF), derived from the vault's signing key."""
    return hmac.new(cx.vault.signing_key, f"candor pages {use}".encode(), hashlib.sha256).digest()


def is_https(request: Request) -> bool:
    return request.url.scheme == "https"


@dataclass(frozen=True)
class Session:
    """A logged-in team member: who acts (principal), the member's id, e-mail and time zone,
    and `nonce` (the session token's digest) that CSRF tokens are bound to."""

    principal: Principal
    nonce: str
    member_id: int = 0
    email: str = ""
    time_zone: str = "UTC"


# ---------------------------------------------------------------- CSRF


def _mac(key: bytes, text: str) -> str:
    return hmac.new(key, text.encode(), hashlib.sha256).hexdigest()


def csrf_token(cx: Candor, request: Request) -> str:
    """The token forms carry: bound to the session, else to a double-submit cookie."""
    session = getattr(request.state, "session", None)
    if isinstance(session, Session):
        return _mac(page_key(cx, "csrf"), "session:" + session.nonce)
    seed = request.cookies.get(CSRF_COOKIE)
    if not seed or len(seed) > 64:
        seed = getattr(request.state, "new_csrf_seed", None) or secrets.token_urlsafe(24)
        request.state.new_csrf_seed = seed
    return _mac(page_key(cx, "csrf"), "cookie:" + seed)


def remember_csrf_seed(request: Request, response: Response) -> None:
    """Set the double-submit cookie when this request minted a new seed."""
    seed = getattr(request.state, "new_csrf_seed", None)
    if seed:
        response.set_cookie(
            CSRF_COOKIE, seed, httponly=True, samesite="strict", secure=is_https(request), path="/"
        )


def check_csrf(cx: Candor, request: Request, form: Any) -> None:
    """403 unless the form's token matches the session or the double-submit cookie."""
    presented = form.get("csrf") if form is not None else None
    if not isinstance(presented, str) or not presented:
        raise PageRefused(403, "the form's security token is missing; reload the page")
    session = getattr(request.state, "session", None)
    if isinstance(session, Session):
        expected = _mac(page_key(cx, "csrf"), "session:" + session.nonce)
    else:
        seed = request.cookies.get(CSRF_COOKIE)
        if not seed:
            raise PageRefused(403, "the form's security token is invalid; reload the page")
        expected = _mac(page_key(cx, "csrf"), "cookie:" + seed)
    if not hmac.compare_digest(presented, expected):
        raise PageRefused(403, "the form's security token is invalid; reload the page")


def form_text(form: Any, name: str, limit: int, default: str = "") -> str:
    """A form's text field cut to `limit`; 422 naming the field when it holds NUL (which
    PostgreSQL text cannot store). A file upload in its place counts as absent."""
    value = form.get(name, default) if form is not None else default
    text = value if isinstance(value, str) else default
    if "\x00" in text:
        raise PageRefused(422, f"{name}: must not contain NUL characters")
    return text[:limit]


def client_ip(request: Request) -> str | None:
    return request.client.host if request.client else None


def evidence(request: Request, page: str, at: datetime, **extra: Any) -> dict[str, Any]:
    """The page's evidence for a ledger event: which page, when, from where, which browser."""
    return {
        "page": page,
        "time": at.isoformat(),
        "ip": client_ip(request),
        "user_agent": (request.headers.get("user-agent") or "")[:400],
        **extra,
    }
