"""model/logs.py: one format per process for the standard library's and structlog's lines, each
carrying the service and its context, from every thread (in a child process, so that pytest's
own log capture is left alone)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]

_PROGRAM = """
import logging, threading
import structlog
from structlog.contextvars import bound_contextvars
from model.logs import setup_logging

setup_logging("matcher", shard="0")
logging.getLogger("tidewater.matcher").info("recovered %d commands", 12)
with bound_contextvars(market="TATA_INR", seq=7):
    structlog.get_logger("infra.embedded").warning("embedded.started", port=5432)
thread = threading.Thread(target=lambda: logging.getLogger("tidewater.lease").info("renewed"))
thread.start(); thread.join()
logging.getLogger("tidewater.matcher").debug("one line per order")
logging.getLogger("httpx").info("HTTP Request: GET /markets")
try:
    1 / 0
except ZeroDivisionError:
    logging.getLogger("tidewater.matcher").exception("failed")
"""


def _run(**env: str) -> list[str]:
    done = subprocess.run(
        [sys.executable, "-c", _PROGRAM],
        cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT), **env},
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    return [line for line in done.stderr.splitlines() if line.strip()]


def test_json_lines_carry_the_service_and_context_from_every_logger_and_thread() -> None:
    lines = _run(TIDEWATER_LOG_FORMAT="json")
    records = [json.loads(line) for line in lines if line.startswith("{")]
    events = {r["event"]: r for r in records}
    assert set(events) == {"recovered 12 commands", "embedded.started", "renewed", "failed"}
    assert all((r["service"], r["shard"]) == ("matcher", "0") for r in records)
    started = events["embedded.started"]
    assert (started["market"], started["seq"], started["port"]) == ("TATA_INR", 7, 5432)
    assert (started["level"], started["logger"]) == ("warning", "infra.embedded")
    assert events["recovered 12 commands"]["logger"] == "tidewater.matcher"
    assert "ZeroDivisionError" in events["failed"]["exception"]
    assert "timestamp" in started


def test_debug_lines_and_per_request_lines_need_the_debug_level() -> None:
    quiet = "\n".join(_run(TIDEWATER_LOG_FORMAT="json"))
    assert "one line per order" not in quiet
    assert "HTTP Request" not in quiet
    loud = "\n".join(_run(TIDEWATER_LOG_FORMAT="json", TIDEWATER_LOG_LEVEL="debug"))
    assert "one line per order" in loud
    assert "HTTP Request" in loud


def test_console_lines_are_readable() -> None:
    lines = _run()
    recovered = next(line for line in lines if "recovered 12 commands" in line)
    assert not recovered.startswith("{")
    assert "service=matcher" in recovered
    assert "shard=0" in recovered
    assert any("ZeroDivisionError" in line for line in lines)


@pytest.mark.parametrize(("name", "value"), [("LOG_FORMAT", "xml"), ("LOG_LEVEL", "loud")])
def test_a_bad_setting_is_named(name: str, value: str) -> None:
    done = subprocess.run(
        [sys.executable, "-c", _PROGRAM],
        cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT), f"TIDEWATER_{name}": value},
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode != 0
    assert f"TIDEWATER_{name}" in done.stderr
