"""Rate limits on Litestar's rate-limit middleware: per client for every route, per IP for all,
and a strict one per IP on sign-in and sign-up (brute force). A refusal is a 429 whose
``Retry-After`` says when to come back (added by ``edge.errors``).

Windows are one second, so the history each limiter keeps stays short; a limit of 0 disables it.
"""

from __future__ import annotations

import hashlib
from typing import Any

from litestar import Request
from litestar.middleware.rate_limit import RateLimitConfig, RateLimitMiddleware, get_remote_address

__all__ = ["rate_limits"]


def _client_key(request: Request[Any, Any, Any]) -> str:
    """The bearer token's hash when there is one (one bucket per session), else the IP."""
    header = request.headers.get("authorization")
    if header:
        return "t:" + hashlib.blake2b(header.encode(), digest_size=12).hexdigest()
    return "ip:" + get_remote_address(request)


class ClientRateLimit(RateLimitMiddleware):
    """Per session (or per IP when anonymous)."""


class IpRateLimit(RateLimitMiddleware):
    """Per IP, whatever the tokens."""


class SigninRateLimit(RateLimitMiddleware):
    """Per IP, on the routes marked ``signin_limited`` only."""

    async def should_check_request(self, request: Request[Any, Any, Any]) -> bool:
        return bool(request.route_handler.opt.get("signin_limited"))


def rate_limits(per_client: int, per_ip: int, signin_per_minute: int) -> list[RateLimitConfig]:
    """The limiters to install (a limit of 0 is left out)."""
    configs: list[RateLimitConfig] = []
    common: dict[str, Any] = {"exclude": ["^/schema", "^/healthz", "^/readyz"]}
    if per_client:
        configs.append(
            RateLimitConfig(
                rate_limit=("second", per_client),
                identifier_for_request=_client_key,
                middleware_class=ClientRateLimit,
                **common,
            )
        )
    if per_ip:
        configs.append(
            RateLimitConfig(rate_limit=("second", per_ip), middleware_class=IpRateLimit, **common)
        )
    if signin_per_minute:
        configs.append(
            RateLimitConfig(
                rate_limit=("minute", signin_per_minute), middleware_class=SigninRateLimit, **common
            )
        )
    return configs
