"""The edge's gate: which ``Host`` headers it serves, which tokens it accepts, and how many
requests a session and an IP may make. Each policy is defined here once.

Two ways in use them, through thin adapters:

* the fast order lane (``edge.fastpath``), which sits in front of everything: it checks the host
  of every request, HTTP and WebSocket, and for the orders it serves itself it calls ``Tokens``
  and ``Budgets`` directly (plain method calls, no awaits, no per-request allocation beyond the
  bucket's own state);
* Litestar, for every request the lane hands on: ``edge.auth.GateJWTMiddleware`` (its JWT
  middleware, with the token check swapped for ``Tokens``) and ``edge.limits.GateRateLimit``
  (the rate limits, spending the same ``Budgets``).

A request is counted once: by the lane when it answers it, else by Litestar. So "N per second
per session" means N requests over all routes together, orders included.

Known limitation: the state is in memory, per process. With ``--workers W`` each worker keeps
its own token cache and buckets (no Redis round trip per request), so a client whose connections
land on several workers can get up to W times each limit.
"""

from __future__ import annotations

import time
from collections.abc import Iterable

from edge.auth import verify_token
from edge.errors import ApiError
from model.ids import UserId
from model.settings import EdgeSettings

__all__ = ["Bucket", "Budgets", "Gate", "Hosts", "Tokens", "client_ip", "rate_limited"]

#: Past this many entries a bucket store or the token cache is emptied (a flood of new keys
#: costs the flooder a fresh start, never the edge its memory).
MAX_ENTRIES = 100_000


class Hosts:
    """The ``Host`` headers the edge serves: exact names (each also with the edge's port), ``*``
    for any, and ``*.example.com`` for any name under that domain, on any port."""

    def __init__(self, hosts: Iterable[str]) -> None:
        listed = list(hosts)
        #: The exact names, as the raw header bytes.
        self.exact = frozenset(h.encode() for h in listed)
        self._any = "*" in listed
        self._suffixes = tuple(h[1:].encode() for h in listed if h.startswith("*."))

    def allows(self, host: bytes | None) -> bool:
        """Whether a request with this ``Host`` header (``None``: none) is served."""
        return host in self.exact or self.allows_other(host)

    def allows_other(self, host: bytes | None) -> bool:
        """Whether a host that is not an exact name is served (by ``*`` or a ``*.`` rule)."""
        if self._any:
            return True
        name = (host or b"").partition(b":")[0]
        return bool(name) and bool(self._suffixes) and name.endswith(self._suffixes)


class Tokens:
    """The token check: the user a request's ``Authorization`` header names, or ``None``.

    The header's first word (the scheme) is skipped unread and the rest is checked by
    ``edge.auth.verify_token`` (HS256, ``exp``/``iat``/``sub`` required, the user id rule): the
    rule Litestar's JWT middleware has always applied. A valid token is cached by its header
    until it expires, so it is verified once per process; a refused one is not cached.
    """

    def __init__(self, secret: str) -> None:
        self._secret = secret
        self._cache: dict[bytes, tuple[UserId, float]] = {}

    def user(self, authorization: bytes | None) -> UserId | None:
        """The user a valid token names, from the cache or by verifying it."""
        if authorization is None:
            return None
        now = time.time()
        cached = self._cache.get(authorization)
        if cached is not None:
            return cached[0] if cached[1] > now else None
        token = authorization.partition(b" ")[2]
        if not token:
            return None
        verified = verify_token(token, self._secret)
        if verified is None:
            return None
        if len(self._cache) >= MAX_ENTRIES:
            self._cache.clear()
        self._cache[authorization] = verified
        return verified[0]


class Bucket:
    """Token buckets, one per key: ``limit`` deep, refilled at ``limit`` per ``period`` seconds;
    a limit of 0 lets everything pass."""

    def __init__(self, limit: int, period: float = 1.0) -> None:
        self.limit = limit
        self._rate = limit / period
        self._state: dict[bytes | str, tuple[float, float]] = {}

    def take(self, key: bytes | str, now: float) -> float:
        """Take one token; return 0 if allowed, else the seconds until one is there."""
        if not self.limit:
            return 0.0
        depth = float(self.limit)
        tokens, stamp = self._state.get(key, (depth, now))
        tokens = min(depth, tokens + (now - stamp) * self._rate)
        if tokens < 1.0:
            self._state[key] = (tokens, now)
            return (1.0 - tokens) / self._rate
        self._state[key] = (tokens - 1.0, now)
        if len(self._state) > MAX_ENTRIES:
            self._state.clear()
        return 0.0


class Budgets:
    """The rate limits: per session (the ``Authorization`` header; the IP when there is none),
    per IP whatever the tokens, and a strict one per IP on sign-in and sign-up.

    Sessions are keyed by the raw header (``bytes``) and anonymous clients by their IP (``str``),
    so no header can be made to collide with an address. A refused request spends nothing from
    the buckets checked after the one that refused it.
    """

    def __init__(self, per_session: int, per_ip: int, signin_per_minute: int) -> None:
        self.sessions = Bucket(per_session)
        self.ips = Bucket(per_ip)
        self.signins = Bucket(signin_per_minute, 60.0)

    @classmethod
    def from_settings(cls, settings: EdgeSettings) -> Budgets:
        return cls(
            settings.rate_limit_per_second,
            settings.ip_limit_per_second,
            settings.signin_limit_per_minute,
        )

    def take(self, authorization: bytes | None, ip: str, now: float) -> float:
        """Spend one request of the session's and the IP's budgets: 0, or seconds to wait."""
        wait = self.sessions.take(ip if authorization is None else authorization, now)
        return wait or self.ips.take(ip, now)

    def take_signin(self, ip: str, now: float) -> float:
        """Spend one sign-in attempt of the IP's budget: 0, or seconds to wait."""
        return self.signins.take(ip, now)


def client_ip(client: tuple[str, int] | None) -> str:
    """The peer's address from an ASGI scope's ``client`` (uvicorn sets it; ``?`` if not)."""
    return client[0] if client else "?"


def rate_limited(wait: float) -> ApiError:
    """The refusal of a request over its budget: 429 with whole seconds to wait, at least 1."""
    return ApiError(
        429, "RATE_LIMITED", "too many requests", headers={"Retry-After": str(int(wait) + 1)}
    )


class Gate:
    """The three policies of one edge process, built from its settings."""

    def __init__(self, settings: EdgeSettings, hosts: Iterable[str]) -> None:
        self.hosts = Hosts(hosts)
        self.tokens = Tokens(settings.jwt_secret)
        self.budgets = Budgets.from_settings(settings)
