"""The rate limits on the Litestar routes: a thin middleware over the gate's ``Budgets``
(``edge.gate``), the same buckets the fast order lane spends, so every route shares one budget
per session and one per IP. Sign-in and sign-up (routes marked ``signin_limited``) also spend
the strict per-IP sign-in budget. A refusal is the gate's 429 (``RATE_LIMITED`` with
``Retry-After``); ``/schema``, ``/healthz`` and ``/readyz`` are never limited.

It runs after authentication (the JWT middleware is the outermost), as Litestar's own limiter
did: a request with a bad token is refused with 401 and spends nothing.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from litestar.enums import ScopeType
from litestar.middleware import ASGIMiddleware

from edge.gate import Budgets, client_ip, rate_limited

if TYPE_CHECKING:
    from litestar.types import ASGIApp, Receive, Scope, Send

__all__ = ["GateRateLimit"]

_UNLIMITED = ("/schema", "/healthz", "/readyz")


def _unlimited(scope: Scope) -> bool:
    return scope["path"].startswith(_UNLIMITED)


class GateRateLimit(ASGIMiddleware):
    """Spend one request of the session's and the IP's budgets (and of the sign-in budget on
    the routes marked ``signin_limited``), or refuse it with 429."""

    scopes = (ScopeType.HTTP,)

    def __init__(self, budgets: Budgets) -> None:
        self.budgets = budgets
        self.should_bypass_for_scope = _unlimited

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        ip = client_ip(scope.get("client"))
        now = time.monotonic()
        wait = self.budgets.take(dict(scope["headers"]).get(b"authorization"), ip, now)
        if not wait and scope["route_handler"].opt.get("signin_limited"):
            wait = self.budgets.take_signin(ip, now)
        if wait:
            raise rate_limited(wait)
        await next_app(scope, receive, send)
