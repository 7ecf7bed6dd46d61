"""Accounts and tokens: sign-up, sign-in, and the JWT guard on every trading route.

Passwords are hashed with argon2id (``argon2-cffi``) in a worker thread, so a sign-in never stalls
the event loop. Tokens are HS256 JWTs issued and checked by Litestar's ``JWTAuth`` (PyJWT
underneath) with ``exp``, ``iat`` and ``sub`` required and only HS256 accepted: ``alg: none``,
an RS/HS swap, an expired or unsigned token all fail as 401. A token names its user by id; no
database read happens per request.

``verify_token`` is the one check of a token. The gate's ``Tokens`` (``edge.gate``) applies it to
a request's ``Authorization`` header and caches what it accepts; ``GateJWTMiddleware`` is
Litestar's JWT middleware with its own check replaced by the gate's, so the Litestar routes and
the fast order lane accept exactly the same tokens, from one cache.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any, cast

import psycopg
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from litestar import Controller, Request, post
from litestar.connection import ASGIConnection
from litestar.enums import ScopeType
from litestar.exceptions import NotAuthorizedException
from litestar.middleware import AuthenticationResult
from litestar.security.jwt import JWTAuth, JWTAuthenticationMiddleware, Token
from litestar.types import Receive, Scope, Send
from psycopg_pool import AsyncConnectionPool

from edge import apikeys
from edge.errors import ApiError
from edge.openapi import errors
from edge.request import read_body, replaying
from model.api import Credentials, TokenView
from model.ids import UserId
from model.settings import DEV_JWT_SECRET, EdgeSettings

if TYPE_CHECKING:
    from edge.gate import Tokens

__all__ = [
    "AccountsController",
    "AuthUser",
    "GateJWTMiddleware",
    "build_jwt_auth",
    "check_secret",
    "verify_token",
]

_hasher = PasswordHasher()
# Verified against when the user does not exist, so both failures take the same time.
_DUMMY_HASH = _hasher.hash("not-a-real-password")
MIN_SECRET_LENGTH = 32
ALGORITHM = "HS256"
REQUIRED_CLAIMS = ("exp", "iat", "sub")


@dataclass(frozen=True)
class AuthUser:
    id: int


def check_secret(settings: EdgeSettings) -> None:
    """Refuse, in production, a missing, development or short signing secret."""
    if not settings.production:
        return
    if settings.jwt_secret in ("", DEV_JWT_SECRET) or len(settings.jwt_secret) < MIN_SECRET_LENGTH:
        raise SystemExit(
            "edge: production needs TIDEWATER_JWT_SECRET set to a random string of at least "
            f"{MIN_SECRET_LENGTH} characters (not the development default)"
        )


def _user_id(sub: str) -> UserId | None:
    """The user a token's ``sub`` names: ASCII digits of a positive id, nothing else
    (``int()`` alone would also take " 5", "+5", "5_0" or "٥")."""
    if not (sub.isascii() and sub.isdigit()) or len(sub) > 19:
        return None
    user_id = int(sub)
    return UserId(user_id) if 0 < user_id < 2**63 else None


async def _retrieve_user(token: Token, _: ASGIConnection[Any, Any, Any, Any]) -> AuthUser | None:
    user_id = _user_id(token.sub)
    return None if user_id is None else AuthUser(id=user_id)


def verify_token(encoded: str | bytes, secret: str) -> tuple[UserId, float] | None:
    """The user a token names and when it expires (epoch seconds), or ``None``.

    The same check as the JWT middleware's on every Litestar route (``Token.decode`` with the
    same algorithm and required claims, then the same user id rule), for the paths that verify
    tokens themselves: the fast order lane and the WebSocket's ``AUTH``.
    """
    if isinstance(encoded, bytes):
        encoded = encoded.decode("latin-1")
    try:
        token = Token.decode(encoded, secret, ALGORITHM, require_claims=REQUIRED_CLAIMS)
    except NotAuthorizedException:
        return None
    user_id = _user_id(token.sub)
    return None if user_id is None else (user_id, token.exp.timestamp())


#: Where a signed request's body waits for its signature check (the app reads it again).
_SIGNED_BODY = "tidewater.signed_body"


class GateJWTMiddleware(JWTAuthenticationMiddleware):
    """Litestar's JWT middleware (its exclusions, scopes and ``request.user``) over the gate's
    token check: the app's ``state.gate.tokens`` (``edge.gate.Tokens``); and, for a request
    signed with an API key (``X-API-Key``), the signature check of :mod:`edge.apikeys`."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == ScopeType.HTTP and b"x-api-key" in dict(scope["headers"]):
            # The signature covers the body: read it first, and hand it to the app again.
            limit = scope["app"].state.settings.max_body_bytes
            body, complete = await read_body(receive, limit)
            if not complete:
                raise ApiError(413, "PAYLOAD_TOO_LARGE", f"bodies are limited to {limit} bytes")
            cast("dict[str, Any]", scope)[_SIGNED_BODY] = body
            receive = replaying(body, complete, receive)
        await super().__call__(scope, receive, send)

    async def authenticate_request(
        self, connection: ASGIConnection[Any, Any, Any, Any]
    ) -> AuthenticationResult:
        headers = dict(connection.scope["headers"])
        if b"x-api-key" in headers:
            return AuthenticationResult(user=await _signed_user(connection, headers), auth=None)
        authorization = headers.get(b"authorization")
        if not authorization:
            raise NotAuthorizedException("No JWT token found in request header")
        tokens: Tokens = connection.app.state.gate.tokens
        user_id = tokens.user(authorization)
        if user_id is None:
            raise NotAuthorizedException("Invalid token")
        return AuthenticationResult(user=AuthUser(id=user_id), auth=None)


