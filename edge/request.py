"""Request bodies: one strict decoder for the Litestar routes and the fast lane alike.

A body is JSON (``application/json`` or ``application/*+json``; anything else is a 415), at most
``max_body_bytes`` (Litestar's 413), and decodes into the route's request ``Struct``:

* numbers never pass through a float: a JSON number with a fraction or an exponent is decoded
  from its text into a ``Decimal`` (plain msgspec inside Litestar would turn
  ``1.10000000000000000001`` into the float ``1.1``, silently moving an off-grid price onto the
  grid); integers stay ``int``;
* an amount given as a string must be a plain decimal (``"1000.50"``: no spaces, underscores,
  exponent, ``NaN`` or ``Infinity``), checked by ``model.numbers.parse_decimal`` before ``Decimal``
  would accept all of those;
* conversion is strict: ``"true"`` or ``1`` is not a boolean, and a field the request type does
  not declare (``userId``, ``status``, ``balance``...) is refused. Litestar converts leniently
  (``strict=False``, meant for query strings), so ``ExactRequest.json`` hands it a finished
  ``Struct`` that it passes through unchanged;
* an order body may be ours (``market``, ``kind``, ``type``) or Backpack's (``symbol``,
  ``side``, ``orderType``): :func:`decode_order` tells them apart by their names and turns
  Backpack's into our one ``OrderRequest`` (``model.backpack``), remembering the dialect so the
  answer comes back in it.

Every refusal is a 400 ``ApiError`` naming the field.
"""

from __future__ import annotations

import re
from decimal import Decimal
from functools import cache
from types import NoneType, UnionType
from typing import Any, TypeVar, Union, get_args, get_origin

import msgspec
from litestar import Request
from litestar.types import HTTPRequestEvent, Receive, ReceiveMessage

from edge.errors import ApiError
from model.api import BackpackOrderRequest, OrderRequest
from model.backpack import order_request
from model.numbers import ValidationError, parse_decimal

__all__ = [
    "AMOUNT_CODES",
    "ExactRequest",
    "amount_fields",
    "decode_body",
    "decode_order",
    "invalid",
    "is_json",
    "read_body",
    "replaying",
]

S = TypeVar("S", bound=msgspec.Struct)

#: The error code of a bad amount, by field.
AMOUNT_CODES = {
    "price": "INVALID_PRICE",
    "quantity": "INVALID_QUANTITY",
    "quoteQuantity": "INVALID_QUANTITY",
    "amount": "INVALID_AMOUNT",
}

_decoder = msgspec.json.Decoder(float_hook=Decimal)
_UNSET = object()
# msgspec names the field either as "unknown/missing ... field `x`" or as a path "at `$.x...`".
_NAMED_FIELD = re.compile(r"field `([^`]+)`")
_PATH_FIELD = re.compile(r"at `\$\.([A-Za-z0-9_]+)")


def invalid(exc: ValidationError) -> ApiError:
    """The 400 for a value ``model.numbers`` refused."""
    return ApiError(400, AMOUNT_CODES.get(exc.field, "INVALID_REQUEST"), str(exc), field=exc.field)


def is_json(content_type: str | bytes | None) -> bool:
    """Whether a ``Content-Type`` header names JSON (parameters such as charset allowed)."""
    if isinstance(content_type, bytes):
        content_type = content_type.decode("latin-1")
    media = (content_type or "").partition(";")[0].strip().lower()
    return media == "application/json" or (
        media.startswith("application/") and media.endswith("+json")
    )


@cache
def amount_fields(kind: type[msgspec.Struct]) -> frozenset[str]:
    """The JSON names of ``kind``'s ``Decimal`` fields (the amounts)."""

    def is_decimal(info: msgspec.inspect.Type) -> bool:
        if isinstance(info, msgspec.inspect.Metadata):
            return is_decimal(info.type)
        if isinstance(info, msgspec.inspect.UnionType):
            return any(is_decimal(t) for t in info.types)
        return isinstance(info, msgspec.inspect.DecimalType)

    struct = msgspec.inspect.type_info(kind)
    assert isinstance(struct, msgspec.inspect.StructType)
    return frozenset(f.encode_name for f in struct.fields if is_decimal(f.type))


