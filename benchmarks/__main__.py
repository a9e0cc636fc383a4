"""``python -m benchmarks [--quick] [--only NAME]``: run every benchmark, print one table,
write ``benchmarks/RESULTS.md`` (only the section between the bench markers) and PNG plots.

The peers are installed into the current environment first if any is missing (one
``pip install``). Each ``benchmarks/bench_*.py`` exposes ``run(quick: bool) -> list[dict]``
(row shape in ``benchmarks/__init__.py``); a module that fails is reported, not fatal.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import importlib
import importlib.metadata
import importlib.util
import inspect
import os
import pkgutil
import platform
import re
import subprocess
import sys
import time
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "RESULTS.md"
BEGIN, END = "<!-- bench:begin -->", "<!-- bench:end -->"
PEER_PACKAGES = {
    "dynaconf": "dynaconf",
    "pydantic-settings": "pydantic_settings",
    "omegaconf": "omegaconf",
    "detect-secrets": "detect_secrets",
    "kubernetes-validate": "kubernetes_validate",
    "matplotlib": "matplotlib",
    "etcd3gw": "etcd3gw",
    "httpx": "httpx",
}
VERSIONS = ("tierconf", "pydantic", "pydantic-core", "PyYAML", "click", *PEER_PACKAGES)


def ensure_peers() -> None:
    """``pip install`` the peers (once, together) if any of them is missing."""
    missing = [pkg for pkg, module in PEER_PACKAGES.items() if importlib.util.find_spec(module) is None]
    if not missing:
        return
    print(f"installing peers: {' '.join(missing)}", file=sys.stderr)
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", *PEER_PACKAGES],
        check=True,
    )
    importlib.invalidate_caches()


def discover(only: str | None) -> list[str]:
    """Module names ``benchmarks.bench_*``, optionally only the one named (``load`` or ``bench_load``)."""
    names = sorted(m.name for m in pkgutil.iter_modules([str(HERE)]) if m.name.startswith("bench_"))
    if only:
        wanted = only if only.startswith("bench_") else f"bench_{only}"
        names = [n for n in names if n == wanted]
        if not names:
            raise SystemExit(f"no benchmark named {only!r}")
    return names


def run_all(modules: Sequence[str], quick: bool) -> dict[str, list[dict[str, Any]]]:
    """Run each module; a failing module yields one row carrying the error."""
    results: dict[str, list[dict[str, Any]]] = {}
    for name in modules:
        print(f"== {name}", file=sys.stderr)
        start = time.perf_counter()
        try:
            module = importlib.import_module(f"benchmarks.{name}")
            rows = [normalise(row) for row in module.run(quick)]
        except Exception as exc:  # noqa: BLE001 - one broken module must not lose the others' numbers
            traceback.print_exc()
            rows = [
                normalise({"name": f"{name}: FAILED", "ours_median": None, "unit": "", "notes": repr(exc)})
            ]
        print(f"   {time.perf_counter() - start:.1f} s", file=sys.stderr)
        results[name] = rows
    return results


def normalise(row: dict[str, Any]) -> dict[str, Any]:
    """Accept both row shapes (with or without ``peers``) and fill the optional keys."""
    out = dict(row)
    out.setdefault("peers", {})
    out["peers"] = dict(out["peers"] or {})
    out.setdefault("floor_median", None)
    out.setdefault("notes", "")
    out.setdefault("unit", "")
    return out


def fastest_peer(row: dict[str, Any]) -> tuple[str, float] | None:
    """(name, median) of the fastest peer of a row, if it has peers."""
    peers = {k: v for k, v in row["peers"].items() if isinstance(v, int | float)}
    if not peers:
        return None
    name = min(peers, key=lambda k: peers[k])
    return name, peers[name]


def fmt(value: float | None, unit: str) -> str:
    """A median with its unit, three significant digits."""
    if value is None:
        return "—"
    if value >= 100:
        text = f"{value:,.0f}"
    elif value >= 10:
        text = f"{value:.1f}"
    else:
        text = f"{value:.3g}"
    return f"{text} {unit}".strip()


def ratio_text(row: dict[str, Any]) -> str:
    """``31x faster`` / ``0.5x (slower)`` against the fastest peer."""
    ours = row["ours_median"]
    best = fastest_peer(row)
    if best is None or not ours:
        return "—"
    ratio = best[1] / ours
    if ratio >= 1:
        return f"{ratio:,.1f}x faster than {best[0]}"
    return f"{1 / ratio:,.1f}x slower than {best[0]}"


def floor_text(row: dict[str, Any]) -> str:
    """The floor and our distance to it."""
    floor = row["floor_median"]
    if floor is None:
        return "—"
    ours = row["ours_median"]
    distance = f" (ours {ours / floor:.1f}x)" if ours and floor else ""
    return fmt(floor, row["unit"]) + distance


def spread_text(row: dict[str, Any]) -> str:
    """Our inter-quartile range as +-% of the median."""
    spread = (row.get("spread") or {}).get("ours")
    return f"±{spread * 50:.0f}%" if isinstance(spread, int | float) else ""


def peers_text(row: dict[str, Any], sep: str) -> str:
    """Each peer's median."""
    return sep.join(f"{name} {fmt(value, row['unit'])}" for name, value in row["peers"].items()) or "—"


