"""Timing helpers shared by the benchmark modules.

The machine has two cores shared with other work, so single numbers lie: every measurement
is many samples taken in *interleaved* rounds (ours, then each peer, in a shuffled order,
round after round), summarised by the median and the inter-quartile spread.
"""

from __future__ import annotations

import gc
import json
import os
import random
import shutil
import statistics
import subprocess
import tempfile
import time
import timeit
from collections.abc import Callable, Mapping, Sequence
from typing import Any

UNIT_SCALE = {"s": 1.0, "ms": 1e3, "us": 1e6, "ns": 1e9}


def interleaved(
    contenders: Mapping[str, Callable[[], Any]],
    *,
    rounds: int,
    per_round: int,
    inner: int = 1,
    seed: int = 9,
) -> dict[str, list[float]]:
    """Seconds per call of each contender, sampled in shuffled rounds.

    Args:
        contenders: label -> zero-argument callable (one "operation").
        rounds: how many times the whole set is visited.
        per_round: samples per contender per round.
        inner: calls per sample (for operations too short to time one by one).
    """
    rng = random.Random(seed)
    names = list(contenders)
    samples: dict[str, list[float]] = {name: [] for name in names}
    for func in contenders.values():  # warm-up: imports, caches, first-call costs
        func()
    clock = time.perf_counter
    for _ in range(rounds):
        rng.shuffle(names)
        gc.collect()
        for name in names:
            func = contenders[name]
            out = samples[name]
            for _ in range(per_round):
                start = clock()
                for _ in range(inner):
                    func()
                out.append((clock() - start) / inner)
    return samples


def interleaved_timeit(
    statements: Mapping[str, tuple[str, dict[str, Any]]],
    *,
    rounds: int,
    number: int,
    sample_seconds: float = 0.02,
    seed: int = 9,
) -> dict[str, list[float]]:
    """Seconds per execution of each statement (``timeit``: no call overhead per sample).

    ``statements`` maps a label to (statement, globals). Each sample runs a statement
    ``number`` times at most, fewer for slow ones (about ``sample_seconds`` per sample), and
    the bare loop's own cost (``timeit`` of ``pass``) is subtracted.
    """
    rng = random.Random(seed)
    timers = {name: timeit.Timer(stmt, globals=env) for name, (stmt, env) in statements.items()}
    counts: dict[str, int] = {}
    for name, timer in timers.items():
        once = max(timer.timeit(20) / 20, 1e-9)
        counts[name] = max(10, min(number, int(sample_seconds / once)))
    empty = timeit.Timer("pass")
    names = list(timers)
    samples: dict[str, list[float]] = {name: [] for name in names}
    for _ in range(rounds):
        rng.shuffle(names)
        for name in names:
            n = counts[name]
            loop = empty.timeit(n) / n
            samples[name].append(max(timers[name].timeit(n) / n - loop, 0.0))
    return samples


def time_commands(
    commands: Mapping[str, Sequence[str]],
    *,
    rounds: int,
    runs: int,
    env: Mapping[str, str] | None = None,
    cwd: str | None = None,
    seed: int = 9,
) -> tuple[dict[str, list[float]], str]:
    """Wall seconds of each command, in interleaved rounds; returns (samples, tool used).

    Uses ``hyperfine`` (Debian package ``hyperfine``) when installed, else repeated
    ``subprocess.run``. Each round runs every command ``runs`` times, in a shuffled order.
    """
    rng = random.Random(seed)
    names = list(commands)
    samples: dict[str, list[float]] = {name: [] for name in names}
    full_env = dict(os.environ if env is None else env)
    hyperfine = shutil.which("hyperfine")
    for name in names:  # warm the page cache and any bytecode caches once
        subprocess.run(commands[name], env=full_env, cwd=cwd, capture_output=True, check=False)
    for _ in range(rounds):
        rng.shuffle(names)
        for name in names:
            if hyperfine:
                samples[name].extend(_hyperfine(hyperfine, commands[name], runs, full_env, cwd))
            else:
                for _ in range(runs):
                    start = time.perf_counter()
                    subprocess.run(commands[name], env=full_env, cwd=cwd, capture_output=True, check=False)
                    samples[name].append(time.perf_counter() - start)
    return samples, "hyperfine" if hyperfine else "subprocess"


def _hyperfine(
    binary: str, argv: Sequence[str], runs: int, env: Mapping[str, str], cwd: str | None
) -> list[float]:
    import shlex

    with tempfile.NamedTemporaryFile(suffix=".json") as export:
        subprocess.run(
            [
                binary,
                "-N",
                "--runs",
                str(runs),
                "--ignore-failure",
                "--style",
                "none",
                "--export-json",
                export.name,
                shlex.join(argv),
            ],
            env=dict(env),
            cwd=cwd,
            capture_output=True,
            check=True,
        )
        with open(export.name, encoding="utf-8") as handle:
            result = json.load(handle)
    return [float(t) for t in result["results"][0]["times"]]


def median(values: Sequence[float]) -> float:
    """The median (values must not be empty)."""
    return statistics.median(values)


def spread(values: Sequence[float]) -> float:
    """Inter-quartile range divided by the median (0.1 means the middle half spans 10%)."""
    if len(values) < 4:
        return 0.0
    q1, _, q3 = statistics.quantiles(values, n=4)
    mid = statistics.median(values)
    return (q3 - q1) / mid if mid else 0.0


def scaled(values: Sequence[float], unit: str) -> list[float]:
    """Seconds -> ``unit``."""
    factor = UNIT_SCALE[unit]
    return [v * factor for v in values]


def summarise(
    samples: Mapping[str, Sequence[float]], ours: str | None, floor: str | None, unit: str
) -> dict[str, Any]:
    """Row fields from samples in seconds: ours_median, peers, floor_median, spread, samples."""
    factor = UNIT_SCALE[unit]
    peers = {name: median(values) * factor for name, values in samples.items() if name not in (ours, floor)}
    return {
        "ours_median": median(samples[ours]) * factor if ours is not None else None,
        "peers": peers,
        "floor_median": median(samples[floor]) * factor if floor is not None else None,
        "unit": unit,
        "spread": {name: round(spread(values), 3) for name, values in samples.items() if len(values) >= 4},
        "samples": {name: scaled(values, unit) for name, values in samples.items()},
    }
