"""The edge: a Litestar app serving the REST API and the WebSocket streams (``/ws``).

``create_app()`` reads settings; the lifespan owns the connections: an asyncio Redis client, a
PostgreSQL pool and the matcher gateway with its reply readers.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import redis.asyncio as aioredis
from litestar import HttpMethod, Litestar, Request, Response
from litestar.channels import ChannelsPlugin
from litestar.channels.backends.redis import RedisChannelsPubSubBackend
from litestar.config.cors import CORSConfig
from litestar.datastructures import State
from litestar.openapi import OpenAPIConfig
from psycopg_pool import AsyncConnectionPool

from edge.apikeys import SIGNING_HEADERS, ApiKeysController
from edge.auth import AccountsController, build_jwt_auth, check_secret
from edge.errors import exception_handlers
from edge.fastpath import FastOrderLane
from edge.gate import Gate
from edge.gateway import MatcherGateway
from edge.history import BackpackHistoryController, HistoryController
from edge.limits import GateRateLimit
from edge.openapi import finisher
from edge.public import (
    HealthController,
    MarketDataController,
    MarketsController,
    PublicTradesController,
    SystemController,
)
from edge.request import ExactRequest
from edge.trading import Exchange, TradingController
from edge.ws import (
    MAX_STREAM_BACKLOG,
    BoundedSubscriber,
    Fanout,
    ws_endpoint,
)
from model import stages
from model.settings import EdgeSettings, Settings, get_settings

__all__ = ["create_app"]


def _hosts_with_port(edge: EdgeSettings) -> list[str]:
    """Each allowed host bare and with the edge's port (Litestar matches the whole header)."""
    return [h for host in edge.allowed_hosts for h in (host, f"{host}:{edge.port}")]


def _allow_every_method(request: Request[Any, Any, Any]) -> Response[None] | None:
    """Answer ``OPTIONS`` (not a CORS preflight, which the CORS middleware answers first) with
    every method of the path. Litestar's own answer lists the methods of one handler only when
    a path has several (``GET /order`` and ``POST /order``...)."""
    if request.method != HttpMethod.OPTIONS:
        return None
    methods: set[str] = set()
    for path in request.route_handler.paths:
        methods.update(request.app.route_handler_method_map.get(path, {}))
    return Response(None, status_code=204, headers={"Allow": ", ".join(sorted(methods))})


def create_app(settings: Settings | None = None) -> FastOrderLane:
    """Build the app from ``settings`` (default: the environment): the Litestar app behind the
    fast lane for ``POST /api/v1/order`` (``edge.fastpath``), which also checks every request's
    ``Host``; tokens and rate limits are the gate's (``edge.gate``) on both."""
    settings = settings or get_settings()
    edge = settings.edge
    check_secret(edge)
    if settings.redis_url is None or settings.database_url is None:
        raise SystemExit("edge: REDIS_URL and DATABASE_URL must be set (tidewater up sets both)")
    if len(settings.shard_names()) != 1:
        raise SystemExit(
            "edge: balances span shards only with a hold/settle protocol (DESIGN.md §12); "
            "run one shard per deployment for now"
        )
    redis_url, database_url = settings.redis_url, settings.database_url
    markets = settings.markets()
    jwt_auth = build_jwt_auth(edge)

    # The socket timeout bounds every call (the reply reader blocks at most 1 s per read).
    client = aioredis.Redis.from_url(redis_url, max_connections=512, socket_timeout=10)
    # Pub/sub waits for messages indefinitely: a client of its own, without a socket timeout.
    pubsub_client = aioredis.Redis.from_url(redis_url)
    channels = ChannelsPlugin(
        backend=RedisChannelsPubSubBackend(redis=pubsub_client),
        arbitrary_channels_allowed=True,
        subscriber_max_backlog=MAX_STREAM_BACKLOG,
        subscriber_backlog_strategy="backoff",
        subscriber_class=BoundedSubscriber,
    )

    @contextlib.asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        pool = AsyncConnectionPool(database_url, min_size=1, max_size=10, open=False)
        await pool.open()
        gateway = MatcherGateway(
            client,
            settings.shard_names(),
            timeout=edge.reply_timeout_ms / 1000,
            max_in_flight=edge.max_in_flight,
        )
        await gateway.start()
        app.state.update(
            redis=client,
            db=pool,
            settings=edge,
            jwt_auth=jwt_auth,
            exchange=Exchange(markets, settings.shards, gateway, pool),
            fanout=Fanout(channels),
        )
        try:
            yield
        finally:
            stages.write_all()  # traced orders' marks, when tracing (model/stages.py)
            await gateway.stop()
            await pool.close()
            await client.aclose()
            await pubsub_client.aclose()

    # One gate for both ways in (edge.gate): the fast lane in front checks every request's Host
    # and, for the orders it serves, the token and the budgets; Litestar checks tokens and
    # budgets through its JWT middleware (inserted first, by jwt_auth) and GateRateLimit.
    gate = Gate(edge, _hosts_with_port(edge))
    middleware: list[Any] = [GateRateLimit(gate.budgets)]
    app = Litestar(
        route_handlers=[
            AccountsController,
            ApiKeysController,
            TradingController,
            HistoryController,
            BackpackHistoryController,
            MarketsController,
            PublicTradesController,
            MarketDataController,
            HealthController,
            SystemController,
            ws_endpoint,
        ],
        plugins=[channels],
        lifespan=[lifespan],
        on_app_init=[jwt_auth.on_app_init],
        middleware=middleware,
        exception_handlers=exception_handlers,
        before_request=_allow_every_method,
        # Explicit lists, no "*": the browser origins of settings, the methods and headers the
        # API uses (a JWT, or an API key's signature), and no credentials (tokens travel in
        # Authorization, never in cookies).
        cors_config=CORSConfig(
            allow_origins=list(edge.cors_origins),
            allow_methods=["GET", "POST", "DELETE"],
            allow_headers=["Authorization", "Content-Type", *SIGNING_HEADERS],
            allow_credentials=False,
        ),
        request_max_body_size=edge.max_body_bytes,
        openapi_config=OpenAPIConfig(title="Tidewater", version="1.0.0", path="/schema"),
        on_startup=[finisher(markets)],
        request_class=ExactRequest,
        state=State({"gate": gate}),
        logging_config=None,  # model/logs.py set up this process's logging; keep its format
    )
    return FastOrderLane(app, gate, edge.max_body_bytes)