def _parse(body: bytes) -> Any:
    if not body:
        raise ApiError(400, "BAD_REQUEST", "the request needs a JSON body")
    try:
        return _decoder.decode(body)
    except (msgspec.DecodeError, UnicodeDecodeError) as exc:  # invalid UTF-8 is the latter
        raise ApiError(400, "BAD_REQUEST", f"the body is not valid JSON: {exc}") from None
    except RecursionError:  # msgspec's answer to "[[[[...]]]]" a thousand deep
        raise ApiError(400, "BAD_REQUEST", "the body's JSON is nested too deeply") from None


def decode_body(body: bytes, kind: type[S]) -> S:
    """Decode a JSON request body into ``kind`` strictly; raise a 400 ``ApiError`` naming the
    field otherwise."""
    return _convert(_parse(body), kind)


#: The names only Backpack's order body has: any of them makes a body Backpack's.
_BACKPACK_ORDER_NAMES = frozenset({"symbol", "side", "orderType"})


def decode_order(body: bytes) -> tuple[OrderRequest, bool]:
    """An order body of either dialect as our ``OrderRequest``, and whether it was Backpack's.
    A body that mixes the two is refused by the dialect it leans to, naming the stray field."""
    raw = _parse(body)
    if isinstance(raw, dict) and not _BACKPACK_ORDER_NAMES.isdisjoint(raw):
        return order_request(_convert(raw, BackpackOrderRequest)), True
    return _convert(raw, OrderRequest), False


def _convert(raw: Any, kind: type[S]) -> S:
    if isinstance(raw, dict):
        for name in amount_fields(kind):
            value = raw.get(name)
            if isinstance(value, str):
                try:
                    parse_decimal(value, name)
                except ValidationError as exc:
                    raise invalid(exc) from None
    try:
        return msgspec.convert(raw, kind, strict=True)
    except msgspec.ValidationError as exc:
        message = str(exc)
        match = _NAMED_FIELD.search(message) or _PATH_FIELD.search(message)
        field = match.group(1) if match else None
        if field and field not in message.partition(" - at")[0]:
            message = f"{field}: {message}"
        raise ApiError(400, "INVALID_REQUEST", message, field=field) from None


class ExactRequest(Request[Any, Any, Any]):
    """``Request`` whose JSON body is decoded by :func:`decode_body` into the handler's type
    (by :func:`decode_order` for an order: ``backpack`` then says which dialect it spoke)."""

    _exact_json: Any = _UNSET
    backpack = False
    """Whether the body was in Backpack's dialect (then so is the answer)."""

    async def json(self) -> Any:
        """The body as the route's request ``Struct`` (any JSON value for other routes; ``None``
        for an empty body where the route's body is optional)."""
        if self._exact_json is _UNSET:
            body = await self.body()
            if body and not is_json(self.headers.get("content-type")):
                raise ApiError(415, "UNSUPPORTED_MEDIA_TYPE", "send the body as application/json")
            kind, optional = _data_type(self.route_handler)
            if kind is None:
                self._exact_json = _parse(body)
            elif optional and not body:
                self._exact_json = None
            elif kind is OrderRequest:
                self._exact_json, self.backpack = decode_order(body)
            else:
                self._exact_json = decode_body(body, kind)
        return self._exact_json


def _data_type(handler: Any) -> tuple[type[msgspec.Struct] | None, bool]:
    """The ``Struct`` a route handler takes as ``data``, if any, and whether the body may be
    left out (``data: X | None = None``)."""
    field = handler.parsed_fn_signature.parameters.get("data")
    annotation = getattr(field, "annotation", None)
    optional = False
    if get_origin(annotation) in (Union, UnionType):
        members = [a for a in get_args(annotation) if a is not NoneType]
        optional = len(members) < len(get_args(annotation))
        annotation = members[0] if len(members) == 1 else None
    if isinstance(annotation, type) and issubclass(annotation, msgspec.Struct):
        return annotation, optional
    return None, False


async def read_body(receive: Receive, limit: int) -> tuple[bytes, bool]:
    """The request body, and whether it was read whole within ``limit`` bytes."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return b"".join(chunks), False
        chunk = message.get("body", b"")
        chunks.append(chunk)
        size += len(chunk)
        if size > limit:
            return b"".join(chunks), False
        if not message.get("more_body", False):
            return b"".join(chunks), True


def replaying(body: bytes, complete: bool, receive: Receive) -> Receive:
    """A ``receive`` that first gives back what was read, then continues the real one."""
    sent = False

    async def replay() -> ReceiveMessage:
        nonlocal sent
        if not sent:
            sent = True
            first: HTTPRequestEvent = {
                "type": "http.request",
                "body": body,
                "more_body": not complete,
            }
            return first
        return await receive()

    return replay
