"""Hostile numbers in every amount field: refused with 400 naming the field, nothing changed.

Amounts are plain decimal strings or JSON numbers on the market's grid (DESIGN.md §3). Each value
below is sent as raw JSON text (so ``1e309`` really is the number ``1e309``, which no float can
carry) in ``price`` and ``quantity`` of a limit order and ``quoteQuantity`` of a market buy (both
lanes of ``POST /order``), ``quantity`` of a quote and ``amount`` of a deposit.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.integration.edge.conftest import sign_up
from tests.security.conftest import LANES, snapshot
from tests.support.cluster import Cluster

#: Raw JSON values, each wrong as an amount in every field below (TATA_INR: tick 0.01, lot 1;
#: INR: 2 decimals).
HOSTILE: dict[str, bytes] = {
    "NaN string": b'"NaN"',
    "nan string": b'"nan"',
    "sNaN string": b'"sNaN"',
    "Infinity string": b'"Infinity"',
    "-Infinity string": b'"-Infinity"',
    "inf string": b'"inf"',
    "1e309": b"1e309",
    "-1e309": b"-1e309",
    "1e-309": b"1e-309",
    "1E+400": b"1E+400",
    "1e5 (a number with an exponent)": b"1e5",
    "1.5e3": b"1.5e3",
    "'1e5' string": b'"1e5"',
    "'1E2' string": b'"1E2"',
    "negative": b'"-1"',
    "negative number": b"-5",
    "negative zero": b"-0",
    "zero": b'"0"',
    "zero number": b"0",
    "zero with decimals": b'"0.000"',
    "too many decimals": b'"1.001"',
    "too many decimals as a number": b"1.001",
    "a long tail of decimals": b"1.0000000000000000000000000001",
    "a tiny number": b"0.000000000000000000000000001",
    "10**30": b"1000000000000000000000000000000",
    "10**30 string": b'"1000000000000000000000000000000"',
    "65 digits": b'"' + b"1" * 65 + b'"',
    "empty string": b'""',
    "a dot": b'"."',
    "leading dot": b'".5"',
    "trailing dot": b'"1."',
    "leading space": b'" 1"',
    "trailing space": b'"1 "',
    "underscore": b'"1_0"',
    "plus sign": b'"+1"',
    "hexadecimal": b'"0x10"',
    "Arabic-Indic digit": '"\u0661"'.encode(),
    "fullwidth digit": '"\uff11"'.encode(),
    "comma decimal": b'"1,5"',
    "true": b"true",
    "false": b"false",
    "array": b"[1]",
    "array of string": b'["1"]',
    "empty array": b"[]",
    "object": b'{"value": "1"}',
    "empty object": b"{}",
}
#: Field contexts: (route, body template with ``@`` where the value goes, field, lanes).
BASE = b'{"market":"TATA_INR","kind":"buy",'
CONTEXTS: dict[str, tuple[str, bytes, str]] = {
    "order price": ("/order", BASE + b'"type":"limit","quantity":"1","price":@}', "price"),
    "order quantity": ("/order", BASE + b'"type":"limit","price":"10","quantity":@}', "quantity"),
    "order quoteQuantity": (
        "/order",
        BASE + b'"type":"market","quoteQuantity":@}',
        "quoteQuantity",
    ),
    "quote quantity": ("/order/quote", BASE + b'"quantity":@}', "quantity"),
    "deposit amount": ("/onramp", b'{"asset":"INR","amount":@}', "amount"),
}
JSON = {"Content-Type": "application/json"}


@pytest.fixture(scope="module")
def trader(cluster: Cluster) -> Iterator[dict[str, str]]:
    """A funded account, and a resting ask, so that any order that got through would trade."""
    with httpx.Client(base_url=f"{cluster.base_url}/api/v1", timeout=30) as api:
        maker = sign_up(api, {"TATA": "100"})
        ask = {
            "market": "TATA_INR",
            "kind": "sell",
            "type": "limit",
            "price": "10",
            "quantity": "50",
        }
        assert api.post("/order", json=ask, headers=maker).status_code == 200
        yield sign_up(api, {"INR": "100000"})


@pytest.mark.parametrize("context", sorted(CONTEXTS))
@pytest.mark.parametrize("value", sorted(HOSTILE))
def test_a_hostile_amount_is_refused_naming_its_field(
    api: httpx.Client, trader: dict[str, str], context: str, value: str
) -> None:
    route, template, field = CONTEXTS[context]
    body = template.replace(b"@", HOSTILE[value])
    lanes = LANES.values() if route == "/order" else [{}]
    before = snapshot(api, trader)
    for lane in lanes:
        response = api.post(route, content=body, headers={**trader, **JSON, **lane})
        assert response.status_code == 400, (lane, response.text)
        error = response.json()["error"]
        assert error["field"] == field, error
    assert snapshot(api, trader) == before


@pytest.mark.parametrize(
    "literal", [b"NaN", b"Infinity", b"-Infinity", b"nan", b"inf", b"0x10", b"+1", b".5", b"01"]
)
def test_json_that_is_not_json_is_refused(
    api: httpx.Client, trader: dict[str, str], literal: bytes
) -> None:
    """Bare ``NaN``, ``Infinity``, hex, a plus sign or a leading zero: not JSON numbers at all."""
    before = snapshot(api, trader)
    for route, template, _ in CONTEXTS.values():
        lanes = LANES.values() if route == "/order" else [{}]
        for lane in lanes:
            body = template.replace(b"@", literal)
            response = api.post(route, content=body, headers={**trader, **JSON, **lane})
            assert response.status_code == 400, (route, lane, response.text)
            assert response.json()["error"]["code"] == "BAD_REQUEST"
    assert snapshot(api, trader) == before


def test_exact_numbers_on_the_grid_are_accepted(api: httpx.Client, trader: dict[str, str]) -> None:
    """The control: the same fields with good values work, as strings and as JSON numbers."""
    for lane in LANES.values():
        for body in (
            BASE + b'"type":"limit","price":"9.99","quantity":"1"}',
            BASE + b'"type":"limit","price":9.98,"quantity":1}',
        ):
            placed = api.post("/order", content=body, headers={**trader, **JSON, **lane})
            assert placed.status_code == 200, placed.text
            assert (
                api.delete(f"/order/{placed.json()['orderId']}", headers=trader).status_code == 200
            )
    quote = api.post("/order/quote", content=BASE + b'"quantity":2}', headers={**trader, **JSON})
    assert quote.status_code == 200, quote.text
