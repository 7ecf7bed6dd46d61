"""``python -m pipeline.flows``: run the market-data flow until killed.

Environment (besides ``REDIS_URL``/``DATABASE_URL`` and the ``TIDEWATER_*`` of
:mod:`model.settings`):

* ``TIDEWATER_FLOW_WORKERS`` (1): Bytewax worker threads in this process.
* ``TIDEWATER_FLOW_RECOVERY_DIR`` (``<data dir>/flow-recovery``): the recovery database; created
  (one partition) on first start. Delete it to start over from the first event.
* ``TIDEWATER_FLOW_EPOCH_MS`` (1000): epoch length; state is snapshotted at each epoch's end,
  so a restart replays at most about this much input.
* ``TIDEWATER_FLOW_THROTTLE_MS`` (250): at most one in-progress kline/ticker push per market
  this often.
* ``TIDEWATER_FLOW_WRITE_TRADES`` (1): also insert ``trades`` rows (idempotent; the persist
  agent writes the same rows).
"""

from __future__ import annotations

import logging
import os
from datetime import timedelta
from pathlib import Path

from bytewax.recovery import RecoveryConfig, init_db_dir
from bytewax.run import cli_main

from model.settings import get_settings
from pipeline.flows.market_data import build_flow
from pipeline.flows.sinks import PostgresSink, RedisSink
from pipeline.flows.source import EventSource

log = logging.getLogger("tidewater.flow")


def _int(name: str, default: int) -> int:
    raw = os.environ.get(f"TIDEWATER_{name}", str(default))
    try:
        return int(raw)
    except ValueError:
        raise SystemExit(f"TIDEWATER_{name} must be an integer, got {raw!r}") from None


def main() -> None:
    """Read the settings, prepare recovery, run the flow."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    settings = get_settings()
    if not settings.redis_url or not settings.database_url:
        raise SystemExit("the flow needs REDIS_URL and DATABASE_URL")
    recovery_dir = Path(
        os.environ.get("TIDEWATER_FLOW_RECOVERY_DIR", str(settings.data_dir / "flow-recovery"))
    )
    if not recovery_dir.exists():
        recovery_dir.mkdir(parents=True)
        init_db_dir(recovery_dir, 1)  # type: ignore[no-untyped-call]  # untyped Rust binding
    workers = _int("FLOW_WORKERS", 1)
    shards = {shard: settings.markets_of(shard) for shard in settings.shard_names()}
    write_trades = os.environ.get("TIDEWATER_FLOW_WRITE_TRADES", "1") not in ("0", "false")
    flow = build_flow(
        settings.markets(),
        EventSource(settings.redis_url, shards),
        RedisSink(settings.redis_url),
        PostgresSink(settings.database_url, write_trades=write_trades),
        throttle=timedelta(milliseconds=_int("FLOW_THROTTLE_MS", 250)),
    )
    log.info(
        "flow starting: shards=%s workers=%d recovery=%s", sorted(shards), workers, recovery_dir
    )
    cli_main(  # type: ignore[no-untyped-call]  # untyped Rust binding
        flow,
        workers_per_process=workers,
        epoch_interval=timedelta(milliseconds=_int("FLOW_EPOCH_MS", 1000)),
        recovery_config=RecoveryConfig(recovery_dir),  # type: ignore[no-untyped-call]
    )


if __name__ == "__main__":
    main()
