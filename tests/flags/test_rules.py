"""Flag rules for typed variants, constraints and undeclared flags (rules/_flag_variants.py)."""

from __future__ import annotations

from pathlib import Path

from support import copy_bundled_tree, resolve, write
from tierconf.findings import Finding
from tierconf.pipeline import ResolvedConfig
from tierconf.rules._engine import RuleContext, apply_rules
from tierconf.rules._flag_variants import FLAG_VARIANTS

LAYOUT_VARIANTS = '[{"name": "a", "value": "x", "weight": 30}, {"name": "b", "value": "y", "weight": 30}]'


def findings(resolved: ResolvedConfig) -> list[Finding]:
    return apply_rules(RuleContext(resolved), FLAG_VARIANTS.rules)


def typed_tree(tmp_path: Path, variants: str = "") -> Path:
    tree = copy_bundled_tree(tmp_path / "tree")
    write(
        tree / "base" / "zz-layout.yaml",
        f"""
        flags:
          layout:
            kind: string
            variants: {variants or "[{name: a, value: x, weight: 50}, {name: b, value: z, weight: 50}]"}
            default_variant: b
        """,
    )
    return tree


class TestBundled:
    """The bundled tree passes these rules in every tier."""

    def test_no_findings(self) -> None:
        """No typed flags, all declared in base: nothing to report."""
        for tier in ("local", "development", "staging", "production"):
            assert findings(resolve(tier=tier)) == []


class TestVariantWeights:
    """FLAG-VARIANT-WEIGHTS: weights sum to 100."""

    def test_weights_summing_to_100_pass(self, tmp_path: Path) -> None:
        """50 + 50 is fine."""
        assert findings(resolve(typed_tree(tmp_path), tier="production")) == []

    def test_weights_off_by_some(self, tmp_path: Path) -> None:
        """30 + 30 is an error in production, a warning in development, at the variants line."""
        tree = typed_tree(tmp_path, "[{name: a, value: x, weight: 30}, {name: b, value: z, weight: 30}]")
        (prod,) = findings(resolve(tree, tier="production"))
        (dev,) = findings(resolve(tree, tier="development"))
        assert (prod.code, prod.severity, dev.severity) == ("FLAG-VARIANT-WEIGHTS", "error", "warning")
        assert "sum to 60, not 100" in prod.message
        assert prod.file is not None and prod.file.endswith("base/zz-layout.yaml") and prod.line == 4

    def test_no_weight_at_all(self, tmp_path: Path) -> None:
        """Variants without weights serve the default even when on: said so."""
        tree = typed_tree(tmp_path, "[{name: a, value: x}, {name: b, value: z}]")
        (finding,) = findings(resolve(tree, tier="staging"))
        assert "serves its default variant 'b' even when on" in finding.message


class TestUndeclared:
    """FLAG-UNDECLARED: a tier file that creates a flag base does not declare."""

    def test_typo_in_a_tier_file(self, tmp_path: Path) -> None:
        """A misspelt flag in staging.yaml is reported at its line, with the closest name."""
        tree = copy_bundled_tree(tmp_path / "tree")
        staging = tree / "environments" / "staging.yaml"
        staging.write_text(staging.read_text() + "  ai_recomendation:\n    rollout_percent: 100\n")
        line = staging.read_text().count("\n") - 1
        (finding,) = findings(resolve(tree, tier="staging"))
        assert (finding.code, finding.severity, finding.line) == ("FLAG-UNDECLARED", "error", line)
        assert "closest declared flag: ai_recommendation" in finding.message

    def test_sources_without_base_files(self, tmp_path: Path) -> None:
        """A source with no base layer at all (a runtime volume) declares nothing: no finding."""
        tree = tmp_path / "tree"
        write(tree / "environments" / "development.yaml", "flags:\n  checkout:\n    enabled: true\n")
        assert findings(resolve(tree, tier="development")) == []

    def test_flag_from_set(self) -> None:
        """A flag created by --set alone is reported too."""
        (finding,) = findings(resolve(tier="development", sets=("flags.brand_new.enabled=true",)))
        assert finding.path == "flags.brand_new.enabled" and finding.severity == "warning"


class TestConstraintValues:
    """FLAG-CONSTRAINT-VALUE: plans and tenants that do not exist."""

    def test_unknown_plan_and_tenant(self, tmp_path: Path) -> None:
        """A plan that is not a plan and a tenant without a file are both reported."""
        resolved = resolve(
            tier="production",
            sets=(
                'flags.analytics.constraints=[{"attribute": "plan", "operator": "in",'
                ' "values": ["gold", "pro"]},'
                ' {"attribute": "tenant", "operator": "not_in", "values": ["acme", "acmee"]},'
                ' {"attribute": "country", "operator": "in", "values": ["SE"]}]',
            ),
        )
        messages = sorted(f.message for f in findings(resolved))
        assert len(messages) == 2
        assert "compares plan with 'gold'" in messages[0]
        assert "compares tenant with 'acmee'" in messages[1]

    def test_case_insensitive_plan(self) -> None:
        """PRO matches pro when the constraint ignores case."""
        resolved = resolve(
            sets=(
                'flags.analytics.constraints=[{"attribute": "plan", "operator": "in", "values": ["PRO"],'
                ' "case_insensitive": true}]',
            ),
        )
        assert findings(resolved) == []
