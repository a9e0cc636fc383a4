"""16 reader threads hammer snapshots while another process swaps the volume 1,000 times.

Every version sets MIN_REPLICAS and MAX_REPLICAS to the same n and DB_HOST to ``db-<i>``
with n = i % 500 + 1: a reader that ever sees them disagree, or sees a version older than
one it saw before, has observed a torn or reordered snapshot.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

from prometheus_client import CollectorRegistry

from tierconf.render import write_volume
from tierconf.runtime import LiveConfig, RuntimeOptions

from .conftest import wait_for

SWAPS = 1000
READERS = 16

WRITER = textwrap.dedent(
    """
    import sys
    import time
    from pathlib import Path
    from tierconf.render import write_volume

    target, swaps = Path(sys.argv[1]), int(sys.argv[2])
    for i in range(1, swaps + 1):
        n = str(i % 500 + 1).encode()
        write_volume(target, {
            "ENVIRONMENT": (b"development", 0o644),
            "MIN_REPLICAS": (n, 0o644),
            "MAX_REPLICAS": (n, 0o644),
            "DB_HOST": (b"db-%d" % i, 0o644),
        })
        time.sleep(0.002)  # paced like a busy control plane, so readers see many versions
    """
)


class TestTornReads:
    """Readers never see a mix of two versions."""

    def test_zero_torn_reads_during_1000_swaps(self, volume_tmp: Path) -> None:
        """Pairs that change together are always read together, in order."""
        volume_dir = volume_tmp / "config"
        files = {
            "ENVIRONMENT": (b"development", 0o644),
            "MIN_REPLICAS": (b"1", 0o644),
            "MAX_REPLICAS": (b"1", 0o644),
            "DB_HOST": (b"db-0", 0o644),
        }
        write_volume(volume_dir, files)
        # Only schema validation: the schema defaults of the KEYs not written do not pass
        # the capacity rules, and rules are not what this test is about.
        options = RuntimeOptions(poll_interval=0.5, rules=False, registry=CollectorRegistry())
        stop = threading.Event()
        torn: list[str] = []
        seen: list[set[int]] = [set() for _ in range(READERS)]
        reads = [0] * READERS

        with LiveConfig.from_directory(volume_dir, environment="development", options=options) as live:

            def reader(index: int) -> None:
                last = -1
                count = 0
                while not stop.is_set():
                    snap = live.snapshot()
                    low = snap.application.scaling.min_replicas
                    high = snap.application.scaling.max_replicas
                    version = int(snap.database.postgres.host[3:])
                    if low != high or low != version % 500 + 1 or version < last:
                        torn.append(f"reader {index}: min={low} max={high} host=db-{version} after {last}")
                    last = version
                    seen[index].add(version)
                    count += 1
                    if not count % 256:
                        time.sleep(0)  # let the GIL go now and then, as real request handlers do
                reads[index] = count

            threads = [threading.Thread(target=reader, args=(i,)) for i in range(READERS)]
            for thread in threads:
                thread.start()
            try:
                writer = subprocess.run(
                    [sys.executable, "-c", WRITER, str(volume_dir), str(SWAPS)],
                    capture_output=True,
                    text=True,
                    timeout=120,
                    check=False,
                )
                assert writer.returncode == 0, writer.stderr
                wait_for(lambda: live.snapshot().database.postgres.host == f"db-{SWAPS}", what="last version")
            finally:
                stop.set()
                for thread in threads:
                    thread.join(timeout=30)

        assert torn == []
        assert all(count > 0 for count in reads)
        assert len(set().union(*seen)) >= 3  # the readers saw versions change under them
