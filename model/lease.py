"""A single writer's lease on Redis, and the fence every one of its writes goes through.

Why
---
Recovery rests on one writer per shard (and one market-data flow, one persist agent per shard):
two matchers on one shard interleave two diverging books in one journal. A process therefore
holds a *lease* before it writes: a key (``topics.writer_lease`` and friends) whose value is a
token only this process knows, with an expiry. While it runs it renews the expiry; a process that
finds the key taken waits as a standby and takes it once it has expired.

A lease alone is not enough: a process paused past its expiry (SIGSTOP, a long GC pause, a VM
stall) does not know it lost the lease and would write on when it wakes. So every write is
*fenced*: it runs inside a Lua script that first checks that the key still holds this process's
token (:data:`FENCE`), and writes nothing otherwise (the script answers ``FENCED``, raised here as
:class:`LeaseLostError`). A script runs atomically, so no other writer's write can fall between the
check and the writes it guards.

Writes that do not go to Redis (PostgreSQL rows) are fenced with the lease's *epoch*: a number
that grows by one with every acquisition (:meth:`WriterLease.acquire`). A PostgreSQL writer
records the highest epoch it has seen in the same transaction as its rows and refuses to commit
under an older one (``pipeline/fence.py``).

Invariants
----------
* At most one process holds a key's token at any moment (``SET NX PX``), and a write conditional
  on the token cannot land after the key was taken over.
* A holder learns it lost the lease either from a renewal (the key holds someone else's token, or
  none) or from a fenced write; in both cases it stops writing at once.
* The local deadline (:attr:`WriterLease.valid_until`) is measured from *before* each renewal was
  sent, so it never runs past the server's expiry; a holder whose renewals fail (Redis away) past
  it treats the lease as lost.

Timing (``LeaseSettings``, measured in ``docs/operations.md``): the time-to-live must exceed the
longest stall of a healthy holder (fsync, GC, a snapshot) with room to spare; a standby takes over
within one time-to-live plus one poll interval of the holder's death.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any, Final, cast

import redis

from model import topics

__all__ = [
    "EXIT_FENCED",
    "FENCE",
    "LeaseLostError",
    "WriterLease",
    "fenced_script",
    "is_fenced_error",
]

log = logging.getLogger("tidewater.lease")

#: The first lines of every fenced script: ``KEYS[1]`` is the lease key and ``ARGV[1]`` the
#: holder's token. A script built with :func:`fenced_script` starts with it.
FENCE: Final = """\
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return redis.error_reply('FENCED this process no longer holds the writer lease ' .. KEYS[1])
end
"""

_FENCED_PREFIX = "FENCED"

#: The exit code of a writer process that another process fenced out (its supervisor starts it
#: again, and it waits as a standby).
EXIT_FENCED: Final = 3

# KEYS[1] = lease, KEYS[2] = epoch counter; ARGV[1] = token, ARGV[2] = time to live (ms).
# The epoch grows with every acquisition, so the newest holder always has the largest.
_ACQUIRE = """\
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  return redis.call('INCR', KEYS[2])
end
return 0
"""

# KEYS[1] = lease, KEYS[2] = epoch counter; ARGV[1] = token, ARGV[2] = time to live (ms),
# ARGV[3] = the dead holder's token: taken only if the key still holds exactly that token.
_TAKE_FROM_DEAD = """\
if redis.call('GET', KEYS[1]) == ARGV[3] then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return redis.call('INCR', KEYS[2])
end
return 0
"""

# KEYS[1] = lease; ARGV[1] = token, ARGV[2] = time to live (ms). 1 = renewed, 0 = not ours.
_RENEW = """\
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
"""

_RELEASE = """\
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""


class LeaseLostError(RuntimeError):
    """This process no longer holds its writer lease: it must stop writing at once."""


def is_fenced_error(error: BaseException) -> bool:
    """Tell whether a Redis error is a fenced script refusing a write."""
    return isinstance(error, redis.ResponseError) and str(error).startswith(_FENCED_PREFIX)


def fenced_script(client: redis.Redis, body: str) -> Any:
    """Register ``body`` behind :data:`FENCE`: call it with the lease key first in ``keys`` and
    the token first in ``args``. Returns redis-py's script object."""
    return client.register_script(FENCE + body)


