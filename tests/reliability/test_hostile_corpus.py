"""The hostile-input corpus: each input, put into a copy of the bundled tree, has the outcome
written in ``tests/data/hostile/EXPECTED.json`` (exit code and a message fragment with its
``file:line``), checked by running the CLI as a subprocess with a timeout.

The runs start together in a small thread pool (each is a separate interpreter), then one
test per case checks its own result, so a failure names the case.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from support import copy_bundled_tree, run_cli

CORPUS = Path(__file__).parent.parent / "data" / "hostile"
MANIFEST = json.loads((CORPUS / "EXPECTED.json").read_text(encoding="utf-8"))
CASES: list[dict[str, Any]] = MANIFEST["cases"]
DEFAULT_ARGS = ["validate", "-e", "dev"]


@dataclass(frozen=True)
class Outcome:
    """What one CLI run did: exit code (None on timeout) and its output."""

    exit_code: int | None
    stdout: str
    stderr: str


def _generate(case: Mapping[str, Any]) -> str:
    kind = case["generate"]
    if kind == "many_flags":
        return "flags:\n" + "".join(f"  f{i}: {{enabled: true}}\n" for i in range(case["count"]))
    if kind == "deep_flow":
        return "application: " + "[" * case["depth"] + "]" * case["depth"] + "\n"
    if kind == "deep_block":
        return "application:\n" + "".join("  " * (i + 1) + f"k{i}:\n" for i in range(case["depth"]))
    if kind == "huge_scalar":
        *groups, leaf = case["setting"].split(".")
        head = "".join("  " * i + f"{g}:\n" for i, g in enumerate(groups))
        return head + "  " * len(groups) + f"{leaf}: " + "a" * case["size"] + "\n"
    if kind == "oversized":
        return "# " + "x" * case["size"] + "\n"
    raise AssertionError(f"unknown generator {kind!r}")


def _setup(tree: Path, case: Mapping[str, Any]) -> None:
    target = tree / case["place"]
    if target.is_file() and "setup" in case and case["setup"] not in ("chmod_000",):
        target.unlink()
    if "file" in case:
        target.write_bytes((CORPUS / case["file"]).read_bytes())
    elif "text" in case:
        target.write_text(case["text"], encoding="utf-8")
    elif "generate" in case:
        target.write_text(_generate(case), encoding="utf-8")
    elif case["setup"] == "symlink_loop":
        os.symlink("zz_b.yaml", target)
        os.symlink(target.name, target.with_name("zz_b.yaml"))
    elif case["setup"] == "self_symlink":
        os.symlink(target.name, target)
    elif case["setup"] == "parent_symlink":
        os.symlink("..", target)
    elif case["setup"] == "directory":
        target.mkdir()
    elif case["setup"] == "fifo":
        os.mkfifo(target)
    elif case["setup"] == "chmod_000":
        target.chmod(0)
    else:
        raise AssertionError(f"unknown setup {case['setup']!r}")


def _run(case: Mapping[str, Any], root: Path) -> Outcome:
    tree = copy_bundled_tree(root / case["name"] / "tree")
    _setup(tree, case)
    args = case.get("args", DEFAULT_ARGS)
    try:
        result = run_cli(*args, "-c", str(tree), cwd=tree.parent, timeout=case.get("timeout", 90))
    except subprocess.TimeoutExpired as exc:
        return Outcome(None, str(exc.stdout or ""), str(exc.stderr or ""))
    return Outcome(result.returncode, result.stdout, result.stderr)


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Outcome]:
    """Every case's outcome, run three at a time."""
    root = tmp_path_factory.mktemp("hostile")
    for case in CASES:
        if "absent_path" in case and os.path.lexists(case["absent_path"]):
            os.unlink(case["absent_path"])
    with ThreadPoolExecutor(max_workers=3) as pool:
        futures = {case["name"]: pool.submit(_run, case, root) for case in CASES}
        return {name: future.result() for name, future in futures.items()}


def _param(case: dict[str, Any]) -> Any:
    marks = [pytest.mark.xfail(reason=case["xfail"], strict=True)] if "xfail" in case else []
    return pytest.param(case, id=case["name"], marks=marks)


class TestManifest:
    """The manifest itself is usable."""

    def test_every_corpus_file_is_used(self) -> None:
        """No file of the corpus is forgotten by EXPECTED.json."""
        used = {case["file"] for case in CASES if "file" in case}
        on_disk = {p.name for p in CORPUS.iterdir() if p.name != "EXPECTED.json"}
        assert on_disk == used

    def test_names_are_unique(self) -> None:
        """Each case has its own name (it is the test id and the work directory)."""
        names = [case["name"] for case in CASES]
        assert len(names) == len(set(names))


class TestHostileInput:
    """Each hostile input ends with its expected exit code and a located message, never a crash."""

    @pytest.mark.parametrize("case", [_param(case) for case in CASES])
    def test_outcome(self, case: dict[str, Any], outcomes: dict[str, Outcome]) -> None:
        """Exit code, message fragment, no traceback, bounded output, nothing executed."""
        outcome = outcomes[case["name"]]
        assert outcome.exit_code is not None, f"timed out after {case.get('timeout', 90)} s"
        output = outcome.stderr + outcome.stdout
        assert "Traceback" not in output, output[-2000:]
        assert outcome.exit_code == case["exit"], output[-2000:]
        assert case["message"] in output, output[-2000:]
        if "max_output_bytes" in case:
            assert len(output.encode()) <= case["max_output_bytes"], f"{len(output.encode())} bytes of output"
        if "absent_path" in case:
            assert not os.path.lexists(case["absent_path"]), "a YAML tag was executed"
