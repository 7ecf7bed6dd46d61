"""``python -m pipeline`` (``tidewater agents``): run the persist agent of every shard."""

from __future__ import annotations

import asyncio

from model.logs import setup_logging
from pipeline.persist import main

if __name__ == "__main__":
    setup_logging("agents")
    asyncio.run(main())
