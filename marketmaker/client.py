"""A small REST client of the edge: accounts, tokens, and retries with backoff.

Retry policy
------------
* A *transient* failure is a connection error, a timeout, a dropped connection, or an answer of
  429, 500, 502, 503 or 504. Calls made with ``retry=True`` (the default) wait and try again,
  forever, with capped exponential backoff and jitter (``Retry-After`` is honoured when longer),
  logging ``edge unreachable, retrying in Xs``: this is how the market maker rides out an edge
  restart. Calls made with ``retry=False`` raise :class:`EdgeUnavailableError` at once instead.
* Any other non-2xx answer raises :class:`EdgeError` with the edge's error code; it is never
  retried, except 401 on a signed-in call: the token has expired (or the edge's secret changed),
  so the account signs in again and the call is repeated once.
* Sign-up answers 409 when the username exists: the account then signs in. A sign-in refused
  with 401 means a wrong password and raises :class:`AuthError`; nothing retries that.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, TypeVar

import httpx
import msgspec

__all__ = [
    "Account",
    "AuthError",
    "Backoff",
    "BalanceInfo",
    "DepthInfo",
    "EdgeClient",
    "EdgeError",
    "EdgeUnavailableError",
    "FillInfo",
    "MarketInfo",
    "OrderInfo",
]

log = logging.getLogger("tidewater.mm")

_TRANSIENT = frozenset({429, 500, 502, 503, 504})
#: Sign in again this long before the token's ``exp``, rather than wait for a 401.
_TOKEN_MARGIN_MS = 60_000

T = TypeVar("T")


class EdgeError(Exception):
    """The edge answered a request with an error that retrying would not cure."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message


class AuthError(EdgeError):
    """The account's credentials are refused."""


class EdgeUnavailableError(Exception):
    """A call made with ``retry=False`` met a transient failure."""


@dataclass(frozen=True)
class Backoff:
    """Capped exponential backoff with jitter, in milliseconds."""

    initial_ms: int = 200
    """The first wait."""
    cap_ms: int = 5_000
    """No wait is longer than this (before ``Retry-After``)."""

    def delay_ms(self, attempt: int, rng: random.Random) -> int:
        """The wait before retry ``attempt`` (0-based): between half and all of the nominal
        ``initial * 2**attempt``, capped, so clients that failed together do not retry together."""
        nominal = min(self.cap_ms, self.initial_ms << min(attempt, 30))
        return nominal // 2 + rng.randint(0, nominal - nominal // 2)


@dataclass
class Account:
    """One user of the edge and its current access token."""

    username: str
    password: str
    token: str | None = None
    expires_at_ms: int = 0
    user_id: int | None = None
    lock: asyncio.Lock = field(default_factory=asyncio.Lock, repr=False, compare=False)
    """Held while signing in, so concurrent calls that find the token stale sign in once."""

    def token_fresh(self, now_ms: int) -> bool:
        """Whether the token can still be used for a while."""
        return self.token is not None and now_ms < self.expires_at_ms - _TOKEN_MARGIN_MS


# --- the bodies the market maker reads (a subset of the edge's; unknown fields are ignored) ---


class _Body(msgspec.Struct, rename="camel", frozen=True):
    pass


class _TokenBody(_Body, frozen=True):
    token: str
    expires_at: int
    user_id: int | None = None


class MarketInfo(_Body, frozen=True):
    """A market as ``GET /markets`` describes it."""

    symbol: str
    base_symbol: str
    quote_symbol: str
    tick_size: str
    step_size: str
    max_price: str
    max_quantity: str
    maker_fee: str
    taker_fee: str


class FillInfo(_Body, frozen=True):
    """One trade of an order just placed."""

    price: str
    quantity: str


class OrderInfo(_Body, frozen=True):
    """An order as ``POST /order`` or ``GET /orders/open`` report it."""

    order_id: str
    market: str
    kind: str
    status: str
    executed_qty: str
    price: str | None = None
    client_order_id: str | None = None
    created_at: int = 0
    fills: list[FillInfo] = []


class _CancelAllBody(_Body, frozen=True):
    canceled: list[OrderInfo]


class BalanceInfo(_Body, frozen=True):
    available: str
    locked: str


class DepthInfo(_Body, frozen=True):
    """The L2 book: ``[price, quantity]`` pairs, best first."""

    bids: list[list[str]]
    asks: list[list[str]]


class _TradeBody(_Body, frozen=True):
    price: str


def _error(response: httpx.Response) -> tuple[str, str]:
    try:
        body = response.json()
        error = body["error"]
        return str(error["code"]), str(error["message"])
    except (ValueError, KeyError, TypeError):
        return "HTTP_ERROR", response.text[:200]


def _decode(response: httpx.Response, kind: type[T]) -> T:
    return msgspec.json.decode(response.content, type=kind)


def _retry_after_ms(response: httpx.Response) -> int:
    raw = response.headers.get("Retry-After", "")
    return int(raw) * 1000 if raw.isdigit() else 0


