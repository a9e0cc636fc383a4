"""Crash injection: ``generate`` SIGKILLed at random points never leaves a half-written output.

A driver process (``_crash_driver.py``) forks writers that loop ``tierconf.generate`` between
two states; the test kills each writer with SIGKILL after a random delay and then checks the
output directory. For ``--format volume``, ``..data`` must point at a complete data directory
equal to one of the two states (kubelet's atomic swap); for ``-o DIR`` YAML, each file must
parse and be byte-identical to one of the two states' files. Every few kills the driver writes
once more in-process, to prove a directory left by a crash is always writable again.

``TIERCONF_SOAK=1`` runs 2,000 kills per format instead of 200.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import yaml

DRIVER = Path(__file__).with_name("_crash_driver.py")
SOAK = os.environ.get("TIERCONF_SOAK") == "1"
KILLS = 2000 if SOAK else 200
#: Wall-clock cap per format; the loop ends early (and says so) only on a very slow machine.
BUDGET_SECONDS = 1800 if SOAK else 50
MIN_KILLS = KILLS if SOAK else 100


class Driver:
    """The test's side of the driver's line protocol."""

    def __init__(self, fmt: str, out: Path, work: Path) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, str(DRIVER), fmt, str(out), str(work)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        refs = json.loads(self._read())
        self.ref_a, self.ref_b = Path(refs["ref_a"]), Path(refs["ref_b"])

    def _read(self) -> str:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            raise AssertionError(f"driver exited with {self.proc.wait()}")
        return line.strip()

    def ask(self, command: str) -> str:
        """Send one command, return the driver's one-line answer."""
        assert self.proc.stdin is not None
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()
        return self._read()

    def close(self) -> None:
        """Stop the driver and close its pipes."""
        assert self.proc.stdin is not None and self.proc.stdout is not None
        if self.proc.poll() is None:
            self.proc.stdin.write("quit\n")
        self.proc.stdin.close()
        self.proc.wait(timeout=30)
        self.proc.stdout.close()


@pytest.fixture
def start_driver(tmp_path: Path) -> Iterator[Callable[[str], tuple[Driver, Path]]]:
    """``start_driver(fmt)`` -> (driver, the output directory it writes)."""
    started: list[Driver] = []

    def start(fmt: str) -> tuple[Driver, Path]:
        work = tmp_path / f"work-{fmt}"
        work.mkdir()
        driver = Driver(fmt, tmp_path / f"out-{fmt}", work)
        started.append(driver)
        return driver, tmp_path / f"out-{fmt}"

    yield start
    for driver in started:
        driver.close()


def volume_files(directory: Path) -> dict[str, bytes]:
    """What a reader of the volume sees: every KEY, read through its symlink into ``..data``."""
    data = directory / os.readlink(directory / "..data")
    files = {entry.name: entry.read_bytes() for entry in data.iterdir()}
    for key, content in files.items():
        assert (directory / key).read_bytes() == content, f"{key} does not resolve into ..data"
    return files


def manifest_files(directory: Path) -> dict[str, bytes]:
    """The manifest files, each parsed (temporary files of a killed writer start with '.')."""
    files = {p.name: p.read_bytes() for p in directory.iterdir() if not p.name.startswith(".")}
    for content in files.values():
        list(yaml.safe_load_all(content))
    return files


def kill_writers(driver: Driver, observe: Callable[[], str], seed: int) -> set[str]:
    """SIGKILL writers at random moments, ``observe()`` the output after each; return what was seen.

    ``observe`` asserts the output is consistent and names the state it found.
    """
    rng = random.Random(seed)
    deadline = time.monotonic() + BUDGET_SECONDS
    seen: list[str] = []
    while len(seen) < KILLS and time.monotonic() < deadline:
        pid = int(driver.ask("fork"))
        time.sleep(rng.uniform(0.0, 0.06))
        os.kill(pid, signal.SIGKILL)
        status = int(driver.ask(f"reap {pid}"))
        assert os.WIFSIGNALED(status), f"writer {pid} ended by itself (wait status {status})"
        seen.append(observe())
        if len(seen) % 25 == 0:  # a directory left by a crash can always be written again
            assert driver.ask(f"write {rng.choice('ab')}") == "ok"
            observe()
    assert len(seen) >= MIN_KILLS, f"only {len(seen)} kills fit in {BUDGET_SECONDS} s"
    return set(seen)


class TestGenerateSurvivesSigkill:
    """SIGKILL at any point of ``generate`` leaves the old or the new output, never a mix."""

    def test_volume_data_link_always_points_at_a_complete_state(
        self, start_driver: Callable[[str], tuple[Driver, Path]]
    ) -> None:
        """After each kill, ``..data`` holds every KEY of exactly one of the two states."""
        driver, out = start_driver("volume")
        states = {"a": volume_files(driver.ref_a), "b": volume_files(driver.ref_b)}
        assert states["a"] != states["b"]

        def observe() -> str:
            files = volume_files(out)
            found = [name for name, expected in states.items() if files == expected]
            assert found, "the volume is neither the old nor the new state"
            return found[0]

        assert kill_writers(driver, observe, seed=1) == {"a", "b"}

    def test_yaml_files_are_always_whole(self, start_driver: Callable[[str], tuple[Driver, Path]]) -> None:
        """After each kill, each manifest file parses and equals that file of one state."""
        driver, out = start_driver("yaml")
        states = {"a": manifest_files(driver.ref_a), "b": manifest_files(driver.ref_b)}
        assert set(states["a"]) == set(states["b"]) == {"configmaps.yaml", "secrets.yaml"}

        def observe() -> str:
            # -o DIR replaces its files one by one, each atomically: judge each file alone.
            files = manifest_files(out)
            assert set(files) == set(states["a"]), sorted(files)
            verdict = []
            for name, content in sorted(files.items()):
                found = [state for state, expected in states.items() if content == expected[name]]
                assert found, f"{name} is neither the old nor the new content"
                verdict.append(found[0])
            return "+".join(verdict)

        assert len(kill_writers(driver, observe, seed=2)) > 1


class TestLeftoversOfKilledWriters:
    """What a killed writer leaves behind is removed by the next complete write."""

    def test_volume_orphans_are_pruned(self, start_driver: Callable[[str], tuple[Driver, Path]]) -> None:
        """After kills and one complete write, only the live data dir remains."""
        driver, out = start_driver("volume")
        rng = random.Random(3)
        for _ in range(15):
            pid = int(driver.ask("fork"))
            time.sleep(rng.uniform(0.0, 0.06))
            os.kill(pid, signal.SIGKILL)
            driver.ask(f"reap {pid}")
        assert driver.ask("write a") == "ok"
        live = os.readlink(out / "..data")
        stale = [p.name for p in out.iterdir() if p.name.startswith("..") and p.name not in ("..data", live)]
        assert stale == []
