"""The runtime (issue 6): hot-reload latency and the cost of reading a live snapshot.

Rows:

* **swap -> new snapshot visible (p50, p99)**: a kubelet-style ``..data`` rename of the
  whole development tier (214 KEYs, on tmpfs as kubelet's Secret volumes are), timed from
  the rename to the moment a reader polling ``live.snapshot()`` sees the new version.
  Floor: watchfiles' own inotify delivery of the same rename (``RustNotify.watch`` with
  its minimum 1 ms quiet step), measured in the same run, interleaved with ours.
* **read snap.database.postgres.pool_size**: our ``TierConfig`` snapshot taken from a
  ``LiveConfig`` vs Dynaconf and OmegaConf holding the same configuration; floor: a chain
  of frozen slots dataclasses. ``timeit``, loop overhead subtracted.
* **live.snapshot()**: the whole lock-free read path (a method call and one attribute
  read of an immutable state); floor: reading an attribute.

Run alone: ``python -m benchmarks.bench_runtime [--quick]``.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks._timing import interleaved_timeit, summarise
from tierconf.pipeline import ConfigRequest, resolve_config
from tierconf.render import render
from tierconf.runtime import LiveConfig, RuntimeOptions
from tierconf.secrets import SecretOptions, resolve_secrets
from tierconf.tiers import EnvironmentTier
from tierconf.tree import load_tree

DATA = "..data"
#: (swaps per variant, timeit rounds, timeit number) for ``run(quick=True)`` and a full run;
#: the smoke test monkeypatches QUICK to tiny sizes, as for the other benchmarks.
QUICK = (30, 5, 20_000)
FULL = (300, 21, 20_000)


# -- a kubelet swap we can time to the rename ---------------------------------------------


def _stage(volume: Path, files: Mapping[str, bytes], serial: int) -> Path:
    """Write the next timestamped directory (not yet visible): kubelet's first step."""
    staged = volume / f"..2030_01_01_00_00_00.{serial:09d}"
    staged.mkdir()
    for key, content in files.items():
        (staged / key).write_bytes(content)
    return staged


def _swap(volume: Path, staged: Path) -> tuple[float, str | None]:
    """Point ..data at ``staged`` with one rename; returns (time of the rename, old target)."""
    link = volume / DATA
    old = os.readlink(link) if link.is_symlink() else None
    tmp = volume / "..data_tmp"
    os.symlink(staged.name, tmp)
    moment = time.perf_counter()
    os.replace(tmp, link)
    return moment, old


def _first_volume(volume: Path, files: Mapping[str, bytes]) -> None:
    volume.mkdir(parents=True)
    staged = _stage(volume, files, 0)
    _swap(volume, staged)
    for key in files:
        os.symlink(f"{DATA}/{key}", volume / key)


def _dev_files(state_dir: Path) -> dict[str, bytes]:
    resolved = resolve_config(load_tree(), ConfigRequest(EnvironmentTier.DEVELOPMENT))
    secrets = resolve_secrets(resolved, SecretOptions(state_dir=state_dir, environ={}))
    return {k: v.encode() for k, v in render(resolved, secrets).flat(masked=False).items()}


@dataclass
class _Swapper:
    """Alternates the volume between versions (RATE_LIMIT_REQUESTS = 1000 + n)."""

    volume: Path
    files: dict[str, bytes]
    serial: int = 0

    def next_version(self) -> tuple[float, int]:
        self.serial += 1
        value = 1000 + self.serial
        staged = _stage(self.volume, {**self.files, "RATE_LIMIT_REQUESTS": str(value).encode()}, self.serial)
        moment, old = _swap(self.volume, staged)
        if old is not None:  # kubelet removes the old directory right after the swap
            shutil.rmtree(self.volume / old, ignore_errors=True)
        return moment, value


def _measure_ours(swapper: _Swapper, live: LiveConfig, timeout: float = 5.0) -> float:
    moment, value = swapper.next_version()
    deadline = moment + timeout
    while live.snapshot().security.rate_limit.requests != value:
        if time.perf_counter() > deadline:
            raise TimeoutError("the swap was not applied")
        time.sleep(0.00005)  # a reader polling; the sleep lets the watcher have the GIL
    return time.perf_counter() - moment


