"""Secret resolution order, generation, persistence and refusal in production."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from support import SECRET_KEYS, copy_bundled_tree, resolve, write
from tierconf.errors import SecretError
from tierconf.secrets import SecretOptions, resolve_secrets


def options(
    tmp_path: Path, environ: dict[str, str] | None = None, secrets_dir: Path | None = None
) -> SecretOptions:
    return SecretOptions(secrets_dir=secrets_dir, state_dir=tmp_path / "state", environ=environ or {})


class TestOrder:
    """First match wins: env var, --secrets-dir, layer reference, generated."""

    def test_env_beats_directory(self, tmp_path: Path) -> None:
        """TIERCONF_SECRET_<KEY> wins over a file in --secrets-dir."""
        folder = tmp_path / "secrets"
        write(folder / "DB_PASSWORD", "from-dir\n")
        values = resolve_secrets(
            resolve(), options(tmp_path, {"TIERCONF_SECRET_DB_PASSWORD": "from-env"}, folder)
        )
        assert values.value("DB_PASSWORD") == "from-env"

    def test_directory_beats_reference(self, tmp_path: Path) -> None:
        """A --secrets-dir file wins over the layer's ${env:...} reference; trailing newline dropped."""
        tree_dir = copy_bundled_tree(tmp_path / "tree")
        write(
            tree_dir / "environments" / "staging.yaml",
            "database:\n  postgres:\n    password: ${env:PG_PASS}\n",
        )
        folder = tmp_path / "secrets"
        write(folder / "DB_PASSWORD", "from-dir\n")
        environ = {"PG_PASS": "from-ref"}
        for key in (
            "REDIS_PASSWORD",
            "MONGO_PASSWORD",
            "ELASTICSEARCH_PASSWORD",
            "JWT_SECRET_KEY",
            "GOOGLE_CLIENT_SECRET",
            "SPOTIFY_CLIENT_SECRET",
            "GITHUB_CLIENT_SECRET",
            "GRAFANA_ADMIN_PASSWORD",
        ):
            environ[f"TIERCONF_SECRET_{key}"] = f"value-of-{key}"
        values = resolve_secrets(resolve(tree_dir, "staging"), options(tmp_path, environ, folder))
        assert values.value("DB_PASSWORD") == "from-dir"

    def test_env_reference(self, tmp_path: Path) -> None:
        """${env:NAME} reads the named variable."""
        tree_dir = copy_bundled_tree(tmp_path / "tree")
        write(
            tree_dir / "environments" / "development.yaml",
            "database:\n  postgres:\n    password: ${env:PG_PASS}\n",
        )
        values = resolve_secrets(resolve(tree_dir, "development"), options(tmp_path, {"PG_PASS": "from-ref"}))
        assert values.value("DB_PASSWORD") == "from-ref"

    def test_file_reference_is_relative_to_the_layer(self, tmp_path: Path) -> None:
        """${file:PATH} is read relative to the layer file's directory."""
        tree_dir = copy_bundled_tree(tmp_path / "tree")
        write(
            tree_dir / "environments" / "development.yaml",
            "security:\n  jwt:\n    secret_key: ${file:jwt.key}\n",
        )
        write(tree_dir / "environments" / "jwt.key", "k" * 70 + "\n")
        values = resolve_secrets(resolve(tree_dir, "development"), options(tmp_path))
        assert values.value("JWT_SECRET_KEY") == "k" * 70


class TestGenerated:
    """Local and development get generated values, kept for identical re-renders."""

    def test_generated_values_are_kept_0600(self, tmp_path: Path) -> None:
        """The second resolution returns the same values from the 0600 state file."""
        first = resolve_secrets(resolve(), options(tmp_path))
        second = resolve_secrets(resolve(), options(tmp_path))
        assert first.value("JWT_SECRET_KEY") == second.value("JWT_SECRET_KEY")
        assert len(first.value("JWT_SECRET_KEY")) >= 64
        (state,) = (tmp_path / "state" / "secrets").iterdir()
        assert state.stat().st_mode & 0o777 == 0o600
        assert first.warnings and first.warnings[0].code == "SECRET-GENERATED"

    def test_repr_never_shows_values(self, tmp_path: Path) -> None:
        """A resolved secret prints masked."""
        values = resolve_secrets(resolve(), options(tmp_path))
        secret = values.by_key["DB_PASSWORD"]
        assert secret.value not in repr(secret) and secret.value not in repr(values)

    def test_redact(self, tmp_path: Path) -> None:
        """redact() masks any known value in free text."""
        values = resolve_secrets(resolve(), options(tmp_path))
        text = f"connect failed: postgres://u:{values.value('DB_PASSWORD')}@h/db"
        assert values.value("DB_PASSWORD") not in values.redact(text)


class TestProduction:
    """Staging and production never invent secrets."""

    def test_missing_secrets_are_listed(self, tmp_path: Path) -> None:
        """The error names every missing KEY and how to provide it, with no value."""
        with pytest.raises(SecretError) as info:
            resolve_secrets(resolve(tier="production"), options(tmp_path))
        message = str(info.value)
        assert "DB_PASSWORD" in message and "TIERCONF_SECRET_" in message
        assert not (tmp_path / "state").exists()

    def test_all_provided(self, tmp_path: Path) -> None:
        """With every secret in --secrets-dir, production resolves."""
        folder = tmp_path / "secrets"
        for key in SECRET_KEYS:
            write(folder / key, base64.b64encode(key.encode()).decode() * 4)
        values = resolve_secrets(resolve(tier="production"), options(tmp_path, secrets_dir=folder))
        assert len(values.by_key) == 9
