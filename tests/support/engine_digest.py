"""A digest of one engine run: every event it emitted and its final ``state_hash()``.

Two builds of the engine (compiled and interpreted) cannot both be imported by one process, so
the test that compares them runs this module in a child process per build::

    python -m tests.support.engine_digest --seed 7 --commands 200000

and compares the JSON lines printed (``build``, ``events``: SHA-256 of every event's msgpack
encoding in order, ``state_hash``, ``seq``, and a few counts that show the run did trade).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys

import msgspec

import matcher
from matcher.engine import Engine
from matcher.invariants import check_engine
from model.config import load_markets
from model.events import Rejected, TradeExecuted
from tests.support.commands_gen import random_commands


def digest(seed: int, commands: int) -> dict[str, object]:
    """Run ``commands`` seeded random commands through a fresh engine; summarise what it did."""
    config = load_markets()
    engine = Engine(config, max_open_orders=200)
    encode = msgspec.msgpack.Encoder().encode
    events_hash = hashlib.sha256()
    trades = rejected = 0
    stream = random_commands(seed=seed, n=commands, users=40, spread=12, max_lots=60)
    for step, command in enumerate(stream, start=1):
        for event in engine.apply(command):
            events_hash.update(encode(event))
            if isinstance(event, TradeExecuted):
                trades += 1
            elif isinstance(event, Rejected):
                rejected += 1
        if step % 50_000 == 0:
            # A snapshot mid-stream restores to the same state in this build too.
            assert Engine.restore(config, engine.snapshot()).state_hash() == engine.state_hash()
    return {
        "build": matcher.BUILD.name,
        "events": events_hash.hexdigest(),
        "state_hash": engine.state_hash(),
        "seq": engine.seq,
        "trades": trades,
        "rejected": rejected,
        "invariants": check_engine(engine),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, required=True)
    parser.add_argument("--commands", type=int, required=True)
    args = parser.parse_args(argv)
    print(json.dumps(digest(args.seed, args.commands)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
