"""The OpenAPI document (``/schema/openapi.json``) says exactly what the edge accepts and answers.

Schemathesis checks the running edge against it (``tests/security/test_schemathesis.py``), so a
request the document calls valid must not be refused as malformed, and one it calls invalid must
not be accepted. Litestar writes most of it from the handlers; each handler lists its error
statuses with :func:`errors` (one ``ErrorBody`` shape for all). What Litestar cannot say is
finished once at start-up by :func:`finisher`:

* request bodies take no other fields (``additionalProperties: false``, as msgspec enforces);
* an amount is a plain decimal string or a JSON number, not just "a string";
* public routes need no token (``security: []``; the JWT backend marks every route otherwise);
* market symbols and assets are the configured ones (upper case with ``_``; the edge also
  accepts lower case and ``-``, as DESIGN.md §6 says);
* a query parameter is never ``null`` (a query string cannot say null);
* links from a placed order to reading and canceling it, for stateful testing;
* an example of each request body;
* ``POST /order`` takes either dialect's body (``edge.request.decode_order``): ours or
  Backpack's, ``oneOf`` the two; ``DELETE /orders`` takes Backpack's body or none (ours).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from typing import Any

import msgspec
from litestar import Litestar
from litestar.openapi import ResponseSpec
from litestar.openapi.spec import (
    Link,
    OpenAPI,
    OpenAPIType,
    Operation,
    Reference,
    RequestBody,
    Schema,
)
from litestar.routes import HTTPRoute

from edge.request import amount_fields
from model.api import (
    REQUEST_SCHEMAS,
    BackpackCancelAllRequest,
    BackpackOrderRequest,
    ErrorBody,
    OrderRequest,
)
from model.config import MarketConfig

__all__ = ["errors", "finisher"]

_DESCRIPTIONS = {
    400: "Malformed or invalid request; `field` names the culprit",
    401: "Missing, invalid or expired token (or wrong credentials on sign-in)",
    403: "Not allowed on this exchange",
    404: "No such order of yours",
    409: "Conflicts with existing state (a taken username, a duplicate clientOrderId)",
    413: "Request body too large",
    415: "The body is not application/json",
    422: "Refused by the matcher (insufficient funds, no liquidity, post-only would take...)",
    429: "Rate limited; Retry-After says when to come back",
    503: "The matcher cannot be reached",
    504: "The matcher has the command but did not answer in time",
}

#: A plain decimal string, as ``model.numbers.parse_decimal`` reads it (positive: a sign is
#: refused later anyway).
_DECIMAL_TEXT = r"^[0-9]+(\.[0-9]+)?$"
_AMOUNT_DESCRIPTION = (
    'A plain decimal string such as "1000.50" (or a JSON number); it must lie on the '
    "market's tick or lot grid, or be a whole number of the asset's smallest unit"
)

_SYMBOL_ALSO = "A market symbol (also accepted: lower case, and '-' for '_')"


def errors(*statuses: int) -> dict[int, ResponseSpec]:
    """The error responses a handler can give, for its ``responses=``."""
    return {
        status: ResponseSpec(
            data_container=ErrorBody, description=_DESCRIPTIONS[status], generate_examples=False
        )
        for status in statuses
    }


def finisher(config: MarketConfig) -> Callable[[Litestar], None]:
    """An ``on_startup`` hook that completes the app's OpenAPI document for ``config``."""

    def finish(app: Litestar) -> None:
        document = app.openapi_schema
        _both_order_dialects(document)
        _close_and_type_amounts(document)
        _public_operations(app, document)
        _names(document, config)
        _links(document)
        _examples(document, config)

    return finish


def _component(document: OpenAPI, name: str) -> Schema | None:
    schemas = document.components.schemas or {}
    return schemas.get(name)


def _close_and_type_amounts(document: OpenAPI) -> None:
    for kind in REQUEST_SCHEMAS:
        schema = _component(document, kind.__name__)
        if schema is None:
            continue
        schema.additional_properties = False
        required = set(schema.required or ())
        for name in amount_fields(kind):
            choices: list[Schema | Reference] = [
                Schema(type=OpenAPIType.STRING, pattern=_DECIMAL_TEXT, max_length=64),
                Schema(type=OpenAPIType.NUMBER, exclusive_minimum=0),
            ]
            if name not in required:
                choices.append(Schema(type=OpenAPIType.NULL))
            (schema.properties or {})[name] = Schema(
                one_of=choices, description=_AMOUNT_DESCRIPTION
            )


_REF = "#/components/schemas/{name}"
_CAMEL = re.compile(r"(?<!^)(?=[A-Z])")


def _from_json_schema(value: Any) -> Any:
    """A JSON Schema (as ``msgspec.json.schema_components`` writes it) as Litestar's objects."""
    if not isinstance(value, dict):
        return value
    if "$ref" in value:
        return Reference(ref=value["$ref"])
    fields: dict[str, Any] = {}
    for key, item in value.items():
        name = _CAMEL.sub("_", key).lower()
        if key == "type":
            fields[name] = OpenAPIType(item)
        elif key == "properties":
            fields[name] = {k: _from_json_schema(v) for k, v in item.items()}
        elif key in ("anyOf", "oneOf", "allOf"):
            fields[name] = [_from_json_schema(v) for v in item]
        elif key == "items":
            fields[name] = _from_json_schema(item)
        else:
            fields[name] = item
    return Schema(**fields)


