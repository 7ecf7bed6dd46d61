"""The matcher: a pure engine (books, ledger, order types) and the service around it."""

from matcher.engine import Engine

__all__ = ["Engine"]
