#!/usr/bin/env python3
"""Generate ConfigMaps and Secrets for one tier (the seed's ``generate_configs.py``).

Usage: python scripts/generate_configs.py --environment dev [--output DIR] [--format yaml|json|env|volume]
Same as ``tierconf generate -e TIER -o DIR``.
"""

from __future__ import annotations

import argparse
import sys

from tierconf.cli import cli


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("-e", "--environment", default="development", help="Tier (default: development).")
    parser.add_argument("-o", "--output", default="out", help="Output directory (default: out).")
    parser.add_argument("-c", "--config-dir", help="Config tree (default: the bundled one).")
    parser.add_argument("--tenant", help="Render one tenant.")
    parser.add_argument("--format", choices=["yaml", "json", "env", "volume"], default="yaml")
    args = parser.parse_args(argv)
    command = ["generate", "-e", args.environment, "-o", args.output, "--format", args.format]
    if args.config_dir:
        command += ["-c", args.config_dir]
    if args.tenant:
        command += ["--tenant", args.tenant]
    cli.main(args=command, prog_name="generate_configs.py")


if __name__ == "__main__":
    main(sys.argv[1:])