def print_table(results: dict[str, list[dict[str, Any]]]) -> None:
    """One rich table for every row of every module."""
    from rich.console import Console
    from rich.table import Table

    table = Table(title="tierconf benchmarks (medians)", show_lines=True)
    for column in ("benchmark", "ours", "IQR", "peers (same run)", "vs fastest peer", "floor"):
        table.add_column(column, overflow="fold")
    for rows in results.values():
        for row in rows:
            table.add_row(
                row["name"],
                fmt(row["ours_median"], row["unit"]),
                spread_text(row),
                peers_text(row, "\n"),
                ratio_text(row),
                floor_text(row),
            )
    console = Console(width=max(140, Console().width))
    console.print(table)
    goals = _goals(results)
    if goals:
        goal_table = Table(title="goals (issue 9)")
        for column in ("benchmark", "goal", "measured", "met"):
            goal_table.add_column(column, overflow="fold")
        for name, goal in goals:
            goal_table.add_row(name, goal["goal"], goal["measured"], _met(goal.get("met")))
        console.print(goal_table)


def _goals(results: dict[str, list[dict[str, Any]]]) -> list[tuple[str, dict[str, Any]]]:
    """(row name, goal) for every goal of every row."""
    return [(row["name"], goal) for rows in results.values() for row in rows for goal in row.get("goals", [])]


def _met(met: bool | None) -> str:
    return "—" if met is None else ("yes" if met else "NO")


def machine() -> dict[str, str]:
    """nproc, CPU model, RAM, OS, Python."""
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    ram = "unknown"
    try:
        match = re.search(r"MemTotal:\s+(\d+) kB", Path("/proc/meminfo").read_text(encoding="utf-8"))
        if match:
            ram = f"{int(match.group(1)) / 1024 / 1024:.1f} GiB"
    except OSError:
        pass
    load = ""
    with contextlib.suppress(OSError):
        load = " ".join(Path("/proc/loadavg").read_text(encoding="utf-8").split()[:3])
    return {
        "nproc": str(os.cpu_count()),
        "cpu": cpu,
        "ram": ram,
        "load average at the end (1/5/15 min)": load,
        "os": platform.platform(),
        "python": sys.version.split()[0] + f" ({platform.python_implementation()})",
    }


def versions() -> dict[str, str]:
    """Installed versions of us, our core dependencies and the peers."""
    out: dict[str, str] = {}
    for name in VERSIONS:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def markdown(results: dict[str, list[dict[str, Any]]], command: str, plots: list[Path]) -> str:
    """Our section of RESULTS.md (without the markers)."""
    lines = [
        "## Load, access, start-up and render (generated by `python -m benchmarks`)",
        "",
        f"- date: {dt.datetime.now(dt.UTC).strftime('%Y-%m-%d %H:%M UTC')}",
        f"- command: `{command}`",
    ]
    lines += [f"- {key}: {value}" for key, value in machine().items()]
    lines.append("- versions: " + ", ".join(f"{k} {v}" for k, v in versions().items()))
    lines += [
        "",
        "Medians of interleaved samples (ours and every peer alternate, round after round, on a",
        "2-core machine shared with other jobs); IQR is our inter-quartile range as ± % of our median.",
        "",
        "| benchmark | ours | IQR | peers (same run) | vs fastest peer | floor | notes |",
        "|---|---|---|---|---|---|---|",
    ]
    for rows in results.values():
        for row in rows:
            cells = [
                row["name"],
                fmt(row["ours_median"], row["unit"]),
                spread_text(row),
                peers_text(row, "<br>"),
                ratio_text(row),
                floor_text(row),
                str(row["notes"]).replace("|", "/"),
            ]
            lines.append("| " + " | ".join(cells) + " |")
    goals = _goals(results)
    if goals:
        lines += ["", "### Goals", "", "| benchmark | goal | measured | met |", "|---|---|---|---|"]
        lines += [f"| {name} | {g['goal']} | {g['measured']} | {_met(g.get('met'))} |" for name, g in goals]
    if plots:
        lines += ["", "### Plots", ""]
        lines += [f"![{p.stem}]({p.name})" for p in plots]
    return "\n".join(lines)


