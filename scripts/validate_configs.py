#!/usr/bin/env python3
"""Validate the configuration of every tier (the seed's ``validate_configs.py``).

Usage: python scripts/validate_configs.py [--environment TIER] [--config-dir DIR] [--format text|json]
Same as ``tierconf validate --all`` (or ``-e TIER``); exit 1 when any finding is an error.
"""

from __future__ import annotations

import argparse
import sys

from tierconf.cli import cli


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("-e", "--environment", help="Only this tier (default: every tier and tenant).")
    parser.add_argument("-c", "--config-dir", help="Config tree (default: the bundled one).")
    parser.add_argument("--format", choices=["text", "json"], default="text")
    args = parser.parse_args(argv)
    command = ["validate", "--format", args.format]
    command += ["-e", args.environment] if args.environment else ["--all"]
    if args.config_dir:
        command += ["-c", args.config_dir]
    cli.main(args=command, prog_name="validate_configs.py")


if __name__ == "__main__":
    main(sys.argv[1:])