def _describe_holder() -> str:
    """Who holds a lease, in the token's readable part: host and pid."""
    return f"{socket.gethostname()}:{os.getpid()}"


def _dead_here(token: str) -> int | None:
    """The pid of a holder that ran on this host and is gone (or only a zombie now), else None.

    A standby may then take the lease at once instead of waiting out its time to live. That is
    safe even if this guess were wrong (a pid namespace that hides a live holder): the live
    holder's next write would be fenced and it would stop; only a takeover, never a fork.
    """
    head = token.rpartition(":")[0]  # host:pid:nonce
    host, _, pid_text = head.rpartition(":")
    try:
        pid = int(pid_text)
    except ValueError:
        return None
    if host != socket.gethostname() or pid == os.getpid() or pid <= 0:
        return None
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            state = stat.read().rpartition(b")")[2].split()[0]
        return pid if state in (b"Z", b"X") else None
    except FileNotFoundError:
        return pid
    except (OSError, IndexError):
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return pid
    except OSError:
        return None
    return None


class WriterLease:
    """One process's claim on a writer lease key; see the module docstring.

    ``acquire`` once (or ``wait`` as a standby), then ``start_renewing``; every fenced write
    passes ``key`` and ``token``. ``release`` on a clean stop lets a standby take over at once.
    """

    def __init__(
        self,
        client: redis.Redis,
        key: str,
        *,
        ttl_ms: int,
        renew_ms: int,
        poll_ms: int = 100,
        role: str = "writer",
    ) -> None:
        if not 0 < renew_ms < ttl_ms:
            raise ValueError(
                f"lease renewal ({renew_ms} ms) must be shorter than its ttl ({ttl_ms} ms)"
            )
        self.client = client
        self.key = key
        self.epoch_key = topics.lease_epoch(key)
        self.ttl_ms = ttl_ms
        self.renew_ms = renew_ms
        self.poll_ms = poll_ms
        self.role = role
        self.token = f"{_describe_holder()}:{uuid.uuid4().hex[:12]}".encode()
        self.epoch = 0
        self.valid_until = 0.0
        self._lost = threading.Event()
        self._lost_reason = ""
        self._stop_renewing = threading.Event()
        self._renewer: threading.Thread | None = None
        self._acquire = client.register_script(_ACQUIRE)
        self._renew = client.register_script(_RENEW)
        self._release = client.register_script(_RELEASE)
        self._take_from_dead = client.register_script(_TAKE_FROM_DEAD)

    # --- holding -------------------------------------------------------------------------

    @property
    def held(self) -> bool:
        """Whether this process believes it holds the lease (acquired, not lost, not expired)."""
        return self.epoch > 0 and not self._lost.is_set() and time.monotonic() < self.valid_until

    @property
    def lost(self) -> bool:
        return self._lost.is_set()

    @property
    def lost_reason(self) -> str:
        return self._lost_reason

    def taken_by_another(self) -> bool:
        """Whether another process holds the lease now (``False`` too when Redis cannot say)."""
        try:
            holder = self.holder()
        except redis.RedisError:
            return False
        return holder is not None and holder != self.token.decode()

    def exit_code(self) -> int:
        """How a writer that lost this lease exits: :data:`EXIT_FENCED` when another process
        holds it now, else 1."""
        return EXIT_FENCED if self.taken_by_another() else 1

    def holder(self) -> str | None:
        """The token of whoever holds the key now, or ``None``."""
        raw = cast(bytes | None, self.client.get(self.key))
        return raw.decode(errors="replace") if raw is not None else None

    def try_acquire(self) -> bool:
        """Take the lease if it is free; on success :attr:`epoch` is this holding's number."""
        sent = time.monotonic()
        epoch = int(
            cast(
                int, self._acquire(keys=[self.key, self.epoch_key], args=[self.token, self.ttl_ms])
            )
        )
        if not epoch:
            return False
        self._hold(epoch, sent)
        return True

    def _hold(self, epoch: int, sent: float) -> None:
        """Record a holding numbered ``epoch`` whose write was sent at ``sent``."""
        self.epoch = epoch
        self.valid_until = sent + self.ttl_ms / 1000
        self._lost.clear()
        self._lost_reason = ""

    def wait(self, stop: threading.Event, on_wait: Callable[[str], None] | None = None) -> bool:
        """Wait as a standby until the lease is ours (``True``) or ``stop`` is set (``False``).

        A holder that ran on this host and has died is taken over at once; any other holder's
        lease is waited out. ``on_wait`` hears the holder's token each time it changes.
        """
        told: str | None = None
        while not stop.is_set():
            if self.try_acquire():
                return True
            current = self.holder()
            if current is not None and self._take_over_dead(current):
                return True
            if current is not None and current != told and on_wait is not None:
                on_wait(current)
            told = current or told
            stop.wait(self.poll_ms / 1000)
        return False

    def _take_over_dead(self, holder: str) -> bool:
        """Take the lease from ``holder`` if it is a process of this host that has died."""
        dead = _dead_here(holder)
        if dead is None:
            return False
        sent = time.monotonic()
        epoch = int(
            cast(
                int,
                self._take_from_dead(
                    keys=[self.key, self.epoch_key], args=[self.token, self.ttl_ms, holder]
                ),
            )
        )
        if not epoch:
            return False
        self._hold(epoch, sent)
        log.warning(
            "%s took the lease %s over from pid %d, which has died", self.role, self.key, dead
        )
        return True

    def renew(self) -> bool:
        """Extend the lease once; ``False`` (and :attr:`lost` set) if it is not ours any more."""
        sent = time.monotonic()
        try:
            renewed = int(cast(int, self._renew(keys=[self.key], args=[self.token, self.ttl_ms])))
        except redis.RedisError as error:
            if time.monotonic() >= self.valid_until:
                self._mark_lost(f"could not renew before the lease expired: {error}")
            return False
        if not renewed:
            self._mark_lost(f"the lease is held by {self.holder() or 'nobody'} now")
            return False
        self.valid_until = sent + self.ttl_ms / 1000
        return True

    def check(self) -> None:
        """Raise :class:`LeaseLostError` unless the lease is held; call before writing."""
        if self.epoch == 0:
            raise LeaseLostError(f"{self.role} does not hold its lease on {self.key}")
        if self._lost.is_set():
            raise LeaseLostError(f"{self.role} lost its lease on {self.key}: {self._lost_reason}")
        if time.monotonic() >= self.valid_until:
            self._mark_lost("the lease expired before it was renewed")
            raise LeaseLostError(f"{self.role} lost its lease on {self.key}: {self._lost_reason}")

    def fenced(self, error: BaseException) -> LeaseLostError:
        """Turn a fenced script's error into :class:`LeaseLostError`, marking the lease lost."""
        self._mark_lost(f"a write was fenced: {error}")
        return LeaseLostError(f"{self.role} lost its lease on {self.key}: {self._lost_reason}")

    def _mark_lost(self, reason: str) -> None:
        if not self._lost.is_set():
            self._lost_reason = reason
            self._lost.set()
            log.error("%s lease lost on %s: %s", self.role, self.key, reason)

    # --- renewing in the background --------------------------------------------------------

    def start_renewing(self, on_lost: Callable[[], None] | None = None) -> None:
        """Renew every ``renew_ms`` in a daemon thread until released or lost; then ``on_lost``."""
        self._stop_renewing.clear()

        def renew_loop() -> None:
            while not self._stop_renewing.wait(self.renew_ms / 1000):
                self.renew()
                if self._lost.is_set():
                    if on_lost is not None:
                        on_lost()
                    return

        self._renewer = threading.Thread(target=renew_loop, name=f"lease-{self.key}", daemon=True)
        self._renewer.start()

    def release(self) -> None:
        """Stop renewing and give the lease up (only if it is still ours)."""
        self._stop_renewing.set()
        renewer, self._renewer = self._renewer, None
        if renewer is not None and renewer is not threading.current_thread():
            renewer.join(timeout=self.renew_ms / 1000 + 5)
        if self.epoch and not self._lost.is_set():
            try:
                self._release(keys=[self.key], args=[self.token])
            except redis.RedisError as error:
                log.warning("could not release the lease on %s: %s", self.key, error)
        self.epoch = 0
        self.valid_until = 0.0
