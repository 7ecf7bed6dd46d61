"""Server-side callbacks, one module per area; :func:`register_all` wires them to an app."""

from __future__ import annotations

from dash import Dash

from client import Client
from dash_app.callbacks import account, analytics, market
from model.config import MarketConfig

__all__ = ["register_all"]


def register_all(
    app: Dash, client: Client, database_url: str | None, markets: MarketConfig
) -> None:
    """Register every callback of the dashboard on ``app``: market data and trading through the
    edge (``client``), analytics from the database at ``database_url``."""
    market.register(app, client)
    account.register(app, client)
    analytics.register(app, database_url, markets)