async def _signed_user(
    connection: ASGIConnection[Any, Any, Any, Any], headers: dict[bytes, bytes]
) -> AuthUser:
    """The owner of the API key that signed this request, or 401 (``edge.apikeys``)."""
    scope = cast("dict[str, Any]", connection.scope)
    if b"authorization" in headers:
        raise ApiError(401, "UNAUTHORIZED", "send a JWT or an API key signature, not both")
    route = apikeys.instruction_for(scope.get("method", ""), scope["path"])
    if route is None:
        raise ApiError(
            401, "UNAUTHORIZED", "this route takes a signed-in session, not an API key",
        )  # fmt: skip
    instruction, path_params = route
    signed = apikeys.SignedRequest.from_headers(headers, apikeys.now_ms())
    params = apikeys.request_params(scope.get("query_string", b""), scope.get(_SIGNED_BODY, b""))
    for name, value in path_params.items():
        if params.setdefault(name, value) != value:
            raise ApiError(401, "INVALID_SIGNATURE", f"{name} differs from the path's")
    signed.verify(apikeys.signing_text(instruction, params, signed.timestamp, signed.window))
    return AuthUser(id=await apikeys.key_owner(connection.app.state.db, signed.public_key))


def build_jwt_auth(settings: EdgeSettings) -> JWTAuth[AuthUser, Token]:
    """The JWT backend (it issues the tokens, and checks them through ``GateJWTMiddleware``);
    public routes opt out with ``opt={"exclude_from_auth": True}``."""
    return JWTAuth[AuthUser, Token](
        authentication_middleware_class=GateJWTMiddleware,
        retrieve_user_handler=_retrieve_user,
        token_secret=settings.jwt_secret,
        algorithm=ALGORITHM,
        default_token_expiration=timedelta(seconds=settings.jwt_ttl_seconds),
        require_claims=list(REQUIRED_CLAIMS),
        exclude=["^/schema"],
    )


class AccountsController(Controller):
    path = "/api/v1"
    tags = ["accounts"]  # noqa: RUF012
    opt = {"exclude_from_auth": True, "signin_limited": True}  # noqa: RUF012

    @post("/signup", status_code=201, responses=errors(400, 409, 413, 415, 429))
    async def signup(self, data: Credentials, request: Request[Any, Any, Any]) -> TokenView:
        """Create an account and sign it in."""
        pool: AsyncConnectionPool = request.app.state.db
        password_hash = await asyncio.to_thread(_hasher.hash, data.password)
        try:
            async with pool.connection() as conn:
                row = await (
                    await conn.execute(
                        "INSERT INTO users (username, password_hash) VALUES (%s, %s) RETURNING id",
                        (data.username, password_hash),
                    )
                ).fetchone()
        except psycopg.errors.UniqueViolation:
            raise ApiError(
                409, "USERNAME_TAKEN", f"username {data.username!r} is taken", field="username"
            ) from None
        assert row is not None
        return _issue(request, int(row[0]))

    @post("/signin", status_code=200, responses=errors(400, 401, 413, 415, 429))
    async def signin(self, data: Credentials, request: Request[Any, Any, Any]) -> TokenView:
        """Exchange a username and password for a token."""
        pool: AsyncConnectionPool = request.app.state.db
        async with pool.connection() as conn:
            row = await (
                await conn.execute(
                    "SELECT id, password_hash FROM users WHERE lower(username) = lower(%s)",
                    (data.username,),
                )
            ).fetchone()
        stored = row[1] if row else _DUMMY_HASH
        try:
            await asyncio.to_thread(_hasher.verify, stored, data.password)
        except (VerificationError, InvalidHashError):
            row = None
        if row is None:
            raise ApiError(401, "INVALID_CREDENTIALS", "wrong username or password")
        return _issue(request, int(row[0]))


def _issue(request: Request[Any, Any, Any], user_id: int) -> TokenView:
    auth: JWTAuth[AuthUser, Token] = request.app.state.jwt_auth
    ttl = auth.default_token_expiration
    token = auth.create_token(identifier=str(user_id), token_expiration=ttl)
    decoded = Token.decode(token, auth.token_secret, auth.algorithm)
    return TokenView(token=token, expires_at=int(decoded.exp.timestamp() * 1000), user_id=user_id)
