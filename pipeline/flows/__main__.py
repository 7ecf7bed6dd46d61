"""``python -m pipeline.flows``: run the market-data flow until killed.

Configured like every service through :mod:`model.settings` (``REDIS_URL``/``DATABASE_URL`` and
``TIDEWATER_FLOW_WORKERS``, ``_RECOVERY_DIR``, ``_EPOCH_MS``, ``_THROTTLE_MS``, ``_WRITE_TRADES``;
see :class:`model.settings.FlowSettings`). The recovery database is created (one partition) on
first start; delete it to start over from the first event.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from bytewax.recovery import RecoveryConfig, init_db_dir
from bytewax.run import cli_main

from model.settings import get_settings
from pipeline.flows.market_data import build_flow
from pipeline.flows.sinks import PostgresSink, RedisSink
from pipeline.flows.source import EventSource

log = logging.getLogger("tidewater.flow")


def main() -> None:
    """Read the settings, prepare recovery, run the flow."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    try:
        settings = get_settings()
    except ValueError as error:
        raise SystemExit(str(error)) from None
    if not settings.redis_url or not settings.database_url:
        raise SystemExit("the flow needs REDIS_URL and DATABASE_URL")
    flow_settings = settings.flow
    recovery_dir = flow_settings.recovery_dir or settings.data_dir / "flow-recovery"
    if not recovery_dir.exists():
        recovery_dir.mkdir(parents=True)
        init_db_dir(recovery_dir, 1)  # type: ignore[no-untyped-call]  # untyped Rust binding
    shards = {shard: settings.markets_of(shard) for shard in settings.shard_names()}
    flow = build_flow(
        settings.markets(),
        EventSource(settings.redis_url, shards),
        RedisSink(settings.redis_url),
        PostgresSink(settings.database_url, write_trades=flow_settings.write_trades),
        throttle=timedelta(milliseconds=flow_settings.throttle_ms),
    )
    log.info(
        "flow starting: shards=%s workers=%d recovery=%s",
        sorted(shards),
        flow_settings.workers,
        recovery_dir,
    )
    cli_main(  # type: ignore[no-untyped-call]  # untyped Rust binding
        flow,
        workers_per_process=flow_settings.workers,
        epoch_interval=timedelta(milliseconds=flow_settings.epoch_ms),
        recovery_config=RecoveryConfig(recovery_dir),  # type: ignore[no-untyped-call]
    )


if __name__ == "__main__":
    main()
