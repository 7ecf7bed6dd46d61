"""What travels on the Redis streams around the matcher, and how it is encoded (msgpack).

* ``tw:{shard}:cmd``: one entry per command, field ``m`` = :class:`CommandEnvelope`.
  The entry id is the command's ``cmd_id``.
* ``tw:{shard}:events``: one entry per matcher batch, field ``b`` = :class:`EventBatch`
  (each command's state events with its ``cmd_id``, in ``seq`` order, no gaps), field ``seq`` =
  the last seq in the entry, ``cmd`` = the last command id the batch applied and ``w`` = the
  writer lease epoch of the matcher that wrote it (:data:`SEQ_FIELD`, :data:`CMD_FIELD`,
  :data:`WRITER_FIELD`; epochs never go down along the stream: one writer at a time).
* ``tw:{shard}:reply:<edge>``: a pub/sub channel, one message per batch and edge, a
  :class:`ReplyBatch` (:mod:`model.replies`).
* ``tw:{shard}:snapshot``: a string, :class:`SnapshotRecord` (the engine's bytes, its ``seq`` and
  the last command id it covers).

Batching entries keeps the matcher to a handful of Redis writes per batch instead of two per
command; readers simply iterate.
"""

from __future__ import annotations

import msgspec

from model.commands import Command
from model.events import Event, StateEvent

__all__ = [
    "BATCH_FIELD",
    "CMD_FIELD",
    "COMMAND_FIELD",
    "SEQ_FIELD",
    "WRITER_FIELD",
    "CommandEnvelope",
    "CommandEvents",
    "EventBatch",
    "Reply",
    "ReplyBatch",
    "SnapshotRecord",
    "decode_command",
    "decode_event_batch",
    "decode_reply_batch",
    "decode_snapshot",
    "encode",
]

COMMAND_FIELD = b"m"
BATCH_FIELD = b"b"
SEQ_FIELD = b"seq"
CMD_FIELD = b"cmd"
WRITER_FIELD = b"w"


class CommandEnvelope(msgspec.Struct, frozen=True, array_like=True, gc=False):
    """A command with where its answer goes: ``reply_to`` is the edge's id ("" for none)."""

    request_id: str
    reply_to: str
    command: Command


class CommandEvents(msgspec.Struct, frozen=True, array_like=True, gc=False):
    """The state events one command caused."""

    cmd_id: str
    events: list[StateEvent]


class EventBatch(msgspec.Struct, frozen=True, array_like=True, gc=False):
    commands: list[CommandEvents]


class Reply(msgspec.Struct, frozen=True, array_like=True, gc=False):
    """Every event of one command (state events, results, or one ``Rejected``)."""

    request_id: str
    cmd_id: str
    events: list[Event]


class ReplyBatch(msgspec.Struct, frozen=True, array_like=True, gc=False):
    replies: list[Reply]


class SnapshotRecord(msgspec.Struct, frozen=True, array_like=True):
    """What ``tw:{shard}:snapshot`` holds: ``engine`` (``Engine.snapshot()`` bytes) as of
    command ``cmd_id``, at ``seq``."""

    cmd_id: str
    seq: int
    engine: bytes


_encoder = msgspec.msgpack.Encoder()
encode = _encoder.encode
decode_command = msgspec.msgpack.Decoder(CommandEnvelope).decode
decode_event_batch = msgspec.msgpack.Decoder(EventBatch).decode
decode_reply_batch = msgspec.msgpack.Decoder(ReplyBatch).decode
decode_snapshot = msgspec.msgpack.Decoder(SnapshotRecord).decode
