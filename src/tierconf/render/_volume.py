"""Writing a directory exactly as kubelet projects ConfigMaps and Secrets into a volume.

Kubelet's AtomicWriter never edits files in place: it writes a new timestamped directory
``..<timestamp>``, points a temporary symlink at it and renames that over ``..data`` (one
atomic rename swaps every key at once), keeps one user-visible symlink per key pointing
into ``..data``, then deletes the old timestamped directory. Readers that follow
``KEY -> ..data/KEY`` therefore see the whole old set or the whole new set. We reproduce
it so our runtime is tested against the real layout (and so `generate --format volume`
output can be mounted or diffed like the real thing).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path

DATA_LINK = "..data"


def _timestamp_dir_name(now: datetime | None = None) -> str:
    moment = now or datetime.now(UTC)
    return moment.strftime("..%Y_%m_%d_%H_%M_%S.") + f"{moment.microsecond:06d}{os.getpid() % 1000:03d}"


def write_volume(directory: Path, files: Mapping[str, tuple[bytes, int]]) -> Path:
    """Atomically replace the projected contents of ``directory`` with ``files``.

    Args:
        directory: The volume root (created if missing).
        files: KEY -> (content, file mode). Secret KEYs should use 0600.

    Returns:
        The new timestamped data directory.
    """
    directory.mkdir(parents=True, exist_ok=True)
    data_link = directory / DATA_LINK
    new_dir = directory / _timestamp_dir_name()
    suffix = 0
    while new_dir.exists():
        suffix += 1
        new_dir = directory / f"{_timestamp_dir_name()}{suffix}"
    new_dir.mkdir(mode=0o755)
    for key, (content, mode) in sorted(files.items()):
        path = new_dir / key
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
        with os.fdopen(fd, "wb") as handle:
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
    tmp_link = directory / "..data_tmp"
    if tmp_link.is_symlink() or tmp_link.exists():
        tmp_link.unlink()
    os.symlink(new_dir.name, tmp_link)
    os.replace(tmp_link, data_link)
    for key in files:
        link = directory / key
        if not link.is_symlink():
            if link.exists():
                link.unlink()
            os.symlink(f"{DATA_LINK}/{key}", link)
    for entry in directory.iterdir():
        name = entry.name
        if name.startswith(".."):
            continue
        if entry.is_symlink() and name not in files:
            entry.unlink()
    # Remove every data dir but the live one: the previous one, and those a killed writer
    # left behind before it could swap (kubelet's writer cleans up the same way).
    for entry in directory.iterdir():
        name = entry.name
        if name.startswith("..") and name not in (DATA_LINK, new_dir.name) and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
    return new_dir
