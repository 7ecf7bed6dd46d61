"""Every setting of every service, read once from ``TIDEWATER_*`` environment variables.

One frozen dataclass per concern; :func:`get_settings` reads the environment the first time and
caches the result (tests call ``get_settings.cache_clear()`` after changing it). ``REDIS_URL`` and
``DATABASE_URL`` are also read without the prefix, as most platforms set them that way.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from model.config import DEFAULT_MARKETS_FILE, MarketConfig, load_markets

__all__ = [
    "DEV_JWT_SECRET",
    "ENGINE_BUILDS",
    "LOCAL_FRONTEND_ORIGINS",
    "DashSettings",
    "EdgeSettings",
    "FlowSettings",
    "LeaseSettings",
    "LogSettings",
    "MarketMakerSettings",
    "MatcherSettings",
    "Settings",
    "get_engine_build",
    "get_log_settings",
    "get_settings",
]

#: The secret used when none is configured: fine on a laptop, refused in production.
DEV_JWT_SECRET = "tidewater-development-secret-do-not-use-in-production"  # noqa: S105


def _env(name: str, default: str) -> str:
    return os.environ.get(f"TIDEWATER_{name}", default)


def _env_int(name: str, default: int) -> int:
    raw = _env(name, str(default))
    try:
        return int(raw)
    except ValueError:
        raise ValueError(f"TIDEWATER_{name} must be an integer, got {raw!r}") from None


def _env_bool(name: str, default: bool) -> bool:
    raw = _env(name, "1" if default else "0").strip().lower()
    if raw in ("1", "true", "yes", "on"):
        return True
    if raw in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"TIDEWATER_{name} must be a boolean, got {raw!r}")


def _parse_shards(raw: str, markets: list[str]) -> dict[str, str]:
    """``"s0=TATA_INR,BTC_USDC;s1=ETH_USDC"`` → market → shard. Empty: one shard ``0``."""
    if not raw.strip():
        return dict.fromkeys(markets, "0")
    result: dict[str, str] = {}
    for part in raw.split(";"):
        shard, _, names = part.partition("=")
        for name in filter(None, (n.strip() for n in names.split(","))):
            if name not in markets:
                raise ValueError(f"TIDEWATER_SHARDS names unknown market {name!r}")
            result[name] = shard.strip()
    missing = sorted(set(markets) - set(result))
    if missing:
        raise ValueError(f"TIDEWATER_SHARDS leaves markets without a shard: {missing}")
    return result


@dataclass(frozen=True)
class MatcherSettings:
    batch_size: int = 512
    """Commands read and committed per MULTI/EXEC at most."""
    snapshot_every_commands: int = 50_000
    """Write a snapshot after this many commands ..."""
    snapshot_every_ms: int = 30_000
    """... or after this many milliseconds with at least one command, whichever comes first."""
    max_open_orders: int = 1000
    """Open orders one user may hold, over all markets of a shard."""
    trim_commands: bool = True
    """Trim the command stream below each snapshot (off keeps the whole log for audits)."""
    closed_memory: int = 10_000
    """Closed orders the matcher still answers for (older ones are read from PostgreSQL)."""


@dataclass(frozen=True)
class LeaseSettings:
    """The writer leases of the single writers (matcher per shard, flow, persist per shard);
    ``model/lease.py`` explains them, ``docs/operations.md`` how these figures were chosen."""

    ttl_ms: int = 2000
    """How long a lease lasts without renewal: longer than any stall of a healthy writer."""
    renew_ms: int = 250
    """How often the holder renews it."""
    poll_ms: int = 100
    """How often a standby tries to take it."""


@dataclass(frozen=True)
class EdgeSettings:
    host: str = "127.0.0.1"
    """Address the REST/WebSocket server binds."""
    port: int = 8000
    """Port of REST and ``/ws``."""
    production: bool = False
    """Production mode: refuse to start with the development JWT secret or a short one."""
    jwt_secret: str = DEV_JWT_SECRET
    """HS256 signing key for access tokens."""
    jwt_ttl_seconds: int = 900
    """Lifetime of an access token."""
    onramp_enabled: bool = True
    """Whether ``POST /onramp`` may credit test funds."""
    reply_timeout_ms: int = 5000
    """How long a request waits for the matcher before answering 504, in milliseconds."""
    max_body_bytes: int = 64 * 1024
    """Largest request body accepted."""
    rate_limit_per_second: int = 200
    """Requests per second per session (per IP when anonymous); 0 disables."""
    ip_limit_per_second: int = 2000
    """Requests per second per IP, whatever the tokens; 0 disables."""
    signin_limit_per_minute: int = 20
    """Sign-in and sign-up attempts per minute per IP; 0 disables."""
    max_in_flight: int = 10_000
    """Requests one edge process lets wait for the matcher before answering 503."""
    cors_origins: tuple[str, ...] = ("http://localhost:8050", "http://127.0.0.1:8050")
    """Browser origins allowed to call the API (by default the dashboard's, on its port)."""
    allowed_hosts: tuple[str, ...] = ("localhost", "127.0.0.1", "[::1]", "testserver")
    """Host headers the edge answers."""


@dataclass(frozen=True)
class FlowSettings:
    workers: int = 1
    """Bytewax worker threads in the flow process."""
    recovery_dir: Path | None = None
    """Bytewax recovery database (``None``: ``<data dir>/flow-recovery``); delete to start over."""
    epoch_ms: int = 1000
    """Epoch length: state is snapshotted at each epoch's end, so a restart replays about this."""
    throttle_ms: int = 250
    """At most one in-progress kline/ticker push per market this often."""


@dataclass(frozen=True)
class DashSettings:
    host: str = "127.0.0.1"
    """Address the Dash app binds."""
    port: int = 8050
    """Port of the Dash app."""
    edge_url: str = "http://127.0.0.1:8000"
    """Where the Dash app and the browsers showing it find the edge (``/api/v1``, ``/ws``)."""
    refresh_ms: int = 1000
    """How often the page asks for the market list until it has it (the data itself is live)."""


@dataclass(frozen=True)
class MarketMakerSettings:
    edge_url: str = "http://127.0.0.1:8000"
    """Where the market maker finds the edge's REST API."""
    username: str = "market-maker"
    """The market maker's account (signed up and funded on first start)."""
    password: str = "market-maker-dev-password"  # noqa: S105  # a laptop default, like the JWT one
    """Its password; set ``TIDEWATER_MM_PASSWORD`` anywhere that is not a laptop."""
    markets: tuple[str, ...] = ()
    """Markets to quote (empty: every market)."""
    levels: int = 5
    """Price levels quoted on each side."""
    refresh_ms: int = 1000
    """How often quotes are cancelled and replaced."""
    seed: int = 7
    """Seed of the fair-price random walk."""
    cross_probability_pct: int = 20
    """Percent of refreshes that send one crossing order so trades print."""


#: The log formats: readable lines, or one JSON object per line.
LOG_FORMATS = ("console", "json")


@dataclass(frozen=True)
class LogSettings:
    format: str = "console"
    """``console`` (readable lines) or ``json`` (``TIDEWATER_LOG_FORMAT``)."""
    level: int = 20
    """The threshold (``TIDEWATER_LOG_LEVEL``: debug, info, warning, error)."""


_LEVELS = {"debug": 10, "info": 20, "warning": 30, "error": 40}


@cache
def get_log_settings() -> LogSettings:
    """Read the log settings alone: logging starts before anything else is read, and a bad
    value elsewhere must still be logged."""
    fmt = _env("LOG_FORMAT", LogSettings.format).strip().lower()
    if fmt not in LOG_FORMATS:
        raise ValueError(f"TIDEWATER_LOG_FORMAT must be one of {LOG_FORMATS}, got {fmt!r}")
    level = _env("LOG_LEVEL", "info").strip().lower()
    if level not in _LEVELS:
        raise ValueError(f"TIDEWATER_LOG_LEVEL must be one of {sorted(_LEVELS)}, got {level!r}")
    return LogSettings(format=fmt, level=_LEVELS[level])


ENGINE_BUILDS = ("auto", "compiled", "interpreted")
"""``TIDEWATER_ENGINE_BUILD``: ``auto`` (the default) runs the compiled engine when a build made
from the current sources exists and the interpreted one otherwise; ``compiled`` refuses to start
without it; ``interpreted`` always runs the ``.py`` files (see :mod:`matcher.build`)."""


@cache
def get_engine_build() -> str:
    """Read the engine build setting alone: it is read when ``matcher`` is first imported,
    before (and whether or not) a service reads the rest of its settings."""
    choice = _env("ENGINE_BUILD", "auto").strip().lower()
    if choice not in ENGINE_BUILDS:
        raise ValueError(f"TIDEWATER_ENGINE_BUILD must be one of {ENGINE_BUILDS}, got {choice!r}")
    return choice


@dataclass(frozen=True)
class Settings:
    redis_url: str | None
    """Redis; ``None`` means ``tidewater up`` starts an embedded one."""
    database_url: str | None
    """PostgreSQL; ``None`` means ``tidewater up`` starts an embedded one."""
    data_dir: Path
    """Where embedded servers and local state live."""
    markets_file: Path
    """Assets and markets (TOML)."""
    shards: dict[str, str]
    """Market symbol → shard name."""
    matcher: MatcherSettings = field(default_factory=MatcherSettings)
    lease: LeaseSettings = field(default_factory=LeaseSettings)
    edge: EdgeSettings = field(default_factory=EdgeSettings)
    flow: FlowSettings = field(default_factory=FlowSettings)
    dash: DashSettings = field(default_factory=DashSettings)
    mm: MarketMakerSettings = field(default_factory=MarketMakerSettings)

    def markets(self) -> MarketConfig:
        """The market configuration this deployment trades."""
        return load_markets(self.markets_file)

    def shard_names(self) -> list[str]:
        """Every shard, sorted."""
        return sorted(set(self.shards.values()))

    def markets_of(self, shard: str) -> list[str]:
        """The markets one shard's matcher trades."""
        return sorted(m for m, s in self.shards.items() if s == shard)


def _dashboard_origins(port: int) -> tuple[str, ...]:
    return (f"http://localhost:{port}", f"http://127.0.0.1:{port}")


#: A browser frontend being developed beside the exchange (a Backpack-style web client on the
#: usual development port), allowed by default outside production.
LOCAL_FRONTEND_ORIGINS = ("http://localhost:3000", "http://127.0.0.1:3000")


def _csv(name: str, default: tuple[str, ...]) -> tuple[str, ...]:
    raw = _env(name, ",".join(default))
    return tuple(p.strip() for p in raw.split(",") if p.strip())


@cache
def get_settings() -> Settings:
    """Read the environment once; raise ``ValueError`` naming a bad variable."""
    markets_file = Path(_env("MARKETS_FILE", str(DEFAULT_MARKETS_FILE)))
    markets = sorted(load_markets(markets_file).markets)
    production = _env("ENV", "development").lower() == "production"
    secret = _env("JWT_SECRET", "" if production else DEV_JWT_SECRET)
    # The dashboard's browsers read the edge (its live data), so its origin is allowed by default;
    # so is a local frontend's, outside production.
    dash_port = _env_int("DASH_PORT", DashSettings.port)
    edge = EdgeSettings(
        host=_env("EDGE_HOST", EdgeSettings.host),
        port=_env_int("EDGE_PORT", EdgeSettings.port),
        production=production,
        jwt_secret=secret,
        jwt_ttl_seconds=_env_int("JWT_TTL_SECONDS", EdgeSettings.jwt_ttl_seconds),
        onramp_enabled=_env_bool("ONRAMP", not production),
        reply_timeout_ms=_env_int("REPLY_TIMEOUT_MS", EdgeSettings.reply_timeout_ms),
        max_body_bytes=_env_int("MAX_BODY_BYTES", EdgeSettings.max_body_bytes),
        rate_limit_per_second=_env_int("RATE_LIMIT", EdgeSettings.rate_limit_per_second),
        ip_limit_per_second=_env_int("IP_RATE_LIMIT", EdgeSettings.ip_limit_per_second),
        max_in_flight=_env_int("MAX_IN_FLIGHT", EdgeSettings.max_in_flight),
        signin_limit_per_minute=_env_int("SIGNIN_LIMIT", EdgeSettings.signin_limit_per_minute),
        cors_origins=_csv(
            "CORS_ORIGINS",
            _dashboard_origins(dash_port) + (() if production else LOCAL_FRONTEND_ORIGINS),
        ),
        allowed_hosts=_csv("ALLOWED_HOSTS", EdgeSettings.allowed_hosts),
    )
    matcher = MatcherSettings(
        batch_size=_env_int("MATCHER_BATCH", MatcherSettings.batch_size),
        snapshot_every_commands=_env_int("SNAPSHOT_EVERY", MatcherSettings.snapshot_every_commands),
        snapshot_every_ms=_env_int("SNAPSHOT_MS", MatcherSettings.snapshot_every_ms),
        max_open_orders=_env_int("MAX_OPEN_ORDERS", MatcherSettings.max_open_orders),
        trim_commands=_env_bool("TRIM_COMMANDS", MatcherSettings.trim_commands),
        closed_memory=_env_int("CLOSED_MEMORY", MatcherSettings.closed_memory),
    )
    lease = LeaseSettings(
        ttl_ms=_env_int("LEASE_TTL_MS", LeaseSettings.ttl_ms),
        renew_ms=_env_int("LEASE_RENEW_MS", LeaseSettings.renew_ms),
        poll_ms=_env_int("LEASE_POLL_MS", LeaseSettings.poll_ms),
    )
    flow_recovery = _env("FLOW_RECOVERY_DIR", "")
    flow = FlowSettings(
        workers=_env_int("FLOW_WORKERS", FlowSettings.workers),
        recovery_dir=Path(flow_recovery) if flow_recovery else None,
        epoch_ms=_env_int("FLOW_EPOCH_MS", FlowSettings.epoch_ms),
        throttle_ms=_env_int("FLOW_THROTTLE_MS", FlowSettings.throttle_ms),
    )
    edge_url = _env("EDGE_URL", f"http://127.0.0.1:{edge.port}")
    dash = DashSettings(
        host=_env("DASH_HOST", DashSettings.host),
        port=dash_port,
        edge_url=edge_url,
        refresh_ms=_env_int("DASH_REFRESH_MS", DashSettings.refresh_ms),
    )
    mm = MarketMakerSettings(
        edge_url=edge_url,
        username=_env("MM_USERNAME", MarketMakerSettings.username),
        password=_env("MM_PASSWORD", MarketMakerSettings.password),
        markets=_csv("MM_MARKETS", MarketMakerSettings.markets),
        levels=_env_int("MM_LEVELS", MarketMakerSettings.levels),
        refresh_ms=_env_int("MM_REFRESH_MS", MarketMakerSettings.refresh_ms),
        seed=_env_int("MM_SEED", MarketMakerSettings.seed),
        cross_probability_pct=_env_int("MM_CROSS_PCT", MarketMakerSettings.cross_probability_pct),
    )
    return Settings(
        redis_url=os.environ.get("TIDEWATER_REDIS_URL") or os.environ.get("REDIS_URL") or None,
        database_url=(
            os.environ.get("TIDEWATER_DATABASE_URL") or os.environ.get("DATABASE_URL") or None
        ),
        data_dir=Path(_env("DATA_DIR", ".tidewater")),
        markets_file=markets_file,
        shards=_parse_shards(_env("SHARDS", ""), markets),
        matcher=matcher,
        lease=lease,
        edge=edge,
        flow=flow,
        dash=dash,
        mm=mm,
    )
