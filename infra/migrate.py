"""Apply the ordered SQL files in ``infra/migrations`` once each (``tidewater db migrate``).

Each file runs in its own transaction together with its row in ``schema_migrations``, so a
failed file leaves nothing half-applied and a second run skips what is done. A session-level
advisory lock keeps two starting processes from migrating at once.
"""

from __future__ import annotations

import logging
from pathlib import Path

import psycopg

__all__ = ["MIGRATIONS_DIR", "migrate", "storage_path"]

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
_LOCK_KEY = 0x7469646577  # "tidew"

log = logging.getLogger("tidewater.migrate")


def migrate(database_url: str, directory: Path = MIGRATIONS_DIR) -> list[str]:
    """Apply every pending migration; return the names applied now."""
    applied_now: list[str] = []
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (_LOCK_KEY,))
        try:
            conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations ("
                " name TEXT PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())"
            )
            done = {row[0] for row in conn.execute("SELECT name FROM schema_migrations")}
            for path in sorted(directory.glob("*.sql")):
                if path.name in done:
                    continue
                with conn.transaction():
                    conn.execute(path.read_text().encode())
                    conn.execute("INSERT INTO schema_migrations (name) VALUES (%s)", (path.name,))
                log.info("applied migration %s", path.name)
                applied_now.append(path.name)
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (_LOCK_KEY,))
    return applied_now


def storage_path(database_url: str) -> str:
    """Which storage the migrations set up: TimescaleDB hypertables, or plain tables."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_extension WHERE extname = 'timescaledb'"
        ).fetchone()
    if row is not None and row[0]:
        return "TimescaleDB hypertables (trades, candles) with compression and retention"
    return "plain PostgreSQL tables (TimescaleDB is not available on this server)"