class _Floor:
    """watchfiles' RustNotify alone on the volume: when does it report the rename?"""

    def __init__(self, volume: Path) -> None:
        from watchfiles._rust_notify import RustNotify

        self._notify = RustNotify([str(volume)], False, False, 300, False, True)
        self._stop = threading.Event()
        self._seen = threading.Event()
        self._at = 0.0
        self._armed = False
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            result = self._notify.watch(1, 1, 200, self._stop)
            if isinstance(result, set) and self._armed and any(p.endswith(DATA) for _, p in result):
                self._at = time.perf_counter()
                self._armed = False
                self._seen.set()

    def measure(self, swapper: _Swapper) -> float:
        time.sleep(0.01)  # let the previous swap's events drain
        self._seen.clear()
        self._armed = True
        moment, _ = swapper.next_version()
        if not self._seen.wait(5):
            raise TimeoutError("no inotify event")
        return self._at - moment

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self._notify.close()


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _reload_rows(swaps: int) -> list[dict[str, Any]]:
    shm = Path("/dev/shm")
    base = Path(tempfile.mkdtemp(prefix="tierconf-bench-runtime-", dir=shm if shm.is_dir() else None))
    variants = {"rules": True, "schema only": False}
    samples: dict[str, list[float]] = {name: [] for name in (*variants, "floor")}
    lives: dict[str, LiveConfig] = {}
    swappers: dict[str, _Swapper] = {}
    floor: _Floor | None = None
    try:
        files = _dev_files(base / "state")
        for index, (name, rules) in enumerate(variants.items()):
            volume = base / f"ours{index}"
            _first_volume(volume, files)
            options = RuntimeOptions(poll_interval=3600, metrics=False, rules=rules)
            lives[name] = LiveConfig.from_directory(volume, environment="development", options=options)
            swappers[name] = _Swapper(volume, files)
        _first_volume(base / "floor", files)
        floor, floor_swapper = _Floor(base / "floor"), _Swapper(base / "floor", files)
        warmup = min(3, swaps)
        for round_index in range(swaps + warmup):
            for name, live in lives.items():
                time.sleep(0.01)
                value = _measure_ours(swappers[name], live)
                if round_index >= warmup:
                    samples[name].append(value)
            value = floor.measure(floor_swapper)
            if round_index >= warmup:
                samples["floor"].append(value)
    finally:
        for live in lives.values():
            live.close()
        if floor is not None:
            floor.close()
        shutil.rmtree(base, ignore_errors=True)
    rows: list[dict[str, Any]] = []
    goals = {0.5: 5.0, 0.99: 20.0}
    floors = samples["floor"]
    for name in variants:
        ours = samples[name]
        for q, label in ((0.5, "p50"), (0.99, "p99")):
            ours_ms, floor_ms = _percentile(ours, q) * 1e3, _percentile(floors, q) * 1e3
            rows.append(
                {
                    "name": f"hot reload ({name}): kubelet swap -> snapshot visible ({label})",
                    "ours_median": ours_ms,
                    "floor_median": floor_ms,
                    "unit": "ms",
                    "notes": (
                        f"{swaps} swaps of the 214-KEY development tier on tmpfs, interleaved; ours = "
                        "inotify (step 2 ms), read, hash, parse, schema"
                        f"{' + rules' if name == 'rules' else ''}, swap; floor = watchfiles inotify "
                        "delivery of the same rename (step and debounce 1 ms)"
                    ),
                    "samples": {"ours": [v * 1e3 for v in ours], "floor": [v * 1e3 for v in floors]},
                    "goals": [
                        {
                            "goal": f"swap -> visible {label} <= {goals[q]:.0f} ms",
                            "measured": f"{ours_ms:.2f} ms (floor {floor_ms:.2f} ms)",
                            "met": ours_ms <= goals[q],
                        }
                    ],
                }
            )
    return rows


# -- reading settings ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Postgres:
    pool_size: int


@dataclass(frozen=True, slots=True)
class _Database:
    postgres: _Postgres


@dataclass(frozen=True, slots=True)
class _Root:
    database: _Database


@dataclass(frozen=True, slots=True)
class _Holder:
    state: object


