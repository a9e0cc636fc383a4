"""The atheris target runs: a short coverage-guided session of the loader finds no crash.

Skipped where atheris is not installed (it is not a dev dependency: it needs a wheel for the
platform). ``TIERCONF_SOAK=1`` runs it for ten minutes instead of a few seconds.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

TARGET = Path(__file__).with_name("fuzz_loader_atheris.py")
SOAK = os.environ.get("TIERCONF_SOAK") == "1"


class TestAtherisTarget:
    """The libFuzzer harness of the loader is runnable and clean."""

    def test_short_session_finds_no_crash(self, tmp_path: Path) -> None:
        """A bounded run seeded from the bundled tree and the hostile corpus exits 0."""
        pytest.importorskip("atheris")
        corpus = tmp_path / "corpus"
        corpus.mkdir()
        budget = ["-max_total_time=600"] if SOAK else ["-atheris_runs=3000"]
        result = subprocess.run(
            [sys.executable, str(TARGET), *budget, "-rss_limit_mb=2048", str(corpus)],
            capture_output=True,
            text=True,
            timeout=900 if SOAK else 120,
            check=False,
            cwd=tmp_path,
        )
        assert result.returncode == 0, result.stderr[-3000:]
        assert not list(tmp_path.glob("crash-*"))
