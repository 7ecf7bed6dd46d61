"""Pure arithmetic and formatting over the API's decimal strings.

Money stays exact: sums and differences are taken with ``Decimal`` on the strings the edge sent
and come back as strings. Only :func:`share` returns a float, and only to size a bar on screen.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import NamedTuple

from model.api import DepthView, TickerView
from model.timestamps import from_millis

__all__ = [
    "DASH",
    "Level",
    "change_class",
    "cumulative",
    "decimal_text",
    "format_time",
    "share",
    "spread",
    "ticker_items",
]

#: Shown where the API has no value (no trade yet in 24 h).
DASH = "—"

_DECIMAL_TEXT = re.compile(r"^(?:\d+(?:\.\d*)?|\.\d+)$")


class Level(NamedTuple):
    """One price level with the total quantity from the best level up to and including it."""

    price: str
    quantity: str
    total: str


def cumulative(levels: list[list[str]]) -> list[Level]:
    """Running totals of ``[[price, quantity], ...]`` (best first), summed exactly."""
    total = Decimal(0)
    out: list[Level] = []
    for price, quantity in levels:
        total += Decimal(quantity)
        out.append(Level(price, quantity, str(total)))
    return out


def share(part: str, whole: str) -> float:
    """``part / whole`` in percent, for the width of a depth bar (0 when ``whole`` is 0)."""
    denominator = Decimal(whole)
    if denominator <= 0:
        return 0.0
    return float(min(Decimal(part) / denominator, Decimal(1)) * 100)


def spread(depth: DepthView) -> str | None:
    """Best ask minus best bid, exactly; ``None`` unless both sides have a level."""
    if not depth.bids or not depth.asks:
        return None
    return str(Decimal(depth.asks[0][0]) - Decimal(depth.bids[0][0]))


def format_time(ms: int, *, seconds: bool = True) -> str:
    """``HH:MM:SS`` (UTC) of a millisecond timestamp."""
    moment = from_millis(ms)
    return moment.strftime("%H:%M:%S" if seconds else "%H:%M")


def change_class(change: str) -> str:
    """CSS class for a signed change: ``up``, ``down`` or ``flat``."""
    try:
        value = Decimal(change)
    except InvalidOperation:
        return "flat"
    return "up" if value > 0 else "down" if value < 0 else "flat"


def ticker_items(
    ticker: TickerView | None, base: str = "", quote: str = ""
) -> list[tuple[str, str]]:
    """The 24 h ticker bar as ``(label, value)`` pairs, the API's strings unchanged."""
    labels = (
        "Last price",
        "24h change",
        "24h high",
        "24h low",
        f"24h volume {base}".rstrip(),
        f"24h volume {quote}".rstrip(),
        "24h trades",
    )
    if ticker is None:
        return [(label, DASH) for label in labels]
    change = ticker.price_change
    sign = "+" if change_class(change) == "up" else ""
    values = (
        ticker.last_price or DASH,
        f"{sign}{change} ({sign}{ticker.price_change_percent}%)",
        ticker.high or DASH,
        ticker.low or DASH,
        ticker.volume,
        ticker.quote_volume,
        str(ticker.trades),
    )
    return list(zip(labels, values, strict=True))


def decimal_text(raw: str | None) -> str | None:
    """The user's number without surrounding spaces if it is a plain decimal, else ``None``.

    The text itself is not changed (no float round trip, no rounding): the edge checks it
    against the market's grid and says what is wrong.
    """
    if raw is None:
        return None
    text = raw.strip()
    return text if _DECIMAL_TEXT.match(text) else None
