"""Typed flags in layer files: nested variants and constraints, errors at file:line, --set."""

from __future__ import annotations

from pathlib import Path

import pytest

from support import copy_bundled_tree, resolve, run_cli, write
from tierconf.errors import TenantGuardrailError, UsageError
from tierconf.pipeline import parse_set
from tierconf.schema import registry
from tierconf.schema._flags import FlagConstraint, FlagVariant
from tierconf.sources._layer import read_layer

TYPED = """
flags:
  home_layout:
    kind: string
    variants:
      - {name: grid, value: grid, weight: 50}
      - name: list
        value: list
        weight: 50
      - {name: classic, value: "1.10"}
    default_variant: classic
    constraints:
      - {attribute: country, operator: in, values: [SE, 10]}
      - attribute: app_version
        operator: semver_gte
        value: 2.3.0
      - {attribute: age, operator: gte, value: 18}
"""


def read(tmp_path: Path, text: str, kind: str = "base"):  # type: ignore[no-untyped-def]
    path = write(tmp_path / "layer.yaml", text)
    return read_layer(path, "layer.yaml", kind)  # type: ignore[arg-type]


class TestNestedFields:
    """variants and constraints are lists of mappings, validated item by item."""

    def test_typed_flag_reads(self, tmp_path: Path) -> None:
        """Items become models; values keep their YAML types, list values stay text."""
        result = read(tmp_path, TYPED)
        assert not result.problems
        entries = result.layer.entries
        variants = entries["flags.home_layout.variants"].value
        assert [v.name for v in variants] == ["grid", "list", "classic"]
        assert all(isinstance(v, FlagVariant) for v in variants)
        assert variants[2].value == "1.10"
        assert entries["flags.home_layout.variants"].line == 5
        constraints = entries["flags.home_layout.constraints"].value
        assert all(isinstance(c, FlagConstraint) for c in constraints)
        assert constraints[0].values == ("SE", "10")
        assert constraints[1].value == "2.3.0"
        assert constraints[2].value == 18

    @pytest.mark.parametrize(
        ("text", "line", "message"),
        [
            (
                "flags:\n  f:\n    variants:\n      - {name: a, value: true}\n"
                "      - {name: b, value: false, weight: 150}\n",
                5,
                "flags.f.variants[1].weight: Input should be less than or equal to 100",
            ),
            (
                "flags:\n  f:\n    constraints:\n      - attribute: v\n"
                "        operator: semver_gt\n        value: 1.2\n",
                6,
                "flags.f.constraints[0].value: operator semver_gt needs a semantic version",
            ),
            (
                "flags:\n  f:\n    constraints:\n      - {attribute: v, operator: like, values: [a]}\n",
                4,
                "flags.f.constraints[0].operator",
            ),
            ("flags:\n  f:\n    variants: grid\n", 3, "flags.f.variants must be a list of mappings"),
            ("flags:\n  f:\n    variants:\n      - grid\n", 4, "flags.f.variants[0] must be a mapping"),
            (
                "flags:\n  f:\n    variants:\n      - {name: a, value: yes}\n",
                4,
                "ambiguous YAML 1.1 boolean",
            ),
            (
                "flags:\n  f:\n    variants:\n      - {name: a, value: true, colour: red}\n",
                4,
                "flags.f.variants[0].colour: Extra inputs are not permitted",
            ),
        ],
    )
    def test_errors_name_item_field_and_line(
        self, tmp_path: Path, text: str, line: int, message: str
    ) -> None:
        """Each problem names flags.<flag>.<field>[i].<name> at the line of the value."""
        (problem,) = read(tmp_path, text).problems
        assert problem.location is not None and problem.location.line == line
        assert message in problem.message

    def test_tiers_override_one_field(self, tmp_path: Path) -> None:
        """A tier replaces the variants of a base flag and keeps its other fields."""
        tree = copy_bundled_tree(tmp_path / "tree")
        base = (tree / "base" / "flags.yaml").read_text() + TYPED.replace("flags:\n", "")
        (tree / "base" / "flags.yaml").write_text(base)
        write(
            tree / "environments" / "staging.yaml",
            (tree / "environments" / "staging.yaml").read_text()
            + "  home_layout:\n    variants:\n      - {name: classic, value: classic, weight: 100}\n",
        )
        staging = resolve(tree, tier="staging").config.flags["home_layout"]
        production = resolve(tree, tier="production").config.flags["home_layout"]
        assert [v.name for v in staging.variants] == ["classic"]
        assert len(production.variants) == 3 and staging.constraints == production.constraints

    def test_inconsistent_merge_is_an_error_at_the_flag(self, tmp_path: Path) -> None:
        """A default_variant that names no variant fails the schema, blamed on the flag."""
        tree = copy_bundled_tree(tmp_path / "tree")
        (tree / "base" / "flags.yaml").write_text(
            (tree / "base" / "flags.yaml").read_text()
            + "  layout:\n    kind: string\n    variants:\n      - {name: a, value: x, weight: 100}\n"
            "    default_variant: b\n"
        )
        result = run_cli("validate", "-c", str(tree), "-e", "dev", cwd=tmp_path)
        assert result.returncode == 1
        assert "default_variant must name one of the variants" in result.stdout + result.stderr
        assert "base/flags.yaml:" in result.stdout + result.stderr


