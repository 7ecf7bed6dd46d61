"""Backpack Exchange's names and shapes for our public streams: one stream, two names.

The market-data flow publishes each stream once, in our (Binance-style) shape (``trades@M``,
``depth@M``, ``ticker@M``, ``kline.<i>@M``, DESIGN.md §7). A client may follow the same stream by
Backpack's name (``trade.M``, ``depth.M``, ``ticker.M``, ``kline.<i>.M``) and then gets each push
in Backpack's shape, translated here from ours by the WebSocket fan-out, once per message (not
once per client).

Backpack's shapes, field by field (docs.backpack.exchange, "Streams"):

- ``trade``: ``e, E, s, p, q, b`` (buyer's order id), ``a`` (seller's), ``t, T, m`` (true when
  the buyer is the maker).
- ``depth``: ``e, E, s, a, b, U, u, T``: absolute quantities, ``"0"`` removes a level.
- ``ticker``: ``e, E, s, o, c, h, l, v`` (base volume), ``V`` (quote volume), ``n``.
- ``kline``: ``e, E, s, t, T`` (the bar's start and end, ISO-8601 UTC without a zone), ``o, c,
  h, l, v, n, X`` (closed).

Backpack's times are microseconds; ours are milliseconds, so ``E`` and ``T`` are our
milliseconds times 1000 (exact to the millisecond). Our ticker sends ``null`` for the prices of a
window without trades, where Backpack has no such state to show.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import msgspec

from model.intervals import INTERVAL_PATTERN, INTERVAL_US, is_interval
from model.timestamps import from_millis

__all__ = ["BACKPACK_STREAM", "StreamKind", "backpack_stream", "translator"]

#: A Backpack public stream name: ``trade.M``, ``depth.M``, ``ticker.M``, ``kline.<i>.M``.
BACKPACK_STREAM = re.compile(
    rf"^(trade|depth|ticker|kline\.({INTERVAL_PATTERN}))\.([A-Za-z0-9_-]{{3,32}})$"
)

#: Which of our streams a name follows: ``trades``, ``depth``, ``ticker`` or ``kline``.
StreamKind = str

_decode = msgspec.json.Decoder().decode
_encode = msgspec.json.Encoder().encode


def backpack_stream(name: str) -> tuple[StreamKind, str | None, str] | None:
    """``(kind, interval, market)`` of a Backpack stream name (the kind in our terms), or
    ``None`` if ``name`` is not one."""
    match = BACKPACK_STREAM.match(name)
    if match is None:
        return None
    kind = match.group(1)
    interval = match.group(2)
    if interval is not None:
        return "kline", interval, match.group(3)
    return ("trades" if kind == "trade" else kind), None, match.group(3)


def _micros(ms: int) -> int:
    return ms * 1000


def _iso(ms: int) -> str:
    return from_millis(ms).strftime("%Y-%m-%dT%H:%M:%S")


def _trade(data: dict[str, Any]) -> dict[str, Any]:
    return {
        "e": "trade", "E": _micros(data["E"]), "s": data["s"], "p": data["p"], "q": data["q"],
        "b": data["b"], "a": data["a"], "t": data["t"], "T": _micros(data["T"]), "m": data["m"],
    }  # fmt: skip


def _depth(data: dict[str, Any]) -> dict[str, Any]:
    return {
        "e": "depth", "E": _micros(data["E"]), "s": data["s"], "a": data["a"], "b": data["b"],
        "U": data["U"], "u": data["u"], "T": _micros(data["E"]),
    }  # fmt: skip


def _ticker(data: dict[str, Any]) -> dict[str, Any]:
    return {
        "e": "ticker", "E": _micros(data["E"]), "s": data["s"], "o": data["o"], "c": data["c"],
        "h": data["h"], "l": data["l"], "v": data["v"], "V": data["q"], "n": data["n"],
    }  # fmt: skip


def _kline(data: dict[str, Any]) -> dict[str, Any]:
    bar = data["k"]
    interval = bar["i"]
    assert is_interval(interval)
    start = bar["t"]
    return {
        "e": "kline", "E": _micros(data["E"]), "s": data["s"], "t": _iso(start),
        "T": _iso(start + INTERVAL_US[interval] // 1000), "o": bar["o"], "c": bar["c"],
        "h": bar["h"], "l": bar["l"], "v": bar["v"], "n": bar["n"], "X": bar["x"],
    }  # fmt: skip


_SHAPES: dict[StreamKind, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "trades": _trade,
    "depth": _depth,
    "ticker": _ticker,
    "kline": _kline,
}


def translator(kind: StreamKind) -> Callable[[bytes], bytes]:
    """The function that turns one of our ``kind`` pushes (JSON bytes) into Backpack's."""
    shape = _SHAPES[kind]

    def translate(data: bytes) -> bytes:
        return _encode(shape(_decode(data)))

    return translate
