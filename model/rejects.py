"""Every reason a command can be refused, in one enum grouped by prefix.

A rejected command changes nothing. The edge maps each code to an HTTP status with
:data:`HTTP_STATUS`; codes absent from it mean 400.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = ["HTTP_STATUS", "RejectCode"]


class RejectCode(StrEnum):
    # Request shape: the command itself is malformed for this market.
    INVALID_USER = "INVALID_USER"
    INVALID_MARKET = "INVALID_MARKET"
    INVALID_ASSET = "INVALID_ASSET"
    INVALID_PRICE = "INVALID_PRICE"
    INVALID_QUANTITY = "INVALID_QUANTITY"
    INVALID_ORDER = "INVALID_ORDER"  # a combination of fields that makes no order
    INVALID_AMOUNT = "INVALID_AMOUNT"
    DUPLICATE_ORDER_ID = "DUPLICATE_ORDER_ID"
    DUPLICATE_CLIENT_ORDER_ID = "DUPLICATE_CLIENT_ORDER_ID"
    # Risk: the account cannot carry it.
    INSUFFICIENT_FUNDS = "INSUFFICIENT_FUNDS"
    BALANCE_LIMIT = "BALANCE_LIMIT"
    TOO_MANY_OPEN_ORDERS = "TOO_MANY_OPEN_ORDERS"
    # Matching: the book refuses it as asked.
    POST_ONLY_WOULD_TAKE = "POST_ONLY_WOULD_TAKE"
    FOK_NOT_FILLABLE = "FOK_NOT_FILLABLE"
    NO_LIQUIDITY = "NO_LIQUIDITY"
    UNKNOWN_ORDER = "UNKNOWN_ORDER"


HTTP_STATUS: dict[RejectCode, int] = {
    RejectCode.UNKNOWN_ORDER: 404,
    RejectCode.DUPLICATE_ORDER_ID: 409,
    RejectCode.DUPLICATE_CLIENT_ORDER_ID: 409,
    RejectCode.INSUFFICIENT_FUNDS: 422,
    RejectCode.BALANCE_LIMIT: 422,
    RejectCode.TOO_MANY_OPEN_ORDERS: 422,
    RejectCode.POST_ONLY_WOULD_TAKE: 422,
    RejectCode.FOK_NOT_FILLABLE: 422,
    RejectCode.NO_LIQUIDITY: 422,
}
