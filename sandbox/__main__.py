"""`python -m sandbox`: the sandbox in the foreground until Ctrl-C or SIGTERM."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
from types import FrameType

from .server import SandboxServer


def _interrupt(signum: int, frame: FrameType | None) -> None:
    # uvicorn takes SIGTERM while it serves, stops, then raises it again: this ends serve_forever as Ctrl-C does.
    raise KeyboardInterrupt


def _rate(text: str) -> tuple[float, int] | None:
    if text.lower() in ("off", "none", "0"):
        return None
    rate, _, burst = text.partition(",")
    return float(rate), int(burst or 60)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sandbox",
                                     description="Local stand-ins for Brickset, Rebrickable, eBay and BrickLink.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--seed", type=int, default=42, help="sample data seed")
    parser.add_argument("--brickset-daily-limit", type=int, default=100, help="getSets calls per key per day")
    parser.add_argument("--ebay-daily-limit", type=int, default=5000, help="Browse calls per app per day")
    parser.add_argument("--rebrickable-rate", type=_rate, default=(1.0, 60),
                        help="requests per second and burst per key, e.g. 1,60; 'off' for no throttling")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    logging.getLogger("uvicorn.error").setLevel(logging.WARNING)  # its start and stop lines say what ours say
    server = SandboxServer(args.host, args.port, args.seed, brickset_daily_limit=args.brickset_daily_limit,
                           ebay_daily_limit=args.ebay_daily_limit, rebrickable_rate=args.rebrickable_rate)
    print(f"sandbox at {server.url} (seed {args.seed}); point the base-URL settings at:", flush=True)
    for name, url in server.base_urls().items():
        print(f"  {name:<12}{url}", flush=True)
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        print("sandbox stopped", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
