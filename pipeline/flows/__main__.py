"""``python -m pipeline.flows``: run the market-data flow until stopped.

Configured like every service through :mod:`model.settings` (``REDIS_URL``/``DATABASE_URL`` and
``TIDEWATER_FLOW_WORKERS``, ``_RECOVERY_DIR``, ``_EPOCH_MS``, ``_THROTTLE_MS``; see
:class:`model.settings.FlowSettings`). The recovery database is created (one partition) on first
start; delete it to start over from the first event.

One flow writes at a time (``pipeline/fence.py``): before it opens its recovery store it takes
the flow's writer lease (``topics.flow_lease()``), waiting as a standby while another flow holds
it, and it renews the lease while it runs. Every worker's writes are fenced by that one lease.
When the lease is lost the process stops at once: exit code :data:`~pipeline.fence.EXIT_FENCED`
when another flow holds it now, 1 otherwise (Redis unreachable past the lease), so that its
supervisor starts it again as a standby. SIGTERM or SIGINT stop it at once (code 0, as abruptly
as a kill: Bytewax's recovery store is made for that) after releasing the lease, so that a
standby takes over without waiting for it to expire.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import threading
from datetime import timedelta
from types import FrameType

import redis
from bytewax.recovery import RecoveryConfig, init_db_dir
from bytewax.run import cli_main

from model import topics
from model.lease import WriterLease
from model.logs import setup_logging
from model.settings import get_settings
from pipeline.fence import EXIT_FENCED, FLOW_ROLE, acquire, new_lease
from pipeline.flows.market_data import build_flow
from pipeline.flows.sinks import PostgresSink, RedisSink
from pipeline.flows.source import EventSource

log = logging.getLogger("tidewater.flow")


def _exit_now(code: int) -> None:
    """End the process at once, whatever the Bytewax workers are doing (as a SIGKILL would:
    the recovery store is made for that), after flushing the logs."""
    for handler in logging.getLogger().handlers:
        with contextlib.suppress(Exception):
            handler.flush()
    os._exit(code)


def _stop_at_once(lease: WriterLease) -> None:
    """The lease is lost (renewer thread): stop before anything else is attempted."""
    code = lease.exit_code()
    log.error(
        "flow fenced out (%s); the lease %s is held by %s: stopping at once, nothing more is"
        " written",
        lease.lost_reason, lease.key, "another flow" if code == EXIT_FENCED else "nobody",
    )  # fmt: skip
    _exit_now(code)


def main() -> None:
    """Read the settings, take the lease, prepare recovery, run the flow."""
    setup_logging("flow")
    try:
        settings = get_settings()
    except ValueError as error:
        raise SystemExit(str(error)) from None
    if not settings.redis_url or not settings.database_url:
        raise SystemExit("the flow needs REDIS_URL and DATABASE_URL")
    flow_settings = settings.flow

    stop = threading.Event()
    running = threading.Event()

    def _stop(signum: int, frame: FrameType | None) -> None:
        stop.set()
        if running.is_set():  # Bytewax runs this between its steps
            lease.release()  # a standby takes over now; any write still in flight is fenced
            log.info("flow stopped (signal %d); lease released", signum)
            _exit_now(0)

    client = redis.Redis.from_url(
        settings.redis_url, socket_keepalive=True, health_check_interval=30
    )
    lease = new_lease(client, topics.flow_lease(), FLOW_ROLE, settings.lease)
    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    fence = acquire(
        lease, FLOW_ROLE, settings.database_url, stop, on_lost=lambda: _stop_at_once(lease)
    )
    if fence is None:
        log.info("flow stopped while standing by")
        return
    try:
        recovery_dir = flow_settings.recovery_dir or settings.data_dir / "flow-recovery"
        if not recovery_dir.exists():
            recovery_dir.mkdir(parents=True)
            init_db_dir(recovery_dir, 1)  # type: ignore[no-untyped-call]  # untyped Rust binding
        shards = {shard: settings.markets_of(shard) for shard in settings.shard_names()}
        flow = build_flow(
            settings.markets(),
            EventSource(settings.redis_url, shards, fence, guard=lease.check),
            RedisSink(settings.redis_url, fence),
            PostgresSink(settings.database_url, fence),
            throttle=timedelta(milliseconds=flow_settings.throttle_ms),
        )
        log.info(
            "flow starting: shards=%s workers=%d recovery=%s epoch=%d",
            sorted(shards),
            flow_settings.workers,
            recovery_dir,
            fence.epoch,
        )
        running.set()
        if stop.is_set():
            return
        cli_main(  # type: ignore[no-untyped-call]  # untyped Rust binding
            flow,
            workers_per_process=flow_settings.workers,
            epoch_interval=timedelta(milliseconds=flow_settings.epoch_ms),
            recovery_config=RecoveryConfig(recovery_dir),  # type: ignore[no-untyped-call]
        )
    except Exception:
        if lease.exit_code() == EXIT_FENCED:  # a write was refused: another flow holds it
            log.exception("flow fenced out: stopping, nothing more is written")
            raise SystemExit(EXIT_FENCED) from None
        raise
    finally:
        running.clear()
        lease.release()
        client.close()


if __name__ == "__main__":
    main()