def write_results(section: str, path: Path = RESULTS) -> None:
    """Replace our marked section of ``path``, keeping every other section as it is."""
    block = f"{BEGIN}\n{section}\n{END}"
    if path.exists():
        text = path.read_text(encoding="utf-8")
        if BEGIN in text and END in text:
            head, rest = text.split(BEGIN, 1)
            _, tail = rest.split(END, 1)
            text = head + block + tail
        else:
            text = text.rstrip("\n") + "\n\n" + block + "\n"
    else:
        text = "# Benchmark results\n\n" + block + "\n"
    path.write_text(text, encoding="utf-8")


def plot(results: dict[str, list[dict[str, Any]]], directory: Path = HERE) -> list[Path]:
    """Distribution (box) plots per module and scaling curves; returns the PNGs written."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib not installed: no plots", file=sys.stderr)
        return []
    written: list[Path] = []
    for module, rows in results.items():
        with_samples = [row for row in rows if row.get("samples")]
        if with_samples:
            fig, axes = plt.subplots(
                len(with_samples), 1, figsize=(9, 2.2 + 1.6 * len(with_samples)), squeeze=False
            )
            for ax, row in zip(axes[:, 0], with_samples, strict=True):
                labels = list(row["samples"])
                data = [row["samples"][k] for k in labels]
                if "orientation" in inspect.signature(ax.boxplot).parameters:  # matplotlib >= 3.10
                    ax.boxplot(data, orientation="horizontal", showfliers=False)
                else:
                    ax.boxplot(data, vert=False, showfliers=False)
                ax.set_yticks(range(1, len(labels) + 1), labels)
                ax.set_xscale("log")
                ax.set_xlabel(row["unit"])
                ax.set_title(row["name"], fontsize=9)
            fig.tight_layout()
            path = directory / f"{module.removeprefix('bench_')}_distributions.png"
            fig.savefig(path, dpi=90)
            plt.close(fig)
            written.append(path)
        for row in rows:
            scaling = row.get("scaling")
            if not scaling:
                continue
            fig, ax = plt.subplots(figsize=(7, 4.2))
            for label, points in scaling["series"].items():
                if points:
                    xs, ys = zip(*points, strict=True)
                    ax.plot(xs, ys, marker="o", label=label)
            ax.set_xscale("log")
            if scaling.get("log"):
                ax.set_yscale("log")
            ax.set_xlabel(scaling["x_label"])
            ax.set_ylabel(scaling["y_label"])
            ax.set_title(row["name"], fontsize=9)
            ax.legend(fontsize=8)
            ax.grid(True, which="both", alpha=0.3)
            fig.tight_layout()
            path = directory / f"{module.removeprefix('bench_')}_scaling.png"
            fig.savefig(path, dpi=90)
            plt.close(fig)
            written.append(path)
    return written


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m benchmarks``."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="few samples: checks that everything runs")
    parser.add_argument("--only", metavar="NAME", help="run one module (load, access, startup, render, ...)")
    parser.add_argument(
        "--no-write", action="store_true", help="print the table only; leave RESULTS.md and plots"
    )
    args = parser.parse_args(argv)
    ensure_peers()
    if str(HERE.parent) not in sys.path:
        sys.path.insert(0, str(HERE.parent))
    results = run_all(discover(args.only), args.quick)
    print_table(results)
    if not args.no_write:
        plots = plot(results)
        command = "python -m benchmarks" + " ".join(["", *(argv if argv is not None else sys.argv[1:])])
        write_results(markdown(results, command.strip(), plots))
        print(f"wrote {RESULTS.relative_to(HERE.parent)} and {len(plots)} plot(s)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
