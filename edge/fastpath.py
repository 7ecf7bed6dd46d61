"""A lean lane for the hottest route, ``POST /api/v1/order``, in front of the Litestar app.

Measured on this 2-core machine, Litestar with its JWT, CORS and allowed-hosts middleware costs
about 430 µs of CPU per request before any work: more than everything else an order needs. This
ASGI wrapper serves the *ordinary* order request itself — right host, no ``Origin`` header, a
JSON content type, a valid bearer token, a body that ``edge.request.decode_body`` accepts as an
``OrderRequest`` (the decoder the Litestar route uses) — with the same checks, the same
``Exchange.place`` and the same JSON shapes as the Litestar route. Anything else (a bad token, a
malformed body, a browser request needing CORS, a request signed with an API key) is handed to
Litestar untouched, body included, so every error is produced by the one code path the tests
cover; Litestar also still serves the route in the OpenAPI document.

The lane is also the edge's front door: it refuses a ``Host`` the edge does not serve on every
request, HTTP and WebSocket, before anything else. Hosts, tokens and rate limits are the gate's
(``edge.gate``): this lane calls the same ``Hosts``, ``Tokens`` and ``Budgets`` objects as the
Litestar middleware does, so an order spends the same per-session and per-IP budget as any other
request, and both lanes accept exactly the same tokens.
"""

from __future__ import annotations

import time
from typing import Any, Final

import msgspec
from litestar.enums import ScopeType
from litestar.types import (
    HTTPResponseBodyEvent,
    HTTPResponseStartEvent,
    Receive,
    Scope,
    Send,
    WebSocketCloseEvent,
)

from edge.errors import ApiError, error_body, log
from edge.gate import Gate, client_ip, rate_limited
from edge.request import decode_body, is_json, read_body, replaying
from edge.trading import Exchange
from model import stages
from model.api import OrderRequest

__all__ = ["FastOrderLane"]

_PATH = "/api/v1/order"
_encode = msgspec.json.Encoder().encode
_JSON_HEADERS = [(b"content-type", b"application/json")]
_INVALID_HOST = error_body(
    ApiError(400, "INVALID_HOST", "this server does not answer for that Host")
)
_HTTP: Final = ScopeType.HTTP  # a str enum: equal to the scope's plain "http"
_WEBSOCKET: Final = ScopeType.WEBSOCKET
#: Traced orders' stage marks (bench/order_path.py's stage run; see model/stages.py).
_STAGES = stages.StageLog("edge")


class FastOrderLane:
    """ASGI app: the ordinary ``POST /api/v1/order`` here, everything else to ``app``."""

    def __init__(self, app: Any, gate: Gate, max_body_bytes: int) -> None:
        self.app = app
        self.gate = gate
        # Bound once: the per-request path reads attributes of this object only.
        self._hosts = gate.hosts.exact
        self._other_host_allowed = gate.hosts.allows_other
        self._user = gate.tokens.user
        self._take = gate.budgets.take
        self._max_body = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != _HTTP:
            if scope["type"] == _WEBSOCKET and not self.gate.hosts.allows(
                dict(scope["headers"]).get(b"host")
            ):  # refused before the handshake (the server answers it with 403)
                close: WebSocketCloseEvent = {"type": "websocket.close", "code": 1008, "reason": ""}
                await send(close)
                return
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        host = headers.get(b"host")
        if host not in self._hosts and not self._other_host_allowed(host):
            await _respond(send, 400, _INVALID_HOST, {})
            return
        if scope["path"] != _PATH or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        trace = stages.begin("app") if stages.ENABLED else None
        user = None
        if (
            b"origin" not in headers
            and b"x-api-key" not in headers  # signed: the Litestar middleware checks it
            and host in self._hosts
            and is_json(headers.get(b"content-type"))
        ):
            user = self._user(headers.get(b"authorization"))
        if user is None:
            await self.app(scope, receive, send)
            return
        if trace is not None:
            trace["auth"] = stages.now()
        body, complete = await read_body(receive, self._max_body)
        replay = replaying(body, complete, receive)
        if not complete:
            await self.app(scope, replay, send)
            return
        try:
            data = decode_body(body, OrderRequest)
        except ApiError:
            await self.app(scope, replay, send)
            return
        if trace is not None:
            trace["decode"] = stages.now()
        wait = self._take(
            headers[b"authorization"], client_ip(scope.get("client")), time.monotonic()
        )
        if wait:
            error = rate_limited(wait)
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
        if trace is None:
            await _respond(send, 200, _encode(view), {})
            return
        encoded = _encode(view)
        trace["encoded"] = stages.now()
        await _respond(send, 200, encoded, {})
        trace["sent"] = stages.now()
        trace["order_id"] = view.order_id
        _STAGES.add(trace)


async def _respond(send: Send, status: int, body: bytes, headers: dict[str, str]) -> None:
    extra = [(k.lower().encode(), v.encode()) for k, v in headers.items()]
    start: HTTPResponseStartEvent = {
        "type": "http.response.start",
        "status": status,
        "headers": [*_JSON_HEADERS, (b"content-length", str(len(body)).encode()), *extra],
    }
    await send(start)
    end: HTTPResponseBodyEvent = {"type": "http.response.body", "body": body, "more_body": False}
    await send(end)
