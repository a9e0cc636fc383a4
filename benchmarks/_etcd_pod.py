"""One "pod" of the etcd fan-out benchmark: a process holding one LiveConfig.from_etcd.

``python benchmarks/_etcd_pod.py URL RULES`` prints ``ready`` once it holds the first
release, then one line ``<release number> <time.monotonic()>`` each time a release is
applied (subscriber called). CLOCK_MONOTONIC is one clock for every process of the
machine, so the parent compares these times with its own publish times.
"""

from __future__ import annotations

import sys
import time

from prometheus_client import CollectorRegistry

from tierconf.runtime import LiveConfig, RuntimeOptions
from tierconf.schema import TierConfig


def main() -> None:
    url, rules = sys.argv[1], sys.argv[2] == "1"
    options = RuntimeOptions(registry=CollectorRegistry(), poll_interval=30, rules=rules)
    out = sys.stdout

    def applied(old: TierConfig, new: TierConfig) -> None:
        out.write(f"{new.security.rate_limit.requests - 1000} {time.monotonic()}\n")
        out.flush()

    with LiveConfig.from_etcd(url, environment="development", options=options) as live:
        live.subscribe(applied, path="security.rate_limit.requests")
        out.write("ready\n")
        out.flush()
        sys.stdin.read()  # the parent closes stdin to stop us


if __name__ == "__main__":
    main()
