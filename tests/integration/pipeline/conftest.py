"""Fixtures of the pipeline tests: a fresh migrated database per test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.integration.edge.conftest import fresh_database


@pytest.fixture
def db_url(database_url: str) -> Iterator[str]:
    """A new, migrated database of the test's own (dropped afterwards)."""
    with fresh_database(database_url, "tw_persist") as url:
        yield url
