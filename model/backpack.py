"""Backpack Exchange's dialect of our API: its names and shapes, each translated from ours here.

Requests: Backpack's order body (``side: Bid``, ``orderType: Limit``, ``clientId``...) becomes
our one ``OrderRequest`` (:func:`order_request`), so both dialects go through one code path; our
views become Backpack's order objects and fills (:func:`order_object`, :func:`history_order`,
:func:`fill_object`).

Streams: one stream, two names.

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
- ``bookTicker``: ``e, E, s, a, A`` (best ask and its quantity), ``b, B`` (best bid), ``u`` (the
  book change, as text), ``T``.
- ``kline``: ``e, E, s, t, T`` (the bar's start and end, ISO-8601 UTC without a zone), ``o, c,
  h, l, v, n, X`` (closed).

Backpack's times are microseconds; ours are milliseconds, so ``E`` and ``T`` are our
milliseconds times 1000 (exact to the millisecond). Our ticker sends ``null`` for the prices of a
window without trades, where Backpack has no such state to show.

The private stream: ``account.orderUpdate`` (or ``account.orderUpdate.<symbol>``) follows the
user's ``orders`` channel, translated by :func:`order_update`: ``orderAccepted``, ``orderFill``,
``orderCancelled`` and ``orderExpired``, each with the order's fields (``s, c, S, o, f, q, Q, p,
X, i, z, Z, V, T, O, y``; a fill adds ``t, l, L, m, n, N``). Our order resting after its
acceptance, or closing filled (its last fill says so), and balances have no Backpack event.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import msgspec

from model.api import (
    AccountFillView,
    BackpackFillView,
    BackpackHistoryOrderView,
    BackpackOrderRequest,
    BackpackOrderType,
    BackpackOrderView,
    BackpackSide,
    BackpackStatus,
    BackpackStp,
    OrderRequest,
    OrderView,
)
from model.enums import OrderStatus, OrderType, SelfTradePrevention, Side
from model.intervals import INTERVAL_PATTERN, INTERVAL_US, is_interval
from model.timestamps import from_millis

__all__ = [
    "ACCOUNT_STREAM",
    "BACKPACK_STREAM",
    "SIDE",
    "STP",
    "StreamKind",
    "backpack_stream",
    "client_id",
    "fill_object",
    "history_order",
    "naive_utc",
    "order_object",
    "order_request",
    "order_update",
    "shape_for",
    "translator",
]

# Backpack's words for ours, both ways.
SIDE: dict[BackpackSide, Side] = {"Bid": Side.BUY, "Ask": Side.SELL}
_SIDE_NAME: dict[Side, BackpackSide] = {ours: theirs for theirs, ours in SIDE.items()}
_ORDER_TYPE: dict[BackpackOrderType, OrderType] = {
    "Limit": OrderType.LIMIT,
    "Market": OrderType.MARKET,
}
_ORDER_TYPE_NAME: dict[OrderType, BackpackOrderType] = {v: k for k, v in _ORDER_TYPE.items()}
STP: dict[BackpackStp, SelfTradePrevention] = {
    "RejectTaker": SelfTradePrevention.CANCEL_TAKER,
    "RejectMaker": SelfTradePrevention.CANCEL_MAKER,
    "RejectBoth": SelfTradePrevention.CANCEL_BOTH,
}
_STP_NAME: dict[SelfTradePrevention, BackpackStp] = {v: k for k, v in STP.items()}
_STATUS_NAME: dict[OrderStatus, BackpackStatus] = {
    OrderStatus.NEW: "New",
    OrderStatus.PARTIALLY_FILLED: "PartiallyFilled",
    OrderStatus.FILLED: "Filled",
    OrderStatus.CANCELED: "Cancelled",
    OrderStatus.EXPIRED: "Expired",
}
_MAX_CLIENT_ID = 2**32 - 1


def order_request(body: BackpackOrderRequest) -> OrderRequest:
    """Backpack's order body as our one order request (``clientId`` kept as its digits)."""
    return OrderRequest(
        market=body.symbol,
        kind=SIDE[body.side],
        type=_ORDER_TYPE[body.order_type],
        price=body.price,
        quantity=body.quantity,
        quote_quantity=body.quote_quantity,
        time_in_force=body.time_in_force,
        post_only=body.post_only,
        client_order_id=None if body.client_id is None else str(body.client_id),
        self_trade_prevention=STP[body.self_trade_prevention],
    )


def client_id(client_order_id: str | None) -> int | None:
    """An order's ``clientOrderId`` as Backpack's ``clientId``: a uint32 in decimal digits, or
    ``None`` (no id, or one that only our dialect can give, such as ``"bot-7"``)."""
    if client_order_id is None or not client_order_id.isascii() or not client_order_id.isdigit():
        return None
    if client_order_id != str(int(client_order_id)):  # "007" is not what clientId 7 became
        return None
    value = int(client_order_id)
    return value if value <= _MAX_CLIENT_ID else None


def order_object(view: OrderView) -> BackpackOrderView:
    """Our view of an order as Backpack's order object."""
    return BackpackOrderView(**_order_fields(view), created_at=view.created_at)


def history_order(view: OrderView) -> BackpackHistoryOrderView:
    """Our view of an order as an entry of Backpack's order history."""
    return BackpackHistoryOrderView(**_order_fields(view), created_at=naive_utc(view.created_at))


