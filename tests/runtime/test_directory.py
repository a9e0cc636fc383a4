"""The directory source against real directories: kubelet swaps, hand edits, removal.

The poll interval is set to a minute, so every change below must be noticed by inotify.
"""

from __future__ import annotations

import logging
import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from tierconf.render import write_volume
from tierconf.runtime import (
    DirectoryWatcher,
    LiveConfig,
    RuntimeOptions,
    SourceUnavailableError,
    read_volume,
)
from tierconf.schema import MASK

from .conftest import Files, sample, volume, wait_for, with_values


@pytest.fixture
def watch_options(metrics: CollectorRegistry) -> RuntimeOptions:
    """No safety-net polling during the test: inotify alone must see the change."""
    return RuntimeOptions(poll_interval=60, registry=metrics)


def write_plain(directory: Path, files: Files) -> None:
    """A plain directory of KEY files (what a person or a sidecar might write)."""
    directory.mkdir(parents=True, exist_ok=True)
    for key, content in files.items():
        (directory / key).write_bytes(content)


@pytest.fixture
def kubelet_dir(volume_tmp: Path, dev_files: Files) -> Path:
    """A kubelet-style projected volume holding the development tier."""
    target = volume_tmp / "config"
    write_volume(target, volume(dev_files))
    return target


@pytest.fixture
def live_kubelet(kubelet_dir: Path, watch_options: RuntimeOptions) -> Iterator[LiveConfig]:
    """LiveConfig following ``kubelet_dir``."""
    with LiveConfig.from_directory(kubelet_dir, environment="development", options=watch_options) as live:
        yield live


