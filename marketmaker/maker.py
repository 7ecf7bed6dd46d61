"""The market maker's loop: per market, cancel and replace a ladder around a walking fair price.

Accounts and crossing
---------------------
Two accounts: ``<username>`` (the *maker*) rests post-only GTC quotes, and ``<username>-taker``
now and then sends a small IOC limit order at the maker's best opposite price. Self-trade
prevention would cancel an order that met its own account's quotes, so one account could never
print a trade against itself; with two, every crossing order trades (against the maker's quote,
or a better-priced order of someone else) and the taker never rests anything.

One refresh of one market (make before break)
---------------------------------------------
1. If what rests is unknown (the first refresh, or one the edge interrupted):
   ``DELETE /orders?market=``, retried with backoff until the edge answers. This is where an
   edge outage is waited out.
2. Cancel, by id, the previous quotes that a new quote would cross (a post-only quote is
   refused when it would take, even from its owner).
3. Place the new ladder's 2N quotes at once: post-only GTC, each with a ``clientOrderId``.
4. Cancel, by id, the rest of the previous quotes.
5. With probability ``cross_probability_pct``%, the taker's crossing order.
6. The walk moves one step.

New quotes go in before most old ones leave, so the book is never empty on a side in
between (a cancel-all first left about 3% of depth snapshots one-sided at N=5 and 1 s).
Steps 2-5 are not retried: on any failure to reach the edge the refresh stops, what rests
becomes unknown, and the next refresh starts at step 1.

Stopping cancels every open order of both accounts (a few tries within a short deadline).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Awaitable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar, cast

from client import Account, ApiError, AsyncClient
from marketmaker.funding import MAKER_MULTIPLE, TAKER_MULTIPLE, maker_needs, taker_needs, top_up
from marketmaker.specs import spec_of
from marketmaker.walk import (
    FairWalk,
    Quote,
    Shape,
    crossing_order,
    default_fair,
    ladder,
    seeded,
    would_cross,
)
from model.api import OrderView
from model.config import normalize_symbol
from model.enums import TimeInForce
from model.numbers import Asset, MarketSpec, ValidationError
from model.settings import MarketMakerSettings

__all__ = ["MarketMaker", "taker_name"]

log = logging.getLogger("tidewater.mm")
T = TypeVar("T")

#: How often the INFO summary is logged.
SUMMARY_EVERY_MS = 10_000
#: Top-ups triggered by refused orders are at least this far apart, per account.
TOP_UP_EVERY_MS = 5_000
_INSUFFICIENT = "INSUFFICIENT_FUNDS"
_POST_ONLY = "POST_ONLY_WOULD_TAKE"  # another user's order sits where a quote would go


def taker_name(username: str) -> str:
    """The taker account that goes with the maker ``username``."""
    return f"{username}-taker"


@dataclass
class Stats:
    """Counters of one market since start."""

    refreshes: int = 0
    quotes: int = 0
    refused: int = 0
    crosses: int = 0
    trades: int = 0
    interrupted: int = 0


@dataclass(frozen=True)
class _Resting:
    order_id: str
    quote: Quote


@dataclass
class _Market:
    spec: MarketSpec
    walk: FairWalk
    rng: random.Random
    """Draws the quotes and the crossing orders."""
    stats: Stats = field(default_factory=Stats)
    resting: list[_Resting] | None = None
    """The maker's quotes placed at the last refresh; ``None`` when unknown (at first, and
    after a refresh the edge interrupted)."""


def _now_ms() -> int:
    return time.monotonic_ns() // 1_000_000


class MarketMaker:
    """Quotes every configured market of one edge until canceled."""

    def __init__(
        self,
        client: AsyncClient,
        settings: MarketMakerSettings,
        assets: Mapping[str, Asset],
    ) -> None:
        self.client = client
        self.settings = settings
        self.known_assets = dict(assets)
        self.assets: dict[str, Asset] = {}
        self.maker = Account(settings.username, settings.password)
        self.taker = Account(taker_name(settings.username), settings.password)
        self.markets: dict[str, _Market] = {}
        self._onramp = True
        self._short: set[str] = set()  # accounts refused for insufficient funds
        self._last_top_up: dict[str, int] = {}
        self._warned: set[tuple[str, str]] = set()
        self._run_id = format(time.time_ns() // 1_000_000 % 16**8, "08x")  # tells runs apart

    # --- start -----------------------------------------------------------------------------

    async def start(self) -> None:
        """Sign both accounts in, learn the markets and their fair prices, fund the accounts."""
        await self.client.sign_up_or_in(self.maker)
        await self.client.sign_up_or_in(self.taker)
        wanted = {normalize_symbol(s) for s in self.settings.markets}
        offered = await self.client.markets()
        unknown = wanted - {m.symbol for m in offered}
        if unknown:
            raise ValueError(f"the edge trades no market {sorted(unknown)}")
        for info in offered:
            if wanted and info.symbol not in wanted:
                continue
            spec = spec_of(info, self.known_assets)
            self.assets[spec.base.code], self.assets[spec.quote.code] = spec.base, spec.quote
            start = await self._start_price(spec)
            shape = Shape.around(spec, self.settings.levels, start)
            walk = FairWalk(start, shape, seeded(self.settings.seed, spec.symbol, "walk"))
            rng = seeded(self.settings.seed, spec.symbol, "quotes")
            self.markets[spec.symbol] = _Market(spec, walk, rng)
            log.info(
                "quoting %s from %s (step %s)",
                spec.symbol,
                spec.format_price(walk.price),
                spec.format_price(shape.step),
            )
        await self._fund(self.maker, forced=False)
        await self._fund(self.taker, forced=False)

    async def _start_price(self, spec: MarketSpec) -> int:
        """The last trade's price, else the book's mid (or its one side), else the default."""
        try:
            last = await self.client.trades(spec.symbol, limit=1)
            if last:
                return spec.parse_price(last[0].price)
            depth = await self.client.depth(spec.symbol)
            bid = spec.parse_price(depth.bids[-1][0]) if depth.bids else None  # ascending
            ask = spec.parse_price(depth.asks[0][0]) if depth.asks else None
        except ValidationError as exc:
            log.warning(
                "%s: unreadable market data (%s); starting at the default", spec.symbol, exc
            )
            return default_fair(spec)
        if bid is not None and ask is not None:
            return (bid + ask) // 2
        return bid or ask or default_fair(spec)

    # --- funds -----------------------------------------------------------------------------

    async def _fund(self, account: Account, *, forced: bool) -> None:
        if not self._onramp:
            return
        fairs = [(m.spec, m.walk.price) for m in self.markets.values()]
        if account is self.maker:
            needs, multiple = maker_needs(fairs, self.settings.levels), MAKER_MULTIPLE
        else:
            needs, multiple = taker_needs(fairs), TAKER_MULTIPLE
        self._last_top_up[account.username] = _now_ms()
        self._onramp = await top_up(
            self.client, account, needs, self.assets, multiple=multiple, forced=forced
        )

    async def _fund_if_short(self) -> None:
        for account in (self.maker, self.taker):
            last = self._last_top_up.get(account.username, 0)
            if account.username in self._short and _now_ms() - last >= TOP_UP_EVERY_MS:
                self._short.discard(account.username)
                await self._fund(account, forced=True)

    # --- the loop --------------------------------------------------------------------------

    async def run(self) -> None:
        """Start, then refresh every market every ``refresh_ms`` until canceled."""
        await self.start()
        async with asyncio.TaskGroup() as group:
            for market in self.markets.values():
                group.create_task(self._quote(market), name=f"mm-{market.spec.symbol}")
            group.create_task(self._summaries(), name="mm-summary")

    async def _quote(self, market: _Market) -> None:
        period_ms = self.settings.refresh_ms
        while True:
            began = _now_ms()
            await self.refresh(market)
            await asyncio.sleep(max(0, period_ms - (_now_ms() - began)) / 1000)

    async def refresh(self, market: _Market) -> None:
        """Replace the market's quotes with a ladder around the fair price, maybe cross, and
        step the walk."""
        spec, stats = market.spec, market.stats
        stats.refreshes += 1
        n = stats.refreshes
        fair = market.walk.price
        quotes = ladder(fair, market.walk.shape, market.rng)
        pct = self.settings.cross_probability_pct
        cross = crossing_order(quotes, market.rng) if market.rng.randrange(100) < pct else None
        market.walk.step()  # every draw is made before any I/O: the path depends on the seed only

        if market.resting is None:  # what rests is unknown: start from a clean slate
            await self.client.cancel_all(self.maker, spec.symbol)
            market.resting = []
        await self._fund_if_short()
        old, market.resting = market.resting, None  # unknown until this refresh is through
        try:
            await self._cancel([r for r in old if would_cross(r.quote, quotes)])
            placed = await self._gather(
                self._place(self.maker, spec, q, f"{self._run_id}-{spec.symbol}-{n}-{i}")
                for i, q in enumerate(quotes)
            )
            await self._cancel([r for r in old if not would_cross(r.quote, quotes)])
            taken = await self._place(self.taker, spec, cross, None) if cross else None
        except ApiError as exc:
            if not exc.transient:
                raise
            stats.interrupted += 1
            log.debug("%s: refresh %d interrupted: %s", spec.symbol, n, exc)
            return
        market.resting = [
            _Resting(info.order_id, q)
            for q, info in zip(quotes, placed, strict=True)
            if info is not None
        ]
        stats.quotes += len(market.resting)
        stats.refused += len(quotes) - len(market.resting)
        if taken is not None:
            stats.crosses += 1
            stats.trades += len(taken.fills)
        log.debug(
            "%s: refresh %d fair=%s bid=%s ask=%s cross=%s filled=%s",
            spec.symbol,
            n,
            spec.format_price(fair),
            spec.format_price(quotes[0].price),
            spec.format_price(quotes[len(quotes) // 2].price),
            f"{cross.side} {spec.format_quantity(cross.lots)}@{spec.format_price(cross.price)}"
            if cross
            else "-",
            taken.executed_qty if taken else "-",
        )

    @staticmethod
    async def _gather(calls: Iterable[Awaitable[T]]) -> list[T]:
        """Run ``calls`` at once; let all finish, then raise the first failure, if any."""
        results = await asyncio.gather(*calls, return_exceptions=True)
        for result in results:
            if isinstance(result, BaseException):
                raise result
        return cast("list[T]", results)

    async def _cancel(self, resting: list[_Resting]) -> None:
        await self._gather(self._cancel_one(r.order_id) for r in resting)

    async def _cancel_one(self, order_id: str) -> None:
        """Cancel a quote; one that filled or was canceled already (404) is gone all the same."""
        try:
            await self.client.cancel(self.maker, order_id, retry=False)
        except ApiError as exc:
            if exc.status != 404:
                raise

    async def _place(
        self, account: Account, spec: MarketSpec, quote: Quote, client_id: str | None
    ) -> OrderView | None:
        """Place one order (a post-only GTC quote for the maker, an IOC for the taker); ``None``
        if the edge refused it. Raises a transient ``ApiError`` if it could not be sent."""
        maker = account is self.maker
        body: dict[str, Any] = {
            "market": spec.symbol,
            "kind": quote.side.value,
            "type": "limit",
            "price": spec.format_price(quote.price),
            "quantity": spec.format_quantity(quote.lots),
            "timeInForce": (TimeInForce.GTC if maker else TimeInForce.IOC).value,
            "postOnly": maker,
        }
        if client_id is not None:
            body["clientOrderId"] = client_id
        try:
            return await self.client.place(account, body, retry=False)
        except ApiError as exc:
            if exc.transient:
                raise
            if exc.code == _INSUFFICIENT:
                self._short.add(account.username)
            elif exc.code != _POST_ONLY and (spec.symbol, exc.code) not in self._warned:
                self._warned.add((spec.symbol, exc.code))  # once: it would repeat every refresh
                log.warning("%s: an order was refused: %s (%s)", spec.symbol, exc, body)
            log.debug("%s: %s refused: %s", spec.symbol, body, exc)
            return None

    # --- reporting and stopping ------------------------------------------------------------

    async def _summaries(self) -> None:
        while True:
            await asyncio.sleep(SUMMARY_EVERY_MS / 1000)
            log.info("summary: %s", self.summary())

    def summary(self) -> str:
        """One line on every market: fair price and counters."""
        parts = []
        for symbol, m in self.markets.items():
            s = m.stats
            parts.append(
                f"{symbol} fair={m.spec.format_price(m.walk.price)} refreshes={s.refreshes} "
                f"quotes={s.quotes} refused={s.refused} crosses={s.crosses} trades={s.trades} "
                f"interrupted={s.interrupted}"
            )
        return "; ".join(parts) or "not started"

    async def withdraw(self, timeout_ms: int = 5_000) -> bool:
        """Cancel every open order of both accounts, trying until none is left or the deadline;
        return whether none is left."""
        accounts = [a for a in (self.maker, self.taker) if a.token is not None]
        if not accounts:
            return True
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout_ms / 1000):
                while True:
                    left = 0
                    for account in accounts:
                        canceled = (await self.client.cancel_all(account)).canceled
                        left += len(await self.client.open_orders(account))
                        log.info("canceled %d orders of %s", len(canceled), account.username)
                    if left == 0:
                        return True
        log.warning("could not cancel every order before the deadline")
        return False
