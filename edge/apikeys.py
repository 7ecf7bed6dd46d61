"""API keys for programs: Backpack's request signing with ED25519 keys.

People sign in and hold a JWT; a program holds an ED25519 key pair. A signed-in user registers
the *public* key (``POST /api/v1/apiKey``; the private key never reaches the server), lists its
keys (``GET /api/v1/apiKeys``) and revokes one (``DELETE /api/v1/apiKey/{id}``). A program then
signs each request as Backpack's API asks:

- headers ``X-API-Key`` (the public key, base64), ``X-Signature`` (base64 of the ED25519
  signature), ``X-Timestamp`` (ms) and ``X-Window`` (ms; 5000 when absent, at most 60000);
- the signed text is ``instruction=<name>&<params>&timestamp=<t>&window=<w>``, where the params
  are the query string (GET) or the JSON body's top-level fields (POST, DELETE), sorted by name,
  ``k=v`` joined by ``&``, booleans as ``true``/``false`` and null fields left out. A path
  parameter (``/order/{order_id}``) is signed as ``orderId``, so a signature cannot be replayed
  on another order.

A request is refused with 401, before any handler runs (so it changes nothing), when the key is
unknown or revoked, the signature does not verify, the timestamp is outside ``timestamp ±
window`` of the server's clock, the route takes no API key (key management, deposits), or the
request carries a JWT as well (one caller, one credential). Within its window a request could be
sent again, as on Backpack; each order's ``clientOrderId`` is what makes a retry safe.

Keys are looked up in PostgreSQL on every signed request: a revocation holds at once, on every
edge.
"""

from __future__ import annotations

import base64
import binascii
import re
import time
from collections.abc import Mapping
from datetime import datetime
from typing import Annotated, Any
from urllib.parse import unquote_plus

import msgspec
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from litestar import Controller, Request, delete, get, post
from litestar.params import Parameter

from edge.errors import ApiError
from edge.openapi import errors
from model.api import ApiKeyRequest, ApiKeyView
from model.ids import UserId
from model.timestamps import to_micros

__all__ = [
    "DEFAULT_WINDOW_MS",
    "MAX_WINDOW_MS",
    "SIGNING_HEADERS",
    "ApiKeysController",
    "SignedRequest",
    "instruction_for",
    "signing_text",
]

#: The headers of a signed request (a browser frontend's preflight must be allowed to send them).
SIGNING_HEADERS = ("X-API-Key", "X-Signature", "X-Timestamp", "X-Window")
DEFAULT_WINDOW_MS = 5_000
MAX_WINDOW_MS = 60_000
_KEY_BYTES = 32
_SIGNATURE_BYTES = 64
_DIGITS = re.compile(rb"^[0-9]{1,16}$")
_KEY_ID = re.compile(r"^[0-9]{1,18}$")  # ASCII digits: ids are BIGSERIAL, below 2**63

#: The routes a key may call, each with Backpack's instruction name: ``(method, path pattern)``
#: → ``(instruction, name of the signed path parameter)``.
#: Backpack's own routes first, then ours that do the same thing.
_INSTRUCTIONS: tuple[tuple[str, re.Pattern[str], str, str | None], ...] = (
    ("POST", re.compile(r"^/api/v1/order$"), "orderExecute", None),
    ("GET", re.compile(r"^/api/v1/order$"), "orderQuery", None),
    ("DELETE", re.compile(r"^/api/v1/order$"), "orderCancel", None),
    ("GET", re.compile(r"^/api/v1/orders$"), "orderQueryAll", None),
    ("DELETE", re.compile(r"^/api/v1/orders$"), "orderCancelAll", None),
    ("GET", re.compile(r"^/api/v1/capital$"), "balanceQuery", None),
    ("GET", re.compile(r"^/wapi/v1/history/orders$"), "orderHistoryQueryAll", None),
    ("GET", re.compile(r"^/wapi/v1/history/fills$"), "fillHistoryQueryAll", None),
    ("GET", re.compile(r"^/api/v1/order/([^/]+)$"), "orderQuery", "orderId"),
    ("DELETE", re.compile(r"^/api/v1/order/([^/]+)$"), "orderCancel", "orderId"),
    ("GET", re.compile(r"^/api/v1/orders/open$"), "orderQueryAll", None),
    ("GET", re.compile(r"^/api/v1/orders/history$"), "orderHistoryQueryAll", None),
    ("GET", re.compile(r"^/api/v1/fills$"), "fillHistoryQueryAll", None),
    ("GET", re.compile(r"^/api/v1/balances$"), "balanceQuery", None),
    ("POST", re.compile(r"^/api/v1/order/quote$"), "orderQuote", None),
)


