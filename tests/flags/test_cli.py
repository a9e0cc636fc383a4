"""``tierconf flags evaluate`` and ``tierconf flags list`` as a user runs them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from support import copy_bundled_tree, run_cli, write
from tierconf.flags import bucket

pytestmark = pytest.mark.e2e


class TestEvaluate:
    """Evaluation from the command line, plan taken from the tenant file."""

    def test_allowed_tenant_text(self, tmp_path: Path) -> None:
        """The text form states the value, variant and reason."""
        result = run_cli(
            "flags", "evaluate", "ai_recommendation", "-e", "prod", "--tenant", "acme", cwd=tmp_path
        )
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip() == "ai_recommendation: on (variant on, reason allowed)"

    def test_plan_from_tenant_file_json(self, tmp_path: Path) -> None:
        """indie-labs is on the free plan, which sentiment_analysis does not list."""
        result = run_cli(
            "flags",
            "evaluate",
            "sentiment_analysis",
            "-e",
            "production",
            "--tenant",
            "indie-labs",
            "--user",
            "u1",
            "--format",
            "json",
            cwd=tmp_path,
        )
        document = json.loads(result.stdout)
        assert document["plan"] == "free"
        assert (document["value"], document["reason"], document["variant"]) == (False, "plan", "off")
        assert document["bucket"] == bucket("sentiment_analysis", "indie-labs", "u1")

    def test_rollout_bucket_is_shown(self, tmp_path: Path) -> None:
        """A split result shows the bucket it was decided by."""
        result = run_cli(
            "flags",
            "evaluate",
            "playlist_generation",
            "-e",
            "prod",
            "--tenant",
            "acme",
            "--user",
            "u9",
            cwd=tmp_path,
        )
        slot = bucket("playlist_generation", "acme", "u9")
        state = "on" if slot < 5000 else "off"
        detail = f"variant {state}, reason split, bucket {slot} of 10000, rollout below 5000"
        assert result.stdout.strip() == f"playlist_generation: {state} ({detail})"

    def test_attributes_reach_constraints(self, tmp_path: Path) -> None:
        """--attr values feed constraints (numbers and versions given as text)."""
        tree = copy_bundled_tree(tmp_path / "tree")
        write(
            tree / "base" / "zz-extra.yaml",
            """
            flags:
              new_player:
                kind: string
                variants:
                  - {name: v2, value: player-v2, weight: 100}
                  - {name: v1, value: player-v1}
                default_variant: v1
                constraints:
                  - {attribute: app_version, operator: semver_gte, value: 2.3.0}
                  - {attribute: age, operator: gte, value: 18}
            """,
        )
        args = ("flags", "evaluate", "new_player", "-c", str(tree), "-e", "dev", "--format", "json")
        on = json.loads(
            run_cli(*args, "--attr", "app_version=2.10.1", "--attr", "age=30", cwd=tmp_path).stdout
        )
        off = json.loads(
            run_cli(*args, "--attr", "app_version=2.2.9", "--attr", "age=30", cwd=tmp_path).stdout
        )
        assert (on["value"], on["reason"]) == ("player-v2", "constraint")
        assert (off["value"], off["reason"]) == ("player-v1", "constraint")

    @pytest.mark.parametrize(
        ("args", "message"),
        [
            (("flags", "evaluate", "ai_recomendation", "-e", "prod"), "did you mean 'ai_recommendation'"),
            (
                ("flags", "evaluate", "analytics", "-e", "prod", "--attr", "novalue"),
                "--attr expects NAME=VALUE",
            ),
            (("flags", "evaluate", "analytics", "-e", "prod", "--tenant", "nobody"), "unknown tenant"),
        ],
    )
    def test_usage_errors(self, tmp_path: Path, args: tuple[str, ...], message: str) -> None:
        """Unknown flags, tenants and malformed attributes exit 2 with the fix."""
        result = run_cli(*args, cwd=tmp_path)
        assert result.returncode == 2 and message in result.stderr


class TestList:
    """The flag table: state per tier, rollout, owner, expiry."""

    def test_json(self, tmp_path: Path) -> None:
        """Every bundled flag with its state in each tier."""
        result = run_cli("flags", "list", "-e", "prod", "--format", "json", cwd=tmp_path)
        rows = {row["flag"]: row for row in json.loads(result.stdout)["flags"]}
        assert rows["ai_recommendation"]["states"] == {
            "local": "on",
            "development": "on",
            "staging": "on",
            "production": "30%",
        }
        assert rows["ml_training"]["states"]["production"] == "off"
        assert rows["ai_recommendation"]["owner"] == "ml-platform"
        assert rows["ai_recommendation"]["expires"] == "2027-06-30"

    def test_table(self, tmp_path: Path) -> None:
        """The text form is a table with one row per flag."""
        result = run_cli("flags", "list", "-e", "stg", cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        assert "Feature flags (staging)" in result.stdout
        for name in ("ai_recommendation", "real_time", "analytics"):
            assert name in result.stdout
