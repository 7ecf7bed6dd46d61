"""edge/apikeys.py: the signed text as Backpack's documentation builds it, and which routes a key
may call under which instruction."""

from __future__ import annotations

import pytest

from edge.apikeys import instruction_for, signing_text


def test_the_documented_example() -> None:
    # docs.backpack.exchange, "Signing requests": cancelling order 28 on BTC_USDT.
    text = signing_text("orderCancel", {"symbol": "BTC_USDT", "orderId": 28}, 1614550000000, 5000)
    assert text == (
        b"instruction=orderCancel&orderId=28&symbol=BTC_USDT&timestamp=1614550000000&window=5000"
    )


def test_no_params_booleans_and_nulls() -> None:
    assert signing_text("balanceQuery", {}, 1, 5000) == (
        b"instruction=balanceQuery&timestamp=1&window=5000"
    )
    signed = signing_text("orderExecute", {"postOnly": True, "clientId": None, "b": False}, 2, 60)
    assert signed == b"instruction=orderExecute&b=false&postOnly=true&timestamp=2&window=60"


@pytest.mark.parametrize(
    ("method", "path", "expected"),
    [
        ("POST", "/api/v1/order", ("orderExecute", {})),
        ("DELETE", "/api/v1/order/77", ("orderCancel", {"orderId": "77"})),
        ("GET", "/api/v1/order/77", ("orderQuery", {"orderId": "77"})),
        ("GET", "/api/v1/orders/open", ("orderQueryAll", {})),
        ("DELETE", "/api/v1/orders", ("orderCancelAll", {})),
        ("GET", "/api/v1/orders/history", ("orderHistoryQueryAll", {})),
        ("GET", "/api/v1/orders", ("orderQueryAll", {})),
        ("GET", "/api/v1/order", ("orderQuery", {})),
        ("DELETE", "/api/v1/order", ("orderCancel", {})),
        ("GET", "/api/v1/capital", ("balanceQuery", {})),
        ("GET", "/wapi/v1/history/orders", ("orderHistoryQueryAll", {})),
        ("GET", "/wapi/v1/history/fills", ("fillHistoryQueryAll", {})),
        ("GET", "/api/v1/fills", ("fillHistoryQueryAll", {})),
        ("GET", "/api/v1/balances", ("balanceQuery", {})),
        ("POST", "/api/v1/order/quote", ("orderQuote", {})),
        # Key management and deposits take a signed-in session only.
        ("GET", "/api/v1/apiKeys", None),
        ("POST", "/api/v1/apiKey", None),
        ("DELETE", "/api/v1/apiKey/3", None),
        ("POST", "/api/v1/onramp", None),
        ("GET", "/api/v1/order/77/x", None),
    ],
)
def test_routes_a_key_may_call(
    method: str, path: str, expected: tuple[str, dict[str, str]] | None
) -> None:
    assert instruction_for(method, path) == expected