def _ensure(package: str, module: str) -> bool:
    """Import-able, or installed now with pip; False if that fails (the peer is skipped)."""
    if importlib.util.find_spec(module) is not None:
        return True
    result = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", package],
        capture_output=True,
        check=False,
    )
    importlib.invalidate_caches()
    return result.returncode == 0 and importlib.util.find_spec(module) is not None


def _peer_snapshots(notes: list[str]) -> dict[str, Any]:
    from benchmarks import _peers

    snaps: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="tierconf-bench-runtime-peers-") as tmp:
        ws = _peers.prepare(Path(tmp))
        files = (ws.base, ws.tier, ws.tenant)
        if _ensure("dynaconf", "dynaconf"):
            snaps["dynaconf"] = _peers.dynaconf_loader(files, _peers.dynaconf_validators(()))()
        else:
            notes.append("dynaconf skipped (not installable)")
        if _ensure("omegaconf", "omegaconf"):
            snaps["omegaconf"] = _peers.omegaconf_config(files, _peers.omegaconf_schema())
        else:
            notes.append("omegaconf skipped (not installable)")
    return snaps


def _access_rows(rounds: int, number: int) -> list[dict[str, Any]]:
    from tierconf.runtime import InMemoryWatcher

    with tempfile.TemporaryDirectory(prefix="tierconf-bench-runtime-") as tmp:
        files = _dev_files(Path(tmp))
    options = RuntimeOptions(poll_interval=3600, metrics=False)
    with LiveConfig(InMemoryWatcher(files), environment="development", options=options) as live:
        snap = live.snapshot()
        notes: list[str] = ["ns per read, loop overhead subtracted"]
        snaps: dict[str, Any] = {
            "ours": snap,
            "floor": _Root(_Database(_Postgres(snap.database.postgres.pool_size))),
        }
        snaps.update(_peer_snapshots(notes))
        chain = interleaved_timeit(
            {name: ("s.database.postgres.pool_size", {"s": value}) for name, value in snaps.items()},
            rounds=rounds,
            number=number,
        )
        holder = _Holder(live.state())
        call = interleaved_timeit(
            {"ours": ("live.snapshot()", {"live": live}), "floor": ("h.state", {"h": holder})},
            rounds=rounds,
            number=number,
        )
    chain_row: dict[str, Any] = {
        "name": "runtime: read snap.database.postgres.pool_size",
        **summarise(chain, "ours", "floor", "ns"),
        "notes": "; ".join(notes),
    }
    ratio = (
        chain_row["ours_median"] / chain_row["floor_median"] if chain_row["floor_median"] else float("inf")
    )
    chain_row["goals"] = [
        {
            "goal": "snapshot read <= 2x a frozen dataclass attribute chain",
            "measured": (
                f"{ratio:.2f}x ({chain_row['ours_median']:.1f} ns vs {chain_row['floor_median']:.1f} ns)"
            ),
            "met": ratio <= 2.0,
        }
    ]
    call_row: dict[str, Any] = {
        "name": "runtime: live.snapshot() (lock-free read path)",
        **summarise(call, "ours", "floor", "ns"),
        "notes": "a method call + one attribute read of the immutable state; floor: one attribute read",
    }
    return [chain_row, call_row]


def run(quick: bool) -> list[dict[str, Any]]:
    """Rows: reload latency p50/p99 with the inotify floor, snapshot reads vs peers."""
    swaps, rounds, number = QUICK if quick else FULL
    return [*_reload_rows(swaps), *_access_rows(rounds, number)]


def _print(rows: list[dict[str, Any]]) -> None:
    for row in rows:
        peers = row.get("peers") or {}
        extra = "".join(f"  {name} {value:.2f}" for name, value in peers.items())
        ours, floor, unit = row["ours_median"], row["floor_median"], row["unit"]
        print(f"{row['name']}: ours {ours:.2f} {unit}, floor {floor:.2f}{extra}")
        for goal in row.get("goals", ()):
            print(f"    goal: {goal['goal']}: {goal['measured']} -> {'met' if goal['met'] else 'NOT met'}")


def main(argv: list[str] | None = None) -> int:
    """``python -m benchmarks.bench_runtime [--quick]``."""
    args = sys.argv[1:] if argv is None else argv
    _print(run("--quick" in args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
