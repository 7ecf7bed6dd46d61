"""A lean lane for the hottest route, ``POST /api/v1/order``, in front of the Litestar app.

Measured on this 2-core machine, Litestar with its JWT, CORS and allowed-hosts middleware costs
about 430 µs of CPU per request before any work: more than everything else an order needs. This
ASGI wrapper serves the *ordinary* order request itself — right host, no ``Origin`` header, a
JSON content type, a valid bearer token, a body that ``edge.request.decode_body`` accepts as an
``OrderRequest`` (the decoder the Litestar route uses) — with the same checks, the same
``Exchange.place`` and the same JSON shapes as the Litestar route. Anything else (a bad token, a
malformed body, a browser request needing CORS) is handed to Litestar untouched, body included,
so every error is produced by the one code path the tests cover; Litestar also still serves the
route in the OpenAPI document.

Tokens are verified once (``edge.auth.verify_token``: the JWT middleware's own check) and
cached until they expire. Rate limits on this lane are in-process token buckets with the same
per-session and per-IP settings as Litestar's limiter on the other routes (that middleware reads
and writes its store on every request).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import msgspec

from edge.auth import verify_token
from edge.errors import ApiError, error_body, log
from edge.request import decode_body, is_json
from edge.schemas import OrderRequest
from edge.trading import Exchange
from model.ids import UserId
from model.settings import EdgeSettings

__all__ = ["FastOrderLane"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_PATH = "/api/v1/order"
_encode = msgspec.json.Encoder().encode
_JSON_HEADERS = [(b"content-type", b"application/json")]
_TOKEN_CACHE_LIMIT = 100_000


class _Buckets:
    """Token buckets refilled at ``rate`` per second, ``rate`` deep; rate 0 lets all pass."""

    def __init__(self, rate: int) -> None:
        self.rate = rate
        self._state: dict[str, tuple[float, float]] = {}

    def take(self, key: str, now: float) -> float:
        """Take one token; return 0 if allowed, else the seconds until one is there."""
        if not self.rate:
            return 0.0
        tokens, stamp = self._state.get(key, (float(self.rate), now))
        tokens = min(float(self.rate), tokens + (now - stamp) * self.rate)
        if tokens < 1.0:
            self._state[key] = (tokens, now)
            return (1.0 - tokens) / self.rate
        self._state[key] = (tokens - 1.0, now)
        if len(self._state) > 100_000:
            self._state.clear()
        return 0.0


class FastOrderLane:
    """ASGI app: the ordinary ``POST /api/v1/order`` here, everything else to ``app``."""

    def __init__(self, app: Any, settings: EdgeSettings, hosts: list[str]) -> None:
        self.app = app
        self._secret = settings.jwt_secret
        self._hosts = {h.encode() for h in hosts}
        # Litestar's allowed-host rules beyond exact names: "*" (any) and "*.example.com".
        self._any_host = "*" in hosts
        self._host_suffixes = tuple(h[1:].encode() for h in hosts if h.startswith("*."))
        self._max_body = settings.max_body_bytes
        self._tokens: dict[bytes, tuple[UserId, float]] = {}
        self._per_client = _Buckets(settings.rate_limit_per_second)
        self._per_ip = _Buckets(settings.ip_limit_per_second)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        host = headers.get(b"host")
        if host not in self._hosts and not self._other_host_allowed(host):
            # Litestar's allowed-hosts middleware would refuse it too, but in a shape of its own.
            error = ApiError(400, "INVALID_HOST", "this server does not answer for that Host")
            await _respond(send, error.status, error_body(error), {})
            return
        if scope["path"] != _PATH or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        user = None
        if (
            b"origin" not in headers
            and host in self._hosts
            and is_json(headers.get(b"content-type"))
        ):
            user = self._user(headers.get(b"authorization"))
        if user is None:
            await self.app(scope, receive, send)
            return
        body, complete = await _read_body(receive, self._max_body)
        replay = _replaying(body, complete, receive)
        if not complete:
            await self.app(scope, replay, send)
            return
        try:
            data = decode_body(body, OrderRequest)
        except ApiError:
            await self.app(scope, replay, send)
            return
        wait = self._limited(headers[b"authorization"], scope)
        if wait:
            error = ApiError(
                429,
                "RATE_LIMITED",
                "too many requests",
                headers={"Retry-After": str(int(wait) + 1)},
            )
            await _respond(send, error.status, error_body(error), error.headers)
            return
        exchange: Exchange = self.app.state.exchange
        try:
            view = await exchange.place(data, user)
        except ApiError as error:
            await _respond(send, error.status, error_body(error), error.headers)
            return
        except Exception:  # as Litestar's last-resort handler (edge.errors): logged, JSON
            log.exception("unhandled error on POST %s (fast lane)", _PATH)
            await _respond(send, 500, error_body(ApiError(500, "INTERNAL", "internal error")), {})
            return
        await _respond(send, 200, _encode(view), {})

    def _other_host_allowed(self, host: bytes | None) -> bool:
        if self._any_host:
            return True
        name = (host or b"").partition(b":")[0]
        return bool(name) and bool(self._host_suffixes) and name.endswith(self._host_suffixes)

    def _user(self, authorization: bytes | None) -> UserId | None:
        """The user a valid ``Bearer`` token names, from the cache or by verifying it."""
        if authorization is None:
            return None
        now = time.time()
        cached = self._tokens.get(authorization)
        if cached is not None:
            return cached[0] if cached[1] > now else None
        scheme, _, token = authorization.partition(b" ")
        if scheme.lower() != b"bearer" or not token:
            return None
        verified = verify_token(token, self._secret)
        if verified is None:
            return None
        if len(self._tokens) >= _TOKEN_CACHE_LIMIT:
            self._tokens.clear()
        self._tokens[authorization] = verified
        return verified[0]

    def _limited(self, authorization: bytes, scope: Scope) -> float:
        now = time.monotonic()
        client = scope.get("client")
        ip = client[0] if client else "?"
        return max(
            self._per_client.take(authorization.decode(errors="replace"), now),
            self._per_ip.take(ip, now),
        )


async def _read_body(receive: Receive, limit: int) -> tuple[bytes, bool]:
    """The request body, and whether it was read whole within ``limit`` bytes."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return b"".join(chunks), False
        chunk = message.get("body", b"")
        chunks.append(chunk)
        size += len(chunk)
        if size > limit:
            return b"".join(chunks), False
        if not message.get("more_body", False):
            return b"".join(chunks), True


def _replaying(body: bytes, complete: bool, receive: Receive) -> Receive:
    """A ``receive`` that first gives back what was read, then continues the real one."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": not complete}
        return await receive()

    return replay


async def _respond(send: Send, status: int, body: bytes, headers: dict[str, str]) -> None:
    extra = [(k.lower().encode(), v.encode()) for k, v in headers.items()]
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [*_JSON_HEADERS, (b"content-length", str(len(body)).encode()), *extra],
        }
    )
    await send({"type": "http.response.body", "body": body})
