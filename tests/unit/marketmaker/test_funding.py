"""What each account needs, specs read from ``GET /markets``, and top-ups with exact amounts."""

from __future__ import annotations

import json

import httpx
import msgspec
import pytest

from client import Account, AsyncClient
from edge.views import market_view
from marketmaker.funding import atoms_floor, maker_needs, taker_needs, top_up
from marketmaker.specs import spec_of
from model.api import MarketView
from model.config import load_markets

CONFIG = load_markets()
TATA, BTC = CONFIG.markets["TATA_INR"], CONFIG.markets["BTC_USDC"]


def _info(symbol: str) -> MarketView:
    view = market_view(CONFIG.markets[symbol], "0")
    return msgspec.json.decode(msgspec.json.encode(view), type=MarketView)


@pytest.mark.parametrize("symbol", sorted(CONFIG.markets))
def test_the_spec_read_from_the_edge_is_the_configured_one(symbol: str) -> None:
    assert spec_of(_info(symbol), CONFIG.assets) == CONFIG.markets[symbol]


@pytest.mark.parametrize("symbol", sorted(CONFIG.markets))
def test_without_local_assets_the_spec_keeps_the_grid(symbol: str) -> None:
    spec, configured = spec_of(_info(symbol), {}), CONFIG.markets[symbol]
    assert (spec.tick_size, spec.lot_size, spec.max_price_ticks, spec.max_quantity_lots) == (
        configured.tick_size,
        configured.lot_size,
        configured.max_price_ticks,
        configured.max_quantity_lots,
    )
    assert spec.format_price(12_345) == configured.format_price(12_345)


def test_needs_cover_a_full_ladder_at_twice_the_fair_price() -> None:
    # 5 levels: at most 3 * (1 + ... + 5) = 45 lots a side; 45 TATA, and 45 lots at 2000.00 INR.
    assert maker_needs([(TATA, 100_000)], 5) == {"TATA": 45, "INR": 45 * 200_000}
    # USDC is shared by two markets and summed; BTC's lot is 10_000 satoshi.
    eth = CONFIG.markets["ETH_USDC"]
    needs = taker_needs([(BTC, 1_000_000), (eth, 100_000)])
    assert needs == {
        "BTC": 3 * 10_000,
        "ETH": 3 * 100_000,
        "USDC": BTC.notional(2_000_000, 3) + eth.notional(200_000, 3),
    }


@pytest.mark.parametrize(
    ("text", "atoms"),
    [("1.00", 100), ("0.009", 0), ("12.345", 1234), ("0", 0), ("7", 700), ("0E-8", 0)],
)
def test_balances_are_floored_to_whole_atoms(text: str, atoms: int) -> None:
    assert atoms_floor(text, CONFIG.assets["INR"]) == atoms


async def test_top_up_deposits_only_what_is_short_as_exact_strings() -> None:
    deposits: list[dict[str, str]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/signin"):
            return httpx.Response(200, json={"token": "t", "expiresAt": 2**42, "userId": 1})
        if request.url.path.endswith("/balances"):
            return httpx.Response(
                200,
                json={
                    "TATA": {"available": "400", "locked": "500"},  # 900: plenty
                    "INR": {"available": "10.00", "locked": "0.00"},  # short
                },
            )
        deposits.append(json.loads(request.content))
        return httpx.Response(200, json={})

    client = AsyncClient("http://edge", transport=httpx.MockTransport(handler))
    async with client:
        needs = maker_needs([(TATA, 100_000)], 5)
        assert await top_up(client, Account("mm", "password"), needs, CONFIG.assets, multiple=10)
        assert deposits == [{"asset": "INR", "amount": "899990.00"}]  # 10 x 90000.00 - 10.00
        deposits.clear()
        await top_up(client, Account("mm", "pw"), needs, CONFIG.assets, multiple=10, forced=True)
        assert deposits == [{"asset": "INR", "amount": "899990.00"}]  # TATA 900 >= 10 x 45


async def test_a_disabled_onramp_is_reported_not_raised() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/signin"):
            return httpx.Response(200, json={"token": "t", "expiresAt": 2**42, "userId": 1})
        if request.url.path.endswith("/balances"):
            return httpx.Response(200, json={})
        return httpx.Response(403, json={"error": {"code": "ONRAMP_DISABLED", "message": "off"}})

    async with AsyncClient("http://edge", transport=httpx.MockTransport(handler)) as client:
        needs = maker_needs([(TATA, 100_000)], 1)
        assert not await top_up(client, Account("mm", "pw"), needs, CONFIG.assets, multiple=10)


@pytest.mark.parametrize("text", ["NaN", "Infinity", "lots"])
def test_a_balance_that_is_no_number_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="balance"):
        atoms_floor(text, CONFIG.assets["INR"])
