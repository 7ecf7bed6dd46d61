"""Accounts and trading: sign up / sign in, balances, deposits, the order form, open orders.

Balances and open orders are read again whenever the user's private stream (followed by the
browser, ``dash_app/assets/live.js``) says something changed, and after the user's own actions;
never on a timer. A fill is announced under the order form.

The token lives in the browser's session store (``dcc.Store(storage_type="session")``) and comes
with each callback as ``State``; the server keeps none. The order form sends the price and
quantity exactly as typed (only surrounding spaces removed): the edge checks them against the
market's grid and its refusal (``error.message``) is shown under the form.
"""

from __future__ import annotations

import time
from decimal import ROUND_DOWN, Decimal
from typing import Any

from dash import ALL, Dash, Input, Output, State, ctx, html, no_update
from dash.exceptions import PreventUpdate

from client import ApiError, Client
from dash_app import ids
from dash_app.callbacks._wiring import callback
from dash_app.components import (
    CANCEL_BUTTON,
    balances_table,
    fills_table,
    history_table,
    orders_table,
)
from dash_app.format import decimal_text
from dash_app.layout import HIDDEN, SHOWN
from dash_app.types import Session, markets_from_store, orders_from_store, to_store
from model.api import MarketView

__all__ = [
    "UNREACHABLE",
    "authenticate",
    "fill_notice",
    "fraction_quantity",
    "order_body",
    "register",
]

UNREACHABLE = "Exchange unreachable — try again in a moment"
_PAGE = 10  # rows per page of the history
_ERROR, _OK = "message error", "message ok"


def authenticate(
    client: Client, action: str, username: str | None, password: str | None
) -> tuple[Session | None, str]:
    """Sign up (``action == "signup"``) or sign in; the session to store, or ``None`` and why."""
    name = (username or "").strip()
    if not name or not password:
        return None, "Enter a username and a password"
    try:
        call = client.sign_up if action == "signup" else client.sign_in
        token = call(name, password)
    except ApiError as exc:
        return None, UNREACHABLE if exc.unavailable else exc.message
    session: Session = {
        "token": token.token,
        "expiresAt": token.expires_at,
        "userId": token.user_id,
        "username": name,
    }
    return session, ""


def fill_notice(push: Any) -> str | None:
    """The line shown when one of the user's orders trades (a ``fill`` of the private stream)."""
    if not isinstance(push, dict) or push.get("e") != "fill":
        return None
    verb = "Bought" if push.get("kind") == "buy" else "Sold"
    role = "maker" if push.get("isMaker") else "taker"
    return (
        f"{verb} {push.get('quantity')} {push.get('market', '').split('_')[0]} at "
        f"{push.get('price')} ({role}, fee {push.get('fee')} {push.get('feeAsset')})"
    )


def fraction_quantity(
    market: MarketView, side: str, pct: int, balances: dict[str, Any], price: str | None
) -> str | None:
    """``pct`` % of what the user can spend as an order quantity, rounded down to the market's
    step: of the base asset to sell, or of the quote asset at ``price`` to buy (``None`` when a
    buy has no price to size it by). Exact, on ``Decimal``."""
    asset = market.quote_symbol if side == "buy" else market.base_symbol
    held = Decimal(balances.get(asset, {}).get("available", "0")) * pct / 100
    step = Decimal(market.step_size)
    if side == "buy":
        limit = decimal_text(price)
        if limit is None or Decimal(limit) <= 0:
            return None
        held = held / Decimal(limit)
    lots = (held / step).to_integral_value(rounding=ROUND_DOWN)
    return str((lots * step).quantize(step))


def order_body(
    market: str | None, side: str, order_type: str, price: str | None, quantity: str | None
) -> dict[str, str] | str:
    """The ``POST /order`` body from the form, or a message saying what is missing.

    Price and quantity go as the user's own text (never through a float); whether they fit the
    market's tick and lot sizes is for the edge to say.
    """
    if not market:
        return "Choose a market first"
    qty = decimal_text(quantity)
    if qty is None:
        return "Enter a quantity, e.g. 1.5"
    body = {"market": market, "kind": side, "type": order_type, "quantity": qty}
    if order_type == "limit":
        limit = decimal_text(price)
        if limit is None:
            return "Enter a limit price, e.g. 100.25"
        body["price"] = limit
    return body


def _token(session: Session | None) -> str:
    if not session or session.get("expiresAt", 0) <= time.time() * 1000:
        raise PreventUpdate
    return session["token"]


