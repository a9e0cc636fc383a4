"""Fixtures of the rule tests: a tree copy with a case applied, and validation per tier."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest

from rules.cases import Case
from support import copy_bundled_tree
from tierconf.pipeline import ConfigRequest
from tierconf.secrets import SecretOptions
from tierconf.tiers import EnvironmentTier
from tierconf.tree import LayerReader, load_tree
from tierconf.validation import ValidationOptions, ValidationReport, validate

#: The date rules compare flag expiry with (the engine never reads the clock).
TODAY = date(2026, 3, 1)


@dataclass(frozen=True)
class Applied:
    """A tree copy with a case's layer file written into it."""

    root: Path
    values: Path
    case: Case
    state: Path

    def validate(self, tier: str, tenant: str | None = None) -> ValidationReport:
        """Validate ``tier`` with the case's layer as ``--values`` and its secrets resolved."""
        tree = load_tree(self.root)
        request = ConfigRequest(EnvironmentTier.parse(tier), tenant, values_files=(self.values,))
        options = ValidationOptions(
            today=TODAY,
            resolve_secrets=True,
            secrets=SecretOptions(environ=self.case.environ(), state_dir=self.state),
        )
        return validate(tree, request, reader=LayerReader(tree), options=options)


def apply_case(case: Case, tmp_path: Path) -> Applied:
    """Copy the bundled tree, append the case's tree files and write its layer file."""
    root = copy_bundled_tree(tmp_path / "tree")
    for relative, text in case.tree_files.items():
        target = root / relative
        target.write_text(target.read_text(encoding="utf-8") + text, encoding="utf-8")
    values = root / "overrides" / "trigger.yaml"
    values.parent.mkdir()
    values.write_text(case.layer, encoding="utf-8")
    return Applied(root, values, case, tmp_path / "state")


@pytest.fixture
def applied(tmp_path: Path) -> Callable[[Case], Applied]:
    """``applied(case)``: the case written into a fresh copy of the bundled tree."""
    return lambda case: apply_case(case, tmp_path)
