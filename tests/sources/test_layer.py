"""Reading layer files against the schema: unknown names, types, derived settings, tenants."""

from __future__ import annotations

from pathlib import Path

from support import write
from tierconf.errors import TenantGuardrailError
from tierconf.sources._layer import read_layer


def read(tmp_path: Path, text: str, kind: str = "environment"):  # type: ignore[no-untyped-def]
    path = write(tmp_path / "layer.yaml", text)
    return read_layer(path, "layer.yaml", kind)  # type: ignore[arg-type]


class TestEntries:
    """Valid layers become flat, typed entries with lines."""

    def test_entries_have_paths_values_and_lines(self, tmp_path: Path) -> None:
        """Nested mappings flatten to dotted paths."""
        result = read(
            tmp_path,
            """
            database:
              postgres:
                pool_size: 12
            ml:
              model:
                version: 1.10
            """,
        )
        assert not result.problems
        assert result.layer.entries["database.postgres.pool_size"].value == 12
        assert result.layer.entries["database.postgres.pool_size"].line == 3
        assert result.layer.entries["ml.model.version"].value == "1.10"

    def test_flags_are_read_per_field(self, tmp_path: Path) -> None:
        """A flag's fields are separate entries so tiers can override one field."""
        result = read(
            tmp_path,
            """
            flags:
              ai_recommendation:
                rollout_percent: 30
                allow_tenants: [acme]
            """,
        )
        assert result.layer.entries["flags.ai_recommendation.rollout_percent"].value == 30
        assert result.layer.entries["flags.ai_recommendation.allow_tenants"].value == ("acme",)


class TestProblems:
    """Every problem is collected with its line."""

    def test_unknown_key_did_you_mean(self, tmp_path: Path) -> None:
        """A typo gets a suggestion and the line of the key."""
        result = read(tmp_path, "database:\n  postgres:\n    pool_sise: 3\n")
        (problem,) = result.problems
        assert "did you mean 'pool_size'" in problem.message
        assert problem.location is not None and problem.location.line == 3

    def test_unknown_domain(self, tmp_path: Path) -> None:
        """A misspelled domain is suggested too."""
        (problem,) = read(tmp_path, "databse:\n  x: 1\n").problems
        assert "did you mean 'database'" in problem.message

    def test_flat_key_used_as_a_name(self, tmp_path: Path) -> None:
        """Writing a KEY where a path belongs points to the path."""
        (problem,) = read(tmp_path, "database:\n  DB_POOL_SIZE: 3\n").problems
        assert "database.postgres.pool_size" in problem.message

    def test_wrong_type_names_path_and_expected_type(self, tmp_path: Path) -> None:
        """A string where an integer belongs says so."""
        (problem,) = read(tmp_path, "database:\n  postgres:\n    port: '5432'\n").problems
        assert "database.postgres.port" in problem.message and "integer" in problem.message

    def test_group_given_a_scalar(self, tmp_path: Path) -> None:
        """A group must be a mapping."""
        (problem,) = read(tmp_path, "database:\n  postgres: 3\n").problems
        assert "mapping" in problem.message

    def test_derived_setting(self, tmp_path: Path) -> None:
        """ENVIRONMENT comes from the tier."""
        (problem,) = read(tmp_path, "application:\n  environment: production\n").problems
        assert "derived" in problem.message and problem.location is not None and problem.location.line == 2

    def test_non_mapping_document(self, tmp_path: Path) -> None:
        """A list at the top level is refused."""
        (problem,) = read(tmp_path, "- a\n- b\n").problems
        assert "mapping" in problem.message

    def test_several_problems_are_all_reported(self, tmp_path: Path) -> None:
        """One pass reports everything."""
        result = read(tmp_path, "application:\n  debug: yes\n  log_level: LOUD\n")
        assert len(result.problems) == 2

    def test_alias_bomb_fails_fast(self, tmp_path: Path) -> None:
        """Re-using one huge anchored list many times is refused, not expanded."""
        big = "[" + ", ".join(["t"] * 10_000) + "]"
        flags = "".join(f"  f{i}:\n    allow_tenants: *big\n" for i in range(20))
        result = read(tmp_path, f"anchors: &big {big}\nflags:\n{flags}")
        assert any("expands to more than" in p.message for p in result.problems)


class TestTenantGuardrail:
    """Tenant files may only set tenant-overridable settings."""

    def test_non_overridable_setting(self, tmp_path: Path) -> None:
        """DB_HOST in a tenant file is an error at its line."""
        result = read(tmp_path, "plan: pro\ndatabase:\n  postgres:\n    host: evil\n", kind="tenant")
        (problem,) = result.problems
        assert isinstance(problem, TenantGuardrailError)
        assert problem.location is not None and problem.location.line == 4

    def test_overridable_setting_and_plan(self, tmp_path: Path) -> None:
        """Rate limits and the plan are fine."""
        result = read(
            tmp_path, "plan: enterprise\nsecurity:\n  rate_limit:\n    requests: 5000\n", kind="tenant"
        )
        assert not result.problems and result.layer.plan == "enterprise"

    def test_flags_in_tenant_file(self, tmp_path: Path) -> None:
        """Flags target tenants through allow/deny lists, not tenant files."""
        (problem,) = read(tmp_path, "flags:\n  x:\n    enabled: true\n", kind="tenant").problems
        assert isinstance(problem, TenantGuardrailError)

    def test_bad_plan(self, tmp_path: Path) -> None:
        """Plans are free, pro or enterprise."""
        (problem,) = read(tmp_path, "plan: platinum\n", kind="tenant").problems
        assert "plan" in problem.message

    def test_plan_outside_tenant_files(self, tmp_path: Path) -> None:
        """plan is only meaningful in a tenant file."""
        (problem,) = read(tmp_path, "plan: pro\n").problems
        assert "plan" in problem.message
