"""Coverage-guided fuzzing of the layer loader with atheris (libFuzzer for Python).

Run (see README.md in this folder)::

    pip install atheris
    python tests/reliability/fuzz_loader_atheris.py -atheris_runs=200000 corpus/
    python tests/reliability/fuzz_loader_atheris.py -max_total_time=3600 corpus/

The property is the one the hypothesis tests check: ``read_layer`` (strict YAML parse, then
the schema-directed walk) never raises for anything in the file; every problem it reports is
a ``ConfigError`` that names the file. Any other exception is a crash that libFuzzer saves as
``crash-<hash>`` for replay (``python fuzz_loader_atheris.py crash-<hash>``).

Seeds: the bundled tree's files and ``tests/data/hostile/`` are used when the corpus
directory given on the command line is empty (libFuzzer only reads directories).
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

import atheris

with atheris.instrument_imports():
    from tierconf.errors import ConfigError
    from tierconf.sources._layer import read_layer

KINDS = ("base", "environment", "tenant")
HERE = Path(__file__).resolve().parent
SEEDS = (HERE.parent.parent / "src" / "tierconf" / "bundled", HERE.parent / "data" / "hostile")
WORK = Path(tempfile.mkdtemp(prefix="tierconf-atheris-"))
TARGET = WORK / "layer.yaml"


def test_one_input(data: bytes) -> None:
    """Read ``data`` as a layer file of each kind; fail on anything but located problems."""
    TARGET.write_bytes(data)
    for kind in KINDS:
        read = read_layer(TARGET, "layer.yaml", kind)  # type: ignore[arg-type]
        for problem in read.problems:
            if not isinstance(problem, ConfigError) or problem.location is None:
                raise AssertionError(f"unlocated problem {problem!r}")


def _seed(corpus: Path) -> None:
    if corpus.is_dir() and not any(corpus.iterdir()):
        for folder in SEEDS:
            for path in folder.rglob("*.yaml"):
                shutil.copy(path, corpus / f"{path.parent.name}-{path.name}")


def main() -> None:
    """Seed empty corpus directories, then hand over to libFuzzer."""
    for arg in sys.argv[1:]:
        if not arg.startswith("-"):
            _seed(Path(arg))
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