def _order_fields(view: OrderView) -> dict[str, Any]:
    """What Backpack's order object and its history's entries say alike, from our view."""
    return {
        "id": view.order_id,
        "client_id": client_id(view.client_order_id),
        "executed_quantity": view.executed_qty,
        "executed_quote_quantity": view.executed_quote_qty,
        "order_type": _ORDER_TYPE_NAME[view.type],
        "price": view.price,
        "quantity": view.quantity,
        "quote_quantity": view.quote_quantity,
        "post_only": view.post_only,
        "self_trade_prevention": _STP_NAME[view.self_trade_prevention],
        "side": _SIDE_NAME[view.kind],
        "status": _STATUS_NAME[view.status],
        "symbol": view.market,
        "time_in_force": view.time_in_force,
    }


def fill_object(fill: AccountFillView) -> BackpackFillView:
    """One of a user's fills as an entry of Backpack's fill history."""
    return BackpackFillView(
        trade_id=fill.trade_id,
        order_id=fill.order_id,
        symbol=fill.market,
        side=_SIDE_NAME[fill.kind],
        price=fill.price,
        quantity=fill.quantity,
        fee=fill.fee,
        fee_symbol=fill.fee_asset,
        is_maker=fill.is_maker,
        timestamp=naive_utc(fill.timestamp),
    )


def naive_utc(ms: int) -> str:
    """Milliseconds as Backpack's UTC text without a zone: ``"2026-01-05T00:01:00.250"``."""
    return from_millis(ms).strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}"


#: A Backpack public stream name: ``trade.M``, ``depth.M``, ``ticker.M``, ``bookTicker.M``,
#: ``kline.<i>.M``.
BACKPACK_STREAM = re.compile(
    rf"^(trade|depth|ticker|bookTicker|kline\.({INTERVAL_PATTERN}))\.([A-Za-z0-9_-]{{3,32}})$"
)

#: Backpack's private stream of the user's orders, in every market or in one.
ACCOUNT_STREAM = re.compile(r"^account\.orderUpdate(?:\.([A-Za-z0-9_-]{3,32}))?$")

#: Which of our streams a name follows: ``trades``, ``depth``, ``ticker``, ``bookTicker`` or
#: ``kline``.
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


def _book_ticker(data: dict[str, Any]) -> dict[str, Any]:
    return {
        "e": "bookTicker", "E": _micros(data["E"]), "s": data["s"], "a": data["a"],
        "A": data["A"], "b": data["b"], "B": data["B"], "u": str(data["u"]),
        "T": _micros(data["E"]),
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
    "bookTicker": _book_ticker,
    "kline": _kline,
}


def translator(kind: StreamKind) -> Callable[[bytes], bytes]:
    """The function that turns one of our ``kind`` pushes (JSON bytes) into Backpack's."""
    shape = _SHAPES[kind]

    def translate(data: bytes) -> bytes:
        return _encode(shape(_decode(data)))

    return translate


_CLOSED_EVENT = {
    OrderStatus.CANCELED.value: "orderCancelled",
    OrderStatus.EXPIRED.value: "orderExpired",
}


def order_update(message: dict[str, Any]) -> dict[str, Any] | None:
    """One of our private messages (``pipeline.persist``) as Backpack's ``account.orderUpdate``
    event, or ``None`` where Backpack has none."""
    order = message.get("order")
    if order is None:
        return None
    kind = message["e"]
    if kind == "order":
        change = message["change"]
        event = "orderAccepted" if change == "accepted" else None
        if change == "closed":
            event = _CLOSED_EVENT.get(message["status"])
        if event is None:
            return None
    elif kind == "fill":
        event = "orderFill"
    else:
        return None
    micros = _micros(message["timestamp"])
    update: dict[str, Any] = {
        "e": event, "E": micros, "s": order["market"], "c": client_id(order["clientOrderId"]),
        "S": _SIDE_NAME[Side(order["kind"])], "o": order["type"].upper(),
        "f": order["timeInForce"], "q": order["quantity"], "Q": order["quoteQuantity"],
        "p": order["price"], "X": _STATUS_NAME[OrderStatus(order["status"])],
        "i": order["orderId"], "z": order["executedQty"], "Z": order["executedQuoteQty"],
        "V": _STP_NAME[SelfTradePrevention(order["selfTradePrevention"])], "T": micros,
        "O": "USER", "y": order["postOnly"],
    }  # fmt: skip
    if kind == "fill":
        update.update(t=message["tradeId"], l=message["quantity"], L=message["price"],
                      m=message["isMaker"], n=message["fee"], N=message["feeAsset"])  # fmt: skip
    # Backpack sends c, q, Q and p only when the order has them.
    return {k: v for k, v in update.items() if v is not None or k not in "cqQp"}


def shape_for(name: str) -> Callable[[bytes], bytes | None] | None:
    """How pushes reach a stream name: ``None`` for our names (as published), else the
    translation into Backpack's shape (``None`` from it: that push has no Backpack event, or
    is another market's, for ``account.orderUpdate.<symbol>``)."""
    account = ACCOUNT_STREAM.match(name)
    if account is not None:
        symbol = None if account.group(1) is None else account.group(1).upper().replace("-", "_")

        def private(data: bytes) -> bytes | None:
            update = order_update(_decode(data))
            if update is None or (symbol is not None and update["s"] != symbol):
                return None
            return _encode(update)

        return private
    named = backpack_stream(name)
    return None if named is None else translator(named[0])
