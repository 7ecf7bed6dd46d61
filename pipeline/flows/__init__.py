"""Bytewax dataflows turning ``tw:{shard}:events`` into market data: depth diffs, trades,
the 24 h ticker and OHLCV candles (see ``market_data.build_flow``)."""

from __future__ import annotations

from pipeline.flows.market_data import build_flow

__all__ = ["build_flow"]
