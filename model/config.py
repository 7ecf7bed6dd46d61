"""Load assets and markets from a TOML file (``model/markets.toml`` by default)."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import msgspec

from model.numbers import Asset, MarketSpec

__all__ = ["DEFAULT_MARKETS_FILE", "MarketConfig", "load_markets", "normalize_symbol"]

DEFAULT_MARKETS_FILE = Path(__file__).with_name("markets.toml")


class MarketConfig(msgspec.Struct, frozen=True):
    """Every asset and market the exchange knows, by code and symbol."""

    assets: dict[str, Asset]
    markets: dict[str, MarketSpec]

    def market(self, symbol: str) -> MarketSpec | None:
        """The market named ``symbol`` (``TATA-INR`` and ``tata_inr`` name ``TATA_INR``)."""
        return self.markets.get(normalize_symbol(symbol))


def normalize_symbol(symbol: str) -> str:
    """``BASE_QUOTE`` in upper case; a dash is accepted in place of the underscore."""
    return symbol.upper().replace("-", "_")


def load_markets(path: Path | None = None) -> MarketConfig:
    """Read and check a markets file; raise ``ValueError`` naming what is wrong."""
    source = path or DEFAULT_MARKETS_FILE
    with source.open("rb") as handle:
        raw: dict[str, Any] = tomllib.load(handle)
    assets: dict[str, Asset] = {}
    for code, spec in raw.get("assets", {}).items():
        decimals = spec.get("decimals")
        if not isinstance(decimals, int) or not 0 <= decimals <= 18:
            raise ValueError(f"asset {code}: decimals must be an integer in 0..18")
        assets[code] = Asset(code=code, decimals=decimals)
    markets: dict[str, MarketSpec] = {}
    for entry in raw.get("markets", []):
        symbol = entry["symbol"]
        base, quote = entry["base"], entry["quote"]
        if symbol != f"{base}_{quote}":
            raise ValueError(f"market {symbol}: symbol must be {base}_{quote}")
        if base not in assets or quote not in assets:
            raise ValueError(f"market {symbol}: unknown asset")
        markets[symbol] = MarketSpec.build(
            symbol,
            assets[base],
            assets[quote],
            tick_size=entry["tick_size"],
            lot_size=entry["lot_size"],
            maker_fee=entry.get("maker_fee", "0"),
            taker_fee=entry.get("taker_fee", "0"),
            max_price=entry["max_price"],
            max_quantity=entry["max_quantity"],
        )
    if not markets:
        raise ValueError(f"{source}: no markets")
    return MarketConfig(assets=assets, markets=markets)
