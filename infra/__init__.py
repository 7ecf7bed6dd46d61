"""Tidewater's infrastructure: the ``tidewater`` CLI, embedded Redis/PostgreSQL, supervision.

The launcher (``infra.embedded``, on ``infra.server``, ``infra.binaries`` and ``infra.runas``)
starts throwaway servers for tests and ``tidewater up``; ``infra.cli`` is the command line;
``infra.supervisor`` runs services as child processes.
"""

from __future__ import annotations

from infra.embedded import EmbeddedPostgres, EmbeddedRedis, EmbeddedServices, embedded_services

__all__ = ["EmbeddedPostgres", "EmbeddedRedis", "EmbeddedServices", "embedded_services"]
