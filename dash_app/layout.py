"""The page: a header with the market selector and 24 h ticker, a trade tab (chart, depth, order
book, trades tape, account, order form, open orders) and an analytics tab.

Everything that changes is filled in by callbacks (``dash_app.callbacks``); the layout holds
only empty placeholders, so the page renders at once, even while the edge is down.
"""

from __future__ import annotations

from dash import dcc, html
from dash.development.base_component import Component

from dash_app import ids
from dash_app.figures import empty_figure, plotly_template
from dash_app.theme import DOWN, GRID, MUTED, PANEL, TEXT, UP
from model.intervals import HOUR_US, INTERVAL_US, INTERVALS

__all__ = ["BANNER_TEXT", "HIDDEN", "SHOWN", "build_layout", "live_config"]

BANNER_TEXT = "Exchange unreachable — retrying"
HIDDEN = {"display": "none"}
SHOWN = {"display": "block"}

_GRAPH_CONFIG: dcc.Graph.Config = {"displaylogo": False, "scrollZoom": True}


def _panel(title: str, *children: Component) -> html.Div:
    return html.Div([html.H3(title), *children], className="panel")


def _header() -> html.Div:
    return html.Div(
        [
            html.Span("Tidewater", className="brand"),
            dcc.Dropdown(
                id=ids.MARKET,
                options=[],
                clearable=False,
                searchable=False,
                placeholder="market",
                className="market-select",
            ),
            html.Div(id=ids.TICKER, className="ticker"),
            html.Span("", id=ids.STATUS, className="muted", style={"marginLeft": "auto"}),
        ],
        className="header",
    )


def _market_column() -> html.Div:
    chart = _panel(
        "Chart",
        dcc.RadioItems(
            id=ids.INTERVAL,
            options=[{"label": name, "value": name} for name in INTERVALS],
            value="1m",
            inline=True,
            className="intervals",
        ),
        dcc.Graph(id=ids.CANDLES, figure=empty_figure("Loading…"), config=_GRAPH_CONFIG),
    )
    depth = _panel(
        "Depth",
        dcc.Graph(id=ids.DEPTH, figure=empty_figure("Loading…", height=300), config=_GRAPH_CONFIG),
    )
    orders = _panel("Open orders", html.Div(id=ids.OPEN_ORDERS))
    history = _panel(
        "History",
        dcc.Tabs(
            className="tabs-bar",
            children=[
                dcc.Tab(label="My orders", className="tab", selected_className="tab--selected",
                        children=html.Div(id=ids.HISTORY)),
                dcc.Tab(label="My fills", className="tab", selected_className="tab--selected",
                        children=html.Div(id=ids.FILLS)),
            ],
        ),
        html.Div(
            [
                html.Button("Newest", id=ids.HISTORY_NEWEST, n_clicks=0, className="small"),
                html.Button("Older", id=ids.HISTORY_OLDER, n_clicks=0, className="small"),
            ],
            className="form-row",
        ),
    )  # fmt: skip
    return html.Div([chart, depth, orders, history], style={"display": "grid", "gap": "8px"})


def _book_column() -> html.Div:
    return html.Div(
        [
            _panel("Order book", html.Div(id=ids.BOOK)),
            _panel("Trades", html.Div(id=ids.TAPE, className="tape")),
        ],
        style={"display": "grid", "gap": "8px", "alignContent": "start"},
    )


def _text(id_: str, placeholder: str, value: str = "") -> dcc.Input:
    # type="text" on purpose: a number input would hand the server a float, not the user's text.
    return dcc.Input(
        id=id_,
        type="text",
        placeholder=placeholder,
        value=value,
        debounce=False,
        autoComplete="off",
    )