def _both_order_dialects(document: OpenAPI) -> None:
    """``POST /order``'s body: ours or Backpack's. Litestar writes ours (the handler's type);
    Backpack's is added from its ``Struct`` (with the vocabularies it uses, where missing)."""
    placed = (document.paths or {}).get("/api/v1/order")
    if placed is None or placed.post is None or placed.post.request_body is None:
        return
    (_,), components = msgspec.json.schema_components([BackpackOrderRequest], ref_template=_REF)
    schemas = document.components.schemas
    for name, schema in components.items():
        schemas.setdefault(name, _from_json_schema(schema))
    body = placed.post.request_body
    assert isinstance(body, RequestBody)
    for media in body.content.values():
        media.schema = Schema(
            one_of=[
                Reference(ref=_REF.format(name=OrderRequest.__name__)),
                Reference(ref=_REF.format(name=BackpackOrderRequest.__name__)),
            ]
        )
    swept = (document.paths or {}).get("/api/v1/orders")
    if swept is None or swept.delete is None or swept.delete.request_body is None:
        return
    body = swept.delete.request_body
    assert isinstance(body, RequestBody)
    body.required = False  # no body: ours (``?market=``); a body: Backpack's
    for media in body.content.values():
        media.schema = Reference(ref=_REF.format(name=BackpackCancelAllRequest.__name__))


def _operations(document: OpenAPI) -> list[tuple[str, str, Operation]]:
    found = []
    for path, item in (document.paths or {}).items():
        for method in ("get", "post", "put", "patch", "delete"):
            operation = getattr(item, method, None)
            if isinstance(operation, Operation):
                found.append((path, method, operation))
    return found


def _public_operations(app: Litestar, document: OpenAPI) -> None:
    public = {
        (route.path_format, method.lower())
        for route in app.routes
        if isinstance(route, HTTPRoute)
        for handler in route.route_handlers
        if handler.opt.get("exclude_from_auth")
        for method in handler.http_methods
    }
    for path, method, operation in _operations(document):
        if (path, method) in public:
            operation.security = []


def _names(document: OpenAPI, config: MarketConfig) -> None:
    """Markets and assets as enums; query parameters never null."""
    symbols = sorted(config.markets)
    assets = sorted(config.assets)
    for _, _, operation in _operations(document):
        for parameter in operation.parameters or []:
            if isinstance(parameter, Reference) or not isinstance(parameter.schema, Schema):
                continue
            if parameter.param_in == "query":
                parameter.schema = _not_null(parameter.schema)
            if parameter.name in ("market", "symbol"):
                parameter.schema = Schema(
                    type=OpenAPIType.STRING, enum=list(symbols), description=_SYMBOL_ALSO
                )
    for kind, field, values, also in (
        ("OrderRequest", "market", symbols, _SYMBOL_ALSO),
        ("QuoteRequest", "market", symbols, _SYMBOL_ALSO),
        ("OnrampRequest", "asset", assets, "An asset code (also accepted in lower case)"),
    ):
        schema = _component(document, kind)
        if schema is not None and schema.properties:
            schema.properties[field] = Schema(
                type=OpenAPIType.STRING, enum=list(values), description=also
            )


def _not_null(schema: Schema) -> Schema:
    """``oneOf: [X, null]`` (with constraints beside it) as X with those constraints."""
    if not schema.one_of:
        return schema
    kept = [s for s in schema.one_of if not (isinstance(s, Schema) and s.type == OpenAPIType.NULL)]
    if len(kept) != 1 or not isinstance(kept[0], Schema):
        return schema
    beside = {
        f.name: getattr(schema, f.name)
        for f in dataclasses.fields(schema)
        if f.name != "one_of" and getattr(schema, f.name) is not None
    }
    return dataclasses.replace(
        kept[0], **{k: v for k, v in beside.items() if getattr(kept[0], k) is None}
    )


def _links(document: OpenAPI) -> None:
    """A placed order's id leads to reading and canceling it."""
    paths = document.paths or {}
    placed = paths.get("/api/v1/order")
    one = paths.get("/api/v1/order/{order_id}")
    if placed is None or placed.post is None or one is None:
        return
    response = (placed.post.responses or {}).get("200")
    if response is None or isinstance(response, Reference):
        return
    targets = {"GetOrder": one.get, "CancelOrder": one.delete}
    response.links = {
        name: Link(
            operation_id=operation.operation_id,
            parameters={"order_id": "$response.body#/orderId"},
        )
        for name, operation in targets.items()
        if operation is not None
    }


def _examples(document: OpenAPI, config: MarketConfig) -> None:
    """A valid body for each request (the smallest limit buy of the first market), so that a
    client generator starts from requests the edge accepts."""
    spec = config.markets[sorted(config.markets)[0]]
    price, lot = spec.format_price(1), spec.format_quantity(1)
    examples = {
        "Credentials": {"username": "alice", "password": "correct horse battery staple"},
        "OrderRequest": {
            "market": spec.symbol,
            "kind": "buy",
            "type": "limit",
            "price": price,
            "quantity": lot,
        },
        "QuoteRequest": {"market": spec.symbol, "kind": "buy", "quantity": lot},
        "OnrampRequest": {"asset": spec.quote.code, "amount": "100"},
    }
    for name, example in examples.items():
        schema = _component(document, name)
        if schema is not None:
            schema.examples = [example]
