"""``validate --all-tenants`` and ``generate --all-tenants`` for 1k, 2k, 5k and 10k tenants.

Each run is the CLI as a user runs it, in a temporary copy of the bundled tree with
synthetic tenant files (plans and quotas vary per tenant), timed with ``/usr/bin/time`` for
wall time and peak resident memory (the largest process of the run: the CLI or one of its
forked workers). ``generate`` writes every tenant (``--secrets external`` so that no secret
source is needed in production). Also measured: ``tierconf.tenancy.validate_tenants``, the
parallel library path of ``validate --all-tenants``. Goals (issue 8): <= 10 s each for
10,000 tenants, peak memory <= 1 GiB. Plot: ``benchmarks/tenants_scaling.png``.

Run alone: ``python -m benchmarks.bench_tenants [--quick]``.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from tierconf.tree import bundled_config_dir

HERE = Path(__file__).resolve().parent
PLOT = HERE / "tenants_scaling.png"
PLANS = ("free", "pro", "enterprise")
GOAL_SECONDS = 10.0
GOAL_MIB = 1024.0
#: Largest tenant count the CLI's own (sequential, per-tenant listing) validate loop is timed at.
CLI_VALIDATE_MAX = 2000


def make_tree(root: Path, count: int) -> Path:
    """A copy of the bundled tree plus ``count`` synthetic tenants."""
    tree = root / f"tree-{count}"
    shutil.copytree(bundled_config_dir(), tree, ignore=shutil.ignore_patterns("__pycache__"))
    for i in range(count):
        (tree / "tenants" / f"tenant-{i:05d}.yaml").write_text(
            f"plan: {PLANS[i % 3]}\n"
            "application:\n  uploads:\n"
            f"    max_file_size_mb: {10 + i % 50}\n"
            "  business:\n"
            f"    max_playlists_per_user: {100 + i}\n"
            "security:\n  rate_limit:\n"
            f"    requests: {100 + i}\n"
            f"    burst: {10 + i % 90}\n"
            "ml:\n  recommendation:\n"
            f"    max_results: {20 + i % 100}\n"
        )
    return tree


def timed(argv: list[str], cwd: Path) -> tuple[float, float, int]:
    """(wall seconds, peak RSS MiB, exit code) of one command under /usr/bin/time."""
    result = subprocess.run(
        ["/usr/bin/time", "-f", "TIME %e %M", *argv], cwd=cwd, capture_output=True, text=True, check=False
    )
    match = re.search(r"TIME ([0-9.]+) ([0-9]+)", result.stderr)
    if match is None:
        raise RuntimeError(f"no timing for {argv}: {result.stderr[-500:]}")
    return float(match.group(1)), int(match.group(2)) / 1024, result.returncode


LIBRARY_VALIDATE = """
import sys
from datetime import date
from tierconf.pipeline import ConfigRequest
from tierconf.tenancy import validate_tenants
from tierconf.tiers import EnvironmentTier
from tierconf.tree import load_tree
from tierconf.validation import ValidationOptions
reports = validate_tenants(load_tree(sys.argv[1]), ConfigRequest(EnvironmentTier.PRODUCTION),
                           options=ValidationOptions(today=date.today()), progress=False)
sys.exit(0 if all(r.valid for r in reports) else 1)
"""


CLI = (sys.executable, "-m", "tierconf")


def measure(count: int, root: Path, runs: int) -> dict[str, list[tuple[float, float, int]]]:
    """Every command on a tree of ``count`` tenants, ``runs`` times each."""
    tree = make_tree(root, count)
    out = root / f"out-{count}"
    commands = {
        "validate --all-tenants": [
            *CLI,
            "validate",
            "-c",
            str(tree),
            "-e",
            "prod",
            "--all-tenants",
            "--format",
            "json",
        ],
        "generate --all-tenants": [
            *CLI,
            "generate",
            "-c",
            str(tree),
            "-e",
            "prod",
            "--all-tenants",
            "--secrets",
            "external",
            "-o",
            str(out),
        ],
        "validate_tenants (library, parallel)": [sys.executable, "-c", LIBRARY_VALIDATE, str(tree)],
    }
    if count > CLI_VALIDATE_MAX:
        # The CLI's validate loop runs the rules tenant by tenant and FLAG-UNKNOWN-TENANT lists
        # tenants/ for each one: O(n^2), minutes at 5,000+. validate_tenants is the fix.
        del commands["validate --all-tenants"]
    found: dict[str, list[tuple[float, float, int]]] = {name: [] for name in commands}
    for _ in range(runs):
        for name, argv in commands.items():
            found[name].append(timed(argv, root))
    shutil.rmtree(tree, ignore_errors=True)
    shutil.rmtree(out, ignore_errors=True)
    return found


def plot(series: dict[str, list[tuple[int, float]]]) -> None:
    """tenants -> seconds, one curve per command, with the 10 s goal."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:  # pragma: no cover - matplotlib is a benchmark-only dependency
        print("matplotlib not installed: no plot", file=sys.stderr)
        return
    fig, ax = plt.subplots(figsize=(7, 4.2))
    for label, points in series.items():
        xs, ys = zip(*sorted(points), strict=True)
        ax.plot(xs, ys, marker="o", label=label)
    ax.axhline(GOAL_SECONDS, color="grey", linestyle="--", linewidth=1, label="goal: 10 s at 10,000")
    ax.set_xlabel("tenants (one tier)")
    ax.set_ylabel("wall time (s)")
    ax.set_title("tierconf --all-tenants scaling (2 cores)")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(PLOT, dpi=120)
    plt.close(fig)


def run(quick: bool) -> list[dict[str, Any]]:
    """Rows: median wall time per command and tenant count; peak memory in the notes."""
    counts = [100, 300] if quick else [1000, 2000, 5000, 10000]
    runs = 1 if quick else 3
    rows: list[dict[str, Any]] = []
    series: dict[str, list[tuple[int, float]]] = {}
    with tempfile.TemporaryDirectory(prefix="tierconf-bench-tenants-") as tmp:
        root = Path(tmp)
        for count in counts:
            for name, results in measure(count, root, runs if count < 10000 else max(1, runs - 1)).items():
                times = sorted(t for t, _, _ in results)
                peak = max(m for _, m, _ in results)
                median_time = times[len(times) // 2]
                codes = {c for _, _, c in results}
                series.setdefault(name, []).append((count, median_time))
                row: dict[str, Any] = {
                    "name": f"{name} ({count:,} tenants)",
                    "ours_median": median_time,
                    "floor_median": None,
                    "unit": "s",
                    "notes": f"peak RSS {peak:.0f} MiB (largest process); {len(results)} run(s); "
                    f"exit {','.join(map(str, sorted(codes)))}; {os.cpu_count()} CPUs",
                }
                if count == 10000:
                    row["goals"] = [
                        {
                            "goal": "<= 10 s",
                            "measured": f"{median_time:.1f} s",
                            "met": median_time <= GOAL_SECONDS,
                        },
                        {"goal": "<= 1 GiB", "measured": f"{peak:.0f} MiB", "met": peak <= GOAL_MIB},
                    ]
                rows.append(row)
    if rows:
        rows[0]["scaling"] = {"x_label": "tenants", "y_label": "seconds", "series": series}
    if not quick:
        plot(series)
    return rows


if __name__ == "__main__":
    for item in run("--quick" in sys.argv):
        print(f"{item['name']:<55} {item['ours_median']:8.2f} {item['unit']}  {item['notes']}")
