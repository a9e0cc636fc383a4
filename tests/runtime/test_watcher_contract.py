"""The Watcher contract, run against the in-memory twin and the directory watcher alike."""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

from tierconf.render import write_volume
from tierconf.runtime import DirectoryWatcher, InMemoryWatcher, SourceUnavailableError, Watcher
from tierconf.testing import InMemoryWatcher as TwinFromTesting


@dataclass
class Harness:
    """A watcher and the ways a test changes or removes what it watches."""

    watcher: Watcher
    publish: Callable[[Mapping[str, bytes]], None]
    remove: Callable[[], None]


@pytest.fixture(params=["memory", "directory"])
def harness(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Harness]:
    """Each Watcher implementation with content {"DB_PORT": "5432"}."""
    initial = {"DB_PORT": b"5432"}
    if request.param == "memory":
        memory = InMemoryWatcher(initial)
        yield Harness(memory, memory.publish, lambda: memory.fail("removed"))
        memory.close()
        return
    target = tmp_path / "volume"

    def publish(files: Mapping[str, bytes]) -> None:
        write_volume(target, {key: (value, 0o644) for key, value in files.items()})

    publish(initial)
    directory = DirectoryWatcher(target)
    yield Harness(directory, publish, lambda: shutil.rmtree(target))
    directory.close()


class TestWatcherContract:
    """What LiveConfig relies on from every source."""

    def test_is_a_watcher(self, harness: Harness) -> None:
        """Both implementations satisfy the runtime-checkable Protocol."""
        assert isinstance(harness.watcher, Watcher)

    def test_read_returns_the_content(self, harness: Harness) -> None:
        """read() gives every KEY with its bytes, as one atomic version."""
        data = harness.watcher.read()
        assert data.files == {"DB_PORT": b"5432"} and data.atomic

    def test_wait_times_out_without_change(self, harness: Harness) -> None:
        """wait() returns False when nothing changes within the timeout."""
        started = time.monotonic()
        assert harness.watcher.wait(0.3) is False
        assert time.monotonic() - started >= 0.25

    def test_wait_reports_a_change(self, harness: Harness) -> None:
        """A change during wait() makes it return True, and read() shows it."""
        timer = threading.Timer(0.1, harness.publish, args=({"DB_PORT": b"6432"},))
        timer.start()
        try:
            assert harness.watcher.wait(10) is True
        finally:
            timer.join()
        deadline = time.monotonic() + 10
        while harness.watcher.read().files != {"DB_PORT": b"6432"}:
            assert time.monotonic() < deadline
            harness.watcher.wait(0.05)

    def test_read_of_a_removed_source_raises(self, harness: Harness) -> None:
        """A source that is gone raises SourceUnavailableError."""
        harness.remove()
        with pytest.raises(SourceUnavailableError):
            harness.watcher.read()

    def test_close_releases_wait(self, harness: Harness) -> None:
        """close() from another thread makes a blocked wait() return False promptly."""
        result: list[bool] = []
        thread = threading.Thread(target=lambda: result.append(harness.watcher.wait(30)))
        thread.start()
        time.sleep(0.1)
        harness.watcher.close()
        thread.join(timeout=5)
        assert result == [False]

    def test_twin_is_exported_from_testing(self) -> None:
        """tierconf.testing re-exports the twin."""
        assert TwinFromTesting is InMemoryWatcher
