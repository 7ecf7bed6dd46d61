"""Formatting for the dashboard's Python callbacks: times, the empty-value mark, the user's
decimal text. Prices and quantities stay the API's strings (the market panels' exact arithmetic
is in the browser, ``assets/market_view.js``)."""

from __future__ import annotations

import re

from model.timestamps import from_millis

__all__ = ["DASH", "decimal_text", "format_time"]

#: Shown where the API has no value (no trade yet in 24 h).
DASH = "—"

_DECIMAL_TEXT = re.compile(r"^(?:\d+(?:\.\d*)?|\.\d+)$")


def format_time(ms: int, *, seconds: bool = True) -> str:
    """``HH:MM:SS`` (UTC) of a millisecond timestamp."""
    moment = from_millis(ms)
    return moment.strftime("%H:%M:%S" if seconds else "%H:%M")


def decimal_text(raw: str | None) -> str | None:
    """The user's number without surrounding spaces if it is a plain decimal, else ``None``.

    The text itself is not changed (no float round trip, no rounding): the edge checks it
    against the market's grid and says what is wrong.
    """
    if raw is None:
        return None
    text = raw.strip()
    return text if _DECIMAL_TEXT.match(text) else None
