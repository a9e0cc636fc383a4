"""resolve_config: the whole chain base < tier < tenant < --values < --set, with provenance."""

from __future__ import annotations

from pathlib import Path

import pytest

from support import copy_bundled_tree, resolve, write
from tierconf.errors import InvalidConfigurationError, UsageError
from tierconf.pipeline import ConfigRequest, resolve_config
from tierconf.tiers import EnvironmentTier
from tierconf.tree import load_tree


class TestBundledTree:
    """The bundled Spotify AI Agent tree resolves in every tier and tenant."""

    @pytest.mark.parametrize("tier", ["local", "development", "staging", "production"])
    @pytest.mark.parametrize("tenant", [None, "indie-labs", "acme", "globex-music"])
    def test_resolves(self, tier: str, tenant: str | None) -> None:
        """ENVIRONMENT follows the tier; tenants carry their plan."""
        resolved = resolve(tier=tier, tenant=tenant)
        assert resolved.config.application.environment == tier
        if tenant:
            assert resolved.plan in ("free", "pro", "enterprise")

    def test_tiers_are_tuned(self) -> None:
        """Development debugs with one replica; production does not debug and autoscales."""
        dev = resolve(tier="development").config
        prod = resolve(tier="production").config
        assert dev.application.debug and dev.application.scaling.max_replicas == 1
        assert not prod.application.debug and prod.application.scaling.auto_scaling_enabled
        assert prod.database.postgres.pool_size != dev.database.postgres.pool_size

    def test_flags_exist(self) -> None:
        """The contract's flags are bundled."""
        flags = resolve(tier="production").config.flags
        for name in (
            "ai_recommendation",
            "sentiment_analysis",
            "playlist_generation",
            "real_time",
            "collaboration",
            "ml_training",
            "batch_processing",
            "analytics",
        ):
            assert name in flags

    def test_model_version_stays_text(self) -> None:
        """ML_MODEL_VERSION is a string that keeps its trailing zero."""
        assert resolve().config.ml.model.version == "2.10"


class TestPrecedence:
    """Each layer overrides the one below, and provenance records it."""

    def test_set_beats_tenant_beats_tier_beats_base(self) -> None:
        """The chain of RATE_LIMIT_REQUESTS lists every layer in order."""
        resolved = resolve(tier="production", tenant="acme", sets=("RATE_LIMIT_REQUESTS=7",))
        layered = resolved.values["security.rate_limit.requests"]
        kinds = [origin.kind for origin in layered.chain]
        assert kinds[0] == "base" and kinds[-1] == "set" and "tenant" in kinds
        assert resolved.config.security.rate_limit.requests == 7

    def test_values_files_apply_in_order(self, tmp_path: Path) -> None:
        """--values files sit between the tenant and --set, later files winning."""
        first = write(tmp_path / "a.yaml", "database:\n  postgres:\n    pool_size: 21\n")
        second = write(tmp_path / "b.yaml", "database:\n  postgres:\n    pool_size: 22\n")
        tree = load_tree()
        resolved = resolve_config(
            tree, ConfigRequest(EnvironmentTier.DEVELOPMENT, values_files=(first, second))
        )
        assert resolved.config.database.postgres.pool_size == 22
        assert resolved.values["database.postgres.pool_size"].origin.line == 3

    def test_dotted_path_in_set(self) -> None:
        """--set takes dotted paths too."""
        assert resolve(sets=("database.postgres.pool_size=40",)).config.database.postgres.pool_size == 40

    def test_set_flag_field(self) -> None:
        """A flag field can be set from the command line."""
        resolved = resolve(sets=("flags.ai_recommendation.rollout_percent=5",))
        assert resolved.config.flags["ai_recommendation"].rollout_percent == 5


class TestErrors:
    """Bad input is a located, complete error report."""

    def test_out_of_bounds_value_is_located(self, tmp_path: Path) -> None:
        """A pool size of 0 is refused at its file:line."""
        tree_dir = copy_bundled_tree(tmp_path / "tree")
        write(tree_dir / "environments" / "staging.yaml", "database:\n  postgres:\n    pool_size: 0\n")
        with pytest.raises(InvalidConfigurationError) as info:
            resolve(tree_dir, "staging")
        (problem,) = info.value.problems
        assert problem.location is not None and problem.location.line == 3
        assert "DB_POOL_SIZE" in problem.message

    def test_plaintext_secret_outside_local(self, tmp_path: Path) -> None:
        """A password written in a staging file is an error, and the value is not echoed."""
        tree_dir = copy_bundled_tree(tmp_path / "tree")
        write(
            tree_dir / "environments" / "staging.yaml", "database:\n  postgres:\n    password: s3cr3t-Pa55\n"
        )
        with pytest.raises(InvalidConfigurationError) as info:
            resolve(tree_dir, "staging")
        assert "s3cr3t-Pa55" not in str(info.value)
        assert info.value.problems[0].location is not None

    def test_plaintext_secret_in_local_is_a_warning(self, tmp_path: Path) -> None:
        """The local tier tolerates plaintext with a warning."""
        tree_dir = copy_bundled_tree(tmp_path / "tree")
        write(tree_dir / "environments" / "local.yaml", "database:\n  postgres:\n    password: localpass\n")
        resolved = resolve(tree_dir, "local")
        assert [w.code for w in resolved.warnings] == ["SECRET-PLAINTEXT"]
        assert "localpass" not in resolved.warnings[0].message

    def test_unknown_tenant(self) -> None:
        """An unknown tenant lists the known ones."""
        with pytest.raises(UsageError, match="acme"):
            resolve(tenant="nobody")

    @pytest.mark.parametrize("assignment", ["NOPE=1", "DB_POOL_SIZE", "DB_POOL_SIZE=abc", "ENVIRONMENT=prod"])
    def test_bad_set(self, assignment: str) -> None:
        """Malformed or unknown --set is a usage error."""
        with pytest.raises(UsageError):
            resolve(sets=(assignment,))
