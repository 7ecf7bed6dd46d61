"""model/backpack.py: Backpack's stream names, and our pushes in Backpack's shapes, built by the
market-data flow's own payload functions."""

from __future__ import annotations

import json

import pytest

from model.backpack import backpack_stream, order_update, shape_for, translator
from model.config import load_markets
from model.enums import Side
from model.events import TradeExecuted
from model.ids import OrderId, TradeId, UserId
from model.ticker import encode_ticker, ticker_push
from pipeline.flows.candles import Bar
from pipeline.flows.depth import DepthDiff
from pipeline.flows.payloads import depth_payload, kline_payload, trade_payload

SPEC = load_markets().markets["TATA_INR"]
T0_US = 1_767_571_200_000_000  # 2026-01-05T00:00:00Z


@pytest.mark.parametrize(
    ("name", "parsed"),
    [
        ("trade.TATA_INR", ("trades", None, "TATA_INR")),
        ("depth.TATA_INR", ("depth", None, "TATA_INR")),
        ("ticker.TATA-INR", ("ticker", None, "TATA-INR")),
        ("kline.1m.TATA_INR", ("kline", "1m", "TATA_INR")),
        ("kline.1h.BTC_USDC", ("kline", "1h", "BTC_USDC")),
        ("trades@TATA_INR", None),  # ours, not Backpack's
        ("kline.7m.TATA_INR", None),
        ("bookTicker.TATA_INR", ("bookTicker", None, "TATA_INR")),
        ("bookTicker@TATA_INR", None),
        ("trade.", None),
    ],
)
def test_backpack_stream_names(name: str, parsed: tuple[str, str | None, str] | None) -> None:
    assert backpack_stream(name) == parsed


def _trade(taker_side: Side) -> TradeExecuted:
    return TradeExecuted(
        seq=1, ts=T0_US + 1_500, market="TATA_INR", trade_id=TradeId(42),
        price=SPEC.parse_price("101.50"), quantity=SPEC.parse_quantity("3"),
        taker_side=taker_side, maker_order_id=OrderId(7), taker_order_id=OrderId(9),
        maker_user_id=UserId(1), taker_user_id=UserId(2), base_amount=0, quote_amount=0,
        maker_fee=0, taker_fee=0, taker_refund=0, maker_remaining=0, taker_remaining=0,
    )  # fmt: skip


def test_a_trade_in_both_shapes() -> None:
    ours = trade_payload(SPEC, _trade(Side.SELL))
    assert json.loads(ours) == {
        "e": "trade", "E": 1_767_571_200_001, "s": "TATA_INR", "t": 42, "p": "101.50",
        "q": "3", "b": "7", "a": "9", "m": True, "T": 1_767_571_200_001,
    }  # fmt: skip
    assert json.loads(translator("trades")(ours)) == {
        "e": "trade", "E": 1_767_571_200_001_000, "s": "TATA_INR", "p": "101.50", "q": "3",
        "b": "7", "a": "9", "t": 42, "T": 1_767_571_200_001_000, "m": True,
    }  # fmt: skip
    # A buying taker: it is the buyer, and the buyer was not the maker.
    bought = json.loads(translator("trades")(trade_payload(SPEC, _trade(Side.BUY))))
    assert (bought["b"], bought["a"], bought["m"]) == ("9", "7", False)


def test_a_depth_diff_in_backpack_shape() -> None:
    diff = DepthDiff(first=5, last=7, bids={SPEC.parse_price("99.00"): 0},
                     asks={SPEC.parse_price("101.00"): SPEC.parse_quantity("4")})  # fmt: skip
    pushed = json.loads(translator("depth")(depth_payload(SPEC, diff, T0_US)))
    assert pushed == {
        "e": "depth", "E": T0_US, "s": "TATA_INR", "a": [["101.00", "4"]], "b": [["99.00", "0"]],
        "U": 5, "u": 7, "T": T0_US,
    }  # fmt: skip


def test_a_kline_in_backpack_shape_with_iso_start_and_end() -> None:
    bar = Bar(open_time=T0_US, open=SPEC.parse_price("100.00"), high=SPEC.parse_price("102.00"),
              low=SPEC.parse_price("99.50"), close=SPEC.parse_price("101.00"),
              volume=SPEC.parse_quantity("12"), quote_volume=0, trades=3)  # fmt: skip
    pushed = json.loads(translator("kline")(kline_payload(SPEC, "1h", bar, False, T0_US + 5)))
    assert pushed == {
        "e": "kline", "E": T0_US, "s": "TATA_INR", "t": "2026-01-05T00:00:00",
        "T": "2026-01-05T01:00:00", "o": "100.00", "c": "101.00", "h": "102.00", "l": "99.50",
        "v": "12", "n": 3, "X": False,
    }  # fmt: skip


def test_a_ticker_in_backpack_shape() -> None:
    ours = encode_ticker(ticker_push(SPEC, None, T0_US - 86_400_000_000, T0_US))
    pushed = json.loads(translator("ticker")(ours))
    assert pushed == {
        "e": "ticker",
        "E": T0_US,
        "s": "TATA_INR",
        "o": None,
        "c": None,
        "h": None,
        "l": None,
        "v": "0",
        "V": "0.00",
        "n": 0,
    }


def _order(**fields: object) -> dict[str, object]:
    return {"orderId": "5", "market": "TATA_INR", "kind": "sell", "type": "market",
            "status": "new", "timeInForce": "IOC", "postOnly": False, "price": None,
            "quantity": "3", "quoteQuantity": None, "executedQty": "0",
            "executedQuoteQty": "0.00", "remainingQty": "3", "clientOrderId": "bot-1",
            "createdAt": 1, "selfTradePrevention": "cancel_both", "fills": [],
            **fields}  # fmt: skip


def test_private_messages_as_account_order_updates() -> None:
    accepted = {"e": "order", "change": "accepted", "orderId": "5", "status": "new",
                "timestamp": 1_767_571_200_001, "order": _order()}  # fmt: skip
    pushed = json.loads(shape_for("account.orderUpdate")(json.dumps(accepted).encode()))  # type: ignore[misc]
    assert pushed == {
        "e": "orderAccepted",
        "E": 1_767_571_200_001_000,
        "s": "TATA_INR",
        "S": "Ask",
        "o": "MARKET",
        "f": "IOC",
        "q": "3",
        "X": "New",
        "i": "5",
        "z": "0",
        "Z": "0.00",
        "V": "RejectBoth",
        "T": 1_767_571_200_001_000,
        "O": "USER",
        "y": False,
    }  # fmt: skip
    # No c, Q or p: "bot-1" is no clientId, and a market sell by quantity has neither.
    expired = {**accepted, "change": "closed", "status": "expired",
               "order": _order(status="expired")}  # fmt: skip
    assert order_update(expired)["e"] == "orderExpired"  # type: ignore[index]
    # What Backpack has no event for: a rest after acceptance, a close by the last fill,
    # balances.
    assert order_update({**accepted, "change": "rested"}) is None
    assert order_update({**expired, "status": "filled"}) is None
    assert order_update({"e": "balance", "asset": "INR", "available": "1", "locked": "0"}) is None
    # One market's stream skips the others'.
    other = json.dumps({**accepted, "order": _order(market="BTC_USDC")}).encode()
    assert shape_for("account.orderUpdate.tata-inr")(other) is None  # type: ignore[misc]
    assert shape_for("account.orderUpdate.TATA_INR")(json.dumps(accepted).encode()) is not None  # type: ignore[misc]
    assert shape_for("trades@TATA_INR") is None  # ours: pushed as published