def _account_column() -> html.Div:
    signed_out = html.Div(
        [
            html.Div(
                dcc.Input(
                    id=ids.USERNAME, type="text", placeholder="username", autoComplete="username"
                ),
                className="form-row",
            ),
            html.Div(
                dcc.Input(
                    id=ids.PASSWORD,
                    type="password",
                    placeholder="password",
                    autoComplete="current-password",
                ),
                className="form-row",
            ),
            html.Div(
                [
                    html.Button("Sign in", id=ids.SIGNIN, n_clicks=0),
                    html.Button("Sign up", id=ids.SIGNUP, n_clicks=0),
                ],
                className="form-row",
            ),
        ],
        id=ids.SIGNED_OUT,
    )
    signed_in = html.Div(
        [
            html.Div(
                [
                    html.Span(id=ids.WHO),
                    html.Button(
                        "Sign out",
                        id=ids.SIGNOUT,
                        n_clicks=0,
                        className="small",
                        style={"flex": "0 0 auto"},
                    ),
                ],
                className="form-row",
            ),
            html.H3("Balances", style={"marginTop": "8px"}),
            html.Div(id=ids.BALANCES),
            html.H3("Deposit test funds", style={"marginTop": "10px"}),
            html.Div(
                [
                    dcc.Dropdown(
                        id=ids.DEPOSIT_ASSET,
                        options=[],
                        clearable=False,
                        searchable=False,
                        className="market-select",
                    ),
                    _text(ids.DEPOSIT_AMOUNT, "amount", "10000"),
                    html.Button("Deposit", id=ids.DEPOSIT, n_clicks=0, style={"flex": "0 0 auto"}),
                ],
                className="form-row",
            ),
            html.Div(id=ids.DEPOSIT_MESSAGE, className="message"),
        ],
        id=ids.SIGNED_IN,
        style=HIDDEN,
    )
    account = _panel(
        "Account",
        signed_out,
        signed_in,
        html.Div(id=ids.AUTH_MESSAGE, className="message"),
    )
    order_form = _panel(
        "Place order",
        html.Div(
            [
                dcc.RadioItems(
                    id=ids.SIDE,
                    value="buy",
                    inline=True,
                    className="side-toggle",
                    options=[{"label": "Buy", "value": "buy"}, {"label": "Sell", "value": "sell"}],
                ),
                dcc.RadioItems(
                    id=ids.ORDER_TYPE,
                    value="limit",
                    inline=True,
                    className="type-toggle",
                    options=[
                        {"label": "Limit", "value": "limit"},
                        {"label": "Market", "value": "market"},
                    ],
                ),
            ],
            className="form-row",
        ),
        html.Div(_text(ids.PRICE, "price"), className="form-row"),
        html.Div(_text(ids.QUANTITY, "quantity"), className="form-row"),
        html.Div(
            [
                html.Button(
                    f"{pct}%", id={"type": ids.FRACTION, "pct": pct}, n_clicks=0, className="small"
                )
                for pct in (25, 50, 75, 100)
            ],
            className="form-row",
        ),
        html.Div(id=ids.AVAILABLE, className="muted"),
        html.Div(
            html.Button("Buy", id=ids.PLACE, n_clicks=0, className="buy"), className="form-row"
        ),
        html.Div(id=ids.ORDER_MESSAGE, className="message"),
        html.Div(id=ids.NOTICE, className="message ok"),
    )
    return html.Div(
        [account, order_form], style={"display": "grid", "gap": "8px", "alignContent": "start"}
    )


def _trade_tab() -> html.Div:
    return html.Div([_market_column(), _book_column(), _account_column()], className="grid")


#: The analytics tab's bars: the intraday intervals (a volatility window of days of 1d bars
#: says little on a fresh exchange).
_ANALYTICS_INTERVALS = [name for name in INTERVALS if INTERVAL_US[name] <= HOUR_US]