class TestSet:
    """--set takes JSON for the nested flag fields."""

    def test_set_variants_as_json(self) -> None:
        """A JSON list of mappings is validated item by item."""
        path, value = parse_set('flags.f.variants=[{"name": "a", "value": 1, "weight": 100}]', registry())
        assert path == "flags.f.variants" and value == (FlagVariant(name="a", value=1, weight=100),)
        assert parse_set("flags.f.constraints=", registry())[1] == ()

    @pytest.mark.parametrize(
        ("assignment", "message"),
        [
            ("flags.f.variants=[{", "expected a JSON list"),
            ('flags.f.variants={"name": "a"}', "found dict"),
            ('flags.f.constraints=[{"attribute": "a", "operator": "gt"}]', "constraints[0].value"),
        ],
    )
    def test_bad_json_is_a_usage_error(self, assignment: str, message: str) -> None:
        """Malformed or invalid JSON is a usage error naming the item."""
        with pytest.raises(UsageError, match=message.replace("[", r"\[")):
            parse_set(assignment, registry())


class TestTenantGuardrail:
    """Tenant files may set only tenant-overridable settings, and no flags."""

    def test_flags_in_a_tenant_file(self, tmp_path: Path) -> None:
        """Targeting belongs in the flag, not in the tenant file: error at the first flag's line."""
        (problem,) = read(
            tmp_path, "plan: pro\nflags:\n  ai_recommendation:\n    enabled: true\n", "tenant"
        ).problems
        assert isinstance(problem, TenantGuardrailError)
        assert problem.location is not None and problem.location.line == 3

    def test_cli_reports_file_and_line(self, tmp_path: Path) -> None:
        """validate and generate --all-tenants exit 1 with tenants/<id>.yaml:<line>."""
        tree = copy_bundled_tree(tmp_path / "tree")
        write(tree / "tenants" / "rogue.yaml", "plan: pro\ndatabase:\n  postgres:\n    pool_size: 500\n")
        for command in (
            ("validate", "--all-tenants"),
            ("generate", "--all-tenants", "-o", str(tmp_path / "out")),
        ):
            result = run_cli(*command, "-c", str(tree), "-e", "dev", cwd=tmp_path)
            assert result.returncode == 1, result.stderr
            output = result.stdout + result.stderr
            assert "tenants/rogue.yaml:4" in output and "not tenant-overridable" in output
        assert not (tmp_path / "out" / "tenants").exists()
