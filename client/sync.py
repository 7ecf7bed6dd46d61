"""The synchronous client of the REST API (the dashboard's callbacks, scripts, tests).

Every method is one route of :mod:`client.routes`; failures raise :class:`client.ApiError`
(see :mod:`client.policy` for retries and renewed tokens). The client is safe to share between
threads (``httpx.Client`` is thread-safe: one pool serves them all), and an :class:`Account`
signs in once however many threads find its token stale.
"""

from __future__ import annotations

import logging
import random
import time
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

__all__ = ["Client"]

log = logging.getLogger("tidewater.client")
T = TypeVar("T")


class Client:
    """Calls to one edge; ``base_url`` is its root (``http://127.0.0.1:8000``)."""

    def __init__(
        self,
        base_url: str,
        *,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
        backoff: Backoff | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.backoff = backoff
        self._http = httpx.Client(
            base_url=self.base_url + routes.API_PREFIX, timeout=timeout, transport=transport
        )
        self._jitter = random.Random()  # jitter needs no seed: it only spreads retries out

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    # --- the one way every call goes -------------------------------------------------------

    def send(
        self, call: routes.Call[T], auth: Auth | None = None, *, retry: bool | None = None
    ) -> T:
        """Make ``call`` (signed in as ``auth`` when private) and decode its 2xx answer.

        With a :class:`Backoff`, transient failures are retried when ``retry`` says so, or by
        default when the call is idempotent (never an order or a deposit on its own accord)."""
        retrying = call.idempotent if retry is None else retry
        attempts = Attempts(self.backoff if retrying else None, auth, self._jitter)
        while True:
            token = self._token(auth) if call.private else None
            try:
                return self._once(call, token)
            except ApiError as error:
                wait_ms = attempts.after(error)
                if wait_ms != SIGN_IN_AGAIN:
                    log.warning("edge unreachable, retrying in %.1fs (%s)", wait_ms / 1000, error)
            if wait_ms == SIGN_IN_AGAIN:
                assert isinstance(auth, Account)
                self._sign_in_again(auth, token)
                continue
            time.sleep(wait_ms / 1000)

    def _once(self, call: routes.Call[T], token: str | None) -> T:
        try:
            response = self._http.request(
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

    def _token(self, auth: Auth | None) -> str:
        if auth is None:
            raise TypeError("a private call needs auth: a token or an Account")
        if isinstance(auth, str):
            return auth
        if not auth.token_fresh():
            with auth.thread_lock:
                if not auth.token_fresh():
                    auth.keep(self.sign_in(auth.username, auth.password))
        assert auth.token is not None
        return auth.token

    def _sign_in_again(self, account: Account, refused: str | None) -> None:
        with account.thread_lock:
            if account.token == refused:  # nobody has replaced the refused token yet
                account.keep(self.sign_in(account.username, account.password))

    def sign_up(self, username: str, password: str) -> api.TokenView:
        """Create an account and sign it in."""
        return self.send(routes.signup(username, password))

    def sign_in(self, username: str, password: str) -> api.TokenView:
        """Exchange a username and password for a token (401 ``UNAUTHORIZED`` if wrong)."""
        return self.send(routes.signin(username, password))

    def sign_up_or_in(self, account: Account) -> None:
        """Create ``account``, or sign it in if the username exists already."""
        with account.thread_lock:
            try:
                # A sign-up retried after a lost answer meets 409 and signs in: safe to retry.
                signup = routes.signup(account.username, account.password)
                account.keep(self.send(signup, retry=True))
            except ApiError as exc:
                if exc.status != 409:
                    raise
                account.keep(self.sign_in(account.username, account.password))

    # --- market data -----------------------------------------------------------------------

    def markets(self) -> list[api.MarketView]:
        """Every market with its grid (tick and step sizes), limits and fees."""
        return self.send(routes.markets())

    def depth(self, symbol: str, limit: int = 100) -> api.DepthView:
        """The L2 book (each side by ascending price, as Backpack's), with its ``lastUpdateId``."""
        return self.send(routes.depth(symbol, limit))

    def trades(self, symbol: str, limit: int = 100) -> list[api.TradeView]:
        """The most recent trades, newest first."""
        return self.send(routes.trades(symbol, limit))

    def ticker(self, symbol: str) -> api.TickerView:
        """24-hour statistics of one market."""
        return self.send(routes.ticker(symbol))

    def tickers(self) -> list[api.TickerView]:
        """24-hour statistics of every market."""
        return self.send(routes.tickers())

    def klines(
        self,
        symbol: str,
        interval: IntervalName,
        start_s: int | None = None,
        end_s: int | None = None,
        limit: int = 500,
    ) -> list[api.KlineView]:
        """Candles of one interval, oldest first, opening in ``[start_s, end_s)`` (seconds)."""
        return self.send(routes.klines(symbol, interval, start_s, end_s, limit))

    # --- the caller's own --------------------------------------------------------------------

    def balances(self, auth: Auth) -> dict[str, api.BalanceView]:
        """Available and locked balance per asset."""
        return self.send(routes.balances(), auth)

    def onramp(
        self, auth: Auth, asset: str, amount: str | Decimal, *, retry: bool | None = None
    ) -> dict[str, api.BalanceView]:
        """Deposit test funds; answers the new balances."""
        return self.send(routes.onramp(asset, amount), auth, retry=retry)

    def place(
        self, auth: Auth, order: api.OrderRequest | Mapping[str, Any], *, retry: bool | None = None
    ) -> api.OrderView:
        """Place an order and return what it did (fills included)."""
        return self.send(routes.place(order), auth, retry=retry)

    def quote(self, auth: Auth, request: api.QuoteRequest | Mapping[str, Any]) -> api.QuoteView:
        """What a market order would get now, without placing it."""
        return self.send(routes.quote(request), auth)

    def order(self, auth: Auth, order_id: str) -> api.OrderView:
        """One of your orders, open or recently closed."""
        return self.send(routes.order(order_id), auth)

    def cancel(self, auth: Auth, order_id: str, *, retry: bool | None = None) -> api.OrderView:
        """Cancel one of your open orders."""
        return self.send(routes.cancel(order_id), auth, retry=retry)

    def cancel_all(
        self, auth: Auth, market: str | None = None, *, retry: bool | None = None
    ) -> api.CancelAllResponse:
        """Cancel your open orders in one market, or in all."""
        return self.send(routes.cancel_all(market), auth, retry=retry)

    def open_orders(
        self, auth: Auth, market: str | None = None, *, retry: bool | None = None
    ) -> list[api.OrderView]:
        """Your open orders in one market, or in all."""
        return self.send(routes.open_orders(market), auth, retry=retry)

    def order_history(
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
        return self.send(call, auth, retry=retry)

    def fills(
        self,
        auth: Auth,
        market: str | None = None,
        limit: int = 100,
        cursor: str | None = None,
        *,
        retry: bool | None = None,
    ) -> api.FillsPage:
        """A page of your fills (side, role, fee), newest first."""
        return self.send(routes.fills(market, limit, cursor), auth, retry=retry)
