"""Who calls and what happens when a call fails: accounts, tokens, retries (sans I/O).

Retry policy
------------
* A *transient* failure (:attr:`ApiError.transient`: no answer, a dropped connection, 429 or
  5xx) is retried when the client has a :class:`Backoff` and the call allows it: capped
  exponential waits with jitter (``Retry-After`` honoured when longer), for ever. This is how the
  market maker rides out an edge restart. Without a backoff (the default) the error is raised at
  once, as the dashboard wants: its next poll is the retry.
* Every other failure raises at once and is never retried, except ``401`` on a call signed in as
  an :class:`Account`: its token expired (or the edge's secret changed), so the account signs in
  again and the call is repeated once. A bare token string cannot be renewed, so its 401 raises.
"""

from __future__ import annotations

import asyncio
import random
import threading
import time
from dataclasses import dataclass, field

from client.errors import ApiError
from model.api import TokenView

__all__ = ["SIGN_IN_AGAIN", "Account", "Attempts", "Auth", "Backoff"]

#: Sign in again this long before the token's ``exp``, rather than wait for a 401.
TOKEN_MARGIN_MS = 60_000
#: What :meth:`Attempts.after` returns when the call should sign in again and repeat.
SIGN_IN_AGAIN = -1


@dataclass(frozen=True)
class Backoff:
    """Capped exponential backoff with jitter, in milliseconds."""

    initial_ms: int = 200
    """The first wait."""
    cap_ms: int = 5_000
    """No wait is longer than this (before ``Retry-After``)."""

    def delay_ms(self, attempt: int, rng: random.Random) -> int:
        """The wait before retry ``attempt`` (0-based): between half and all of the nominal
        ``initial * 2**attempt``, capped, so clients that failed together do not retry together."""
        nominal = min(self.cap_ms, self.initial_ms << min(attempt, 30))
        return nominal // 2 + rng.randint(0, nominal - nominal // 2)


@dataclass
class Account:
    """A user signed in by username and password, whose token the client keeps fresh.

    An account is used by one client, and by an async client within one event loop (its lock
    belongs to the loop that first waits on it)."""

    username: str
    password: str
    token: str | None = None
    expires_at_ms: int = 0
    user_id: int | None = None
    async_lock: asyncio.Lock = field(default_factory=asyncio.Lock, repr=False, compare=False)
    """Held by an async client while it signs in, so concurrent calls sign in once."""
    thread_lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)
    """The same for a sync client's threads."""

    def token_fresh(self, now_ms: int | None = None) -> bool:
        """Whether the token can still be used for a while."""
        now = now_ms if now_ms is not None else time.time_ns() // 1_000_000
        return self.token is not None and now < self.expires_at_ms - TOKEN_MARGIN_MS

    def keep(self, token: TokenView) -> None:
        """Take the token a sign-up or sign-in answered."""
        self.token, self.expires_at_ms, self.user_id = token.token, token.expires_at, token.user_id


#: How a private call is signed in: a bearer token as is, or an account kept signed in.
Auth = str | Account


class Attempts:
    """The decisions of one call across its attempts: sign in again once, retry, or give up."""

    def __init__(self, backoff: Backoff | None, auth: Auth | None, rng: random.Random) -> None:
        self._backoff = backoff
        self._renewable = isinstance(auth, Account)
        self._rng = rng
        self._attempt = 0

    def after(self, error: ApiError) -> int:
        """What to do after ``error``: :data:`SIGN_IN_AGAIN`, or the wait in ms before the next
        attempt; raises ``error`` when the call is over."""
        if error.status == 401 and self._renewable:
            self._renewable = False
            return SIGN_IN_AGAIN
        if self._backoff is None or not error.transient:
            raise error
        wait = max(error.retry_after_ms, self._backoff.delay_ms(self._attempt, self._rng))
        self._attempt += 1
        return wait
