"""The Dash application: :func:`create_app` builds it from :class:`DashSettings`."""

from __future__ import annotations

import httpx
from dash import Dash

from client import Client
from dash_app.callbacks import register_all
from dash_app.layout import build_layout
from dash_app.theme import CSS
from model.settings import DashSettings, get_settings

__all__ = ["create_app"]

#: Short: the page polls about once a second, and a late answer is worth less than the next one.
POLL_TIMEOUT = httpx.Timeout(3.0, connect=1.0)

_INDEX = (
    """<!DOCTYPE html>
<html>
  <head>
    {%metas%}
    <title>{%title%}</title>
    {%favicon%}
    {%css%}
    <style>"""
    + CSS
    + """</style>
  </head>
  <body>
    {%app_entry%}
    <footer>{%config%}{%scripts%}{%renderer%}</footer>
  </body>
</html>"""
)


def create_app(
    settings: DashSettings,
    client: Client | None = None,
    database_url: str | None = None,
) -> Dash:
    """The dashboard, reading the edge at ``settings.edge_url`` (or through ``client``).

    The analytics tab reads ``database_url``; ``None`` takes ``DATABASE_URL`` from the settings,
    ``""`` means none (the tab then says it needs one).
    """
    config = get_settings()
    if database_url is None:
        database_url = config.database_url
    app = Dash(
        __name__,
        title="Tidewater",
        update_title="",  # no "Updating..." flicker in the tab title on every poll
        suppress_callback_exceptions=True,
        serve_locally=True,
    )
    app.index_string = _INDEX
    app.layout = build_layout(settings.refresh_ms, settings.edge_url)
    client = client or Client(settings.edge_url, timeout=POLL_TIMEOUT)
    register_all(app, client, database_url, config.markets())
    return app
