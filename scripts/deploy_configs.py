#!/usr/bin/env python3
"""Deploy the configuration of a tier (the seed's ``deploy_configs.py``).

Usage: python scripts/deploy_configs.py --namespace spotify-ai-agent-dev [--environment TIER]
       [--target kubernetes|dir:PATH|etcd://HOST:PORT] [--dry-run]
The tier defaults to the one the namespace names (``-dev`` -> development, ``-prod`` ->
production, ...). Same as ``tierconf deploy -e TIER --target kubernetes --namespace NS``.
"""

from __future__ import annotations

import argparse
import sys

from tierconf.cli import cli

_SUFFIX_TIER = {
    "local": "local",
    "dev": "development",
    "development": "development",
    "stg": "staging",
    "staging": "staging",
    "prod": "production",
    "production": "production",
}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("-n", "--namespace", required=True)
    parser.add_argument("-e", "--environment", help="Tier (default: from the namespace suffix).")
    parser.add_argument("--target", default="kubernetes")
    parser.add_argument("-c", "--config-dir")
    parser.add_argument("--dry-run", action="store_true")
    args = parser.parse_args(argv)
    tier = args.environment or _SUFFIX_TIER.get(args.namespace.rsplit("-", 1)[-1])
    if tier is None:
        parser.error(f"cannot tell the tier from namespace {args.namespace!r}; pass --environment")
    command = ["deploy", "-e", tier, "--target", args.target, "--namespace", args.namespace]
    if args.config_dir:
        command += ["-c", args.config_dir]
    if args.dry_run:
        command.append("--dry-run")
    cli.main(args=command, prog_name="deploy_configs.py")


if __name__ == "__main__":
    main(sys.argv[1:])
