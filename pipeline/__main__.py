"""``python -m pipeline`` (``tidewater agents``): run the persist agent of every shard."""

from __future__ import annotations

import asyncio
import logging

from pipeline.persist import main

if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    asyncio.run(main())