def _analytics_tab() -> html.Div:
    controls = html.Div(
        [
            html.Span("Bars", className="muted"),
            dcc.RadioItems(
                id=ids.AN_INTERVAL,
                options=[{"label": name, "value": name} for name in _ANALYTICS_INTERVALS],
                value="1m",
                inline=True,
                className="intervals",
            ),
            html.Span("Volatility window", className="muted"),
            dcc.RadioItems(
                id=ids.AN_WINDOW,
                options=[{"label": f"{n} bars", "value": n} for n in (10, 20, 60)],
                value=20,
                inline=True,
                className="intervals",
            ),
        ],
        className="controls",
    )
    return html.Div(
        [
            html.Div(
                [
                    controls,
                    html.Div(id=ids.AN_MESSAGE, className="message"),
                    html.Div(id=ids.AN_STATS, className="stats"),
                ],
                className="panel",
                style={"margin": "8px 8px 0"},
            ),
            html.Div(
                [
                    _panel(
                        "Price and VWAP",
                        dcc.Graph(
                            id=ids.AN_PRICE,
                            config=_GRAPH_CONFIG,
                            figure=empty_figure("Loading…", height=300),
                        ),
                    ),
                    _panel(
                        "Log returns",
                        dcc.Graph(
                            id=ids.AN_RETURNS,
                            config=_GRAPH_CONFIG,
                            figure=empty_figure("Loading…", height=300),
                        ),
                    ),
                    _panel(
                        "Rolling volatility",
                        dcc.Graph(
                            id=ids.AN_VOLATILITY,
                            config=_GRAPH_CONFIG,
                            figure=empty_figure("Loading…", height=300),
                        ),
                    ),
                ],
                className="analytics-grid",
            ),
        ]
    )


def live_config(edge_url: str) -> dict[str, object]:
    """What the browser's live client (``assets/live.js``) needs: the edge's WebSocket and REST
    addresses as the browser reaches them, the stores it writes, each interval's length; and
    what the market view (``assets/market_view.js``) draws with: the theme's colours and Plotly
    template, the containers of the panels it draws and the order form a book row fills in."""
    root = edge_url.rstrip("/")
    return {
        "ws": ("wss://" if root.startswith("https://") else "ws://")
        + root.split("://", 1)[1]
        + "/ws",
        "api": root + "/api/v1",
        "marketStore": ids.LIVE_MARKET,
        "accountStore": ids.LIVE_ACCOUNT,
        "statusStore": ids.LIVE_STATUS,
        "intervalsMs": {name: INTERVAL_US[name] // 1000 for name in INTERVALS},
        "theme": {
            "up": UP, "down": DOWN, "grid": GRID, "muted": MUTED, "panel": PANEL, "text": TEXT,
            "template": plotly_template(),
        },
        "ids": {
            "ticker": ids.TICKER, "book": ids.BOOK, "tape": ids.TAPE,
            "price": ids.PRICE, "side": ids.SIDE,
        },
    }  # fmt: skip


def build_layout(refresh_ms: int, edge_url: str) -> html.Div:
    """The whole page. Market and account data come live from the browser's WebSocket to the
    edge at ``edge_url``; the market list is read every ``refresh_ms`` until it is known."""
    return html.Div(
        [
            dcc.Location(id=ids.URL, refresh=False),
            dcc.Store(id=ids.SESSION, storage_type="session"),
            dcc.Store(id=ids.MARKETS),
            dcc.Store(id=ids.OPEN_ORDERS_DATA),
            dcc.Store(id=ids.OPEN_ORDERS_SHOWN),
            dcc.Store(id=ids.BALANCES_DATA),
            dcc.Store(id=ids.HISTORY_CURSORS, data=[]),
            dcc.Store(id=ids.ACCOUNT_NONCE, data=0),
            dcc.Store(id=ids.LIVE_CONFIG, data=live_config(edge_url)),
            dcc.Store(id=ids.LIVE_FOLLOW),
            dcc.Store(id=ids.LIVE_MARKET),
            dcc.Store(id=ids.LIVE_ACCOUNT),
            dcc.Store(id=ids.LIVE_STATUS),
            dcc.Interval(id=ids.TICK, interval=refresh_ms),
            dcc.Interval(id=ids.AN_REFRESH, interval=max(refresh_ms * 10, 5000), disabled=True),
            _header(),
            html.Div(BANNER_TEXT, id=ids.BANNER, className="banner", style=HIDDEN),
            dcc.Tabs(
                id=ids.TABS,
                value="trade",
                className="tabs-bar",
                children=[
                    dcc.Tab(
                        label="Trade",
                        value="trade",
                        className="tab",
                        selected_className="tab--selected",
                        children=_trade_tab(),
                    ),
                    dcc.Tab(
                        label="Analytics",
                        value="analytics",
                        className="tab",
                        selected_className="tab--selected",
                        children=_analytics_tab(),
                    ),
                ],
            ),
        ]
    )
