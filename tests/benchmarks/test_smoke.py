"""Smoke test of the benchmarks: each runs on a tiny input and returns well-formed rows.

No timing is asserted (benchmarks never decide pass/fail); peers that are not installed are
simply left out of the rows. The report helpers of ``python -m benchmarks`` are checked on
made-up rows, including keeping the sections other people wrote in RESULTS.md.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # the benchmarks package lives at the project root
    sys.path.insert(0, str(ROOT))

TINY = {
    "bench_load": (1, 1, 2),
    "bench_access": (2, 1_000),
    "bench_startup": (1, 1),
    "bench_render": (1, 1, 5),
    "bench_etcd": (2, 5, 3),  # a real etcd member, started and stopped by the benchmark
}


def _module(name: str) -> ModuleType:
    return importlib.import_module(f"benchmarks.{name}")


@pytest.fixture
def main_module() -> ModuleType:
    """``benchmarks.__main__`` (the report helpers)."""
    return _module("__main__")


class TestBenchmarksRun:
    """Each benchmark module runs on a tiny input and returns rows of the documented shape."""

    @pytest.mark.parametrize("name", sorted(TINY))
    def test_rows_are_well_formed(self, name: str, monkeypatch: pytest.MonkeyPatch) -> None:
        """``run(quick=True)`` with the smallest sizes returns named rows with a unit and our median."""
        module = _module(name)
        monkeypatch.setattr(module, "QUICK", TINY[name])
        if name == "bench_etcd":  # 3 watchers (and 3 pod processes) instead of 50
            monkeypatch.setattr(module, "WATCHERS", 3)
        if name == "bench_startup":  # one import row is enough to exercise the command timing
            monkeypatch.setattr(module, "IMPORTS", {"ours": "tierconf", **_pipeline_only(module)})
        rows = module.run(True)
        assert rows
        for row in rows:
            assert row["name"] and row["unit"]
            assert row["ours_median"] is None or row["ours_median"] >= 0
            assert all(value >= 0 for value in (row.get("peers") or {}).values())


def _pipeline_only(module: ModuleType) -> dict[str, str]:
    return {k: v for k, v in module.IMPORTS.items() if k.startswith("ours: pipeline")}


ROWS: dict[str, list[dict[str, Any]]] = {
    "bench_x": [
        {
            "name": "with peers",
            "ours_median": 0.5,
            "peers": {"a": 5.0, "b": 10.0},
            "floor_median": 0.25,
            "unit": "ms",
            "notes": "n | pipe",
            "goals": [{"goal": "10x a", "measured": "10x", "met": True}],
        },
        {"name": "no peers key", "ours_median": 3.0, "floor_median": None, "unit": "s", "notes": ""},
    ]
}


class TestReport:
    """The table, the goals and RESULTS.md from any module's rows."""

    def test_both_row_shapes_are_accepted(self, main_module: ModuleType) -> None:
        """Rows without ``peers`` (other engineers' modules) get an empty peers mapping."""
        rows = [main_module.normalise(r) for r in ROWS["bench_x"]]
        assert rows[1]["peers"] == {}
        assert main_module.ratio_text(rows[0]) == "10.0x faster than a"
        assert main_module.ratio_text(rows[1]) == "—"
        assert main_module.floor_text(rows[0]) == "0.25 ms (ours 2.0x)"

    def test_results_keep_other_sections(self, main_module: ModuleType, tmp_path: Path) -> None:
        """Only the marked section is replaced; other sections of RESULTS.md stay as written."""
        results = tmp_path / "RESULTS.md"
        results.write_text(
            "# Benchmark results\n\n## Secret detection\n\nkept\n\n"
            f"{main_module.BEGIN}\nold\n{main_module.END}\n\n## After\n\nalso kept\n",
            encoding="utf-8",
        )
        rows = {k: [main_module.normalise(r) for r in v] for k, v in ROWS.items()}
        main_module.write_results(main_module.markdown(rows, "python -m benchmarks --quick", []), results)
        text = results.read_text(encoding="utf-8")
        assert "## Secret detection\n\nkept" in text and "## After\n\nalso kept" in text
        assert "old" not in text and "| with peers | 0.5 ms |" in text and "n / pipe" in text
        assert text.count(main_module.BEGIN) == 1 and "| with peers | 10x a | 10x | yes |" in text

    def test_results_created_when_missing(self, main_module: ModuleType, tmp_path: Path) -> None:
        """A missing RESULTS.md is created with a title and the marked section."""
        results = tmp_path / "RESULTS.md"
        main_module.write_results("body", results)
        assert results.read_text(encoding="utf-8").startswith("# Benchmark results\n\n" + main_module.BEGIN)
