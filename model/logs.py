"""One logging setup for every service: readable lines in development, JSON lines in production.

Every entry point calls :func:`setup_logging` once, first thing, with its service name and the
context that holds for the whole process (``shard=...``). Code logs through the standard
library (``logging.getLogger("tidewater.matcher")``, with ``%s`` arguments) or through structlog
(``structlog.get_logger(__name__).info("embedded.started", port=...)``); both end in the same
structlog renderer, so one process writes one format:

* ``TIDEWATER_LOG_FORMAT=console`` (the default): ``2026-12-05T22:11:07Z [info ] message
  service=matcher shard=0``;
* ``TIDEWATER_LOG_FORMAT=json``: one JSON object per line with ``timestamp``, ``level``,
  ``logger``, ``event`` and every bound field, for a log shipper.

Context that changes while the process runs (``market``, ``seq``, ``order_id``) is bound with
``structlog.contextvars.bound_contextvars(...)`` around the work it describes. Nothing is logged
per order on the hot path at INFO: per-order lines are DEBUG (``TIDEWATER_LOG_LEVEL=debug``).
"""

from __future__ import annotations

import logging
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog

from model.settings import get_log_settings

__all__ = ["formatter_for", "setup_logging", "uvicorn_log_config"]

#: Libraries that log a line per request at INFO: kept at WARNING unless debugging.
_PER_REQUEST = ("httpx", "httpcore", "werkzeug", "uvicorn.access")


def _static(context: dict[str, Any]) -> Any:
    """A processor adding the process-wide fields (every thread's lines carry them)."""

    def add(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
        for key, value in context.items():
            event.setdefault(key, value)
        return event

    return add


def formatter_for(service: str, **context: Any) -> logging.Formatter:
    """Configure structlog for this process and return the formatter that renders every line
    (structlog's and the standard library's) with ``service`` and ``context``. Also the factory
    that :func:`uvicorn_log_config` names, so each uvicorn worker process sets itself up."""
    settings = get_log_settings()
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        _static({"service": service, **context}),
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    json = settings.format == "json"
    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            structlog.stdlib.PositionalArgumentsFormatter(),
            *shared,
            structlog.processors.StackInfoRenderer(),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,
    )
    return structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info if json else _keep,
            structlog.processors.JSONRenderer()
            if json
            else structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty()),
        ],
    )


def _keep(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    return event  # the console renderer prints exceptions itself


def _per_request(threshold: int) -> int:
    """Per-request library lines: shown when debugging, else from WARNING up."""
    return threshold if threshold <= logging.DEBUG else max(threshold, logging.WARNING)


def _threshold(level: int | None) -> int:
    return level if level is not None else get_log_settings().level


def setup_logging(service: str, *, level: int | None = None, **context: Any) -> None:
    """Send every log line of this process to stderr in the configured format, each carrying
    ``service`` and ``context``. ``level`` overrides the configured level (a ``-v`` flag)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter_for(service, **context))
    threshold = _threshold(level)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(threshold)
    for name in _PER_REQUEST:
        logging.getLogger(name).setLevel(_per_request(threshold))


def uvicorn_log_config(service: str, **context: Any) -> dict[str, Any]:
    """The ``log_config`` for uvicorn: the same setup in each worker process it starts, and
    uvicorn's own loggers rendered like every other line."""
    threshold = logging.getLevelName(_threshold(None))
    quiet = logging.getLevelName(_per_request(_threshold(None)))
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"tidewater": {"()": f"{__name__}.formatter_for", "service": service,
                                     **context}},
        "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "tidewater",
                                "stream": "ext://sys.stderr"}},
        "loggers": {
            "uvicorn": {"handlers": [], "propagate": True},
            "uvicorn.error": {"handlers": [], "propagate": True},
            **{name: {"level": quiet} for name in _PER_REQUEST},
        },
        "root": {"handlers": ["stderr"], "level": threshold},
    }  # fmt: skip
