"""The seed document's API and scripts work exactly as the document shows them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tierconf import ConfigMapManager, ConfigMapUtils, ConfigurationValidator, EnvironmentTier

ROOT = Path(__file__).resolve().parents[1]


class TestConfigMapManager:
    """ConfigMapManager as in "Utilisation de Base"."""

    def test_seed_snippet(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        """namespace + tier -> ConfigMaps, all configs, exported multi-document YAML (0600)."""
        monkeypatch.chdir(tmp_path)
        manager = ConfigMapManager(namespace="spotify-ai-agent-dev", environment=EnvironmentTier.DEVELOPMENT)
        app_config = manager.create_application_config()
        assert app_config["metadata"]["name"] == "spotify-ai-agent-config"
        assert app_config["metadata"]["namespace"] == "spotify-ai-agent-dev"
        assert app_config["data"]["ENVIRONMENT"] == "development"
        for create, name in [
            (manager.create_database_config, "spotify-ai-agent-database-config"),
            (manager.create_security_config, "spotify-ai-agent-security-config"),
            (manager.create_ml_config, "spotify-ai-agent-ml-config"),
            (manager.create_monitoring_config, "spotify-ai-agent-monitoring-config"),
        ]:
            assert create()["metadata"]["name"] == name
        configs = manager.generate_all_configs()
        assert {c["kind"] for c in configs} == {"ConfigMap", "Secret"}
        manager.export_to_yaml(configs, "all-configs.yaml")
        docs = list(yaml.safe_load_all(Path("all-configs.yaml").read_text()))
        assert len(docs) == len(configs)
        assert Path("all-configs.yaml").stat().st_mode & 0o777 == 0o600

    def test_default_constructor(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        """ConfigMapManager() defaults to development and the project's namespace pattern."""
        monkeypatch.chdir(tmp_path)
        config = ConfigMapManager().create_application_config()
        assert config["metadata"]["namespace"] == "spotify-ai-agent-dev"

    def test_security_configmap_holds_no_secret(self) -> None:
        """create_security_config never carries JWT_SECRET_KEY."""
        assert (
            "JWT_SECRET_KEY" not in ConfigMapManager(environment="staging").create_security_config()["data"]
        )


class TestConfigurationValidator:
    """ConfigurationValidator as in "Validation Avancée"."""

    def test_valid_manifest(self) -> None:
        """A rendered ConfigMap validates."""
        db_config = ConfigMapManager().create_database_config()
        assert ConfigurationValidator().validate_database_config(db_config) == (True, [])

    def test_invalid_data_dict(self) -> None:
        """Bounds, types, foreign and secret KEYs are reported as strings."""
        is_valid, errors = ConfigurationValidator().validate_database_config(
            {"DB_POOL_SIZE": 0, "DB_PORT": "abc", "LOG_LEVEL": "INFO", "DB_PASSWORD": "x"}
        )
        assert not is_valid
        text = "\n".join(errors)
        assert "DB_POOL_SIZE" in text and "DB_PORT" in text and "LOG_LEVEL" in text and "secret" in text
        assert all(isinstance(e, str) for e in errors)

    @pytest.mark.parametrize("domain", ["application", "database", "security", "ml", "monitoring"])
    def test_every_domain_method(self, domain: str) -> None:
        """Each validate_<domain>_config accepts its rendered ConfigMap."""
        manifest = getattr(ConfigMapManager(), f"create_{domain}_config")()
        assert getattr(ConfigurationValidator(), f"validate_{domain}_config")(manifest)[0]

    def test_environment_mismatch(self) -> None:
        """ENVIRONMENT must match the validated tier."""
        ok, errors = ConfigurationValidator("production").validate_application_config(
            {"ENVIRONMENT": "development"}
        )
        assert not ok and "ENVIRONMENT" in errors[0]


class TestConfigMapUtils:
    """ConfigMapUtils as in "Utilitaires de Configuration"."""

    def test_merge_configs(self) -> None:
        """Later wins, nested mappings merge, inputs unchanged."""
        first = {"a": 1, "data": {"X": "1", "Y": "1"}}
        merged = ConfigMapUtils.merge_configs(first, {"data": {"Y": "2"}})
        assert merged == {"a": 1, "data": {"X": "1", "Y": "2"}} and first["data"]["Y"] == "1"

    def test_filter_by_prefix(self) -> None:
        """DB_ keys only, from a manifest or a dict."""
        manifest = ConfigMapManager().create_database_config()
        filtered = ConfigMapUtils.filter_by_prefix(manifest, "DB_")
        assert filtered and all(k.startswith("DB_") for k in filtered)

    def test_transform_to_env_format(self) -> None:
        """Upper-case names, lowercase booleans, comma-joined lists."""
        env = ConfigMapUtils.transform_to_env_format({"debug": True, "origins": ["a", "b"], "n": 3})
        assert env == {"DEBUG": "true", "ORIGINS": "a,b", "N": "3"}


def run_script(name: str, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("KUBECONFIG", "KUBERNETES_SERVICE_HOST")}
    env["HOME"] = str(cwd)
    return subprocess.run(
        [sys.executable, str(ROOT / "scripts" / name), *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.e2e
class TestSeedScripts:
    """The three scripts of "Commandes de Debug"."""

    def test_validate_configs(self, tmp_path: Path) -> None:
        """python scripts/validate_configs.py validates every tier: exit 0."""
        result = run_script("validate_configs.py", cwd=tmp_path)
        assert result.returncode == 0, result.stdout + result.stderr
        assert "production: valid" in result.stdout

    def test_generate_configs(self, tmp_path: Path) -> None:
        """python scripts/generate_configs.py --environment dev writes ./out."""
        result = run_script("generate_configs.py", "--environment", "dev", cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        assert (tmp_path / "out" / "configmaps.yaml").exists()

    def test_deploy_configs_without_cluster(self, tmp_path: Path) -> None:
        """No cluster: exit 1, one clear line suggesting --target dir:PATH, no traceback."""
        result = run_script("deploy_configs.py", "--namespace", "spotify-ai-agent-dev", cwd=tmp_path)
        assert result.returncode == 1, result.stdout + result.stderr
        lines = [line for line in result.stderr.splitlines() if line.startswith("error:")]
        assert len(lines) == 1 and "dir:" in lines[0]
        assert "Traceback" not in result.stderr
