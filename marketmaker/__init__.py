"""The market maker: a client of the edge (``client.AsyncClient``) that keeps every market
two-sided and trading."""

from marketmaker.maker import MarketMaker

__all__ = ["MarketMaker"]