class TestKubeletVolume:
    """The ..data symlink swap is seen and applied atomically."""

    def test_swap_is_applied(self, kubelet_dir: Path, live_kubelet: LiveConfig, dev_files: Files) -> None:
        """A new ..data with a changed KEY gives a new snapshot, without polling."""
        assert live_kubelet.snapshot().security.rate_limit.requests == 1000
        write_volume(kubelet_dir, volume(with_values(dev_files, RATE_LIMIT_REQUESTS="5")))
        wait_for(lambda: live_kubelet.snapshot().security.rate_limit.requests == 5, what="swap")

    def test_mtime_is_not_what_counts(
        self, kubelet_dir: Path, live_kubelet: LiveConfig, dev_files: Files
    ) -> None:
        """A swap with identical content (new mtimes) is 'unchanged', same snapshot object."""
        snap = live_kubelet.snapshot()
        write_volume(kubelet_dir, volume(dev_files))
        registry = live_kubelet.options.registry
        assert registry is not None
        wait_for(lambda: sample(registry, "tierconf_config_reloads_total", result="unchanged") >= 1)
        assert live_kubelet.snapshot() is snap

    def test_invalid_swap_is_rejected_and_masked(
        self,
        kubelet_dir: Path,
        live_kubelet: LiveConfig,
        dev_files: Files,
        metrics: CollectorRegistry,
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        """A bad value keeps the old snapshot, is counted and logged without secrets."""
        snap = live_kubelet.snapshot()
        secret = "pasted-" + "z" * 90
        bad = with_values(dev_files, RATE_LIMIT_REQUESTS="-3", JWT_SECRET_KEY=secret, DB_PORT=secret)
        with caplog.at_level(logging.INFO, "tierconf.runtime"):
            write_volume(kubelet_dir, volume(bad))
            wait_for(lambda: sample(metrics, "tierconf_config_reloads_total", result="rejected") == 1)
        assert live_kubelet.snapshot() is snap
        assert "RATE_LIMIT_REQUESTS" in caplog.text and MASK in caplog.text
        assert secret not in caplog.text
        write_volume(kubelet_dir, volume(with_values(dev_files, RATE_LIMIT_REQUESTS="5")))
        wait_for(lambda: live_kubelet.snapshot().security.rate_limit.requests == 5, what="recovery")

    def test_secret_file_rotation(
        self, kubelet_dir: Path, live_kubelet: LiveConfig, dev_files: Files
    ) -> None:
        """A new Secret value in the volume is served by live.secret()."""
        write_volume(kubelet_dir, volume(with_values(dev_files, JWT_SECRET_KEY="rot-" + "r" * 90)))
        wait_for(lambda: live_kubelet.secret("JWT_SECRET_KEY").startswith("rot-"), what="rotation")


class TestPlainDirectory:
    """Files edited in place or replaced by rename are followed too."""

    @pytest.fixture
    def plain(
        self, volume_tmp: Path, dev_files: Files, watch_options: RuntimeOptions
    ) -> Iterator[tuple[Path, LiveConfig]]:
        """A plain directory and a LiveConfig on it."""
        directory = volume_tmp / "plain"
        write_plain(directory, dev_files)
        with LiveConfig.from_directory(directory, environment="dev", options=watch_options) as live:
            yield directory, live

    def test_in_place_edit(self, plain: tuple[Path, LiveConfig]) -> None:
        """Rewriting a file in place is applied."""
        directory, live = plain
        (directory / "RATE_LIMIT_REQUESTS").write_text("5\n")
        wait_for(lambda: live.snapshot().security.rate_limit.requests == 5, what="edit")

    def test_rename_replace(self, plain: tuple[Path, LiveConfig]) -> None:
        """Writing a temporary file and renaming it over the KEY (editors, sidecars) is applied."""
        directory, live = plain
        temporary = directory / ".RATE_LIMIT_REQUESTS.swp"
        temporary.write_text("6")
        os.replace(temporary, directory / "RATE_LIMIT_REQUESTS")
        wait_for(lambda: live.snapshot().security.rate_limit.requests == 6, what="rename")

    def test_half_written_file_is_not_rejected(self, plain: tuple[Path, LiveConfig]) -> None:
        """A file caught empty mid-write is re-read before being judged."""
        directory, live = plain
        with open(directory / "RATE_LIMIT_REQUESTS", "w") as handle:
            handle.flush()
            time.sleep(0.02)
            handle.write("7")
        wait_for(lambda: live.snapshot().security.rate_limit.requests == 7, what="edit")
        assert live.health().rejected == 0


class TestDirectoryLifecycle:
    """A volume that disappears and comes back is watched again."""

    def test_removed_then_recreated(
        self, kubelet_dir: Path, live_kubelet: LiveConfig, dev_files: Files, metrics: CollectorRegistry
    ) -> None:
        """Removal keeps the snapshot (unavailable); the recreated volume is applied."""
        snap = live_kubelet.snapshot()
        shutil.rmtree(kubelet_dir)
        wait_for(lambda: sample(metrics, "tierconf_config_reloads_total", result="unavailable") >= 1)
        assert live_kubelet.snapshot() is snap and live_kubelet.health().ready
        write_volume(kubelet_dir, volume(with_values(dev_files, RATE_LIMIT_REQUESTS="11")))
        wait_for(lambda: live_kubelet.snapshot().security.rate_limit.requests == 11, what="recreated volume")
        write_volume(kubelet_dir, volume(with_values(dev_files, RATE_LIMIT_REQUESTS="12")))
        wait_for(lambda: live_kubelet.snapshot().security.rate_limit.requests == 12, what="watch re-armed")

    def test_replaced_by_rename(
        self, volume_tmp: Path, kubelet_dir: Path, live_kubelet: LiveConfig, dev_files: Files
    ) -> None:
        """A new directory renamed into place is noticed and then watched."""
        staged = volume_tmp / "staged"
        write_volume(staged, volume(with_values(dev_files, RATE_LIMIT_REQUESTS="21")))
        kubelet_dir.rename(volume_tmp / "old")
        staged.rename(kubelet_dir)
        wait_for(lambda: live_kubelet.snapshot().security.rate_limit.requests == 21, what="renamed volume")
        write_volume(kubelet_dir, volume(with_values(dev_files, RATE_LIMIT_REQUESTS="22")))
        wait_for(lambda: live_kubelet.snapshot().security.rate_limit.requests == 22, what="watch re-armed")

    def test_missing_directory_at_start(self, tmp_path: Path, watch_options: RuntimeOptions) -> None:
        """A volume that is not there at start raises SourceUnavailableError."""
        with pytest.raises(SourceUnavailableError, match="does not exist"):
            LiveConfig.from_directory(tmp_path / "nowhere", environment="dev", options=watch_options)

    def test_directory_appearing_later(
        self, volume_tmp: Path, dev_files: Files, metrics: CollectorRegistry
    ) -> None:
        """With require_initial=False, a volume mounted after start is loaded."""
        options = RuntimeOptions(poll_interval=60, registry=metrics, require_initial=False)
        target = volume_tmp / "later"
        with LiveConfig.from_directory(target, environment="dev", options=options) as live:
            assert not live.health().ready
            write_volume(target, volume(dev_files))
            wait_for(lambda: live.health().ready, what="late volume")


class TestReadVolume:
    """read_volume reads one version of a projected volume."""

    def test_kubelet_layout_is_atomic(self, kubelet_dir: Path, dev_files: Files) -> None:
        """Files come from the ..data directory; hidden entries are skipped."""
        data = read_volume(kubelet_dir)
        assert data.atomic and data.files == dev_files

    def test_plain_layout_is_not_atomic(self, tmp_path: Path) -> None:
        """A plain directory is read, flagged as not atomic."""
        write_plain(tmp_path / "p", {"DB_PORT": b"5432"})
        data = read_volume(tmp_path / "p")
        assert not data.atomic and data.files == {"DB_PORT": b"5432"}

    def test_watcher_close_releases_a_waiter(self, kubelet_dir: Path) -> None:
        """close() makes a blocked wait() return promptly."""
        watcher = DirectoryWatcher(kubelet_dir)
        started = time.monotonic()
        watcher.close()
        assert watcher.wait(30) is False and time.monotonic() - started < 5
