"""``python -m matcher [--shard NAME]``: run one shard's matcher until SIGTERM."""

from __future__ import annotations

import argparse
import sys

from matcher.service import serve
from model.logs import setup_logging
from model.settings import get_settings


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, read settings, serve."""
    parser = argparse.ArgumentParser(prog="tidewater matcher", description=__doc__)
    parser.add_argument("--shard", default=None, help="shard to serve (default: the first)")
    args = parser.parse_args(argv)
    settings = get_settings()
    if settings.redis_url is None:
        print("matcher: set REDIS_URL (tidewater up sets it for its children)", file=sys.stderr)
        return 2
    shard = args.shard or settings.shard_names()[0]
    setup_logging("matcher", shard=shard)
    if shard not in settings.shard_names():
        print(f"matcher: unknown shard {shard!r}; have {settings.shard_names()}", file=sys.stderr)
        return 2
    config = settings.markets()
    return serve(settings.redis_url, shard, config, settings.matcher, settings.lease)


if __name__ == "__main__":
    sys.exit(main())
