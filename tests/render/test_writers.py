"""Output formats: env quoting, kubelet volume layout, atomic writes, file modes."""

from __future__ import annotations

import os
from pathlib import Path

from support import resolve
from tierconf.render import RenderOptions, render, write_rendered, write_volume
from tierconf.render._writers import env_line
from tierconf.secrets import SecretOptions, resolve_secrets


def rendered(tmp_path: Path):  # type: ignore[no-untyped-def]
    resolved = resolve()
    return render(
        resolved,
        resolve_secrets(resolved, SecretOptions(state_dir=tmp_path / "state", environ={})),
        RenderOptions(),
    )


class TestEnv:
    """dotenv output."""

    def test_plain_values_are_unquoted(self) -> None:
        """Simple values stay readable."""
        assert env_line("DB_HOST", "postgres.svc") == "DB_HOST=postgres.svc"

    def test_special_characters_are_escaped(self) -> None:
        """Quotes, dollars and newlines survive a dotenv parser."""
        assert env_line("K", 'a "b" $c\nd') == 'K="a \\"b\\" \\$c\\nd"'

    def test_env_file_is_0600(self, tmp_path: Path) -> None:
        """The .env carries secrets, so only the owner reads it."""
        (written,) = write_rendered(rendered(tmp_path), "env", tmp_path / "out", "app")
        assert written.path.stat().st_mode & 0o777 == 0o600
        assert "DB_PASSWORD=" in written.path.read_text()


class TestYamlFiles:
    """yaml/json output files."""

    def test_secret_file_is_0600_and_configmaps_0644(self, tmp_path: Path) -> None:
        """Only the Secrets file is private."""
        files = {f.path.name: f for f in write_rendered(rendered(tmp_path), "yaml", tmp_path / "out", "app")}
        assert files["secrets.yaml"].path.stat().st_mode & 0o777 == 0o600
        assert files["configmaps.yaml"].path.stat().st_mode & 0o777 == 0o644

    def test_no_temp_files_left(self, tmp_path: Path) -> None:
        """Atomic writes leave only the final files."""
        write_rendered(rendered(tmp_path), "json", tmp_path / "out", "app")
        assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["configmaps.json", "secrets.json"]


class TestVolume:
    """The kubelet projected-volume layout."""

    def test_layout(self, tmp_path: Path) -> None:
        """..data points to a timestamped dir; each KEY is a symlink into ..data."""
        volume = tmp_path / "vol"
        write_rendered(rendered(tmp_path), "volume", volume, "app")
        data_target = os.readlink(volume / "..data")
        assert data_target.startswith("..") and (volume / data_target).is_dir()
        assert os.readlink(volume / "DB_POOL_SIZE") == "..data/DB_POOL_SIZE"
        assert (volume / "ENVIRONMENT").read_text() == "development"
        assert (volume / data_target / "DB_PASSWORD").stat().st_mode & 0o777 == 0o600

    def test_swap_replaces_everything_and_removes_old_keys(self, tmp_path: Path) -> None:
        """A second write swaps ..data, drops keys that disappeared and the old data dir."""
        volume = tmp_path / "vol"
        write_volume(volume, {"A": (b"1", 0o644), "B": (b"2", 0o644)})
        old = os.readlink(volume / "..data")
        write_volume(volume, {"A": (b"3", 0o644)})
        assert (volume / "A").read_text() == "3"
        assert not (volume / "B").exists() and not (volume / "B").is_symlink()
        assert not (volume / old).exists()
