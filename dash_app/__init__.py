"""The Plotly Dash dashboard: market data, analytics and trading against the edge's REST API."""

from __future__ import annotations

from dash_app.app import create_app

__all__ = ["create_app"]