class EdgeClient:
    """Calls to one edge's ``/api/v1`` over a pooled async HTTP client."""

    def __init__(
        self,
        edge_url: str,
        *,
        timeout_ms: int = 10_000,
        backoff: Backoff | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.base_url = edge_url.rstrip("/") + "/api/v1"
        self.backoff = backoff or Backoff()
        self._http = httpx.AsyncClient(
            base_url=self.base_url, timeout=timeout_ms / 1000, transport=transport
        )
        self._jitter = random.Random()  # jitter needs no seed: it only spreads retries out

    async def __aenter__(self) -> EdgeClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._http.aclose()

    # --- the one way every call goes -------------------------------------------------------

    async def call(
        self,
        method: str,
        path: str,
        *,
        account: Account | None = None,
        json: dict[str, Any] | None = None,
        params: dict[str, Any] | None = None,
        retry: bool = True,
    ) -> httpx.Response:
        """Send one request (signed in as ``account`` if given) and return its 2xx answer."""
        reauthenticated = False
        attempt = 0
        while True:
            headers: dict[str, str] = {}
            if account is not None:
                headers["Authorization"] = f"Bearer {await self._token(account)}"
            used = headers.get("Authorization")
            wait_ms = 0
            try:
                response = await self._http.request(
                    method, path, json=json, params=params, headers=headers
                )
            except httpx.TransportError as exc:
                reason = type(exc).__name__
            else:
                if response.is_success:
                    return response
                code, message = _error(response)
                if response.status_code == 401 and account is not None and not reauthenticated:
                    reauthenticated = True
                    await self._sign_in_again(account, used)
                    continue
                if response.status_code not in _TRANSIENT:
                    raise EdgeError(response.status_code, code, message)
                reason = f"{response.status_code} {code}"
                wait_ms = _retry_after_ms(response)
            if not retry:
                raise EdgeUnavailableError(f"{method} {path}: {reason}")
            wait_ms = max(wait_ms, self.backoff.delay_ms(attempt, self._jitter))
            attempt += 1
            log.warning(
                "edge unreachable, retrying in %.1fs (%s %s: %s)",
                wait_ms / 1000,
                method,
                path,
                reason,
            )
            await asyncio.sleep(wait_ms / 1000)

    # --- accounts --------------------------------------------------------------------------

    async def sign_up_or_in(self, account: Account) -> None:
        """Create the account, or sign in if it exists already."""
        async with account.lock:
            body = {"username": account.username, "password": account.password}
            try:
                response = await self.call("POST", "/signup", json=body)
            except EdgeError as exc:
                if exc.status != 409:
                    raise
                await self._sign_in(account)
                return
            log.info("signed up as %s", account.username)
            self._keep(account, _decode(response, _TokenBody))

    async def _token(self, account: Account) -> str:
        if not account.token_fresh(_now_ms()):
            async with account.lock:
                if not account.token_fresh(_now_ms()):
                    await self._sign_in(account)
        assert account.token is not None
        return account.token

    async def _sign_in_again(self, account: Account, used: str | None) -> None:
        async with account.lock:
            if used == f"Bearer {account.token}":  # nobody has replaced the refused token yet
                await self._sign_in(account)

    async def _sign_in(self, account: Account) -> None:
        body = {"username": account.username, "password": account.password}
        try:
            response = await self.call("POST", "/signin", json=body)
        except EdgeError as exc:
            if exc.status == 401:
                raise AuthError(
                    exc.status, exc.code, f"{account.username}: {exc.message}"
                ) from None
            raise
        self._keep(account, _decode(response, _TokenBody))
        log.debug("signed in as %s", account.username)

    @staticmethod
    def _keep(account: Account, token: _TokenBody) -> None:
        account.token, account.expires_at_ms = token.token, token.expires_at
        account.user_id = token.user_id

    # --- market data -----------------------------------------------------------------------

    async def markets(self) -> list[MarketInfo]:
        """Every market the edge trades."""
        return _decode(await self.call("GET", "/markets"), list[MarketInfo])

    async def last_trade_price(self, symbol: str) -> str | None:
        """The price of the market's most recent trade, if any."""
        response = await self.call("GET", "/trades", params={"symbol": symbol, "limit": 1})
        trades = _decode(response, list[_TradeBody])
        return trades[0].price if trades else None

    async def depth(self, symbol: str, limit: int = 1) -> DepthInfo:
        """The top ``limit`` levels of each side."""
        response = await self.call("GET", "/depth", params={"symbol": symbol, "limit": limit})
        return _decode(response, DepthInfo)

    # --- an account's own ------------------------------------------------------------------

    async def balances(self, account: Account) -> dict[str, BalanceInfo]:
        """The account's balance of every asset it holds."""
        response = await self.call("GET", "/balances", account=account)
        return _decode(response, dict[str, BalanceInfo])

    async def onramp(self, account: Account, asset: str, amount: str) -> None:
        """Deposit test funds (an exact decimal string of ``asset``)."""
        await self.call("POST", "/onramp", account=account, json={"asset": asset, "amount": amount})

    async def place(self, account: Account, order: dict[str, Any], *, retry: bool) -> OrderInfo:
        """Place an order (the JSON body of ``POST /order``) and return what it did."""
        response = await self.call("POST", "/order", account=account, json=order, retry=retry)
        return _decode(response, OrderInfo)

    async def cancel(
        self, account: Account, order_id: str, *, retry: bool = True
    ) -> OrderInfo | None:
        """Cancel one order; ``None`` if it is no longer open (filled, or canceled already)."""
        try:
            response = await self.call("DELETE", f"/order/{order_id}", account=account, retry=retry)
        except EdgeError as exc:
            if exc.status == 404:
                return None
            raise
        return _decode(response, OrderInfo)

    async def cancel_all(
        self, account: Account, market: str | None = None, *, retry: bool = True
    ) -> list[OrderInfo]:
        """Cancel the account's open orders in one market, or in all; return those canceled."""
        params = {"market": market} if market is not None else None
        response = await self.call("DELETE", "/orders", account=account, params=params, retry=retry)
        return (_decode(response, _CancelAllBody)).canceled

    async def open_orders(
        self, account: Account, market: str | None = None, *, retry: bool = True
    ) -> list[OrderInfo]:
        """The account's open orders in one market, or in all."""
        params = {"market": market} if market is not None else None
        response = await self.call(
            "GET", "/orders/open", account=account, params=params, retry=retry
        )
        return _decode(response, list[OrderInfo])


def _now_ms() -> int:
    return time.time_ns() // 1_000_000
