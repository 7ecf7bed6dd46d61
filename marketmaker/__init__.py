"""The market maker: a REST client of the edge that keeps every market two-sided and trading."""

from marketmaker.client import Account, Backoff, EdgeClient
from marketmaker.maker import MarketMaker

__all__ = ["Account", "Backoff", "EdgeClient", "MarketMaker"]
