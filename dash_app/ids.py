"""Component ids, named once: a typo in an id must be an ``AttributeError``, not a dead callback."""

from __future__ import annotations

# Page-wide state
URL = "url"
TICK = "tick"
MARKETS = "markets-store"
SESSION = "session-store"
OPEN_ORDERS_DATA = "open-orders-store"
OPEN_ORDERS_SHOWN = "open-orders-shown"
ACCOUNT_NONCE = "account-nonce"

# Live data from the browser's WebSocket (dash_app/assets/live.js writes these stores)
LIVE_CONFIG = "live-config"
LIVE_FOLLOW = "live-follow"
LIVE_MARKET = "live-market"
LIVE_ACCOUNT = "live-account"
LIVE_STATUS = "live-status"

# Header
MARKET = "market-select"
TICKER = "ticker-bar"
BANNER = "edge-banner"
STATUS = "edge-status"
TABS = "tabs"

# Market view
INTERVAL = "interval-select"
CANDLES = "candles-chart"
DEPTH = "depth-chart"
BOOK = "order-book"
TAPE = "trades-tape"

# Account
SIGNED_OUT = "signed-out"
SIGNED_IN = "signed-in"
USERNAME = "username"
PASSWORD = "password"  # noqa: S105  # an element id, not a secret
SIGNIN = "signin-button"
SIGNUP = "signup-button"
SIGNOUT = "signout-button"
WHO = "signed-in-as"
AUTH_MESSAGE = "auth-message"
BALANCES = "balances"
DEPOSIT_ASSET = "deposit-asset"
DEPOSIT_AMOUNT = "deposit-amount"
DEPOSIT = "deposit-button"
DEPOSIT_MESSAGE = "deposit-message"

# Order form and open orders
SIDE = "order-side"
ORDER_TYPE = "order-type"
PRICE = "order-price"
QUANTITY = "order-quantity"
PLACE = "place-order-button"
ORDER_MESSAGE = "order-message"
OPEN_ORDERS = "open-orders"
NOTICE = "fill-notice"
AVAILABLE = "order-available"
FRACTION = "order-fraction"  # the type of the 25/50/75/100 % buttons' pattern-matching ids
BALANCES_DATA = "balances-store"

# History
HISTORY = "order-history"
FILLS = "my-fills"
HISTORY_OLDER = "history-older"
HISTORY_NEWEST = "history-newest"
HISTORY_CURSORS = "history-cursors"

# Analytics
AN_INTERVAL = "analytics-interval"
AN_WINDOW = "analytics-window"
AN_MESSAGE = "analytics-message"
AN_STATS = "analytics-stats"
AN_PRICE = "analytics-price-chart"
AN_RETURNS = "analytics-returns-chart"
AN_VOLATILITY = "analytics-volatility-chart"
AN_REFRESH = "analytics-tick"
