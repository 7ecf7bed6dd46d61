"""A tiny language for matching scenarios, in the manner of exchange-core's tests.

One line, one command::

    alice buy 7@1600            limit GTC
    bob sell 10@1590 ioc        limit IOC (also: fok, post, stp=cancel_maker, cid=abc)
    carol market buy 5          market by base quantity
    carol market buy q=350      market buy by quote amount
    cancel alice 1              cancel step 1's order (steps count from 1)
    cancel-all alice

The test market trades BASE against QUOTE, both with 0 decimals, tick 1 and lot 1, so a price
in ticks times a quantity in lots is quote atoms: the arithmetic in a table is the arithmetic
of the engine.
"""

from __future__ import annotations

from decimal import Decimal

from model.commands import CancelAll, CancelOrder, Command, Deposit, PlaceOrder
from model.config import MarketConfig
from model.enums import OrderType, SelfTradePrevention, Side, TimeInForce
from model.ids import OrderId, UserId
from model.numbers import Asset, MarketSpec

__all__ = ["MARKET", "USERS", "parse_step", "scenario_config"]

MARKET = "BASE_QUOTE"
USERS = {"alice": UserId(1), "bob": UserId(2), "carol": UserId(3), "dave": UserId(4)}


def scenario_config(maker_fee: str = "0", taker_fee: str = "0") -> MarketConfig:
    """One market on a unit grid, with the given fees."""
    base, quote = Asset(code="BASE", decimals=0), Asset(code="QUOTE", decimals=0)
    spec = MarketSpec.build(
        MARKET,
        base,
        quote,
        tick_size=Decimal(1),
        lot_size=Decimal(1),
        maker_fee=Decimal(maker_fee),
        taker_fee=Decimal(taker_fee),
        max_price=Decimal(1_000_000),
        max_quantity=Decimal(1_000_000),
    )
    return MarketConfig(assets={"BASE": base, "QUOTE": quote}, markets={MARKET: spec})


def deposit(user: str, asset: str, amount: int) -> Deposit:
    """Fund a named user."""
    return Deposit(user_id=USERS[user], ts=0, asset=asset, amount=amount)


def parse_step(line: str, step: int) -> Command:
    """The command one scenario line describes; ``step`` numbers its order id."""
    words = line.split()
    ts = step
    if words[0] == "cancel":
        return CancelOrder(user_id=USERS[words[1]], ts=ts, order_id=OrderId(int(words[2])))
    if words[0] == "cancel-cid":
        return CancelOrder(user_id=USERS[words[1]], ts=ts, client_order_id=words[2])
    if words[0] == "cancel-all":
        return CancelAll(user_id=USERS[words[1]], ts=ts, market=MARKET)
    user = USERS[words[0]]
    is_market = words[1] == "market"
    if is_market:
        words = [words[0], *words[2:]]
    side = Side(words[1])
    size, flags = words[2], words[3:]
    price = quantity = quote_quantity = 0
    if size.startswith("q="):
        quote_quantity = int(size[2:])
    elif "@" in size:
        qty_text, price_text = size.split("@")
        quantity, price = int(qty_text), int(price_text)
    else:
        quantity = int(size)
    tif, post_only, client_id, stp = TimeInForce.GTC, False, None, SelfTradePrevention.CANCEL_TAKER
    for flag in flags:
        if flag in ("ioc", "fok"):
            tif = TimeInForce(flag.upper())
        elif flag == "post":
            post_only = True
        elif flag.startswith("cid="):
            client_id = flag[4:]
        elif flag.startswith("stp="):
            stp = SelfTradePrevention(flag[4:])
        else:
            raise ValueError(f"unknown flag {flag!r} in {line!r}")
    return PlaceOrder(
        user_id=user,
        ts=ts,
        order_id=OrderId(step),
        market=MARKET,
        side=side,
        type=OrderType.MARKET if is_market else OrderType.LIMIT,
        price=price,
        quantity=quantity,
        quote_quantity=quote_quantity,
        tif=tif,
        post_only=post_only,
        client_order_id=client_id,
        stp=stp,
    )
