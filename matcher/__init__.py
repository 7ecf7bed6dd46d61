"""The matcher: a pure engine (books, ledger, order types) and the service around it.

``BUILD`` says whether this process runs the engine compiled by mypyc or interpreted
(:mod:`matcher.build` chooses, before the engine is first imported).
"""

from matcher.build import activate

BUILD = activate(__path__)

from matcher.engine import Engine  # noqa: E402  (after activate: it decides where from)

__all__ = ["BUILD", "Engine"]
