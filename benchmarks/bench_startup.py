"""Start-up costs: ``import tierconf`` (and the pipeline), ``tierconf --help``, ``validate``.

Imports: a fresh interpreter per sample times its own ``import X`` with ``perf_counter``
(so the interpreter's start, which here includes the sandbox's ``.pth`` hooks, is not
counted), ours and the peers interleaved round by round. CLI rows are wall time of the
installed console script, interpreter start included, as a user waits for it (``hyperfine
-N`` when the Debian package is installed, else repeated ``subprocess.run``).
"""

from __future__ import annotations

import os
import random
import shutil
import subprocess
import sys
import tempfile
from typing import Any

from benchmarks._timing import median, scaled, spread, time_commands

PY = sys.executable
#: (rounds, runs per command per round); tests shrink QUICK.
QUICK = (2, 3)
FULL = (6, 5)
IMPORTS = {
    "ours": "tierconf",
    "ours: pipeline (pydantic + schema)": "tierconf.pipeline",
    "pydantic": "pydantic",
    "dynaconf": "dynaconf",
    "pydantic-settings": "pydantic_settings",
    "omegaconf": "omegaconf",
}
_TIMED_IMPORT = "import time; t = time.perf_counter(); import {0}; print(time.perf_counter() - t)"


def _cli() -> list[str]:
    script = shutil.which("tierconf")
    return [script] if script else [PY, "-m", "tierconf"]


def _import_samples(
    modules: dict[str, str], rounds: int, runs: int, env: dict[str, str]
) -> dict[str, list[float]]:
    """Seconds of ``import module`` in a fresh interpreter, interleaved, ``rounds * runs`` each."""
    rng = random.Random(9)
    names = list(modules)
    samples: dict[str, list[float]] = {name: [] for name in names}
    for _ in range(rounds):
        rng.shuffle(names)
        for name in names:
            for _ in range(runs):
                done = subprocess.run(
                    [PY, "-c", _TIMED_IMPORT.format(modules[name])],
                    env=env,
                    capture_output=True,
                    text=True,
                    check=True,
                )
                samples[name].append(float(done.stdout.strip().splitlines()[-1]))
    return samples


def run(quick: bool) -> list[dict[str, Any]]:
    """Rows: import time (ours, pipeline, peers) and CLI wall times."""
    rounds, runs = QUICK if quick else FULL
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "TIERCONF_SECRET_"))}
    modules = {
        name: module
        for name, module in IMPORTS.items()
        if name.startswith("ours") or _importable(module.split(".")[0])
    }
    imports = _import_samples(modules, rounds, runs, env)
    cli = _cli()
    commands = {
        "python -c pass": [PY, "-c", "pass"],
        "tierconf --help": [*cli, "--help"],
        "tierconf validate -e dev": [*cli, "validate", "-e", "dev"],
    }
    with tempfile.TemporaryDirectory(prefix="tierconf-bench-startup-") as cwd:
        walls, tool = time_commands(commands, rounds=rounds, runs=runs, env=env, cwd=cwd)
    interpreter = median(walls["python -c pass"]) * 1e3

    def ms(name: str) -> float:
        return median(imports[name]) * 1e3

    peers = {name: ms(name) for name in imports if not name.startswith("ours") and name != "pydantic"}
    import_row: dict[str, Any] = {
        "name": "import tierconf",
        "ours_median": ms("ours"),
        "peers": peers,
        "floor_median": None,
        "unit": "ms",
        "spread": {name: round(spread(values), 3) for name, values in imports.items()},
        "samples": {name: scaled(values, "ms") for name, values in imports.items()},
        "notes": "timed inside a fresh interpreter (its start excluded); `import tierconf` is lazy "
        "(PEP 562): each public name imports its module on first use",
    }
    pipeline_row: dict[str, Any] = {
        "name": "import tierconf.pipeline (what a command that loads config pays)",
        "ours_median": ms("ours: pipeline (pydantic + schema)"),
        "peers": peers,
        "floor_median": ms("pydantic") if "pydantic" in imports else None,
        "unit": "ms",
        "spread": {"ours": round(spread(imports["ours: pipeline (pydantic + schema)"]), 3)},
        "notes": "floor: `import pydantic` alone (our schema is pydantic models, built at import)",
    }
    help_row: dict[str, Any] = {
        "name": "tierconf --help (wall)",
        "ours_median": median(walls["tierconf --help"]) * 1e3,
        "peers": {},
        "floor_median": interpreter,
        "unit": "ms",
        "spread": {"ours": round(spread(walls["tierconf --help"]), 3)},
        "samples": {name: scaled(values, "ms") for name, values in walls.items()},
        "notes": f"{tool}; the console script; floor: `python -c pass` (this machine's interpreter "
        "start includes a sandbox .pth that imports certifi)",
    }
    validate_row: dict[str, Any] = {
        "name": "tierconf validate -e dev (wall, cold start)",
        "ours_median": median(walls["tierconf validate -e dev"]) * 1e3,
        "peers": {},
        "floor_median": interpreter,
        "unit": "ms",
        "spread": {"ours": round(spread(walls["tierconf validate -e dev"]), 3)},
        "notes": f"{tool}; bundled tree, every rule; floor: `python -c pass`",
    }
    import_row["goals"] = [
        {"goal": "import tierconf <= 60 ms", "measured": f"{ms('ours'):.1f} ms", "met": ms("ours") <= 60},
        {
            "goal": "import tierconf.pipeline <= 60 ms (not required; for information)",
            "measured": f"{pipeline_row['ours_median']:.1f} ms",
            "met": None,
        },
    ]
    help_ms = help_row["ours_median"]
    help_row["goals"] = [
        {"goal": "tierconf --help <= 150 ms wall", "measured": f"{help_ms:.1f} ms", "met": help_ms <= 150}
    ]
    return [import_row, pipeline_row, help_row, validate_row]


def _importable(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None