def register(app: Dash, client: Client) -> None:
    """Wire the account panel, the order form and the open-orders table to ``app``."""

    @callback(
        app,
        Output(ids.SESSION, "data"),
        Output(ids.AUTH_MESSAGE, "children"),
        Output(ids.AUTH_MESSAGE, "className"),
        Output(ids.PASSWORD, "value"),
        Input(ids.SIGNIN, "n_clicks"),
        Input(ids.SIGNUP, "n_clicks"),
        Input(ids.SIGNOUT, "n_clicks"),
        State(ids.USERNAME, "value"),
        State(ids.PASSWORD, "value"),
        prevent_initial_call=True,
    )
    def auth(
        _in: int, _up: int, _out: int, username: str | None, password: str | None
    ) -> tuple[Any, ...]:
        if ctx.triggered_id == ids.SIGNOUT:
            return None, "Signed out", _OK, ""
        action = "signup" if ctx.triggered_id == ids.SIGNUP else "signin"
        session, message = authenticate(client, action, username, password)
        if session is None:
            return no_update, message, _ERROR, no_update
        return session, "", _OK, ""

    @callback(
        app,
        Output(ids.SIGNED_OUT, "style"),
        Output(ids.SIGNED_IN, "style"),
        Output(ids.WHO, "children"),
        Input(ids.SESSION, "data"),
    )
    def session_view(session: Session | None) -> tuple[Any, ...]:
        if not session:
            return SHOWN, HIDDEN, ""
        return HIDDEN, SHOWN, f"Signed in as {session['username']}"

    @callback(
        app,
        Output(ids.BALANCES, "children"),
        Output(ids.BALANCES_DATA, "data"),
        Output(ids.OPEN_ORDERS_DATA, "data"),
        Output(ids.SESSION, "data", allow_duplicate=True),
        Output(ids.AUTH_MESSAGE, "children", allow_duplicate=True),
        Input(ids.LIVE_ACCOUNT, "data"),
        Input(ids.SESSION, "data"),
        Input(ids.ACCOUNT_NONCE, "data"),
        State(ids.OPEN_ORDERS_DATA, "data"),
        prevent_initial_call="initial_duplicate",
    )
    def account(_pushed: Any, session: Session | None, _nonce: Any, shown: Any) -> tuple[Any, ...]:
        if not session:
            return "", None, None if shown is not None else no_update, no_update, no_update
        expired = (no_update, None, None, None, "Your session expired: sign in again")
        if session.get("expiresAt", 0) <= time.time() * 1000:
            return expired
        try:
            balances = client.balances(session["token"])
            orders = to_store(client.open_orders(session["token"]))
        except ApiError as exc:
            if exc.unavailable:
                raise PreventUpdate from None  # keep what is shown; the banner says why
            if exc.status == 401:
                return expired
            return exc.message, no_update, no_update, no_update, no_update
        # Always the fresh list, never no_update when unchanged: a no_update answer of a call
        # that overlapped a newer one puts back what the store held when it started (Dash's
        # overlapping-call behaviour), which would undo the newer call's update.
        return (
            balances_table(balances),
            to_store(balances),
            orders,
            no_update,
            no_update,
        )

    @callback(
        app,
        Output(ids.NOTICE, "children"),
        Input(ids.LIVE_ACCOUNT, "data"),
        prevent_initial_call=True,
    )
    def notice(pushed: Any) -> Any:
        # The newest fill, not the newest push: a balance push right after a fill may be the
        # only value of the store this callback sees.
        fills = (pushed or {}).get("fills") or [None]
        text = fill_notice(fills[0])
        if text is None:
            raise PreventUpdate
        return text

    @callback(
        app,
        Output(ids.OPEN_ORDERS, "children"),
        Output(ids.OPEN_ORDERS_SHOWN, "data"),
        Input(ids.OPEN_ORDERS_DATA, "data"),
        State(ids.SESSION, "data"),
        State(ids.OPEN_ORDERS_SHOWN, "data"),
    )
    def open_orders(orders: Any, session: Session | None, shown: Any) -> tuple[Any, Any]:
        if orders is None:
            empty = html.Div(
                className="empty",
                children="Sign in to see your open orders" if not session else "Loading…",
            )
            return empty, None
        if orders == shown:
            # The same orders: no redraw, so a cancel button being clicked stays the same
            # button. (Its data came fresh, so a stale answer cannot hide a newer list here.)
            raise PreventUpdate
        return orders_table(orders_from_store(orders)), orders

    @callback(
        app,
        Output(ids.ORDER_MESSAGE, "children"),
        Output(ids.ORDER_MESSAGE, "className"),
        Output(ids.ACCOUNT_NONCE, "data", allow_duplicate=True),
        Input(ids.PLACE, "n_clicks"),
        State(ids.SESSION, "data"),
        State(ids.MARKET, "value"),
        State(ids.SIDE, "value"),
        State(ids.ORDER_TYPE, "value"),
        State(ids.PRICE, "value"),
        State(ids.QUANTITY, "value"),
        prevent_initial_call=True,
    )
    def place(
        clicks: int,
        session: Session | None,
        market: str | None,
        side: str,
        order_type: str,
        price: str | None,
        quantity: str | None,
    ) -> tuple[Any, ...]:
        if not clicks:
            raise PreventUpdate
        if not session:
            return "Sign in to trade", _ERROR, no_update
        body = order_body(market, side, order_type, price, quantity)
        if isinstance(body, str):
            return body, _ERROR, no_update
        try:
            order = client.place(session["token"], body)
        except ApiError as exc:
            if exc.unavailable:
                return UNREACHABLE, _ERROR, no_update
            return exc.message, _ERROR, time.time_ns()
        status = order.status.value.replace("_", " ")
        text = f"Order {order.order_id} {status}: filled {order.executed_qty}"
        return text, _OK, time.time_ns()

    @callback(
        app,
        Output(ids.ORDER_MESSAGE, "children", allow_duplicate=True),
        Output(ids.ORDER_MESSAGE, "className", allow_duplicate=True),
        Output(ids.ACCOUNT_NONCE, "data", allow_duplicate=True),
        Input({"type": CANCEL_BUTTON, "order": ALL}, "n_clicks"),
        State(ids.SESSION, "data"),
        prevent_initial_call=True,
    )
    def cancel(_clicks: list[int | None], session: Session | None) -> tuple[Any, ...]:
        trigger = ctx.triggered_id
        # Buttons also "fire" when the table is redrawn with them; only a real click counts.
        if not isinstance(trigger, dict) or not ctx.triggered or not ctx.triggered[0]["value"]:
            raise PreventUpdate
        token = _token(session)
        order_id = str(trigger["order"])
        try:
            order = client.cancel(token, order_id)
        except ApiError as exc:
            if exc.unavailable:
                return UNREACHABLE, _ERROR, no_update
            return exc.message, _ERROR, time.time_ns()
        return f"Order {order.order_id} canceled", _OK, time.time_ns()

    @callback(
        app,
        Output(ids.DEPOSIT_MESSAGE, "children"),
        Output(ids.DEPOSIT_MESSAGE, "className"),
        Output(ids.ACCOUNT_NONCE, "data", allow_duplicate=True),
        Input(ids.DEPOSIT, "n_clicks"),
        State(ids.SESSION, "data"),
        State(ids.DEPOSIT_ASSET, "value"),
        State(ids.DEPOSIT_AMOUNT, "value"),
        prevent_initial_call=True,
    )
    def deposit(
        clicks: int, session: Session | None, asset: str | None, amount: str | None
    ) -> tuple[Any, ...]:
        if not clicks:
            raise PreventUpdate
        token = _token(session)
        value = decimal_text(amount)
        if not asset or value is None:
            return "Choose an asset and enter an amount", _ERROR, no_update
        try:
            client.onramp(token, asset, value)
        except ApiError as exc:
            return UNREACHABLE if exc.unavailable else exc.message, _ERROR, no_update
        return f"Deposited {value} {asset}", _OK, time.time_ns()

    @callback(
        app,
        Output(ids.AVAILABLE, "children"),
        Input(ids.BALANCES_DATA, "data"),
        Input(ids.MARKET, "value"),
        Input(ids.SIDE, "value"),
        State(ids.MARKETS, "data"),
    )
    def available(balances: Any, symbol: str | None, side: str, markets: Any) -> str:
        market = next((m for m in markets_from_store(markets) if m.symbol == symbol), None)
        if market is None or not balances:
            return ""
        asset = market.quote_symbol if side == "buy" else market.base_symbol
        held = balances.get(asset, {}).get("available", "0")
        return f"Available: {held} {asset}"

    @callback(
        app,
        Output(ids.QUANTITY, "value"),
        Output(ids.ORDER_MESSAGE, "children", allow_duplicate=True),
        Output(ids.ORDER_MESSAGE, "className", allow_duplicate=True),
        Input({"type": ids.FRACTION, "pct": ALL}, "n_clicks"),
        State(ids.BALANCES_DATA, "data"),
        State(ids.MARKET, "value"),
        State(ids.SIDE, "value"),
        State(ids.PRICE, "value"),
        State(ids.MARKETS, "data"),
        prevent_initial_call=True,
    )
    def fraction(
        clicks: list[int | None],
        balances: Any,
        symbol: str | None,
        side: str,
        price: str | None,
        markets: Any,
    ) -> tuple[Any, ...]:
        button = ctx.triggered_id
        if not isinstance(button, dict) or not any(clicks):
            raise PreventUpdate
        market = next((m for m in markets_from_store(markets) if m.symbol == symbol), None)
        if market is None or not balances:
            return no_update, "Sign in and choose a market first", _ERROR
        quantity = fraction_quantity(market, side, int(button["pct"]), balances, price)
        if quantity is None:
            return no_update, "Enter a price first: a buy's size depends on it", _ERROR
        return quantity, "", "message"

    @callback(
        app,
        Output(ids.HISTORY, "children"),
        Output(ids.FILLS, "children"),
        Output(ids.HISTORY_CURSORS, "data"),
        Input(ids.LIVE_ACCOUNT, "data"),
        Input(ids.SESSION, "data"),
        Input(ids.ACCOUNT_NONCE, "data"),
        Input(ids.HISTORY_OLDER, "n_clicks"),
        Input(ids.HISTORY_NEWEST, "n_clicks"),
        State(ids.HISTORY_CURSORS, "data"),
    )
    def history(
        _pushed: Any,
        session: Session | None,
        _nonce: Any,
        _older: int,
        _newest: int,
        cursors: Any,
    ) -> tuple[Any, ...]:
        if not session:
            return "", "", []
        # cursors: the (orders, fills) cursors that led to each page shown, oldest page last.
        pages = list(cursors or [])
        if ctx.triggered_id == ids.HISTORY_OLDER:
            if not pages or pages[-1]["next"] == [None, None]:
                raise PreventUpdate  # the oldest page is shown
            at = pages[-1]["next"]
        elif ctx.triggered_id == ids.HISTORY_NEWEST or not pages:
            pages, at = [], [None, None]
        else:  # something changed: show the same page again, fresh
            at = pages[-1]["at"]
            pages = pages[:-1]
        try:
            orders = client.order_history(session["token"], limit=_PAGE, cursor=at[0])
            fills = client.fills(session["token"], limit=_PAGE, cursor=at[1])
        except ApiError as exc:
            if exc.unavailable:
                raise PreventUpdate from None
            return exc.message, "", no_update
        pages.append({"at": at, "next": [orders.next_cursor, fills.next_cursor]})
        return history_table(orders.orders), fills_table(fills.fills), pages

    @callback(
        app,
        Output(ids.PLACE, "children"),
        Output(ids.PLACE, "className"),
        Output(ids.PRICE, "disabled"),
        Output(ids.PRICE, "placeholder"),
        Output(ids.QUANTITY, "placeholder"),
        Output(ids.DEPOSIT_ASSET, "options"),
        Output(ids.DEPOSIT_ASSET, "value"),
        Input(ids.MARKET, "value"),
        Input(ids.SIDE, "value"),
        Input(ids.ORDER_TYPE, "value"),
        State(ids.MARKETS, "data"),
        State(ids.DEPOSIT_ASSET, "value"),
    )
    def order_form(
        symbol: str | None,
        side: str,
        order_type: str,
        markets: Any,
        asset: str | None,
    ) -> tuple[Any, ...]:
        market = next((m for m in markets_from_store(markets) if m.symbol == symbol), None)
        verb = "Buy" if side == "buy" else "Sell"
        if market is None:
            return verb, side, order_type == "market", "price", "quantity", [], None
        assets = [market.quote_symbol, market.base_symbol]
        return (
            f"{verb} {market.base_symbol}",
            side,
            order_type == "market",
            "market price"
            if order_type == "market"
            else f"price in {market.quote_symbol} (tick {market.tick_size})",
            f"quantity in {market.base_symbol} (step {market.step_size})",
            [{"label": a, "value": a} for a in assets],
            asset if asset in assets else assets[0],
        )