def instruction_for(method: str, path: str) -> tuple[str, dict[str, str]] | None:
    """Backpack's instruction for a route a key may call, with its signed path parameter; or
    ``None`` if the route takes no API key."""
    for verb, pattern, instruction, parameter in _INSTRUCTIONS:
        if verb != method:
            continue
        match = pattern.match(path)
        if match is not None:
            return instruction, ({parameter: match.group(1)} if parameter else {})
    return None


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def signing_text(instruction: str, params: Mapping[str, Any], timestamp: int, window: int) -> bytes:
    """The text a request's signature covers, as Backpack builds it."""
    fields = [f"instruction={instruction}"]
    fields += [f"{k}={_text(params[k])}" for k in sorted(params) if params[k] is not None]
    fields += [f"timestamp={timestamp}", f"window={window}"]
    return "&".join(fields).encode()


def _refuse(code: str, message: str) -> ApiError:
    return ApiError(401, code, message)


def _b64(value: bytes, size: int, what: str) -> bytes:
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) != size:
        raise _refuse("INVALID_SIGNATURE", f"{what} is not {size} bytes of base64")
    return raw


def _millis(value: bytes | None, default: int | None, what: str) -> int:
    if value is None and default is not None:
        return default
    if value is None or not _DIGITS.match(value):
        raise _refuse("INVALID_SIGNATURE", f"{what} must be milliseconds, as digits")
    return int(value)


class SignedRequest(msgspec.Struct, frozen=True):
    """A request's signing headers, checked for form (not yet against a key)."""

    public_key: bytes
    signature: bytes
    timestamp: int
    window: int

    @classmethod
    def from_headers(cls, headers: Mapping[bytes, bytes], now_ms: int) -> SignedRequest:
        """The headers' values, or 401 if any is malformed or the time is outside the window."""
        key = _b64(headers.get(b"x-api-key", b""), _KEY_BYTES, "X-API-Key")
        signature = _b64(headers.get(b"x-signature", b""), _SIGNATURE_BYTES, "X-Signature")
        timestamp = _millis(headers.get(b"x-timestamp"), None, "X-Timestamp")
        window = _millis(headers.get(b"x-window"), DEFAULT_WINDOW_MS, "X-Window")
        if not 0 < window <= MAX_WINDOW_MS:
            raise _refuse("INVALID_SIGNATURE", f"X-Window must be 1 to {MAX_WINDOW_MS} ms")
        if abs(now_ms - timestamp) > window:
            raise _refuse("UNAUTHORIZED", "Request has expired: X-Timestamp is outside X-Window")
        return cls(key, signature, timestamp, window)

    def verify(self, text: bytes) -> None:
        """401 unless the signature is the key's over ``text``."""
        try:
            Ed25519PublicKey.from_public_bytes(self.public_key).verify(self.signature, text)
        except (InvalidSignature, ValueError):
            raise _refuse("INVALID_SIGNATURE", "the signature does not verify") from None


def request_params(query_string: bytes, body: bytes) -> dict[str, Any]:
    """The signed parameters of a request: its JSON body's top-level fields (a body that is
    not a JSON object signs as nothing, and its route will refuse it), else its query."""
    if body:
        try:
            decoded = msgspec.json.decode(body)
        except msgspec.DecodeError:
            return {}
        return decoded if isinstance(decoded, dict) else {}
    query = query_string.decode("latin-1")
    params: dict[str, Any] = {}
    for pair in filter(None, query.split("&")):
        name, _, value = pair.partition("=")
        params[unquote_plus(name)] = unquote_plus(value)
    return params


