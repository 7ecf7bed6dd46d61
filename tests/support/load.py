"""A seeded order load over REST, as many users at a steady rate, recording what came back.

The mix follows issue 6: 60% limit orders, 25% cancels of the user's own acknowledged orders,
15% market orders, spread over the users and markets. Every 2xx placement's order id is kept:
that is the set of orders the exchange promised to keep, which the audit then looks for.
Server errors (5xx other than 503/504, which are the documented "busy"/"timed out" answers) are
counted apart from refusals (4xx) and from the edge being unreachable (connection errors).
"""

from __future__ import annotations

import random
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from client import ApiError, Client
from model.api import OrderView
from model.enums import OrderStatus

#: Per market: (mid price, price step, quantity choices) for orders near the touch.
_SHAPES: dict[str, tuple[int, str, tuple[str, ...]]] = {
    "TATA_INR": (100, "0.05", ("1", "2", "5")),
    "BTC_USDC": (30_000, "5", ("0.001", "0.002", "0.005")),
    "ETH_USDC": (2_000, "0.5", ("0.01", "0.02", "0.05")),
}

#: Deposits large enough for any run (every user buys and sells every market).
DEPOSITS = {
    "TATA": "1000000",
    "INR": "1000000000",
    "BTC": "1000",
    "ETH": "10000",
    "USDC": "1000000000",
}


@dataclass
class LoadResult:
    acknowledged: list[int] = field(default_factory=list)
    answers: list[OrderView] = field(default_factory=list)
    """Every 2xx placement's answer, as the client got it."""
    statuses: Counter[int] = field(default_factory=Counter)
    accept_ms: list[float] = field(default_factory=list)
    server_errors: list[str] = field(default_factory=list)
    unreachable: int = 0
    sent: int = 0
    ok_times: list[float] = field(default_factory=list)
    """Monotonic time of every 2xx, to measure how soon service came back after a fault."""

    def p99_accept_ms(self) -> float:
        ordered = sorted(self.accept_ms)
        return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] if ordered else 0.0

    def first_ok_after(self, moment: float) -> float | None:
        """Seconds from ``moment`` to the first 2xx after it."""
        later = [t for t in self.ok_times if t > moment]
        return min(later) - moment if later else None


class LoadGenerator:
    """``threads`` workers sending ``rate`` requests per second in all until ``stop()``."""

    def __init__(
        self,
        base_url: str,
        users: list[dict[str, str]],
        *,
        rate: float,
        seed: int,
        markets: tuple[str, ...] = ("TATA_INR", "BTC_USDC"),
        threads: int = 8,
    ) -> None:
        self.base_url, self.users, self.markets = base_url, users, markets
        self.interval = threads / rate
        self.seed, self.threads = seed, threads
        self.result = LoadResult()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._workers: list[threading.Thread] = []

    def start(self) -> LoadGenerator:
        for n in range(self.threads):
            worker = threading.Thread(target=self._run, args=(n,), daemon=True)
            worker.start()
            self._workers.append(worker)
        return self

    def stop(self) -> LoadResult:
        self._stop.set()
        for worker in self._workers:
            worker.join(timeout=30)
        return self.result

    def _run(self, n: int) -> None:
        rng = random.Random(self.seed * 1000 + n)
        mine: list[tuple[str, str]] = []
        next_at = time.monotonic()
        with Client(self.base_url) as api:
            while not self._stop.is_set():
                next_at += self.interval
                delay = next_at - time.monotonic()
                if delay > 0:
                    self._stop.wait(delay)
                self._one(api, rng, mine)

    def _one(self, api: Client, rng: random.Random, mine: list[tuple[str, str]]) -> None:
        roll = rng.random()
        started = time.monotonic()
        placed = None
        try:
            if roll < 0.25 and mine:
                token, order_id = mine.pop(rng.randrange(len(mine)))
                api.cancel(token, order_id)
            else:
                token = rng.choice(self.users)["Authorization"].removeprefix("Bearer ")
                placed = api.place(token, self._order(rng, roll < 0.40))
            status, error = 200, ""
        except ApiError as exc:
            status, error = exc.status, f"{exc.status} {exc.code}: {exc.message[:200]}"
        elapsed_ms = (time.monotonic() - started) * 1000
        with self._lock:
            self.result.sent += 1
            if status is None:
                self.result.unreachable += 1
                return
            self.result.statuses[status] += 1
            if status >= 500 and status not in (503, 504):
                self.result.server_errors.append(error)
            if status == 200:
                self.result.ok_times.append(time.monotonic())
                if placed is not None:
                    self.result.acknowledged.append(int(placed.order_id))
                    self.result.answers.append(placed)
                    self.result.accept_ms.append(elapsed_ms)
        if placed is not None and placed.status in (OrderStatus.NEW, OrderStatus.PARTIALLY_FILLED):
            mine.append((token, placed.order_id))

    def _order(self, rng: random.Random, market_order: bool) -> dict[str, Any]:
        market = rng.choice(self.markets)
        mid, step, sizes = _SHAPES[market]
        body: dict[str, Any] = {
            "market": market,
            "kind": rng.choice(("buy", "sell")),
            "quantity": rng.choice(sizes),
            "clientOrderId": uuid.UUID(int=rng.getrandbits(128)).hex[:20],
        }
        if market_order:
            body["type"] = "market"
        else:
            offset = Decimal(step) * rng.randint(-10, 10)
            body |= {"type": "limit", "price": str(Decimal(mid) + offset)}
        return body
