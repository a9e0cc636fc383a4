"""validate and generate --all-tenants on many synthetic tenants, as a user runs them.

The default run uses 500 tenants; TIERCONF_SOAK=1 runs the 10,000-tenant scale of the
performance goals (benchmarks/bench_tenants.py measures the time and memory).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from support import copy_bundled_tree, run_cli

pytestmark = pytest.mark.e2e

COUNTS = [
    500,
    pytest.param(
        10_000, marks=pytest.mark.skipif(not os.environ.get("TIERCONF_SOAK"), reason="set TIERCONF_SOAK=1")
    ),
]
PLANS = ("free", "pro", "enterprise")


def write_tenants(tree: Path, count: int) -> list[str]:
    """Write ``count`` tenant files on the fly (plans and quotas vary per tenant)."""
    names = []
    for i in range(count):
        name = f"tenant-{i:05d}"
        (tree / "tenants" / f"{name}.yaml").write_text(
            f"plan: {PLANS[i % 3]}\n"
            "application:\n"
            "  uploads:\n"
            f"    max_file_size_mb: {10 + i % 50}\n"
            "  business:\n"
            f"    max_playlists_per_user: {100 + i}\n"
            "security:\n"
            "  rate_limit:\n"
            f"    requests: {100 + i}\n"
            "ml:\n"
            "  recommendation:\n"
            f"    max_results: {20 + i % 100}\n"
        )
        names.append(name)
    return names


class TestAllTenants:
    """Thousands of tenants validate and render, one directory per tenant."""

    @pytest.mark.parametrize("count", COUNTS)
    def test_validate_and_generate(self, tmp_path: Path, count: int) -> None:
        """Both commands succeed; every tenant gets its suffixed, labelled objects."""
        tree = copy_bundled_tree(tmp_path / "tree")
        names = write_tenants(tree, count)
        timeout = 60 + count * 0.05
        validated = run_cli(
            "validate", "-c", str(tree), "-e", "prod", "--all-tenants", cwd=tmp_path, timeout=timeout
        )
        assert validated.returncode == 0, validated.stderr[-2000:]
        generated = run_cli(
            "generate",
            "-c",
            str(tree),
            "-e",
            "prod",
            "--all-tenants",
            "--secrets",
            "external",
            "-o",
            str(tmp_path / "out"),
            cwd=tmp_path,
            timeout=timeout,
        )
        assert generated.returncode == 0, generated.stderr[-2000:]
        tenants = tmp_path / "out" / "tenants"
        assert len(list(tenants.iterdir())) == count + 3
        sample = (tenants / names[-1] / "configmaps.yaml").read_text()
        assert f"name: spotify-ai-agent-config-{names[-1]}" in sample
        assert f"tierconf.io/tenant: {names[-1]}" in sample
        assert f"RATE_LIMIT_REQUESTS: '{100 + count - 1}'" in sample
