"""Crash-injection driver: a zygote that forks writers for the test to SIGKILL.

Usage: ``python _crash_driver.py FORMAT OUT_DIR WORK_DIR`` (FORMAT: ``yaml`` or ``volume``).

Importing tierconf and resolving takes far longer than one write, so this process does it
once, writes the reference outputs of two states (``WORK_DIR/ref-a``, ``WORK_DIR/ref-b``)
and state A into OUT_DIR, prints one JSON line, then obeys commands on stdin, one per line:

- ``fork``: fork a child that calls ``tierconf.generate`` in a loop, alternating states
  B, A, B, ... into OUT_DIR until it is killed; print the child's pid.
- ``reap PID``: wait for that child (the test has SIGKILLed it); print its wait status.
- ``write a`` / ``write b``: write that state once in this process (recovery after a crash);
  print ``ok``.
- ``quit``.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from tierconf.generate import GenerateOptions, generate
from tierconf.pipeline import ConfigRequest
from tierconf.tiers import EnvironmentTier
from tierconf.tree import load_tree

#: Two states that differ in many KEYs of several ConfigMaps (the tenant overrides plus --set).
STATES = {
    "a": ConfigRequest(EnvironmentTier.DEVELOPMENT),
    "b": ConfigRequest(
        EnvironmentTier.DEVELOPMENT,
        sets=(
            "LOG_LEVEL=WARNING",
            "DB_POOL_SIZE=7",
            "RATE_LIMIT_REQUESTS=777",
            "application.cache.default_ttl=777",
        ),
    ),
}


def main() -> None:
    """Serve the commands described in the module docstring."""
    fmt, out, work = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
    tree = load_tree()
    state_dir = work / "secret-state"

    def write(state: str, target: Path) -> None:
        options = GenerateOptions(fmt=fmt, output=target, state_dir=state_dir)  # type: ignore[arg-type]
        generate(tree, STATES[state], options)

    write("a", work / "ref-a")
    write("b", work / "ref-b")
    write("a", out)
    print(json.dumps({"ref_a": str(work / "ref-a"), "ref_b": str(work / "ref-b")}), flush=True)
    for line in sys.stdin:
        command, _, argument = line.strip().partition(" ")
        if command == "fork":
            pid = os.fork()
            if pid == 0:  # the writer: loop until SIGKILL
                try:
                    while True:
                        write("b", out)
                        write("a", out)
                finally:
                    os._exit(3)
            print(pid, flush=True)
        elif command == "reap":
            _, status = os.waitpid(int(argument), 0)
            print(status, flush=True)
        elif command == "write":
            write(argument, out)
            print("ok", flush=True)
        elif command == "quit":
            return


if __name__ == "__main__":
    main()
