"""``python -m examples.service --volume DIR [--redis URL]``: run the reference service.

The environment defaults to the volume's own ENVIRONMENT KEY. SIGHUP re-reads the volume
at once (the watcher does it anyway within milliseconds of a change).
"""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path

from tierconf.errors import TierconfError
from tierconf.runtime import LiveConfig, RuntimeOptions, read_volume


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(prog="python -m examples.service", description=__doc__)
    parser.add_argument(
        "--volume", required=True, type=Path, help="directory written by `tierconf generate --format volume`"
    )
    parser.add_argument("--redis", default=None, help="Redis URL for the rate limiter (redis://HOST:PORT/DB)")
    parser.add_argument("--environment", "-e", default=None, help="tier (default: the volume's ENVIRONMENT)")
    parser.add_argument("--tenant", default=None, help="tenant this replica serves (default: any)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--poll-interval", type=float, default=10.0, help="safety-net re-read, seconds")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Start LiveConfig, then serve until interrupted."""
    import uvicorn
    from examples.service.app import create_app

    args = parse_args(argv)
    try:
        environment = args.environment or read_volume(args.volume).files["ENVIRONMENT"].decode().strip()
        live = LiveConfig.from_directory(
            args.volume,
            environment=environment,
            tenant=args.tenant,
            options=RuntimeOptions(poll_interval=args.poll_interval, configure_logging=True),
        )
    except (TierconfError, KeyError) as exc:
        print(f"error: cannot load the configuration from {args.volume}: {exc}", file=sys.stderr)  # noqa: T201
        return 1
    signal.signal(signal.SIGHUP, lambda signum, frame: live.reload())
    uvicorn.run(create_app(live, args.redis), host=args.host, port=args.port, log_config=None)
    return 0


if __name__ == "__main__":
    sys.exit(main())
