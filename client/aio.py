"""The asyncio client of the REST API (the market maker, load generators, async programs).

The same calls as :class:`client.Client`, awaited: every method is one route of
:mod:`client.routes`; failures raise :class:`client.ApiError` (see :mod:`client.policy` for
retries and renewed tokens). One client holds one connection pool; an :class:`Account` signs in
once however many tasks find its token stale.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Mapping
from decimal import Decimal
from types import TracebackType
from typing import Any, TypeVar

import httpx

from client import routes
from client.errors import ApiError
from client.policy import SIGN_IN_AGAIN, Account, Attempts, Auth, Backoff
from client.transport import DEFAULT_TIMEOUT, answer, headers_for, unreachable
from model import api
from model.intervals import IntervalName

__all__ = ["AsyncClient"]

log = logging.getLogger("tidewater.client")
T = TypeVar("T")


class AsyncClient:
    """Calls to one edge over a pooled async HTTP client; ``base_url`` is the edge's root."""

    def __init__(
        self,
        base_url: str,
        *,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
        backoff: Backoff | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        max_connections: int = 100,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.backoff = backoff
        self._http = httpx.AsyncClient(
            base_url=self.base_url + routes.API_PREFIX,
            timeout=timeout,
            transport=transport,
            limits=httpx.Limits(max_connections=max_connections),
        )
        self._jitter = random.Random()  # jitter needs no seed: it only spreads retries out

    async def __aenter__(self) -> AsyncClient:
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

    async def send(
        self, call: routes.Call[T], auth: Auth | None = None, *, retry: bool | None = None
    ) -> T:
        """Make ``call`` (signed in as ``auth`` when private) and decode its 2xx answer.

        With a :class:`Backoff`, transient failures are retried when ``retry`` says so, or by
        default when the call is idempotent (never an order or a deposit on its own accord)."""
        retrying = call.idempotent if retry is None else retry
        attempts = Attempts(self.backoff if retrying else None, auth, self._jitter)
        while True:
            token = await self._token(auth) if call.private else None
            try:
                return await self._once(call, token)
            except ApiError as error:
                wait_ms = attempts.after(error)
                if wait_ms != SIGN_IN_AGAIN:
                    log.warning("edge unreachable, retrying in %.1fs (%s)", wait_ms / 1000, error)
            if wait_ms == SIGN_IN_AGAIN:
                assert isinstance(auth, Account)
                await self._sign_in_again(auth, token)
                continue
            await asyncio.sleep(wait_ms / 1000)

    async def _once(self, call: routes.Call[T], token: str | None) -> T:
        try:
            response = await self._http.request(
                call.method,
                call.path,
                params=call.params,
                content=call.body,
                headers=headers_for(call, token),
            )
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            raise unreachable(call, exc) from None
        return answer(call, response)

    # --- accounts --------------------------------------------------------------------------

    async def _token(self, auth: Auth | None) -> str:
        if auth is None:
            raise TypeError("a private call needs auth: a token or an Account")
        if isinstance(auth, str):
            return auth
        if not auth.token_fresh():
            async with auth.async_lock:
                if not auth.token_fresh():
                    auth.keep(await self.sign_in(auth.username, auth.password))
        assert auth.token is not None
        return auth.token

    async def _sign_in_again(self, account: Account, refused: str | None) -> None:
        async with account.async_lock:
            if account.token == refused:  # nobody has replaced the refused token yet
                account.keep(await self.sign_in(account.username, account.password))

    async def sign_up(self, username: str, password: str) -> api.TokenView:
        """Create an account and sign it in."""
        return await self.send(routes.signup(username, password))

    async def sign_in(self, username: str, password: str) -> api.TokenView:
        """Exchange a username and password for a token (401 ``UNAUTHORIZED`` if wrong)."""
        return await self.send(routes.signin(username, password))

    async def sign_up_or_in(self, account: Account) -> None:
        """Create ``account``, or sign it in if the username exists already."""
        async with account.async_lock:
            try:
                # A sign-up retried after a lost answer meets 409 and signs in: safe to retry.
                signup = routes.signup(account.username, account.password)
                account.keep(await self.send(signup, retry=True))
            except ApiError as exc:
                if exc.status != 409:
                    raise
                account.keep(await self.sign_in(account.username, account.password))

    # --- market data -----------------------------------------------------------------------

    async def markets(self) -> list[api.MarketView]:
        """Every market with its grid (tick and step sizes), limits and fees."""
        return await self.send(routes.markets())

    async def depth(self, symbol: str, limit: int = 100) -> api.DepthView:
        """The L2 book (each side by ascending price, as Backpack's), with its ``lastUpdateId``."""
        return await self.send(routes.depth(symbol, limit))

    async def trades(self, symbol: str, limit: int = 100) -> list[api.TradeView]:
        """The most recent trades, newest first."""
        return await self.send(routes.trades(symbol, limit))

    async def ticker(self, symbol: str) -> api.TickerView:
        """24-hour statistics of one market."""
        return await self.send(routes.ticker(symbol))

    async def tickers(self) -> list[api.TickerView]:
        """24-hour statistics of every market."""
        return await self.send(routes.tickers())

    async def klines(
        self,
        symbol: str,
        interval: IntervalName,
        start_s: int | None = None,
        end_s: int | None = None,
        limit: int = 500,
    ) -> list[api.KlineView]:
        """Candles of one interval, oldest first, opening in ``[start_s, end_s)`` (seconds)."""
        return await self.send(routes.klines(symbol, interval, start_s, end_s, limit))

    # --- the caller's own --------------------------------------------------------------------

    async def balances(self, auth: Auth) -> dict[str, api.BalanceView]:
        """Available and locked balance per asset."""
        return await self.send(routes.balances(), auth)

    async def onramp(
        self, auth: Auth, asset: str, amount: str | Decimal, *, retry: bool | None = None
    ) -> dict[str, api.BalanceView]:
        """Deposit test funds; answers the new balances."""
        return await self.send(routes.onramp(asset, amount), auth, retry=retry)

    async def place(
        self, auth: Auth, order: api.OrderRequest | Mapping[str, Any], *, retry: bool | None = None
    ) -> api.OrderView:
        """Place an order and return what it did (fills included)."""
        return await self.send(routes.place(order), auth, retry=retry)

    async def quote(
        self, auth: Auth, request: api.QuoteRequest | Mapping[str, Any]
    ) -> api.QuoteView:
        """What a market order would get now, without placing it."""
        return await self.send(routes.quote(request), auth)

    async def order(self, auth: Auth, order_id: str) -> api.OrderView:
        """One of your orders, open or recently closed."""
        return await self.send(routes.order(order_id), auth)

    async def cancel(
        self, auth: Auth, order_id: str, *, retry: bool | None = None
    ) -> api.OrderView:
        """Cancel one of your open orders."""
        return await self.send(routes.cancel(order_id), auth, retry=retry)

    async def cancel_all(
        self, auth: Auth, market: str | None = None, *, retry: bool | None = None
    ) -> api.CancelAllResponse:
        """Cancel your open orders in one market, or in all."""
        return await self.send(routes.cancel_all(market), auth, retry=retry)

    async def open_orders(
        self, auth: Auth, market: str | None = None, *, retry: bool | None = None
    ) -> list[api.OrderView]:
        """Your open orders in one market, or in all."""
        return await self.send(routes.open_orders(market), auth, retry=retry)

    async def order_history(
        self,
        auth: Auth,
        market: str | None = None,
        status: str | None = None,
        limit: int = 100,
        cursor: str | None = None,
        *,
        retry: bool | None = None,
    ) -> api.OrdersPage:
        """A page of your orders, open and closed, newest first; pass the page's
        ``next_cursor`` for the next one."""
        call = routes.order_history(market, status, limit, cursor)
        return await self.send(call, auth, retry=retry)

    async def fills(
        self,
        auth: Auth,
        market: str | None = None,
        limit: int = 100,
        cursor: str | None = None,
        *,
        retry: bool | None = None,
    ) -> api.FillsPage:
        """A page of your fills (side, role, fee), newest first."""
        return await self.send(routes.fills(market, limit, cursor), auth, retry=retry)
