"""tierconf benchmarks against the tools a platform team would pick instead.

Run ``python -m benchmarks [--quick] [--only NAME]``. Each ``benchmarks/bench_*.py`` module
exposes ``run(quick: bool) -> list[dict]``; a row is::

    {"name": str, "ours_median": float | None, "peers": {peer: median}, "floor_median": float | None,
     "unit": "ms" | "us" | "ns" | ..., "notes": str}

``peers`` is optional (rows without peers are ours-only measurements). Optional keys used by
the report: ``spread`` (our inter-quartile range / median), ``samples`` ({label: [values in
unit]}, plotted as distributions), ``scaling`` ({"x_label", "y_label", "series": {label:
[(x, y), ...]}}, plotted as curves) and ``goals`` ([{"goal", "measured", "met"}]).

Benchmarks never run inside the test suite's pass/fail; ``tests/benchmarks`` only checks that
each one runs on a tiny input.
"""