_KEY_OWNER = """
SELECT user_id FROM api_keys WHERE public_key = %s AND revoked_at IS NULL"""


async def key_owner(db: Any, public_key: bytes) -> UserId:
    """The user a live key belongs to, or 401."""
    async with db.connection() as conn:
        row = await (
            await conn.execute(_KEY_OWNER, (base64.b64encode(public_key).decode(),))
        ).fetchone()
    if row is None:
        raise _refuse("UNAUTHORIZED", "unknown or revoked API key")
    return UserId(row[0])


def now_ms() -> int:
    return time.time_ns() // 1_000_000


_INSERT = """
INSERT INTO api_keys (user_id, public_key, label) VALUES (%s, %s, %s)
ON CONFLICT (public_key) DO NOTHING
RETURNING id, created_at"""
_LIST = """
SELECT id, public_key, label, created_at, revoked_at FROM api_keys
WHERE user_id = %s ORDER BY id DESC"""
_REVOKE = """
UPDATE api_keys SET revoked_at = coalesce(revoked_at, now())
WHERE id = %s AND user_id = %s RETURNING id, public_key, label, created_at, revoked_at"""


def _epoch_ms(moment: datetime) -> int:
    return to_micros(moment) // 1000


def _view(row: tuple[Any, ...]) -> ApiKeyView:
    key_id, public_key, label, created, revoked = row
    return ApiKeyView(
        id=key_id, public_key=public_key, label=label, created_at=_epoch_ms(created),
        revoked_at=None if revoked is None else _epoch_ms(revoked),
    )  # fmt: skip


class ApiKeysController(Controller):
    """A signed-in user's API keys (JWT only: a key cannot make or revoke keys)."""

    path = "/api/v1"
    tags = ["api keys"]  # noqa: RUF012

    @post("/apiKey", status_code=201, responses=errors(400, 401, 409, 413, 415, 422))
    async def create(self, request: Request[Any, Any, Any], data: ApiKeyRequest) -> ApiKeyView:
        """Register the public half of an ED25519 key pair (base64, 32 bytes) to sign requests
        with. (One key: ``/apiKey``; the list: ``/apiKeys``, as ``/order`` and ``/orders``.)"""
        raw = base64.b64decode(data.public_key)  # the shape is checked by ApiKeyRequest
        try:
            Ed25519PublicKey.from_public_bytes(raw)
        except ValueError:
            raise ApiError(
                400, "INVALID_KEY", "publicKey is not an ED25519 public key", field="publicKey"
            ) from None
        async with request.app.state.db.connection() as conn:
            row = await (
                await conn.execute(_INSERT, (request.user.id, data.public_key, data.label))
            ).fetchone()
        if row is None:
            raise ApiError(409, "KEY_EXISTS", "this public key is already registered")
        return ApiKeyView(
            id=row[0], public_key=data.public_key, label=data.label,
            created_at=_epoch_ms(row[1]), revoked_at=None,
        )  # fmt: skip

    @get("/apiKeys", responses=errors(401))
    async def keys(self, request: Request[Any, Any, Any]) -> list[ApiKeyView]:
        """The caller's keys, newest first, revoked ones included (with ``revokedAt``)."""
        async with request.app.state.db.connection() as conn:
            rows = await (await conn.execute(_LIST, (request.user.id,))).fetchall()
        return [_view(row) for row in rows]

    @delete("/apiKey/{key_id:str}", status_code=200, responses=errors(400, 401, 404))
    async def revoke(
        self,
        request: Request[Any, Any, Any],
        key_id: Annotated[
            str, Parameter(description="A key's id", schema_extra={"pattern": _KEY_ID.pattern})
        ],
    ) -> ApiKeyView:
        """Revoke one of the caller's keys: from now on its signatures are refused."""
        if _KEY_ID.fullmatch(key_id) is None:
            raise ApiError(400, "INVALID_REQUEST", "keyId is not a key id", field="keyId")
        async with request.app.state.db.connection() as conn:
            row = await (await conn.execute(_REVOKE, (int(key_id), request.user.id))).fetchone()
        if row is None:
            raise ApiError(404, "NOT_FOUND", "no such API key")
        return _view(row)
